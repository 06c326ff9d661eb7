// The POSIX Env's writable file: a Truncate moves where the next Append lands, whether the file was opened
// to append (O_APPEND) or to overwrite (O_TRUNC, whose descriptor would otherwise keep its old offset and
// leave a hole of zeros).
#include "io/env.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "temp_dir.h"

namespace sluice {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PosixWritableFileTest, AppendAfterTruncateContinuesAtTheNewEnd) {
  testing::TempDir tmp("sluice-env");
  const std::string& dir = tmp.path();
  Env* env = Env::Default();
  for (bool append : {true, false}) {
    SCOPED_TRACE(append ? "append" : "overwrite");
    std::string path = dir + (append ? "/a" : "/o");
    std::ofstream(path) << "old:";  // kept when appending, cut when overwriting
    auto f = env->NewWritableFile(path, append);
    f->Append("hello world");
    f->Truncate(append ? 9 : 5);
    f->Append("!");
    f->Append("?");
    f->Close();
    EXPECT_EQ(Slurp(path), append ? "old:hello!?" : "hello!?");
  }
}

}  // namespace
}  // namespace sluice
