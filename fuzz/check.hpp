// check.hpp -- the one assertion the fuzz targets use: print what broke, then abort for libFuzzer.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace boardhook::fuzz {

// An invariant of the core failed: say which, then abort so libFuzzer keeps the input as a crash.
// (assert() would vanish under NDEBUG, which RelWithDebInfo defines.)
[[noreturn]] inline void fail(const char* file, int line, std::string_view what) {
  std::fprintf(stderr, "%s:%d: invariant broken: %.*s\n", file, line, static_cast<int>(what.size()), what.data());
  std::abort();
}

}  // namespace boardhook::fuzz

#define FUZZ_CHECK(condition) \
  do { \
    if (!(condition)) ::boardhook::fuzz::fail(__FILE__, __LINE__, #condition); \
  } while (false)
