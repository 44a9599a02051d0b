// main.cpp -- boardhook-queues: options, configuration, and the table of subcommands.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/command_line.hpp"
#include "io/environment.hpp"
#include "io/log.hpp"
#include "tools/session.hpp"

namespace {

using namespace boardhook;
using namespace boardhook::tools;

constexpr const char* usage =
    "usage: boardhook-queues [--json] COMMAND\n"
    "  stats [--watch [--interval S]] [--spool-dir DIR]   queues, workers, rejected, spool\n"
    "  peek TYPE [N] [--newest]          the N oldest (or newest) queued envelopes (default 10)\n"
    "  dead TYPE [N]                     the N newest dead letters\n"
    "  rejected [N]                      the N newest refused requests\n"
    "  requeue TYPE [filters] --dry-run|--yes   dead letters back to their queue; filters: --id ID,\n"
    "                                    --since T, --until T (RFC 3339 or an age: 2h), --error TEXT,\n"
    "                                    --exit-code N, --http-status N\n"
    "  pause TYPE / resume TYPE          stop (start again) every worker taking TYPE; queueing goes on\n"
    "  purge-dead TYPE --yes             delete the dead letters of TYPE\n"
    "  replay-rejected --id REQUEST_ID --yes   validate a kept body again and queue it if it passes\n"
    "  doctor [--spool-dir DIR]          can this Redis keep an event answered 200? (exit 1 if not)\n"
    "TYPE is an event type as sent, or with %XX escapes (see the README).\n"
    "Redis and the prefix come from BOARDHOOK_REDIS_URL and BOARDHOOK_QUEUE_PREFIX.\n"
    "Exit codes: 0 done, 1 nothing matched, still refused, or doctor found a FAIL, 2 usage, 3 Redis\n"
    "unavailable, 4 needs --yes.\n";

struct Subcommand {
  std::string_view name;
  int (*run)(Session&);
};

constexpr Subcommand subcommands[] = {
    {"stats", stats},         {"peek", peek},           {"dead", dead},
    {"rejected", rejected},   {"requeue", requeue},     {"purge-dead", purge_dead},
    {"replay-rejected", replay_rejected}, {"doctor", doctor}, {"pause", pause}, {"resume", resume},
};

constexpr core::OptionSpec option_table[] = {
    {"--help", false, "-h"}, {"--json"}, {"--yes"}, {"--watch"}, {"--newest"},
    {"--interval", true},    {"--id", true}, {"--spool-dir", true}, {"--dry-run"}, {"--since", true},
    {"--until", true},       {"--error", true}, {"--exit-code", true}, {"--http-status", true},
};

int refuse(const std::string& message) {
  std::fprintf(stderr, "boardhook-queues: %s\n%s", message.c_str(), usage);
  return exit_usage;
}

// Options in the order given, so that --help after a mistake does not hide it. Returns an exit
// code when the program should end here.
std::optional<int> read_options(const core::CommandLine& line, Options& options) {
  for (const core::ParsedOption& option : line.options) {
    if (option.name == "--help") {
      std::fputs(usage, stdout);
      return exit_ok;
    }
    if (option.name == "--json") options.json = true;
    else if (option.name == "--yes") options.yes = true;
    else if (option.name == "--watch") options.watch = true;
    else if (option.name == "--newest") options.newest = true;
    else if (option.name == "--id") options.id = option.value;
    else if (option.name == "--spool-dir") options.spool_dir = option.value;
    else if (option.name == "--dry-run") options.dry_run = true;
    else if (option.name == "--since") options.since = option.value;
    else if (option.name == "--until") options.until = option.value;
    else if (option.name == "--error") options.error_text = option.value;
    else if (option.name == "--exit-code") options.exit_code = option.value;
    else if (option.name == "--http-status") options.http_status = option.value;
    else if (option.name == "--interval") {
      char* end = nullptr;
      const double seconds = std::strtod(option.value.c_str(), &end);
      if (end == option.value.c_str() || *end != '\0' || !std::isfinite(seconds) || seconds > 86400) {
        return refuse("--interval \"" + option.value + "\": expected a number of seconds");
      }
      options.interval = std::max(0.2, seconds);
    }
  }
  if (line.error) return refuse(line.error->message());
  options.words = line.operands;
  if (options.words.empty()) {
    std::fputs(usage, stderr);
    return exit_usage;
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (const auto code = read_options(core::parse_command_line(argc, argv, option_table), options)) return *code;
  const auto* subcommand = std::find_if(std::begin(subcommands), std::end(subcommands),
                                        [&](const Subcommand& s) { return s.name == options.words[0]; });
  if (subcommand == std::end(subcommands)) return refuse("unknown command \"" + options.words[0] + "\"");

  io::init_logging("warn");
  core::Config config;
  try {
    config = core::load_config(io::environment, io::read_whole_file, false);
  } catch (const core::ConfigError& error) {
    std::fprintf(stderr, "boardhook-queues: configuration refused: %s\n", error.what());
    return exit_usage;
  }
  try {
    Session session(config, std::move(options));
    return subcommand->run(session);
  } catch (const Failure& failure) {
    std::fprintf(stderr, "boardhook-queues: %s\n", failure.message.c_str());
    if (failure.code == exit_usage) std::fputs(usage, stderr);
    return failure.code;
  }
}
