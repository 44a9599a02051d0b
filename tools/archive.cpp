// archive.cpp -- boardhook-queues archive, archive export and replay --from-archive.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/archive.hpp"
#include "core/dead_letter.hpp"
#include "core/event_type.hpp"
#include "core/json_escape.hpp"
#include "core/keys.hpp"
#include "io/archive.hpp"
#include "tools/session.hpp"

namespace boardhook::tools {

namespace {

// --type, --ticket, --since, --until.
core::ArchiveFilter archive_filter(const Options& options) {
  core::ArchiveFilter filter;
  if (!options.type.empty()) {
    std::string error;
    auto type = core::parse_event_type_argument(options.type, error);
    if (!type) throw Failure{exit_usage, error};
    filter.event_type = std::move(*type);
  }
  if (!options.ticket.empty()) {
    const std::string& ticket = options.ticket;
    const std::size_t digits = ticket[0] == '-' ? 1 : 0;
    if (ticket.size() == digits || ticket.size() > 20 || ticket.find_first_not_of("0123456789", digits) != std::string::npos) {
      throw Failure{exit_usage, "--ticket \"" + ticket + "\": expected a ticket id (an integer)"};
    }
    filter.ticket = ticket;
  }
  const auto time = [](const std::string& text, const char* flag) -> std::optional<std::int64_t> {
    if (text.empty()) return std::nullopt;
    const auto at = core::parse_time_argument(text, now_ms());
    if (!at) throw Failure{exit_usage, std::string(flag) + " \"" + text + "\": expected RFC 3339 or an age (90s, 30m, 2h, 7d)"};
    return at;
  };
  filter.since_ms = time(options.since, "--since");
  filter.until_ms = time(options.until, "--until");
  return filter;
}

// --limit N: 1-10000000; `fallback` when absent (0: no limit).
std::size_t limit_option(const Options& options, std::size_t fallback) {
  if (options.limit.empty()) return fallback;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(options.limit.c_str(), &end, 10);
  if (end == options.limit.c_str() || *end != '\0' || value == 0 || value > 10000000) {
    throw Failure{exit_usage, "--limit must be 1-10000000, not \"" + options.limit + "\""};
  }
  return static_cast<std::size_t>(value);
}

void require_archive(Session& session) {
  if (session.config().archive_seconds == 0 && session.integer({"EXISTS", core::archive_key(session.prefix())}) == 0) {
    throw Failure{exit_nothing, "there is no archive: set BOARDHOOK_ARCHIVE_SECONDS for the handler (see the README)"};
  }
}

// archive export [--output FILE]: every selected envelope, one per line. A file is written beside
// its name and renamed when complete, so a failed export never looks like a finished one.
int export_archive(Session& session, const core::ArchiveFilter& filter) {
  const Options& options = session.options();
  const std::string partial = options.output.empty() ? "" : options.output + ".partial";
  std::FILE* out = options.output.empty() ? stdout : std::fopen(partial.c_str(), "w");
  if (out == nullptr) throw Failure{exit_usage, "cannot write " + partial + ": " + std::strerror(errno)};
  const std::size_t limit = limit_option(options, 0);
  std::size_t written = 0;
  std::string error;
  const bool read = io::read_archive(session.redis(), session.prefix(), filter, false, [&](const core::ArchivedEvent& event) {
    std::string line = core::archive_export_line(event);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), out);
    return ++written != limit;
  }, error);
  const bool flushed = std::fflush(out) == 0 && !std::ferror(out);
  if (out != stdout) {
    const bool closed = std::fclose(out) == 0;
    if (!read || !flushed || !closed || std::rename(partial.c_str(), options.output.c_str()) != 0) {
      std::remove(partial.c_str());
      if (!read) throw Failure{exit_redis, "redis: " + error + " (nothing written)"};
      throw Failure{exit_usage, "cannot write " + options.output + ": " + std::strerror(errno)};
    }
  }
  if (!read) throw Failure{exit_redis, "redis: " + error + " (after " + std::to_string(written) + " lines)"};
  std::fprintf(stderr, "exported %zu event(s)%s\n", written, options.output.empty() ? "" : (" to " + options.output).c_str());
  return written == 0 ? exit_nothing : exit_ok;
}

}  // namespace

// archive [filters] [--limit N] [--newest]: the selected archived events, oldest first (or the
// newest first), 100 unless --limit says otherwise.
int archive(Session& session) {
  const Options& options = session.options();
  const core::ArchiveFilter filter = archive_filter(options);
  require_archive(session);
  if (options.words.size() > 2 || (options.words.size() == 2 && options.words[1] != "export")) {
    throw Failure{exit_usage, "archive takes filters as options, and one word: export"};
  }
  if (options.words.size() == 2) return export_archive(session, filter);
  const std::size_t limit = limit_option(options, 100);
  std::vector<std::string> listed;
  std::string error;
  const bool read = io::read_archive(session.redis(), session.prefix(), filter, options.newest, [&](const core::ArchivedEvent& event) {
    listed.push_back(options.json ? core::archive_json(event) : core::archive_line(event));
    return listed.size() < limit;
  }, error);
  if (!read) throw Failure{exit_redis, "redis: " + error};
  if (options.json) print_json_array(listed);
  else for (const std::string& line : listed) std::printf("%s\n", line.c_str());
  return listed.empty() ? exit_nothing : exit_ok;
}

// replay --from-archive [filters] --dry-run|--yes: selected archived events queued again, as new
// copies with their original ids, deduplication not applied.
int replay(Session& session) {
  const Options& options = session.options();
  if (!options.from_archive) throw Failure{exit_usage, "replay needs --from-archive (dead letters: requeue; refused requests: replay-rejected)"};
  const core::ArchiveFilter filter = archive_filter(options);
  if (!options.dry_run) session.require_yes("replay");
  require_archive(session);
  const io::ArchiveReplay replay = io::replay_archive(session.redis(), session.config(), filter, options.dry_run);
  if (!replay.error.empty()) {
    throw Failure{exit_redis, "redis: " + replay.error + " (" + std::to_string(replay.queued) + " of the selected queued before it)"};
  }
  if (options.json) {
    std::string sample = "[";
    for (std::size_t i = 0; i < replay.sample.size(); ++i) sample += (i ? "," : "") + core::archive_json(replay.sample[i]);
    sample += "]";
    if (options.dry_run) std::printf("{\"would_replay\":%zu,\"sample\":%s}\n", replay.selected, sample.c_str());
    else std::printf("{\"replayed\":%zu}\n", replay.queued);
  } else if (options.dry_run) {
    std::printf("would replay %zu archived event(s); the first of them:\n", replay.selected);
    for (const core::ArchivedEvent& event : replay.sample) std::printf("  %s\n", core::archive_line(event).c_str());
    std::printf("run it again with --yes instead of --dry-run to queue them\n");
  } else {
    std::printf("replayed %zu archived event(s) into their queues\n", replay.queued);
  }
  return replay.selected == 0 ? exit_nothing : exit_ok;
}

}  // namespace boardhook::tools
