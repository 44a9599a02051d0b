// digest.cpp -- SHA-256 through libcrypto's EVP interface.
#include "core/digest.hpp"

#include <openssl/evp.h>

#include <new>

namespace boardhook::core {

namespace {

// Fetched once and kept for the life of the process: given EVP_sha256(), every EVP_DigestInit_ex2
// looks the algorithm up in the provider store again, about 2,700 instructions (callgrind), more
// than hashing a whole event with the SHA extensions.
const EVP_MD* sha256_algorithm() {
  static const EVP_MD* const algorithm = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return algorithm;
}

}  // namespace

void Sha256::ContextDeleter::operator()(evp_md_ctx_st* context) const { EVP_MD_CTX_free(context); }

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  // With the algorithm in hand these fail only when memory does.
  if (!context_ || EVP_DigestInit_ex2(context_.get(), sha256_algorithm(), nullptr) != 1) throw std::bad_alloc();
}

Sha256::~Sha256() = default;

void Sha256::update(std::string_view bytes) { EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size()); }

std::array<std::uint8_t, 32> Sha256::digest() {
  std::array<std::uint8_t, 32> out{};
  unsigned int size = 0;
  EVP_DigestFinal_ex(context_.get(), out.data(), &size);
  return out;
}

std::string Sha256::hex_digest() {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (std::uint8_t byte : digest()) {
    out += hex[byte >> 4];
    out += hex[byte & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 hash;
  hash.update(bytes);
  return hash.hex_digest();
}

}  // namespace boardhook::core
