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
