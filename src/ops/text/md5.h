// MD5 (RFC 1321), small and dependency-free. Used by document_deduplicator (the md5 of the normalized text
// is the duplicate key, datajuicer-ops.md §5) and available to other hashing ops.
//
// Contract: Md5 m; m.Update(a); m.Update(b); m.Final(d) gives the digest of a+b. Md5Hex(s) is
// hashlib.md5(s).hexdigest(). No allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::text {

// RFC 1321's constants, shared by Md5 and the multi-lane Md5Prefix64 (md5_many.h): the sine table and the
// initial state.
inline constexpr uint32_t kMd5K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
inline constexpr uint32_t kMd5Init[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};

class Md5 {
 public:
  Md5() { Reset(); }
  void Reset();
  void Update(std::string_view data);
  void Final(uint8_t digest[16]);

 private:
  void Block(const unsigned char* p);
  uint32_t s_[4];
  uint64_t len_ = 0;
  unsigned char buf_[64];
  size_t buf_len_ = 0;
};

void Md5Digest(std::string_view data, uint8_t digest[16]);
std::string Md5Hex(std::string_view data);

}  // namespace sluice::text
