// Multi-buffer MD5: the digests of many short, independent messages at once, one message per SIMD lane
// (8 lanes with AVX2, 16 with AVX-512F, chosen at run time), for hashing ops that digest every shingle of
// a text (document_simhash_deduplicator). A single MD5 is a serial chain of 64 dependent steps per block,
// so one core runs it at a fraction of its width; independent messages fill the lanes instead.
//
// Contract: Md5Many(msgs, n, digests) sets digests[i] to Md5Digest(msgs[i]) (md5.h) for i < n, byte for
// byte, for messages of any length (lanes whose messages end early take the next message). The message
// bytes must stay valid for the call; nothing is allocated. Md5ManyPath picks an implementation
// explicitly (tests); asking for one the CPU lacks is a programming error, check Md5ManyPathAvailable.
//
// Md5Prefix64(msgs, n, out) sets out[i] to the first 8 bytes of Md5Digest(msgs[i]) read as a little-endian
// uint64 (digest byte k is bits 8k .. 8k + 7), for hashing ops that keep only those (simhash). Same
// guarantees as Md5Many; with kAvx512 (which needs AVX-512F, AVX-512BW and BMI2), messages of at most 119
// bytes (one or two blocks) are hashed 16 at a time without leaving registers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::text {

enum class Md5ManyPath { kScalar, kAvx2, kAvx512 };

// Whether this build and CPU can run `path` (kScalar always can).
bool Md5ManyPathAvailable(Md5ManyPath path);

// The widest available path.
void Md5Many(const std::string_view* msgs, size_t n, uint8_t (*digests)[16]);
void Md5Many(const std::string_view* msgs, size_t n, uint8_t (*digests)[16], Md5ManyPath path);

void Md5Prefix64(const std::string_view* msgs, size_t n, uint64_t* out);
void Md5Prefix64(const std::string_view* msgs, size_t n, uint64_t* out, Md5ManyPath path);

}  // namespace sluice::text
