#include "io/codec.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"

namespace sluice {

Codec CodecForPath(std::string_view path) {
  if (path.ends_with(".gz")) return Codec::kGzip;
  if (path.ends_with(".zst")) return Codec::kZstd;
  return Codec::kNone;
}

const char* CodecExtension(Codec c) {
  switch (c) {
    case Codec::kNone: return "";
    case Codec::kGzip: return ".gz";
    case Codec::kZstd: return ".zst";
  }
  return "";
}

struct CompressedWriter::Impl {
  WritableFile& out;
  Codec codec;
  ZSTD_CCtx* zctx = nullptr;
  z_stream gz{};
  std::vector<char> buf = std::vector<char>(1 << 20);
  bool finished = false;

  Impl(WritableFile& o, Codec c, int level) : out(o), codec(c) {
    if (codec == Codec::kZstd) {
      zctx = ZSTD_createCCtx();
      ZSTD_CCtx_setParameter(zctx, ZSTD_c_compressionLevel, level);
    } else if (codec == Codec::kGzip) {
      if (deflateInit2(&gz, std::min(level, 9), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        Fail(ErrorKind::kInternal, "zlib deflateInit2 failed");
    }
  }
  ~Impl() {
    if (zctx) ZSTD_freeCCtx(zctx);
    if (codec == Codec::kGzip) deflateEnd(&gz);
  }
  void Feed(std::string_view data, bool end) {
    if (codec == Codec::kZstd) {
      ZSTD_inBuffer in{data.data(), data.size(), 0};
      while (true) {
        ZSTD_outBuffer o{buf.data(), buf.size(), 0};
        size_t r = ZSTD_compressStream2(zctx, &o, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(r)) Fail(ErrorKind::kInternal, "zstd compression failed: {}", ZSTD_getErrorName(r));
        if (o.pos) out.Append(std::string_view(buf.data(), o.pos));
        if (end ? r == 0 : in.pos == in.size) break;
      }
    } else {
      gz.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
      gz.avail_in = static_cast<uInt>(data.size());
      while (true) {
        gz.next_out = reinterpret_cast<Bytef*>(buf.data());
        gz.avail_out = static_cast<uInt>(buf.size());
        int r = deflate(&gz, end ? Z_FINISH : Z_NO_FLUSH);
        if (r == Z_STREAM_ERROR) Fail(ErrorKind::kInternal, "gzip compression failed");
        size_t produced = buf.size() - gz.avail_out;
        if (produced) out.Append(std::string_view(buf.data(), produced));
        if (end ? r == Z_STREAM_END : gz.avail_in == 0) break;
      }
    }
  }
};

CompressedWriter::CompressedWriter(WritableFile& out, Codec codec, int level)
    : impl_(std::make_unique<Impl>(out, codec, level)) {}
CompressedWriter::~CompressedWriter() = default;

void CompressedWriter::Write(std::string_view data) {
  raw_bytes_ += data.size();
  if (impl_->codec == Codec::kNone) {
    impl_->out.Append(data);
    return;
  }
  // zlib takes at most 4 GiB per call.
  while (!data.empty()) {
    std::string_view part = data.substr(0, 1u << 30);
    impl_->Feed(part, false);
    data.remove_prefix(part.size());
  }
}

void CompressedWriter::Finish() {
  if (impl_->finished) return;
  impl_->finished = true;
  // An empty gzip member or zstd frame would still be bytes; an empty partition writes nothing at all.
  if (impl_->codec != Codec::kNone && raw_bytes_ > 0) impl_->Feed({}, true);
}

namespace {

class PlainRangeSource : public ByteSource {
 public:
  PlainRangeSource(Env* env, std::string path, uint64_t begin, uint64_t end)
      : env_(env), path_(std::move(path)), file_(env->NewRandomAccessFile(path_)), pos_(begin), end_(end) {}
  size_t Read(char* buf, size_t n) override {
    if (pos_ >= end_) return 0;
    size_t want = static_cast<size_t>(std::min<uint64_t>(n, end_ - pos_));
    size_t got = file_->ReadAt(pos_, want, buf);
    if (got == 0) Shrunk();
    pos_ += got;
    return got;
  }
  std::unique_ptr<MappedRange> Map(size_t padding, size_t* n) override {
    if (pos_ >= end_) return nullptr;
    uint64_t size = env_->FileSize(path_);
    if (size < end_) Shrunk();
    *n = static_cast<size_t>(end_ - pos_);
    return file_->Map(pos_, static_cast<size_t>(std::min<uint64_t>(end_ + padding, size) - pos_),
                      RandomAccessFile::Access::kSequential);
  }

 private:
  [[noreturn]] void Shrunk() const {
    Fail(ErrorKind::kInput, "'{}' is shorter than when the job was planned (changed during the run?)", path_);
  }
  Env* env_;
  std::string path_;
  std::unique_ptr<RandomAccessFile> file_;
  uint64_t pos_, end_;
};

class DecompressingSource : public ByteSource {
 public:
  DecompressingSource(Env* env, std::string path, Codec codec)
      : path_(std::move(path)), file_(env->NewRandomAccessFile(path_)), codec_(codec) {
    size_ = env->FileSize(path_);
    if (codec_ == Codec::kZstd) {
      dctx_ = ZSTD_createDCtx();
    } else if (inflateInit2(&gz_, 15 + 32) != Z_OK) {
      Fail(ErrorKind::kInternal, "zlib inflateInit2 failed");
    }
  }
  ~DecompressingSource() override {
    if (dctx_) ZSTD_freeDCtx(dctx_);
    if (codec_ == Codec::kGzip) inflateEnd(&gz_);
  }
  size_t Read(char* buf, size_t n) override {
    while (true) {
      if (in_pos_ == in_len_ && file_pos_ < size_) {
        in_len_ = file_->ReadAt(file_pos_, in_.size(), in_.data());
        file_pos_ += in_len_;
        in_pos_ = 0;
      }
      bool input_done = in_pos_ == in_len_ && file_pos_ >= size_;
      size_t produced = 0;
      if (codec_ == Codec::kZstd) {
        ZSTD_inBuffer in{in_.data(), in_len_, in_pos_};
        ZSTD_outBuffer out{buf, n, 0};
        size_t r = ZSTD_decompressStream(dctx_, &out, &in);
        if (ZSTD_isError(r)) Fail(ErrorKind::kData, "'{}': corrupt zstd data: {}", path_, ZSTD_getErrorName(r));
        // Only a call that made progress says whether a frame is open: on empty input zstd returns the
        // size of the next frame's header, which is not "truncated".
        if (in.pos > in_pos_ || out.pos > 0) frame_open_ = r != 0;
        in_pos_ = in.pos;
        produced = out.pos;
      } else {
        gz_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
        gz_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
        gz_.next_out = reinterpret_cast<Bytef*>(buf);
        gz_.avail_out = static_cast<uInt>(n);
        int r = inflate(&gz_, Z_NO_FLUSH);
        if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
          Fail(ErrorKind::kData, "'{}': corrupt gzip data ({})", path_, gz_.msg ? gz_.msg : "inflate error");
        size_t consumed = (in_len_ - gz_.avail_in) - in_pos_;
        in_pos_ = in_len_ - gz_.avail_in;
        produced = n - gz_.avail_out;
        if (consumed > 0 || produced > 0) frame_open_ = r != Z_STREAM_END;
        if (r == Z_STREAM_END) inflateReset(&gz_);  // concatenated members
      }
      if (produced > 0) return produced;
      if (input_done && in_pos_ == in_len_) {
        if (frame_open_ && (file_pos_ > 0))
          Fail(ErrorKind::kData, "'{}': truncated {} data", path_, codec_ == Codec::kZstd ? "zstd" : "gzip");
        return 0;
      }
    }
  }

 private:
  std::string path_;
  std::unique_ptr<RandomAccessFile> file_;
  Codec codec_;
  uint64_t size_ = 0, file_pos_ = 0;
  std::vector<char> in_ = std::vector<char>(1 << 20);
  size_t in_pos_ = 0, in_len_ = 0;
  ZSTD_DCtx* dctx_ = nullptr;
  z_stream gz_{};
  bool frame_open_ = false;
};

// Runs a source's Read on a background thread, up to kBlocks blocks of kBlock bytes ahead of the reader:
// decompressing a compressed input or checkpoint then overlaps with parsing it (and costs no wall time where
// a core is free, as at np 1). Blocks are recycled, so reading allocates nothing after the first kBlocks.
// The bytes are those of the source, in order; an error of the source (corrupt or truncated data, a failed
// read) reaches the reader after every byte the source produced before it.
class ReadAheadSource : public ByteSource {
 public:
  explicit ReadAheadSource(std::unique_ptr<ByteSource> inner) : inner_(std::move(inner)) {}
  ~ReadAheadSource() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  size_t Read(char* buf, size_t n) override {
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });  // first read: nothing runs before
    if (cur_pos_ == cur_.size()) {
      std::unique_lock<std::mutex> l(mu_);
      if (cur_.capacity() > 0) {
        free_.push_back(std::move(cur_));
        cv_.notify_all();
      }
      cv_.wait(l, [&] { return !ready_.empty() || done_; });
      if (ready_.empty()) {
        cur_ = {};
        cur_pos_ = 0;
        if (error_) std::rethrow_exception(error_);
        return 0;
      }
      cur_ = std::move(ready_.front());
      ready_.pop_front();
      cur_pos_ = 0;
    }
    size_t k = std::min(n, cur_.size() - cur_pos_);
    std::memcpy(buf, cur_.data() + cur_pos_, k);
    cur_pos_ += k;
    return k;
  }

 private:
  static constexpr size_t kBlock = 1 << 20, kBlocks = 4;

  void Loop() {
    size_t made = 0;
    try {
      while (true) {
        std::vector<char> block;
        {
          std::unique_lock<std::mutex> l(mu_);
          cv_.wait(l, [&] { return stop_ || !free_.empty() || made < kBlocks; });
          if (stop_) return;
          if (!free_.empty()) {
            block = std::move(free_.back());
            free_.pop_back();
          } else {
            ++made;
          }
        }
        block.resize(kBlock);
        size_t len = 0;
        while (len < kBlock) {
          size_t got = inner_->Read(block.data() + len, kBlock - len);
          if (got == 0) break;
          len += got;
        }
        block.resize(len);
        std::lock_guard<std::mutex> l(mu_);
        if (len > 0) ready_.push_back(std::move(block));
        if (len < kBlock) done_ = true;
        cv_.notify_all();
        if (done_) return;
      }
    } catch (...) {
      std::lock_guard<std::mutex> l(mu_);
      error_ = std::current_exception();
      done_ = true;
      cv_.notify_all();
    }
  }

  std::unique_ptr<ByteSource> inner_;
  std::vector<char> cur_;  // the block being read, from cur_pos_
  size_t cur_pos_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<char>> ready_;  // filled blocks, in order
  std::vector<std::vector<char>> free_;  // read blocks, to be filled again
  bool done_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<ByteSource> OpenByteSource(Env* env, const std::string& path, uint64_t begin, uint64_t end) {
  Codec c = CodecForPath(path);
  if (c == Codec::kNone) return std::make_unique<PlainRangeSource>(env, path, begin, end);
  return std::make_unique<ReadAheadSource>(std::make_unique<DecompressingSource>(env, path, c));
}

std::unique_ptr<ByteSource> OpenWholeFile(Env* env, const std::string& path) {
  return OpenByteSource(env, path, 0, env->FileSize(path));
}

}  // namespace sluice
