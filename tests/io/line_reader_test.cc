// LineReader over a mapped file range and over reads must return the same lines, each with its padding
// readable; a mapped file that shrinks under the reader ends the process with a message naming it.
#include "io/line_reader.h"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "io/codec.h"
#include "io/env.h"
#include "temp_dir.h"

namespace sluice {
namespace {

constexpr size_t kPadding = 64;

// Hides Map, so the reader falls back to reading blocks.
class ReadOnlySource : public ByteSource {
 public:
  explicit ReadOnlySource(std::unique_ptr<ByteSource> s) : s_(std::move(s)) {}
  size_t Read(char* buf, size_t n) override { return s_->Read(buf, n); }

 private:
  std::unique_ptr<ByteSource> s_;
};

class LineReaderTest : public ::testing::Test {
 protected:
  // The lines of [begin, end), checking that each line's padding can be read.
  static std::vector<std::string> Lines(std::unique_ptr<ByteSource> src, bool* mapped = nullptr) {
    LineReader r(std::move(src), kPadding, 4096);
    if (mapped) *mapped = r.mapped();
    std::vector<std::string> out;
    std::string_view line;
    volatile char sink = 0;
    while (r.Next(line)) {
      for (size_t i = 0; i < kPadding; ++i) sink = sink + line.data()[line.size() + i];
      out.emplace_back(line);
    }
    return out;
  }
  testing::TempDir tmp_{"sluice-line-reader"};
};

TEST_F(LineReaderTest, MappedAndReadGiveTheSameLines) {
  Env* env = Env::Default();
  const long page = ::sysconf(_SC_PAGESIZE);
  std::vector<std::string> contents = {
      "a\nbb\n\nccc\n",                 // ends with a newline
      "a\nbb\nlast without newline",    // a final line without one, within the padding of the end
      std::string(static_cast<size_t>(page) - 1, 'x') + "\n",  // exactly one page
      std::string(10000, 'y') + "\n" + std::string(9000, 'z') + "\n" + "q",  // lines longer than a block
  };
  for (const auto& c : contents) {
    std::string p = tmp_.Write("f.jsonl", c);
    const uint64_t size = c.size();
    // The whole file, then ranges that start and end inside it (as partitions do).
    for (auto [b, e] : std::vector<std::pair<uint64_t, uint64_t>>{{0, size}, {0, size / 2}, {size / 3, size}, {1, size - 1}}) {
      if (b >= e) continue;
      bool mapped = false;
      auto m = Lines(OpenByteSource(env, p, b, e), &mapped);
      EXPECT_TRUE(mapped);
      auto r = Lines(std::make_unique<ReadOnlySource>(OpenByteSource(env, p, b, e)));
      EXPECT_EQ(m, r) << "range [" << b << ", " << e << ") of a " << size << "-byte file";
    }
  }
}

TEST_F(LineReaderTest, CompressedFilesAreRead) {
  std::string p = tmp_.Write("f.jsonl.zst", "");  // an empty zstd file is zero frames
  LineReader r(OpenWholeFile(Env::Default(), p), kPadding);
  EXPECT_FALSE(r.mapped());
  std::string_view line;
  EXPECT_FALSE(r.Next(line));
}

long RssKiB();

// A source of `data`, handed out at most `chunk` bytes per Read (as a decompressor hands out its blocks).
class ChunkedSource : public ByteSource {
 public:
  ChunkedSource(std::string data, size_t chunk) : data_(std::move(data)), chunk_(chunk) {}
  size_t Read(char* buf, size_t n) override {
    size_t k = std::min({n, chunk_, data_.size() - pos_});
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  size_t chunk_, pos_ = 0;
};

// A line arriving in many small reads is scanned for its end once: rescanning it from its start after each
// read made a 1 GB line of a .gz input take 81 s (quadratic); here 32 MiB in 4 KiB reads would scan 128 GB.
TEST_F(LineReaderTest, ALongLineInSmallReadsIsScannedOnce) {
  const size_t n = 32 << 20;
  std::string data = "{}\n" + std::string(n, 'x') + "\n{}";
  auto t0 = std::chrono::steady_clock::now();
  LineReader r(std::make_unique<ChunkedSource>(std::move(data), 4096), kPadding, 4096);
  std::string_view l;
  ASSERT_TRUE(r.Next(l));
  EXPECT_EQ(l, "{}");
  ASSERT_TRUE(r.Next(l));
  EXPECT_EQ(l.size(), n);
  EXPECT_EQ(l.find_first_not_of('x'), std::string_view::npos);
  ASSERT_TRUE(r.Next(l));
  EXPECT_EQ(l, "{}");
  EXPECT_FALSE(r.Next(l));
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 3.0) << "a 32 MiB line took " << s << " s";
}

// A line longer than max_line throws LineTooLong naming its number, read or mapped, ended by '\n' or by the
// end of the source; the buffered reader holds no more than max_line and a block of it when it throws.
TEST_F(LineReaderTest, ALineLongerThanTheLimitThrows) {
  const std::string content = "{}\n" + std::string(5000, 'a') + "\n{}\n";
  std::string p = tmp_.Write("long.jsonl", content);
  std::string p2 = tmp_.Write("long_last.jsonl", "{}\n{}\n" + std::string(5000, 'b'));
  for (const std::string& path : {p, p2}) {
    for (bool mapped : {true, false}) {
      std::unique_ptr<ByteSource> src = OpenWholeFile(Env::Default(), path);
      if (!mapped) src = std::make_unique<ReadOnlySource>(std::move(src));
      LineReader r(std::move(src), kPadding, 1024, 4999);
      EXPECT_EQ(r.mapped(), mapped);
      std::string_view l;
      ASSERT_TRUE(r.Next(l));
      const uint64_t want = path == p ? 2 : 3;
      if (want == 3) ASSERT_TRUE(r.Next(l));
      try {
        r.Next(l);
        ADD_FAILURE() << path << (mapped ? " mapped" : " read") << ": no LineTooLong";
      } catch (const LineTooLong& e) {
        EXPECT_EQ(e.line(), want);
        EXPECT_EQ(e.limit(), 4999u);
        EXPECT_EQ(e.kind(), ErrorKind::kData);
      }
    }
  }
  // Exactly at the limit is a line.
  LineReader r(std::make_unique<ReadOnlySource>(OpenWholeFile(Env::Default(), p)), kPadding, 1024, 5000);
  std::string_view l;
  ASSERT_TRUE(r.Next(l));
  ASSERT_TRUE(r.Next(l));
  EXPECT_EQ(l.size(), 5000u);
  // A line without end (a decompression bomb) stops with the buffer near the limit, not at the line's size.
  const size_t limit = 1 << 20;
  auto endless = std::make_unique<ChunkedSource>(std::string(64 << 20, 'z'), 1 << 20);
  long before = RssKiB();
  LineReader bomb(std::move(endless), kPadding, 256 << 10, limit);
  EXPECT_THROW(bomb.Next(l), LineTooLong);
  EXPECT_LT(RssKiB() - before, 16 * 1024);
}

long RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string k;
  long v = 0;
  while (in >> k) {
    if (k == "VmRSS:") {
      in >> v;
      return v;
    }
  }
  return 0;
}

TEST_F(LineReaderTest, MappedReadingKeepsTheResidentSetFlat) {
  std::string line(1023, 'r');
  line += '\n';
  std::string content;
  for (int i = 0; i < 48 * 1024; ++i) content += line;  // 48 MiB
  std::string p = tmp_.Write("big.jsonl", content);
  content.clear();
  content.shrink_to_fit();
  long before = RssKiB();
  LineReader r(OpenWholeFile(Env::Default(), p), kPadding);
  ASSERT_TRUE(r.mapped());
  std::string_view l;
  uint64_t n = 0, bytes = 0;
  long peak = before;
  while (r.Next(l)) {
    bytes += l.size();
    if (++n % 4096 == 0) peak = std::max(peak, RssKiB());
  }
  EXPECT_EQ(n, 48u * 1024);
  EXPECT_EQ(bytes, 48u * 1024 * 1023);
  EXPECT_LT(peak - before, 24 * 1024) << "RSS grew by " << (peak - before) << " KiB over a 48 MiB file";
}

TEST_F(LineReaderTest, AFileThatShrinksUnderTheReaderIsNamed) {
  std::string content;
  for (int i = 0; i < 4096; ++i) content += std::string(100, 's') + "\n";
  std::string p = tmp_.Write("shrinks.jsonl", content);
  EXPECT_EXIT(
      {
        LineReader r(OpenWholeFile(Env::Default(), p), kPadding);
        std::string_view l;
        r.Next(l);
        ::truncate(p.c_str(), 0);
        while (r.Next(l)) {
        }
        std::exit(0);  // not reached: the pages past the new end raise SIGBUS
      },
      ::testing::ExitedWithCode(3), "input file '.*shrinks.jsonl' shrank while the job was reading it");
}

}  // namespace
}  // namespace sluice
