// decide_count.cpp -- boardhook-bench-decide: runs core::decide() N times on one request, for callgrind to count.
//
//     boardhook-bench-decide post FILE N     N POST decisions on FILE's bytes (the fixture)
//     boardhook-bench-decide get QUERY N     N verification decisions on QUERY (no '?')
//
// scripts/bench-core runs it under `valgrind --tool=callgrind --toggle-collect=...decide...`,
// so only the instructions inside decide() are counted; divided by N that is the cost of one
// decision: parse, validate, envelope, hash for a POST. Every decision is checked (200, and for
// a POST one envelope per item), so a broken build cannot report a cheap count. Exits 1 when a
// decision is not the expected one, 2 on bad arguments.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "core/decide.hpp"

namespace core = boardhook::core;

namespace {

// The token of tests/fixtures/verification.txt, which scripts/bench-core puts in the GET's query.
constexpr std::string_view verify_token = "tidal-compass-2659";

int usage() {
  std::fputs("usage: boardhook-bench-decide post FILE N | get QUERY N\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return usage();
  const std::string_view mode = argv[1];
  char* end = nullptr;
  const long count = std::strtol(argv[3], &end, 10);
  if (*end != '\0' || count < 1 || (mode != "post" && mode != "get")) return usage();

  std::string body;
  if (mode == "post") {
    std::ifstream file(argv[2], std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "boardhook-bench-decide: cannot read \"%s\"\n", argv[2]);
      return 2;
    }
    body.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }

  core::Config config;
  config.verify_tokens = {std::string(verify_token)};
  core::Request request;
  request.method = mode == "post" ? "POST" : "GET";
  request.query = mode == "get" ? std::string_view(argv[2]) : std::string_view();
  request.body = body;
  request.body_bytes = body.size();
  request.request_id = "0123456789abcdef0123456789abcdef";
  request.received_at_ms = 1795778353301;  // 2026-11-27T11:19:13.301Z

  std::size_t envelope_bytes = 0;
  std::size_t envelopes = 0;
  for (long i = 0; i < count; ++i) {
    const core::Decision decision = core::decide(request, config);
    if (decision.response.status != 200 || (mode == "post" && (!decision.store || decision.store->envelopes.empty()))) {
      std::fprintf(stderr, "boardhook-bench-decide: decision %ld answered %d (%s), not 200 with events\n", i,
                   decision.response.status, decision.log_message.c_str());
      return 1;
    }
    if (decision.store) {
      envelopes = decision.store->envelopes.size();
      for (const std::string& envelope : decision.store->envelopes) envelope_bytes += envelope.size();
    }
  }
  std::printf("%ld %s decision(s): 200, %zu envelope(s) each, %zu envelope bytes in all\n", count, request.method.data(),
              envelopes, envelope_bytes);
  return 0;
}
