// AsyncWritableFile: order, Flush visibility, back-pressure and error propagation, over an in-memory
// WritableFile that can be told to fail.
#include "io/async_file.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "core/error.h"

namespace sluice {
namespace {

class MemoryFile : public WritableFile {
 public:
  void Append(std::string_view d) override {
    if (delay_us) std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    std::lock_guard<std::mutex> lk(mu);
    if (fail_after >= 0 && static_cast<int64_t>(data.size() + d.size()) > fail_after)
      Fail(ErrorKind::kOutput, "cannot write 'memory': No space left on device");
    data.append(d);
  }
  void Sync() override { ++syncs; }
  void Close() override { closed = true; }
  std::string Data() {
    std::lock_guard<std::mutex> lk(mu);
    return data;
  }
  std::mutex mu;
  std::string data;
  int64_t fail_after = -1;
  int delay_us = 0;
  std::atomic<int> syncs{0};
  bool closed = false;
};

TEST(AsyncWritableFile, KeepsOrderAcrossChunkBoundaries) {
  auto mem = std::make_unique<MemoryFile>();
  MemoryFile* m = mem.get();
  AsyncWritableFile f(std::move(mem), 1 << 20);
  std::mt19937 rng(1);
  std::string expected;
  for (int i = 0; i < 1500; ++i) {
    size_t n = rng() % 3 == 0 ? rng() % 700000 : rng() % 300;  // small appends and multi-chunk ones
    std::string s(n, static_cast<char>('a' + i % 26));
    if (n > 0) s[0] = static_cast<char>('0' + i % 10);
    f.Append(s);
    expected += s;
    if (i % 500 == 0) {
      f.Flush();
      EXPECT_EQ(m->Data(), expected) << "after Flush everything appended is written";
    }
  }
  f.Sync();
  EXPECT_EQ(m->Data(), expected);
  EXPECT_EQ(m->syncs.load(), 1);
  f.Close();
  EXPECT_TRUE(m->closed);
}

TEST(AsyncWritableFile, BackPressureBoundsTheQueue) {
  auto mem = std::make_unique<MemoryFile>();
  MemoryFile* m = mem.get();
  m->delay_us = 2000;  // a slow disk
  const size_t bound = 4 << 20;
  AsyncWritableFile f(std::move(mem), bound);
  std::string block(256 << 10, 'x');
  for (int i = 0; i < 40; ++i) {
    f.Append(block);
    // Appended minus written never exceeds the bound plus the chunk being filled.
    EXPECT_LE(static_cast<size_t>(i + 1) * block.size() - m->Data().size(), bound + block.size());
  }
  f.Flush();
  EXPECT_EQ(m->Data().size(), 40 * block.size());
}

TEST(AsyncWritableFile, WriteErrorIsRaisedAndNothingLaterIsWritten) {
  auto mem = std::make_unique<MemoryFile>();
  MemoryFile* m = mem.get();
  m->fail_after = 300 << 10;  // the second 256 KiB chunk fails
  AsyncWritableFile f(std::move(mem), 1 << 20);
  std::string block(256 << 10, 'y');
  bool raised = false;
  try {
    for (int i = 0; i < 8; ++i) f.Append(block);
    f.Flush();
  } catch (const Error& e) {
    raised = true;
    EXPECT_EQ(e.kind(), ErrorKind::kOutput);
    EXPECT_NE(std::string(e.what()).find("No space left"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(raised);
  EXPECT_EQ(m->Data().size(), block.size()) << "only the chunk before the failure";
  EXPECT_THROW(f.Sync(), Error);
  EXPECT_THROW(f.Append("more"), Error);
  EXPECT_EQ(m->Data().size(), block.size());
}

}  // namespace
}  // namespace sluice
