// Env::LockFile's two modes (flock): shard array tasks share a directory's lock while a scheduler, a
// submitter or a merge must hold it alone. Each LockFile opens the file anew, so two locks taken by this one
// process conflict exactly as two processes' would.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "io/env.h"
#include "temp_dir.h"

namespace sluice {
namespace {

class FileLockTest : public ::testing::Test {
 protected:
  std::unique_ptr<FileLock> Lock(Env::LockMode mode) { return Env::Default()->LockFile(path_, false, mode); }

  testing::TempDir tmp_{"sluice-lock"};
  std::string path_ = tmp_.path() + "/.lock";
};

TEST_F(FileLockTest, SharedHoldersShareAndKeepAnExclusiveOut) {
  auto a = Lock(Env::LockMode::kShared);
  auto b = Lock(Env::LockMode::kShared);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(Lock(Env::LockMode::kExclusive), nullptr);
  a.reset();
  EXPECT_EQ(Lock(Env::LockMode::kExclusive), nullptr) << "one shared holder is left";
  b.reset();
  EXPECT_NE(Lock(Env::LockMode::kExclusive), nullptr);
}

TEST_F(FileLockTest, AnExclusiveHolderKeepsEveryoneOut) {
  auto x = Lock(Env::LockMode::kExclusive);
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(Lock(Env::LockMode::kShared), nullptr);
  EXPECT_EQ(Lock(Env::LockMode::kExclusive), nullptr);
  EXPECT_EQ(Env::Default()->LockFile(path_, false), nullptr) << "the default mode is exclusive";
  x.reset();
  EXPECT_NE(Lock(Env::LockMode::kShared), nullptr);
}

}  // namespace
}  // namespace sluice
