// SHA-1 (FIPS 180-4), small and dependency-free, for document_minhash_deduplicator: a shingle's hash is the
// first 4 bytes of its SHA-1 read as a little-endian uint32 (datajuicer-ops.md §5).
//
// Contract: Sha1 h; h.Update(a); h.Update(b); h.Final(d) gives hashlib.sha1(a + b).digest(). Sha1Digest is
// the one-shot form, Sha1Le32(s) = int.from_bytes(sha1(s).digest()[:4], 'little'). No allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::text {

class Sha1 {
 public:
  Sha1() { Reset(); }
  void Reset();
  void Update(std::string_view data);
  void Final(uint8_t digest[20]);

 private:
  uint32_t s_[5];
  uint64_t len_ = 0;
  unsigned char buf_[64];
  size_t buf_len_ = 0;
};

void Sha1Digest(std::string_view data, uint8_t digest[20]);
// One block with the portable code (Sha1 uses the SHA extensions where the CPU has them): exposed so tests
// cover this path on every machine.
void Sha1CompressPortable(uint32_t state[5], const unsigned char block[64]);
uint32_t Sha1Le32(std::string_view data);

}  // namespace sluice::text
