// spool_test.cpp -- the disk spool's size accounting, in a temporary folder.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "io/spool.hpp"

using namespace boardhook;

namespace {

// A fresh folder under $TMPDIR, removed with what it holds when the test ends.
struct TemporaryFolder {
  std::string path;
  TemporaryFolder() {
    std::string pattern = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + std::string("/boardhook-io-XXXXXX");
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TemporaryFolder() {
    if (DIR* dir = opendir(path.c_str())) {
      while (const dirent* entry = readdir(dir)) {
        const std::string name = entry->d_name;
        if (name != "." && name != "..") unlink((path + "/" + name).c_str());
      }
      closedir(dir);
    }
    rmdir(path.c_str());
  }
};

core::SpoolRecord record_of(std::size_t payload_bytes) {
  core::SpoolRecord record;
  record.written_at_ms = 1709210096789;
  record.fields = {"boardhook:queue:t", "boardhook:event-types", "boardhook:counters", "t", std::string(payload_bytes, 'x')};
  return record;
}

std::uint64_t bytes_on_disk(const std::string& folder) {
  std::uint64_t total = 0;
  if (DIR* dir = opendir(folder.c_str())) {
    while (const dirent* entry = readdir(dir)) {
      struct stat info {};
      if (std::string(entry->d_name).ends_with(".spool") && stat((folder + "/" + entry->d_name).c_str(), &info) == 0) {
        total += static_cast<std::uint64_t>(info.st_size);
      }
    }
    closedir(dir);
  }
  return total;
}

}  // namespace

TEST_CASE("appending does not list the spool folder for each record") {
  TemporaryFolder folder;
  io::Spool spool(folder.path, 64ull << 20);
  const std::uint64_t scans_at_start = spool.directory_scans();
  std::string error;
  for (int i = 0; i < 200; ++i) REQUIRE(spool.append(record_of(100), error));
  // One listing when the first segment is opened; none per record.
  CHECK(spool.directory_scans() - scans_at_start <= 1);
}

TEST_CASE("the running total refuses a record that would overfill the spool, and nothing is cut") {
  TemporaryFolder folder;
  io::Spool spool(folder.path, 1u << 20);
  std::string error;
  int appended = 0;
  while (spool.append(record_of(10'000), error)) ++appended;
  CHECK(appended >= 100);
  CHECK_THAT(error, Catch::Contains("the spool is full"));
  CHECK(bytes_on_disk(folder.path) <= (1u << 20));
  CHECK(spool.append(record_of(10), error));  // a small one still fits
}

TEST_CASE("segments other processes left in the folder count against the limit") {
  TemporaryFolder folder;
  {
    std::ofstream foreign(folder.path + "/seg-00000000000000000001-otherhost-1-0.spool", std::ios::binary);
    foreign << std::string(900 * 1024, 'z');
  }
  io::Spool spool(folder.path, 1u << 20);
  std::string error;
  CHECK_FALSE(spool.append(record_of(200 * 1024), error));
  CHECK_THAT(error, Catch::Contains("the spool is full"));
  CHECK(spool.append(record_of(50 * 1024), error));
}

TEST_CASE("space a drain frees is seen by the next segment") {
  TemporaryFolder folder;
  io::Spool spool(folder.path, 1u << 20);
  std::string error;
  while (spool.append(record_of(10'000), error)) {
  }
  const auto drained = spool.drain([](std::span<const core::SpoolRecord>, std::string&) { return true; });
  CHECK(drained.complete);
  CHECK(bytes_on_disk(folder.path) == 0);
  for (int i = 0; i < 50; ++i) REQUIRE(spool.append(record_of(10'000), error));
}

TEST_CASE("a drain hands over records in batches, in order, and a refused batch is offered again whole") {
  TemporaryFolder folder;
  io::Spool spool(folder.path, 64u << 20);
  std::string error;
  constexpr int records = 300;
  for (int i = 0; i < records; ++i) {
    core::SpoolRecord record = record_of(100);
    record.fields.back() = std::to_string(i);
    REQUIRE(spool.append(record, error));
  }
  std::vector<std::string> delivered;
  std::vector<std::size_t> batch_sizes;
  int calls = 0;
  const auto first = spool.drain([&](std::span<const core::SpoolRecord> batch, std::string& why) {
    if (++calls == 2) {
      why = "redis went away";
      return false;
    }
    batch_sizes.push_back(batch.size());
    for (const auto& record : batch) delivered.push_back(record.fields.back());
    return true;
  });
  CHECK_FALSE(first.complete);
  CHECK(first.error == "redis went away");
  CHECK(first.delivered == batch_sizes.at(0));
  CHECK(batch_sizes.at(0) > 1);  // one round trip for many records
  const auto second = spool.drain([&](std::span<const core::SpoolRecord> batch, std::string&) {
    for (const auto& record : batch) delivered.push_back(record.fields.back());
    return true;
  });
  CHECK(second.complete);
  CHECK(first.delivered + second.delivered == records);
  REQUIRE(delivered.size() == records);  // the refused batch came again, nothing before it did
  for (int i = 0; i < records; ++i) CHECK(delivered[static_cast<std::size_t>(i)] == std::to_string(i));
  CHECK(bytes_on_disk(folder.path) == 0);
}
