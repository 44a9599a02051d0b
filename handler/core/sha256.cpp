// sha256.cpp -- SHA-256 written from FIPS 180-4, in portable C++ and with the x86 SHA extensions.
#include "core/sha256.hpp"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace boardhook::core {

namespace {

constexpr std::array<std::uint32_t, 64> round_constants = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

constexpr std::array<std::uint32_t, 8> initial_state = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

constexpr std::size_t block_size = 64;

// ---------------------------------------------------------------- portable

constexpr std::uint32_t rotate_right(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

// The four functions of FIPS 180-4 4.1.2, with the rotations nested: ROTR 2 ^ ROTR 13 ^ ROTR 22 is
// ROTR 2 of (x ^ ROTR 11 of (x ^ ROTR 9 of x)). The same bits, but each step works on the last
// one's result instead of a fresh copy of x, which saves a register move per rotation on x86.
constexpr std::uint32_t big_sigma0(std::uint32_t x) {
  return rotate_right(x ^ rotate_right(x ^ rotate_right(x, 9), 11), 2);
}
constexpr std::uint32_t big_sigma1(std::uint32_t x) {
  return rotate_right(x ^ rotate_right(x ^ rotate_right(x, 14), 5), 6);
}
constexpr std::uint32_t small_sigma0(std::uint32_t x) { return rotate_right(x ^ rotate_right(x, 11), 7) ^ (x >> 3); }
constexpr std::uint32_t small_sigma1(std::uint32_t x) { return rotate_right(x ^ rotate_right(x, 2), 17) ^ (x >> 10); }

std::uint32_t load_big_endian(const std::uint8_t* bytes) {
  return std::uint32_t{bytes[0]} << 24 | std::uint32_t{bytes[1]} << 16 | std::uint32_t{bytes[2]} << 8 |
         std::uint32_t{bytes[3]};
}

// Replaces the sixteen message words W[t-16..t-1] by the next sixteen, W[t..t+15], in place: each
// W[t+i] takes the slot of W[t+i-16], which only W[t+i] itself needed.
void extend_schedule(std::array<std::uint32_t, 16>& words) {
  for (int i = 0; i < 16; ++i) {
    words[i] += small_sigma0(words[(i + 1) & 15]) + words[(i + 9) & 15] + small_sigma1(words[(i + 14) & 15]);
  }
}

// One round of FIPS 180-4 6.2.2 step 3, in place: only d (which becomes the new e) and h (the new a)
// change. Instead of moving the eight values along after each round, the caller names them one
// place further along, which spares the eight copies a round would otherwise cost.
// Ch and Maj are written in equivalent forms with one operation fewer than the standard's.
inline void apply_round(std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t& d, std::uint32_t e,
                        std::uint32_t f, std::uint32_t g, std::uint32_t& h, std::uint32_t constant_plus_word) {
  const std::uint32_t choose = g ^ (e & (f ^ g));
  const std::uint32_t majority = (a & b) | (c & (a | b));
  const std::uint32_t temp1 = h + big_sigma1(e) + choose + constant_plus_word;
  d += temp1;
  h = temp1 + big_sigma0(a) + majority;
}

void compress_portable(std::uint32_t* state, const std::uint8_t* blocks, std::size_t block_count) {
  for (; block_count > 0; --block_count, blocks += block_size) {
    std::array<std::uint32_t, 16> words;
    for (int i = 0; i < 16; ++i) words[i] = load_big_endian(blocks + 4 * i);
    std::uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    std::uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int t = 0; t < 64; t += 16) {
      if (t > 0) extend_schedule(words);
      const std::uint32_t* constants = &round_constants[t];
      apply_round(a, b, c, d, e, f, g, h, constants[0] + words[0]);
      apply_round(h, a, b, c, d, e, f, g, constants[1] + words[1]);
      apply_round(g, h, a, b, c, d, e, f, constants[2] + words[2]);
      apply_round(f, g, h, a, b, c, d, e, constants[3] + words[3]);
      apply_round(e, f, g, h, a, b, c, d, constants[4] + words[4]);
      apply_round(d, e, f, g, h, a, b, c, constants[5] + words[5]);
      apply_round(c, d, e, f, g, h, a, b, constants[6] + words[6]);
      apply_round(b, c, d, e, f, g, h, a, constants[7] + words[7]);
      apply_round(a, b, c, d, e, f, g, h, constants[8] + words[8]);
      apply_round(h, a, b, c, d, e, f, g, constants[9] + words[9]);
      apply_round(g, h, a, b, c, d, e, f, constants[10] + words[10]);
      apply_round(f, g, h, a, b, c, d, e, constants[11] + words[11]);
      apply_round(e, f, g, h, a, b, c, d, constants[12] + words[12]);
      apply_round(d, e, f, g, h, a, b, c, constants[13] + words[13]);
      apply_round(c, d, e, f, g, h, a, b, constants[14] + words[14]);
      apply_round(b, c, d, e, f, g, h, a, constants[15] + words[15]);
    }
    state[0] += a; state[1] += b; state[2] += c; state[3] += d;
    state[4] += e; state[5] += f; state[6] += g; state[7] += h;
  }
}

// ---------------------------------------------------------------- x86 SHA extensions

#if defined(__x86_64__)

// Compiled for the SHA extensions function by function, so the rest of the build needs no -m flags
// and the binary still starts on CPUs without them; these run only when cpu_has_sha_extensions().
#define BOARDHOOK_SHA_EXTENSIONS __attribute__((target("sha,sse4.1,ssse3")))

bool cpu_has_sha_extensions() {
  constexpr unsigned leaf1_ecx_ssse3 = 1u << 9;
  constexpr unsigned leaf1_ecx_sse4_1 = 1u << 19;
  constexpr unsigned leaf7_ebx_sha = 1u << 29;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool has_shuffle_and_blend = (ecx & leaf1_ecx_ssse3) != 0 && (ecx & leaf1_ecx_sse4_1) != 0;
  // __get_cpuid_count returns 0 when the CPU has no leaf 7.
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  return has_shuffle_and_blend && (ebx & leaf7_ebx_sha) != 0;
}

// Four message words, big-endian in memory.
BOARDHOOK_SHA_EXTENSIONS inline __m128i load_words(const std::uint8_t* bytes) {
  const __m128i reverse_bytes_of_each_word = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
  return _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes)), reverse_bytes_of_each_word);
}

