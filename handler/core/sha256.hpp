// sha256.hpp -- SHA-256 (FIPS 180-4), incremental, for content-derived event ids.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace boardhook::core {

class Sha256 {
 public:
  // The ways this build can compress a block. Every one gives the same digest; they differ in speed
  // and in the CPUs they run on.
  enum class Implementation {
    portable,            // plain C++, any CPU
    x86_sha_extensions,  // the SHA-NI instructions of x86-64 (with SSSE3 and SSE4.1)
  };

  // Uses the fastest implementation this CPU supports, chosen once per process.
  Sha256();
  // Uses `implementation` if this CPU supports it and the portable one otherwise; implementation()
  // says which. Meant for tests that compare the implementations.
  explicit Sha256(Implementation implementation);

  static bool is_supported(Implementation implementation);
  Implementation implementation() const { return implementation_; }

  void update(std::string_view bytes);
  // Finishes the hash; the object must not be updated afterwards.
  std::array<std::uint8_t, 32> digest();
  std::string hex_digest();

 private:
  void compress_blocks(const std::uint8_t* blocks, std::size_t block_count);

  Implementation implementation_;
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::string_view bytes);

}  // namespace boardhook::core
