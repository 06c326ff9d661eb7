// Compression codecs for JSONL files, chosen by file extension: ".gz" (gzip), ".zst" (zstd), else none.
//
// CompressedWriter streams bytes into a WritableFile. Each Finish() ends a complete gzip member or zstd
// frame, so files written separately concatenate into one valid file (the export is the concatenation
// of partition results, without recompression). ByteSource yields a file's bytes: a byte range of a
// plain file, or the decompressed content of a whole compressed file (all members / frames), decompressed
// on a background thread up to 4 MiB ahead of the reader, so that decompressing overlaps with parsing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "io/env.h"

namespace sluice {

enum class Codec { kNone, kGzip, kZstd };
Codec CodecForPath(std::string_view path);
const char* CodecExtension(Codec c);  // "", ".gz", ".zst"

class CompressedWriter {
 public:
  CompressedWriter(WritableFile& out, Codec codec, int level = 3);
  ~CompressedWriter();
  void Write(std::string_view data);
  void Finish();  // flushes and ends the member/frame; the writer may not be used after
  uint64_t raw_bytes() const { return raw_bytes_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t raw_bytes_ = 0;
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes; returns 0 at the end. Throws kInput (naming the file) on corrupt data.
  virtual size_t Read(char* buf, size_t n) = 0;
  // All of the source's bytes (*n of them) as one mapping, followed in it by up to `padding` more bytes
  // of the file where the file has them; nullptr where the source cannot be mapped (compressed, or the
  // file system refuses): read it instead. Call before any Read.
  virtual std::unique_ptr<MappedRange> Map(size_t padding, size_t* n) { return nullptr; }
};

// [begin, end) of a plain file, or (for .gz/.zst) the whole decompressed file, begin and end ignored.
std::unique_ptr<ByteSource> OpenByteSource(Env* env, const std::string& path, uint64_t begin, uint64_t end);
// The whole content of a file, decompressed if it is .gz/.zst.
std::unique_ptr<ByteSource> OpenWholeFile(Env* env, const std::string& path);

}  // namespace sluice