// W[t..t+3] from the sixteen words before them, given as W[t-16..t-13], ..., W[t-4..t-1].
BOARDHOOK_SHA_EXTENSIONS inline __m128i next_words(__m128i w16, __m128i w12, __m128i w8, __m128i w4) {
  const __m128i partial = _mm_sha256msg1_epu32(w16, w12);                     // W[t-16] + sigma0(W[t-15])
  const __m128i with_w7 = _mm_add_epi32(partial, _mm_alignr_epi8(w4, w8, 4));  // + W[t-7]
  return _mm_sha256msg2_epu32(with_w7, w4);                                    // + sigma1(W[t-2])
}

// Rounds t..t+3. sha256rnds2 does two rounds on the state held as ABEF and CDGH and returns the new
// ABEF, while the old ABEF is the new CDGH: so the second call has the two variables swap roles,
// and after it each holds what its name says again.
BOARDHOOK_SHA_EXTENSIONS inline void four_rounds(__m128i& abef, __m128i& cdgh, __m128i words, int t) {
  const __m128i constants = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&round_constants[t]));
  const __m128i constants_plus_words = _mm_add_epi32(constants, words);
  cdgh = _mm_sha256rnds2_epu32(cdgh, abef, constants_plus_words);
  abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(constants_plus_words, 0x0e));
}

BOARDHOOK_SHA_EXTENSIONS void compress_with_sha_extensions(std::uint32_t* state, const std::uint8_t* blocks,
                                                           std::size_t block_count) {
  // The instructions take the state as ABEF and CDGH (lanes 3..0); memory holds A..H, A first.
  // It stays in that form across all the blocks and is put back once at the end.
  const __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));
  const __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));
  const __m128i cdab = _mm_shuffle_epi32(dcba, 0xb1);
  const __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1b);
  __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
  __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xf0);

  for (; block_count > 0; --block_count, blocks += block_size) {
    const __m128i abef_before = abef;
    const __m128i cdgh_before = cdgh;
    __m128i w0 = load_words(blocks);
    __m128i w1 = load_words(blocks + 16);
    __m128i w2 = load_words(blocks + 32);
    __m128i w3 = load_words(blocks + 48);
    four_rounds(abef, cdgh, w0, 0);
    four_rounds(abef, cdgh, w1, 4);
    four_rounds(abef, cdgh, w2, 8);
    four_rounds(abef, cdgh, w3, 12);
    for (int t = 16; t < 64; t += 16) {
      w0 = next_words(w0, w1, w2, w3);
      four_rounds(abef, cdgh, w0, t);
      w1 = next_words(w1, w2, w3, w0);
      four_rounds(abef, cdgh, w1, t + 4);
      w2 = next_words(w2, w3, w0, w1);
      four_rounds(abef, cdgh, w2, t + 8);
      w3 = next_words(w3, w0, w1, w2);
      four_rounds(abef, cdgh, w3, t + 12);
    }
    abef = _mm_add_epi32(abef, abef_before);
    cdgh = _mm_add_epi32(cdgh, cdgh_before);
  }

  const __m128i feba = _mm_shuffle_epi32(abef, 0x1b);
  const __m128i dchg = _mm_shuffle_epi32(cdgh, 0xb1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), _mm_blend_epi16(feba, dchg, 0xf0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), _mm_alignr_epi8(dchg, feba, 8));
}

