// digest.hpp -- SHA-256 through OpenSSL's libcrypto, for content-derived event ids.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace boardhook::core {

// An incremental SHA-256. libcrypto picks the fastest code this CPU runs (the SHA extensions,
// AVX2, ...) once per process; every choice gives the same digest.
class Sha256 {
 public:
  Sha256();  // throws std::bad_alloc when libcrypto cannot allocate its context
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  // Finishes the hash; the object must not be updated afterwards.
  std::array<std::uint8_t, 32> digest();
  std::string hex_digest();

 private:
  struct ContextDeleter {
    void operator()(evp_md_ctx_st* context) const;
  };
  std::unique_ptr<evp_md_ctx_st, ContextDeleter> context_;
};

// The lowercase hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

}  // namespace boardhook::core
