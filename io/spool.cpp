// spool.cpp -- segment files, group-committed fdatasync appends, flock-guarded drain passes.
#include "io/spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace boardhook::io {

namespace {

constexpr std::string_view segment_suffix = ".spool";
constexpr std::string_view done_suffix = ".done";
// Progress is noted once this many records were delivered (and at every stop): a crash
// repeats at most this many deliveries and one batch.
constexpr std::size_t records_per_progress_note = 64;
// A drain hands Redis this many records (or this many bytes) per script.
constexpr std::size_t records_per_batch = 128;
constexpr std::size_t bytes_per_batch = 1024 * 1024;
// A backlog this small is finished while appends wait, so the switch back to writing
// straight to Redis happens even under constant load.
constexpr std::uint64_t final_pass_bytes = 256 * 1024;

std::string errno_text() { return std::strerror(errno); }

bool is_segment_name(std::string_view name) {
  return name.starts_with("seg-") && name.size() > segment_suffix.size() && name.ends_with(segment_suffix);
}

std::vector<std::string> list_segment_names(const std::string& directory) {
  std::vector<std::string> names;
  DIR* dir = opendir(directory.c_str());
  if (dir == nullptr) return names;
  while (const dirent* entry = readdir(dir)) {
    if (is_segment_name(entry->d_name)) names.emplace_back(entry->d_name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());  // zero-padded creation time first: creation order
  return names;
}

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

// Reads exactly `size` bytes at `offset` unless the file ends first; returns bytes read.
std::size_t read_at(int fd, std::uint64_t offset, char* out, std::size_t size) {
  std::size_t total = 0;
  while (total < size) {
    const ssize_t got = pread(fd, out + total, size - total, static_cast<off_t>(offset + total));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    total += static_cast<std::size_t>(got);
  }
  return total;
}

std::uint64_t file_size(int fd) {
  struct stat info {};
  return fstat(fd, &info) == 0 ? static_cast<std::uint64_t>(info.st_size) : 0;
}

void sync_directory(const std::string& directory) {
  const int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

std::uint64_t read_progress(const std::string& segment_path) {
  const int fd = open((segment_path + std::string(done_suffix)).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[32] = {};
  const std::size_t got = read_at(fd, 0, text, sizeof text - 1);
  close(fd);
  return got == 0 ? 0 : std::strtoull(text, nullptr, 10);
}

// Written to a temporary file and renamed, so a crash leaves the old note or the new one.
void write_progress(const std::string& segment_path, std::uint64_t offset) {
  const std::string done_path = segment_path + std::string(done_suffix);
  const std::string temporary = done_path + ".tmp";
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  const std::string text = std::to_string(offset) + "\n";
  const bool ok = write_all(fd, text) && fsync(fd) == 0;
  close(fd);
  if (ok) rename(temporary.c_str(), done_path.c_str());
}

void remove_segment(const std::string& path) {
  unlink(path.c_str());
  unlink((path + std::string(done_suffix)).c_str());
}

struct RecordReader {
  int fd;
  std::uint64_t size;

  // Reads the record at `offset` into `result`.
  core::DecodeResult read(std::uint64_t offset) const {
    char header[core::spool_header_bytes];
    const std::size_t got = read_at(fd, offset, header, sizeof header);
    core::DecodeResult probe = core::decode_spool_record(std::string_view(header, got));
    if (probe.status == core::DecodeStatus::corrupt) return probe;
    if (probe.status == core::DecodeStatus::truncated && probe.size == 0) return probe;  // header itself cut off
    if (offset + probe.size > size) return probe;                                        // payload cut off
    std::string bytes(probe.size, '\0');
    if (read_at(fd, offset, bytes.data(), bytes.size()) != bytes.size()) return probe;
    return core::decode_spool_record(bytes);
  }

  // Where the next valid record after a corrupt stretch at `offset` starts, or size.
  std::uint64_t resync(std::uint64_t offset) const {
    std::string rest(size - offset, '\0');
    rest.resize(read_at(fd, offset, rest.data(), rest.size()));
    const std::size_t next = core::find_next_spool_record(rest, 1);
    return next == std::string::npos ? size : offset + next;
  }
};

}  // namespace

struct Spool::Segment {
  std::string name;
  std::string path;
  int fd = -1;                              // append fd, holding the flock
  std::atomic<std::uint64_t> written_end{0};
  std::atomic<std::uint64_t> synced_end{0};
  std::atomic<bool> broken{false};          // a write or sync failed: never appended to again
  std::mutex sync_mutex;

  ~Segment() {
    if (fd >= 0) close(fd);
  }
};

Spool::Spool(std::string directory, std::uint64_t max_bytes) : directory_(std::move(directory)), max_bytes_(max_bytes) {
  if (mkdir(directory_.c_str(), 0700) != 0 && errno != EEXIST) {
    throw std::runtime_error("BOARDHOOK_SPOOL_DIR=\"" + directory_ + "\": cannot create: " + errno_text());
  }
  if (access(directory_.c_str(), R_OK | W_OK | X_OK) != 0) {
    throw std::runtime_error("BOARDHOOK_SPOOL_DIR=\"" + directory_ + "\": not writable: " + errno_text());
  }
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  for (char& c : host) {
    if (c == '-' || c == '/') c = '_';  // the name's fields are separated by '-'
  }
  host_ = host;
  backlog_ = !list_segment_names(directory_).empty();
  used_bytes_ = directory_bytes();
  used_listed_at_ = std::chrono::steady_clock::now();
}

Spool::~Spool() = default;

std::uint64_t Spool::directory_bytes() const {
  ++directory_scans_;
  std::uint64_t total = 0;
  for (const std::string& name : list_segment_names(directory_)) {
    struct stat info {};
    if (stat((directory_ + "/" + name).c_str(), &info) == 0) total += static_cast<std::uint64_t>(info.st_size);
  }
  return total;
}

bool Spool::check_writable(std::string& problem) const {
  if (access(directory_.c_str(), W_OK | X_OK) != 0) {
    problem = "\"" + directory_ + "\" is not writable: " + errno_text();
    return false;
  }
  const std::uint64_t used = directory_bytes();
  if (used + 64 * 1024 > max_bytes_) {
    problem = "the spool is full (" + std::to_string(used) + " of " + std::to_string(max_bytes_) + " bytes used)";
    return false;
  }
  return true;
}

std::shared_ptr<Spool::Segment> Spool::open_new_segment(std::string& error) {
  auto segment = std::make_shared<Segment>();
  const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%020lld", static_cast<long long>(now_ns));
  segment->name = "seg-" + std::string(stamp) + "-" + host_ + "-" + std::to_string(getpid()) + "-" +
                  std::to_string(next_sequence_++) + std::string(segment_suffix);
  segment->path = directory_ + "/" + segment->name;
  segment->fd = open(segment->path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (segment->fd < 0) {
    error = "cannot create spool segment \"" + segment->path + "\": " + errno_text();
    return nullptr;
  }
  if (flock(segment->fd, LOCK_EX | LOCK_NB) != 0) {
    error = "cannot lock spool segment \"" + segment->path + "\": " + errno_text();
    return nullptr;
  }
  // The segment's directory entry must be durable before any record in it is acknowledged.
  sync_directory(directory_);
  return segment;
}

// Checks the running total; the folder is listed again at a segment boundary (drains of this
// and other processes free space, other processes add to it), and at most once a second while
// the total says full. Called with mutex_ held.
bool Spool::has_room_for(std::size_t bytes, bool at_segment_boundary, std::string& error) {
  const auto now = std::chrono::steady_clock::now();
  const bool looks_full = used_bytes_ + bytes > max_bytes_;
  if (at_segment_boundary || (looks_full && now - used_listed_at_ >= std::chrono::seconds(1))) {
    used_bytes_ = directory_bytes();
    used_listed_at_ = now;
  }
  if (used_bytes_ + bytes <= max_bytes_) return true;
  error = "the spool is full (" + std::to_string(used_bytes_) + " of " + std::to_string(max_bytes_) + " bytes used)";
  return false;
}

bool Spool::append(const core::SpoolRecord& record, std::string& error) {
  const std::string bytes = core::encode_spool_record(record);
  std::shared_ptr<Segment> segment;
  std::uint64_t record_end = 0;
  {
    std::lock_guard lock(mutex_);
    const bool opens_a_segment = !current_ || current_->broken;
    if (!has_room_for(bytes.size(), opens_a_segment, error)) return false;
    if (opens_a_segment) {
      current_ = open_new_segment(error);
      if (!current_) return false;
      own_segments_.push_back(current_);
    }
    segment = current_;
    if (!write_all(segment->fd, bytes)) {
      error = "write to \"" + segment->path + "\" failed: " + errno_text();
      // Cut the partial record off so the segment stays a clean sequence of records.
      if (ftruncate(segment->fd, static_cast<off_t>(segment->written_end.load())) != 0) segment->broken = true;
      current_.reset();
      return false;
    }
    record_end = segment->written_end += bytes.size();
    used_bytes_ += bytes.size();
    backlog_ = true;
  }
  // Group commit: one fdatasync covers every record written before it started, so
  // concurrent appenders mostly find their record already synced when they get here.
  std::lock_guard sync_lock(segment->sync_mutex);
  if (segment->broken) {
    error = "an earlier write or sync of \"" + segment->path + "\" failed";
    return false;
  }
  if (segment->synced_end.load() >= record_end) return true;
  const std::uint64_t target = segment->written_end.load();
  if (fdatasync(segment->fd) != 0) {
    error = "fdatasync of \"" + segment->path + "\" failed: " + errno_text();
    segment->broken = true;  // after a failed sync the kernel may have dropped the data
    return false;
  }
  segment->synced_end = target;
  return true;
}

// Seals the current segment and lists what this pass may deliver, oldest first: this process's
// segments, and those of dead processes (whose flock it can take), each held locked.
std::vector<Spool::Candidate> Spool::drain_candidates() {
  std::vector<Candidate> candidates;
  {
    std::lock_guard lock(mutex_);
    current_.reset();  // seal: appends from now on open a new segment
    for (const auto& segment : own_segments_) candidates.push_back({segment->name, segment->path, segment, -1});
  }
  for (const std::string& name : list_segment_names(directory_)) {
    const bool is_own = std::any_of(candidates.begin(), candidates.end(), [&](const Candidate& c) { return c.name == name; });
    if (is_own) continue;
    const std::string path = directory_ + "/" + name;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    // Its process is alive and drains it itself. Only this process's own backlog holds its
    // new events back: waiting on a sibling's live segments too would keep two busy processes
    // spooling behind each other for as long as the load lasts.
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      continue;
    }
    // Another drainer may have finished and deleted it between our open and our lock.
    struct stat by_fd {}, by_path {};
    if (fstat(fd, &by_fd) != 0 || stat(path.c_str(), &by_path) != 0 || by_fd.st_ino != by_path.st_ino) {
      close(fd);
      continue;
    }
    candidates.push_back({name, path, nullptr, fd});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) { return a.name < b.name; });
  return candidates;
}

// Delivers one segment from its progress note, in batches, noting progress as it goes; true when
// all of it is delivered (the segment is then deleted). One function of ~60 lines because the
// two offsets (delivered, read) and the batch move together; split, they would travel as a struct.
bool Spool::drain_segment(const Candidate& candidate, const Deliver& deliver, DrainResult& result) {
  const int read_fd = candidate.own ? open(candidate.path.c_str(), O_RDONLY | O_CLOEXEC) : candidate.lock_fd;
  if (read_fd < 0) {
    result.error = "cannot read \"" + candidate.path + "\": " + errno_text();
    return false;
  }
  const RecordReader reader{read_fd, candidate.own ? candidate.own->written_end.load() : file_size(read_fd)};
  std::uint64_t offset = read_progress(candidate.path);  // where the first undelivered record starts
  std::uint64_t read_end = offset;                        // where the next record to read starts
  std::vector<core::SpoolRecord> batch;
  std::size_t batch_bytes = 0;
  std::size_t since_note = 0;
  bool complete = true;
  // One script per batch: a drain that sent one record per round trip (and per WAIT, with
  // replicas) fell behind the requests arriving meanwhile and never caught up.
  const auto flush = [&] {
    if (batch.empty()) return true;
    std::string error;
    if (!deliver(batch, error)) {
      result.error = error;
      return false;
    }
    result.delivered += batch.size();
    since_note += batch.size();
    batch.clear();
    batch_bytes = 0;
    offset = read_end;
    if (since_note >= records_per_progress_note) {
      write_progress(candidate.path, offset);
      since_note = 0;
    }
    return true;
  };
  while (read_end < reader.size) {
    core::DecodeResult decoded = reader.read(read_end);
    if (decoded.status != core::DecodeStatus::ok) {
      if (!flush()) {
        complete = false;
        break;
      }
      const std::uint64_t next = decoded.status == core::DecodeStatus::truncated ? reader.size : reader.resync(read_end);
      spdlog::error("spool segment \"{}\": {} record at byte {} ({} bytes skipped); the records before it were delivered",
                    candidate.path, decoded.status == core::DecodeStatus::truncated ? "torn" : "corrupt", read_end, next - read_end);
      ++result.torn;
      offset = read_end = next;
      continue;
    }
    read_end += decoded.size;
    batch_bytes += decoded.size;
    batch.push_back(std::move(decoded.record));
    if ((batch.size() >= records_per_batch || batch_bytes >= bytes_per_batch) && !flush()) {
      complete = false;
      break;
    }
  }
  if (complete && !flush()) complete = false;
  if (candidate.own) close(read_fd);
  if (complete) remove_segment(candidate.path);
  else write_progress(candidate.path, offset);
  return complete;
}

// What arrived during a pass is small: finish it while appends wait (mutex_ is held), then
// switch back to Redis, so the order of events holds.
bool Spool::drain_tail(const Deliver& deliver, DrainResult& result) {
  std::uint64_t remaining = 0;
  for (const auto& segment : own_segments_) remaining += segment->written_end.load();
  if (remaining > final_pass_bytes) return true;
  current_.reset();
  for (const auto& segment : std::vector(own_segments_)) {
    if (!drain_segment({segment->name, segment->path, segment, -1}, deliver, result)) return false;
    std::erase(own_segments_, segment);
  }
  return true;
}

DrainResult Spool::drain(const Deliver& deliver) {
  DrainResult result;
  bool all_delivered = true;
  for (const Candidate& candidate : drain_candidates()) {
    if (all_delivered) all_delivered = drain_segment(candidate, deliver, result);
    if (candidate.lock_fd >= 0) close(candidate.lock_fd);
    if (all_delivered && candidate.own) {
      std::lock_guard lock(mutex_);
      std::erase(own_segments_, candidate.own);
    }
  }
  std::lock_guard lock(mutex_);
  if (all_delivered && !own_segments_.empty()) all_delivered = drain_tail(deliver, result);
  result.complete = all_delivered && own_segments_.empty();
  backlog_ = !own_segments_.empty() || !all_delivered;
  return result;
}

SpoolStatus Spool::scan_status(const std::string& directory) {
  SpoolStatus status;
  for (const std::string& name : list_segment_names(directory)) {
    const std::string path = directory + "/" + name;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ++status.segments;
    const std::uint64_t size = file_size(fd);
    std::uint64_t offset = read_progress(path);
    while (offset < size) {
      char head[core::spool_record_head_bytes];
      const std::size_t got = read_at(fd, offset, head, sizeof head);
      const auto record = core::peek_spool_record(std::string_view(head, got));
      if (!record || offset + record->size > size) {
        ++status.torn_records;
        break;
      }
      if (!status.oldest_written_at_ms || record->written_at_ms < *status.oldest_written_at_ms) {
        status.oldest_written_at_ms = record->written_at_ms;
      }
      ++status.records;
      status.bytes += record->size;
      offset += record->size;
    }
    close(fd);
  }
  return status;
}

}  // namespace boardhook::io
