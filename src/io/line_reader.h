// LineReader: the lines of a ByteSource, each followed in memory by at least `padding` readable bytes
// (simdjson's requirement). A source that can be mapped (a range of a plain file) is read in place: the
// lines are views into the mapping, with no read() copy, and only a line too close to the end of the file
// for its padding is copied. Otherwise blocks are read into one reused buffer; the default block
// (256 KiB) stays in L2 cache, so the line scan and the parser read it hot (8 MiB blocks measured ~20%
// slower end to end). A final line without '\n' is returned too. `line_number()` counts lines from the
// start of the source (1-based for the last line). A line stays valid until the next call of Next.
//
// A line is scanned for its end once, however many reads it takes to arrive (a 1 GB line of a compressed
// file rescanned from its start after every 1 MiB read took 81 s). A line longer than `max_line` bytes is
// not returned: Next throws LineTooLong once the reader knows (in the buffered mode before holding more
// than max_line + one block of it), so a decompression bomb without line breaks cannot take all memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "io/codec.h"

namespace sluice {

// Thrown by LineReader::Next: line number `line` (counted as line_number() counts) exceeds `limit` bytes.
// A kData error; its message names neither file nor line base, which only the caller knows.
class LineTooLong : public Error {
 public:
  LineTooLong(uint64_t line, uint64_t limit)
      : Error(ErrorKind::kData, fmt::format("line {} is longer than {} bytes", line, limit)), line_(line), limit_(limit) {}
  uint64_t line() const { return line_; }
  uint64_t limit() const { return limit_; }

 private:
  uint64_t line_, limit_;
};

class LineReader {
 public:
  LineReader(std::unique_ptr<ByteSource> src, size_t padding, size_t block = 256 << 10, uint64_t max_line = UINT64_MAX);
  // Next line without its '\n'; false at the end.
  bool Next(std::string_view& line);
  uint64_t line_number() const { return lines_; }
  uint64_t bytes_consumed() const { return consumed_; }  // source bytes up to the end of the last line
  bool mapped() const { return map_ != nullptr; }

 private:
  bool Fill();
  bool NextMapped(std::string_view& line);
  std::unique_ptr<ByteSource> src_;
  std::unique_ptr<MappedRange> map_;  // null: read through buf_
  size_t map_n_ = 0, map_pos_ = 0;   // the source's bytes in map_, and the start of the unread ones
  size_t map_released_ = 0;          // map_ before this is out of the resident set
  size_t map_prefetched_ = 0;        // map_ before this has been prefetched into the CPU cache
  size_t padding_, block_;
  uint64_t max_line_;
  std::string buf_;
  size_t begin_ = 0, end_ = 0;  // unread data is buf_[begin_, end_)
  size_t scanned_ = 0;          // buf_[begin_, begin_ + scanned_) has no '\n'
  bool eof_ = false;
  uint64_t lines_ = 0, consumed_ = 0;
};

}  // namespace sluice
