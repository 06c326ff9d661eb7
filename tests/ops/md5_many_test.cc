// Multi-buffer MD5 (ops/text/md5_many.h) against the scalar Md5Digest (ops/text/md5.h), for every path this
// CPU can run (scalar and AVX2 forced explicitly, AVX-512 when present): random messages of every length
// 0..300 (0, 1 and 2+ blocks, every padding boundary around 55/56/64 bytes), shuffled and cut into random
// batches of 1..100 so every lane-count remainder and every mix of block counts across lanes occurs.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <sys/mman.h>

#include "ops/text/md5.h"
#include "ops/text/md5_many.h"

namespace sluice {
namespace {

using text::Md5ManyPath;

struct PathCase {
  const char* name;
  Md5ManyPath path;
};

constexpr PathCase kPaths[] = {
    {"scalar", Md5ManyPath::kScalar}, {"avx2", Md5ManyPath::kAvx2}, {"avx512", Md5ManyPath::kAvx512}};

TEST(Md5Many, MatchesScalarOnEveryLengthAndBatchSize) {
  std::mt19937_64 rng(20240517);
  // Three messages of each length 0..300, in random order, from random bytes (NUL and 0x80 included).
  std::vector<std::string> owned;
  for (int rep = 0; rep < 3; ++rep)
    for (size_t len = 0; len <= 300; ++len) {
      std::string s(len, '\0');
      for (char& c : s) c = static_cast<char>(rng() & 0xFF);
      owned.push_back(std::move(s));
    }
  std::shuffle(owned.begin(), owned.end(), rng);
  std::vector<std::string_view> msgs(owned.begin(), owned.end());
  std::vector<std::array<uint8_t, 16>> want(msgs.size());
  for (size_t i = 0; i < msgs.size(); ++i) text::Md5Digest(msgs[i], want[i].data());
  // A known answer too, so the scalar reference itself is pinned.
  ASSERT_EQ(text::Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");

  for (const PathCase& pc : kPaths) {
    if (!text::Md5ManyPathAvailable(pc.path)) {
      ASSERT_NE(pc.path, Md5ManyPath::kScalar);
      std::printf("[   INFO   ] Md5Many path %s: not available on this CPU, skipped\n", pc.name);
      continue;
    }
    SCOPED_TRACE(pc.name);
    std::uniform_int_distribution<size_t> batch(1, 100);
    for (int pass = 0; pass < 4; ++pass) {
      std::vector<std::array<uint8_t, 16>> got(msgs.size());
      for (auto& g : got) g.fill(0xAB);
      for (size_t at = 0; at < msgs.size();) {
        size_t k = std::min(batch(rng), msgs.size() - at);
        text::Md5Many(msgs.data() + at, k, reinterpret_cast<uint8_t(*)[16]>(got[at].data()), pc.path);
        at += k;
      }
      for (size_t i = 0; i < msgs.size(); ++i)
        ASSERT_EQ(got[i], want[i]) << "message " << i << " of length " << msgs[i].size() << ", pass " << pass;
    }
    // Every batch size 1..100 from the start, and an empty batch that must touch nothing.
    for (size_t k = 1; k <= 100; ++k) {
      std::vector<std::array<uint8_t, 16>> got(k);
      text::Md5Many(msgs.data(), k, reinterpret_cast<uint8_t(*)[16]>(got[0].data()), pc.path);
      for (size_t i = 0; i < k; ++i) ASSERT_EQ(got[i], want[i]) << "batch " << k << ", message " << i;
    }
    text::Md5Many(msgs.data(), 0, nullptr, pc.path);
  }
  // The default dispatch agrees too.
  std::vector<std::array<uint8_t, 16>> got(msgs.size());
  text::Md5Many(msgs.data(), msgs.size(), reinterpret_cast<uint8_t(*)[16]>(got[0].data()));
  for (size_t i = 0; i < msgs.size(); ++i) ASSERT_EQ(got[i], want[i]) << "message " << i;
}

// Md5Prefix64: the first 8 digest bytes as a little-endian uint64, on every path, for random mixes of
// one- and two-block messages (<= 119 bytes, the in-register AVX-512 path) and longer ones, in batches of 0..100.
TEST(Md5Many, Prefix64MatchesScalarOnEveryPath) {
  std::mt19937_64 rng(77);
  std::vector<std::string> owned;
  for (int rep = 0; rep < 4; ++rep)
    for (size_t len = 0; len <= 200; ++len) {
      std::string s(len, '\0');
      for (char& c : s) c = static_cast<char>(rng() & 0xFF);
      owned.push_back(std::move(s));
    }
  // Mostly short messages, as shingles are.
  for (int rep = 0; rep < 2000; ++rep) {
    std::string s(rng() % 56, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xFF);
    owned.push_back(std::move(s));
  }
  std::shuffle(owned.begin(), owned.end(), rng);
  std::vector<std::string_view> msgs(owned.begin(), owned.end());
  std::vector<uint64_t> want(msgs.size());
  for (size_t i = 0; i < msgs.size(); ++i) {
    uint8_t d[16];
    text::Md5Digest(msgs[i], d);
    std::memcpy(&want[i], d, 8);
  }
  for (const PathCase& pc : kPaths) {
    if (!text::Md5ManyPathAvailable(pc.path)) continue;
    SCOPED_TRACE(pc.name);
    std::uniform_int_distribution<size_t> batch(0, 100);
    std::vector<uint64_t> got(msgs.size(), 0xABABABABABABABABull);
    for (size_t at = 0; at < msgs.size();) {
      size_t k = std::min(batch(rng), msgs.size() - at);
      text::Md5Prefix64(msgs.data() + at, k, got.data() + at, pc.path);
      at += k;
    }
    for (size_t i = 0; i < msgs.size(); ++i) ASSERT_EQ(got[i], want[i]) << "message " << i << " of length " << msgs[i].size();
  }
  std::vector<uint64_t> got(msgs.size());
  text::Md5Prefix64(msgs.data(), msgs.size(), got.data());
  EXPECT_EQ(got, want);
  // A message ending right before an unreadable page: the masked load must not touch the next page.
  const size_t page = 4096;
  void* mem = std::aligned_alloc(page, 2 * page);
  ASSERT_NE(mem, nullptr);
  char* end = static_cast<char*>(mem) + page;
  std::memset(mem, 'x', page);
  if (mprotect(end, page, PROT_NONE) == 0) {
    for (size_t len = 0; len <= 130; ++len) {
      std::string_view m(end - len, len);
      uint64_t g = 0;
      uint8_t d[16];
      text::Md5Digest(m, d);
      uint64_t w;
      std::memcpy(&w, d, 8);
      text::Md5Prefix64(&m, 1, &g);
      ASSERT_EQ(g, w) << len;
    }
    mprotect(end, page, PROT_READ | PROT_WRITE);
  }
  std::free(mem);
}

}  // namespace
}  // namespace sluice
