// Compressed files read back: every byte, in order, whatever the read sizes (the decompression runs ahead
// on its own thread); a truncated or corrupt file, or a failing read, ends the reading with an error naming
// the file, after the bytes that came before it; a reader dropped midway stops its thread.
#include "io/codec.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <zstd.h>

#include "core/error.h"
#include "io/env.h"
#include "temp_dir.h"

namespace sluice {
namespace {

class CodecTest : public ::testing::Test {
 protected:
  // `content` compressed into `name` (its extension picks the codec) as `frames` frames / members.
  std::string WriteCompressed(const std::string& name, const std::string& content, int frames = 1) {
    std::string p = tmp_.path() + "/" + name;
    auto f = Env::Default()->NewWritableFile(p, false);
    size_t step = content.size() / static_cast<size_t>(frames) + 1;
    for (size_t pos = 0; pos < content.size(); pos += step) {
      CompressedWriter w(*f, CodecForPath(name), 1);
      w.Write(std::string_view(content).substr(pos, step));
      w.Finish();
    }
    f->Close();
    return p;
  }

  // Everything the source yields, in reads of `n` bytes; *error gets the message of an error that ends it.
  // A failed read is kInput (it may pass on a retry), damaged data kData (it will not).
  static std::string ReadAll(ByteSource& src, size_t n, std::string* error = nullptr, ErrorKind kind = ErrorKind::kInput) {
    std::string out, buf(n, '\0');
    try {
      while (size_t got = src.Read(buf.data(), n)) out.append(buf.data(), got);
      EXPECT_EQ(src.Read(buf.data(), n), 0u);  // and stays at the end
    } catch (const Error& e) {
      if (error == nullptr) throw;
      EXPECT_EQ(e.kind(), kind) << e.what();
      *error = e.what();
    }
    return out;
  }

  // ~6 MiB of JSONL-like lines: several read-ahead blocks, and compressible.
  static std::string Content() {
    std::mt19937_64 rng(7);
    std::string s;
    while (s.size() < (6u << 20) + 12345) {
      s += "{\"text\":\"";
      for (int i = 0, n = static_cast<int>(rng() % 300); i < n; ++i) s += static_cast<char>('a' + rng() % 26);
      s += "\",\"id\":" + std::to_string(rng()) + "}\n";
    }
    return s;
  }

  testing::TempDir tmp_{"sluice-codec"};
};

TEST_F(CodecTest, CompressedFilesReadBackWholeInAnyReadSize) {
  const std::string content = Content();
  for (const char* name : {"a.jsonl.zst", "a.jsonl.gz"}) {
    for (int frames : {1, 3}) {
      std::string p = WriteCompressed(name, content, frames);
      for (size_t n : {size_t{1} << 22, size_t{65536}, size_t{4093}}) {
        auto src = OpenWholeFile(Env::Default(), p);
        EXPECT_EQ(ReadAll(*src, n), content) << name << " frames " << frames << " reads of " << n;
      }
    }
  }
}

TEST_F(CodecTest, TruncatedOrCorruptDataEndsTheReadNamingTheFile) {
  const std::string content = Content();
  for (const char* name : {"b.jsonl.zst", "b.jsonl.gz"}) {
    const bool zstd = CodecForPath(name) == Codec::kZstd;
    std::string p = WriteCompressed(name, content, 3);
    std::string whole;
    {
      std::ifstream in(p, std::ios::binary);
      whole.assign(std::istreambuf_iterator<char>(in), {});
    }
    std::string cut = whole.substr(0, whole.size() * 2 / 3);
    // zstd frames carry no checksum here, so damage must hit structure to be seen: the second frame's magic
    // number. A gzip member's CRC catches any damage, at the latest at its end.
    std::string bad = whole;
    size_t at = zstd ? ZSTD_findFrameCompressedSize(whole.data(), whole.size()) : whole.size() / 2;
    ASSERT_FALSE(ZSTD_isError(at));
    for (size_t i = at; i < at + 4; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5A);
    for (const std::string* broken : {&cut, &bad}) {
      std::ofstream(p, std::ios::binary | std::ios::trunc) << *broken;
      auto src = OpenWholeFile(Env::Default(), p);
      std::string error;
      std::string got = ReadAll(*src, 65536, &error, ErrorKind::kData);
      ASSERT_FALSE(error.empty()) << name << (broken == &cut ? " truncated" : " corrupt") << " was read to the end";
      EXPECT_NE(error.find(p), std::string::npos) << error;
      EXPECT_NE(error.find(broken == &cut ? "truncated" : "corrupt"), std::string::npos) << error;
      // What came before the damage is delivered first (not checked for damaged deflate data, which may
      // decode to wrong bytes before the CRC fails).
      if (broken == &cut || zstd) {
        EXPECT_GT(got.size(), 0u) << name;
        EXPECT_EQ(got, content.substr(0, got.size())) << name;
      }
    }
  }
}

// Reads fail after `ok` bytes of the file.
class FailingReadEnv : public EnvWrapper {
 public:
  explicit FailingReadEnv(uint64_t ok) : EnvWrapper(Env::Default()), ok_(ok) {}
  std::unique_ptr<RandomAccessFile> NewRandomAccessFile(const std::string& path) override {
    struct Reader : RandomAccessFile {
      std::unique_ptr<RandomAccessFile> base;
      std::string path;
      uint64_t ok;
      size_t ReadAt(uint64_t offset, size_t n, char* buf) override {
        if (offset + n > ok) Fail(ErrorKind::kInput, "'{}': read failed: Input/output error", path);
        return base->ReadAt(offset, n, buf);
      }
    };
    auto r = std::make_unique<Reader>();
    r->base = EnvWrapper::NewRandomAccessFile(path);
    r->path = path;
    r->ok = ok_;
    return r;
  }

 private:
  uint64_t ok_;
};

TEST_F(CodecTest, AFailedReadReachesTheReader) {
  std::string p = WriteCompressed("c.jsonl.zst", Content());
  FailingReadEnv env(uint64_t{1} << 20);  // the first 1 MiB read succeeds, the next fails
  auto src = OpenWholeFile(&env, p);
  std::string error;
  std::string got = ReadAll(*src, 65536, &error);
  EXPECT_NE(error.find("Input/output error"), std::string::npos) << error;
  EXPECT_EQ(got, Content().substr(0, got.size()));
}

TEST_F(CodecTest, AReaderDroppedMidwayStopsItsThread) {
  std::string p = WriteCompressed("d.jsonl.zst", Content());
  for (int i = 0; i < 20; ++i) {
    auto src = OpenWholeFile(Env::Default(), p);
    char buf[100];
    if (i % 2 == 1) {
      EXPECT_EQ(src->Read(buf, sizeof buf), sizeof buf);
    }
    // Destroyed here, with blocks queued (or none read): must neither hang nor crash.
  }
}

}  // namespace
}  // namespace sluice
