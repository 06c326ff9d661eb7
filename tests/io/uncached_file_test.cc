// Env::NewUncachedWritableFile (OpenUncachedWritableFile), each case both with O_DIRECT and with the buffered
// descriptor a file system without direct I/O gets: whatever the sizes of appends,
// syncs, truncations and reopenings, the file holds exactly the bytes appended, and after every Sync,
// Truncate or Close it has exactly that length on disk (no block padding left behind).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "core/error.h"
#include "io/env.h"
#include "io/uncached_file.h"
#include "temp_dir.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

// Parameter: whether O_DIRECT may be used (false: the buffered descriptor a file system without direct I/O gets).
class UncachedFileTest : public ::testing::TestWithParam<bool> {
 protected:
  std::string Slurp() {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static std::string Bytes(size_t n, std::mt19937_64& rng) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>('a' + rng() % 26);
    return s;
  }

  std::unique_ptr<WritableFile> Open(const std::string& path) { return OpenUncachedWritableFile(path, GetParam()); }
  std::unique_ptr<WritableFile> Open() { return Open(path_); }

  testing::TempDir tmp_{"sluice-uncached"};
  std::string path_ = tmp_.path() + "/f";
};

TEST_P(UncachedFileTest, SyncLeavesExactlyTheAppendedBytes) {
  std::mt19937_64 rng(1);
  std::string want;
  auto f = Open();
  // Sizes around the 4 KiB block and the 4 MiB staging buffer.
  for (size_t n : {size_t{1}, size_t{4095}, size_t{1}, size_t{4096}, size_t{5000}, size_t{4} << 20, size_t{3}, (size_t{4} << 20) + 7}) {
    std::string b = Bytes(n, rng);
    f->Append(b);
    want += b;
    f->Sync();
    ASSERT_EQ(fs::file_size(path_), want.size());
    ASSERT_EQ(Slurp(), want);
  }
  f->Close();
  EXPECT_EQ(Slurp(), want);
}

TEST_P(UncachedFileTest, RandomAppendsSyncsTruncationsAndReopenings) {
  std::mt19937_64 rng(42);
  std::string want;
  auto f = Open();
  for (int step = 0; step < 400; ++step) {
    switch (rng() % 10) {
      case 0:
        f->Sync();
        ASSERT_EQ(Slurp(), want) << "step " << step;
        break;
      case 1: {  // cut back into the bytes written so far, as the export journal's rollback does
        size_t to = want.empty() ? 0 : rng() % (want.size() + 1);
        f->Truncate(to);
        want.resize(to);
        ASSERT_EQ(fs::file_size(path_), want.size()) << "step " << step;
        break;
      }
      case 2:  // a resumed job reopens the journal and appends after its (unaligned) end
        f->Close();
        ASSERT_EQ(Slurp(), want) << "step " << step;
        f = Open();
        break;
      default: {
        size_t n = rng() % 4 == 0 ? rng() % (6 << 20) : rng() % 9000;
        std::string b = Bytes(n, rng);
        f->Append(b);
        want += b;
      }
    }
  }
  f->Close();
  EXPECT_EQ(Slurp(), want);
}

TEST_P(UncachedFileTest, DestructorWritesWhatIsStaged) {
  {
    auto f = Open();
    f->Append("partial block");
  }
  EXPECT_EQ(Slurp(), "partial block");
}

TEST_P(UncachedFileTest, AppendsToAnExistingFile) {
  std::ofstream(path_, std::ios::binary) << std::string(10000, 'x');
  auto f = Open();
  f->Append("tail");
  f->Sync();
  EXPECT_EQ(Slurp(), std::string(10000, 'x') + "tail");
}

// A write that fails on the background thread (here: past RLIMIT_FSIZE, as a full disk would) is raised by
// a later call, naming the file, and nothing after it is written. A Truncate into the failed transfer (the
// export journal's rollback of a failed attempt) writes that transfer's bytes before the cut again and
// clears the error, even while the limit stands; one into a transfer after it, never written, cannot.
TEST_P(UncachedFileTest, BackgroundWriteErrorIsRaisedAndTruncateRecovers) {
  struct rlimit old;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto previous = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = old;
  lim.rlim_cur = 6 << 20;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
  std::string message;
  auto f = Open();
  std::string block(1 << 20, 'x');
  block[0] = 'y';  // each MiB distinguishable from its neighbours' bytes
  try {
    for (int i = 0; i < 32; ++i) f->Append(block);
    f->Sync();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kOutput);
    message = e.what();
  }
  EXPECT_NE(message.find(path_), std::string::npos) << message;
  EXPECT_LE(fs::file_size(path_), size_t{6} << 20);
  // [4 MiB, 8 MiB) failed, [8 MiB, 12 MiB) was never written.
  EXPECT_THROW(f->Truncate((size_t{8} << 20) + 1), Error);
  size_t cut = (size_t{4} << 20) + 100;
  std::string after = "after";
  std::string err;
  try {
    f->Truncate(cut);
    f->Append(after);
    f->Sync();
  } catch (const Error& e) {
    err = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, previous);
  EXPECT_EQ(err, "");
  std::string want;
  for (int i = 0; i < 5; ++i) want += block;
  want.resize(cut);
  EXPECT_EQ(Slurp(), want + after);
  f->Truncate(size_t{3} << 20);  // back before it all
  f->Append(after);
  f->Sync();
  want.resize(size_t{3} << 20);
  EXPECT_EQ(Slurp(), want + after);
}

TEST_P(UncachedFileTest, UnwritableDirectoryIsAnOutputError) {
  EXPECT_THROW(Open(tmp_.path() + "/missing/f"), Error);
}

INSTANTIATE_TEST_SUITE_P(DirectAndBuffered, UncachedFileTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Direct" : "Buffered"; });

}  // namespace
}  // namespace sluice
