// settings_readme_test.cpp -- the README's settings table lists exactly the settings of the table in
// core/config.cpp, in its order, with its defaults: an operator reads only the README.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/config.hpp"

using namespace boardhook::core;

namespace {

struct Row {
  std::string name;
  std::string default_cell;
};

std::string trim(std::string text) {
  while (!text.empty() && text.front() == ' ') text.erase(text.begin());
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// The rows of the first table under "## Configuration" whose first cell is a BOARDHOOK_ variable.
std::vector<Row> readme_settings() {
  std::ifstream in(BOARDHOOK_README);
  REQUIRE(in);
  std::vector<Row> rows;
  std::string line;
  bool in_section = false, in_table = false;
  while (std::getline(in, line)) {
    if (line.starts_with("## ")) {
      if (in_section) break;
      in_section = line == "## Configuration";
      continue;
    }
    if (!in_section) continue;
    if (!line.starts_with("|")) {
      if (in_table) break;
      continue;
    }
    in_table = true;
    std::vector<std::string> cells;
    std::stringstream split(line.substr(1));
    for (std::string cell; std::getline(split, cell, '|');) cells.push_back(trim(cell));
    if (cells.size() < 2 || !cells[0].starts_with("`BOARDHOOK_")) continue;
    rows.push_back({cells[0].substr(1, cells[0].size() - 2), cells[1]});
  }
  return rows;
}

}  // namespace

TEST_CASE("the README's settings table lists exactly the settings, in their order, with their defaults") {
  const std::vector<Row> readme = readme_settings();
  const std::vector<std::string> names = setting_names();
  REQUIRE(!readme.empty());
  std::vector<std::string> readme_names;
  for (const Row& row : readme) readme_names.push_back(row.name);
  CHECK(readme_names == names);
  for (const Row& row : readme) {
    INFO(row.name);
    CHECK(row.default_cell == documented_default(row.name));
  }
}

TEST_CASE("every default in the settings table parses, and a default Config holds them") {
  const Config config;
  CHECK(config.queue_prefix == "boardhook");
  CHECK(config.max_body_bytes == 4u * 1024 * 1024);
  CHECK(config.redis.host == "127.0.0.1");
  CHECK(config.redis.port == 6379);
  CHECK(config.spool_max_bytes == 1024ull * 1024 * 1024);
  CHECK(config.log_level == "info");
  CHECK(config.threads == 80);
  CHECK(config.verify_tokens.empty());
}

TEST_CASE("the start-up line names every setting and shows no secret") {
  const std::string line = describe(Config{});
  for (const Setting& setting : settings()) {
    std::string key(setting.name.substr(10));
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    INFO(key);
    CHECK(line.find(key + "=") != std::string::npos);
  }
}
