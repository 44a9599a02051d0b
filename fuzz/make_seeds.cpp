// make_seeds.cpp -- boardhook-fuzz-seeds: write each fuzz target's seed corpus from the fixtures.
//
// Usage: boardhook-fuzz-seeds FIXTURES_DIR OUT_DIR
// Writes OUT_DIR/<target>/<name> for every target, in each target's input format, from the
// fixtures in tests/fixtures/: bodies as they are, POSTs and verification GETs framed for decide(),
// the envelopes and spool records the core makes of them. The core itself makes the derived seeds,
// so they follow its formats as they change. Exits 1 when the fixtures cannot be read.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/decide.hpp"
#include "core/spool_record.hpp"
#include "core/writes.hpp"

using namespace boardhook::core;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t received_at_ms = 1764242060123;  // 2025-11-27T11:14:20.123Z
constexpr std::string_view endpoint_key = "endpoint-key-0a9b";  // fuzz_decide.cpp's key

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_seed(const fs::path& out, std::string_view target, const std::string& name, std::string_view bytes) {
  fs::create_directories(out / target);
  std::ofstream file(out / target / name, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!file) throw std::runtime_error("cannot write " + (out / target / name).string());
}

// The *.json files of the fixture folder and its variants/ and bad/ folders, sorted.
std::vector<fs::path> fixture_bodies(const fs::path& fixtures) {
  std::vector<fs::path> paths;
  for (const char* folder : {".", "variants", "bad"}) {
    for (const auto& entry : fs::directory_iterator(fixtures / folder)) {
      if (entry.is_regular_file() && entry.path().extension() == ".json") paths.push_back(entry.path());
    }
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

// The query strings of verification.txt: "?QUERY  =>  expected answer" lines.
std::vector<std::string> verification_queries(const fs::path& fixtures) {
  std::vector<std::string> queries;
  std::istringstream lines(read_file(fixtures / "verification.txt"));
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '?') continue;
    queries.push_back(line.substr(1, line.find_first_of(" \t") - 1));
  }
  if (queries.empty()) throw std::runtime_error("no query strings in verification.txt");
  return queries;
}

Decision decide_post(std::string_view body) {
  Config config;
  config.verify_tokens = {"tidal-compass-2659"};  // verification.txt's
  Request request;
  request.method = "POST";
  request.body = body;
  request.body_bytes = body.size();
  request.request_id = "0123456789abcdef0123456789abcdef";
  request.received_at_ms = received_at_ms;
  return decide(request, config);
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FIXTURES_DIR OUT_DIR\n", argv[0]);
    return 2;
  }
  const fs::path fixtures = argv[1], out = argv[2];

  const auto queries = verification_queries(fixtures);
  for (std::size_t i = 0; i < queries.size(); ++i) {
    const std::string name = "verification-" + std::to_string(i + 1);
    write_seed(out, "query", name, queries[i]);
    write_seed(out, "decide", name, std::string(1, '\x00') + queries[i] + "\n");  // flags 0: GET
  }

  for (const fs::path& path : fixture_bodies(fixtures)) {
    const std::string body = read_file(path);
    const std::string folder = path.parent_path().filename().string();
    const std::string name = (folder == "." ? "good" : folder) + "-" + path.filename().string();
    write_seed(out, "notification", name, body);
    write_seed(out, "envelope", name, body);
    // flags 0x01: POST; 0xC1: POST with the endpoint key and the community allowlist configured.
    write_seed(out, "decide", "post-" + name, std::string(1, '\x01') + "\n" + body);
    write_seed(out, "decide", "keyed-post-" + name, std::string(1, '\xC1') + "key=" + std::string(endpoint_key) + "\n" + body);

    const Decision decision = decide_post(body);
    if (decision.store) {
      for (std::size_t i = 0; i < decision.store->envelopes.size(); ++i) {
        write_seed(out, "envelope", "envelope-" + std::to_string(i) + "-" + name, decision.store->envelopes[i]);
      }
      write_seed(out, "spool-record", "events-" + name,
                 std::string(1, '\x00') + encode_spool_record(to_spool_record(*decision.store, received_at_ms)));
    }
    if (decision.reject) {
      write_seed(out, "spool-record", "rejected-" + name,
                 std::string(1, '\x00') + encode_spool_record(to_spool_record(*decision.reject, received_at_ms)));
    }
  }

  write_seed(out, "rfc3339", "fixture-time", "2025-11-27T11:14:20.123Z");
  write_seed(out, "rfc3339", "leap-day", "2024-02-29T23:59:59.999Z");
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "boardhook-fuzz-seeds: %s\n", error.what());
  return 1;
}