#undef BOARDHOOK_SHA_EXTENSIONS

#endif  // __x86_64__

// Asking the CPU once is enough: its answer cannot change while the process runs. It is not input
// to the core's decisions either, as every implementation gives the same digest.
bool is_sha_extensions_supported() {
#if defined(__x86_64__)
  static const bool supported = cpu_has_sha_extensions();
  return supported;
#else
  return false;
#endif
}

Sha256::Implementation fastest_implementation() {
  return is_sha_extensions_supported() ? Sha256::Implementation::x86_sha_extensions
                                       : Sha256::Implementation::portable;
}

}  // namespace

Sha256::Sha256() : Sha256(fastest_implementation()) {}

Sha256::Sha256(Implementation implementation)
    : implementation_(is_supported(implementation) ? implementation : Implementation::portable),
      state_(initial_state) {}

bool Sha256::is_supported(Implementation implementation) {
  switch (implementation) {
    case Implementation::portable: return true;
    case Implementation::x86_sha_extensions: return is_sha_extensions_supported();
  }
  return false;
}

void Sha256::compress_blocks(const std::uint8_t* blocks, std::size_t block_count) {
  if (block_count == 0) return;
#if defined(__x86_64__)
  if (implementation_ == Implementation::x86_sha_extensions) {
    compress_with_sha_extensions(state_.data(), blocks, block_count);
    return;
  }
#endif
  compress_portable(state_.data(), blocks, block_count);
}

void Sha256::update(std::string_view bytes) {
  if (bytes.empty()) return;
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  std::size_t size = bytes.size();
  total_bytes_ += size;
  if (buffered_ > 0) {
    const std::size_t take = std::min(size, block_size - buffered_);
    std::memcpy(buffer_.data() + buffered_, data, take);
    buffered_ += take; data += take; size -= take;
    if (buffered_ < block_size) return;
    compress_blocks(buffer_.data(), 1);
    buffered_ = 0;
  }
  // All the whole blocks in one call, so the SHA extensions keep the state in registers across them.
  const std::size_t whole_blocks = size / block_size;
  compress_blocks(data, whole_blocks);
  data += whole_blocks * block_size;
  size -= whole_blocks * block_size;
  std::memcpy(buffer_.data(), data, size);
  buffered_ = size;
}

std::array<std::uint8_t, 32> Sha256::digest() {
  const std::uint64_t bit_length = total_bytes_ * 8;
  // Padding: a 1 bit, zeros up to 56 mod 64, then the message length in bits, big-endian. When the
  // 1 bit leaves no room for the length, the zeros fill this block and the length ends the next.
  buffer_[buffered_++] = 0x80;
  if (buffered_ > block_size - 8) {
    std::fill(buffer_.begin() + buffered_, buffer_.end(), std::uint8_t{0});
    compress_blocks(buffer_.data(), 1);
    buffered_ = 0;
  }
  std::fill(buffer_.begin() + buffered_, buffer_.end() - 8, std::uint8_t{0});
  for (int i = 0; i < 8; ++i) buffer_[56 + i] = static_cast<std::uint8_t>(bit_length >> (56 - 8 * i));
  compress_blocks(buffer_.data(), 1);

  std::array<std::uint8_t, 32> out;
  for (int i = 0; i < 8; ++i) {
    out[4 * i] = static_cast<std::uint8_t>(state_[i] >> 24);
    out[4 * i + 1] = static_cast<std::uint8_t>(state_[i] >> 16);
    out[4 * i + 2] = static_cast<std::uint8_t>(state_[i] >> 8);
    out[4 * i + 3] = static_cast<std::uint8_t>(state_[i]);
  }
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
