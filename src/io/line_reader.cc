#include "io/line_reader.h"

#include <algorithm>
#include <cstring>

namespace sluice {

LineReader::LineReader(std::unique_ptr<ByteSource> src, size_t padding, size_t block, uint64_t max_line)
    : src_(std::move(src)), padding_(padding), block_(block), max_line_(max_line) {
  map_ = src_->Map(padding_, &map_n_);
  if (!map_) buf_.resize(block_ + padding_);
}

bool LineReader::NextMapped(std::string_view& line) {
  if (map_pos_ >= map_n_) return false;
  const char* start = map_->data() + map_pos_;
  // The scan below is the first touch of the mapped bytes, and the hardware prefetcher stops at every 4 KiB
  // page: asking for the next 16 KiB ahead of it keeps the line scan from waiting on memory.
  constexpr size_t kAhead = 16 << 10;
  size_t want = std::min(map_n_, map_pos_ + kAhead);
  for (; map_prefetched_ < want; map_prefetched_ += 64) __builtin_prefetch(map_->data() + map_prefetched_);
  const char* nl = static_cast<const char*>(std::memchr(start, '\n', map_n_ - map_pos_));
  size_t len = nl != nullptr ? static_cast<size_t>(nl - start) : map_n_ - map_pos_;
  if (len > max_line_) throw LineTooLong(lines_ + 1, max_line_);
  if (map_pos_ + len + padding_ <= map_->size()) {
    line = std::string_view(start, len);
  } else {  // the file ends within the padding: the line goes to a buffer that has it
    buf_.assign(start, len);
    buf_.resize(len + padding_, '\0');
    line = std::string_view(buf_.data(), len);
  }
  size_t step = len + (nl != nullptr ? 1 : 0);
  // Pages behind the line before this one are done with; dropping them in 8 MiB steps keeps RSS flat.
  if (map_pos_ >= map_released_ + (8 << 20)) {
    map_->Release(map_pos_);
    map_released_ = map_pos_;
  }
  map_pos_ += step;
  consumed_ += step;
  ++lines_;
  return true;
}

bool LineReader::Fill() {
  // Move the partial line to the front, grow if a single line exceeds the buffer, then read.
  size_t pending = end_ - begin_;
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, pending);
    begin_ = 0;
    end_ = pending;
  }
  if (pending > max_line_) throw LineTooLong(lines_ + 1, max_line_);
  // Doubling, but never past what the longest line allowed (and the read that shows it is too long) needs.
  if (buf_.size() - padding_ - end_ < block_ / 2) {
    uint64_t cap = max_line_ >= UINT64_MAX - block_ - padding_ ? UINT64_MAX : max_line_ + block_ + padding_ + 1;
    buf_.resize(static_cast<size_t>(std::max<uint64_t>(std::min<uint64_t>(buf_.size() * 2, cap), end_ + padding_ + block_ / 2)));
  }
  size_t room = buf_.size() - padding_ - end_;
  size_t n = src_->Read(buf_.data() + end_, room);
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += n;
  return true;
}

bool LineReader::Next(std::string_view& line) {
  if (map_) return NextMapped(line);
  while (true) {
    const char* start = buf_.data() + begin_;
    const char* nl = static_cast<const char*>(std::memchr(start + scanned_, '\n', end_ - begin_ - scanned_));
    if (nl != nullptr) {
      size_t len = static_cast<size_t>(nl - start);
      if (len > max_line_) throw LineTooLong(lines_ + 1, max_line_);
      line = std::string_view(start, len);
      scanned_ = 0;
      begin_ += len + 1;
      consumed_ += len + 1;
      ++lines_;
      return true;
    }
    scanned_ = end_ - begin_;
    if (eof_ || !Fill()) {
      if (begin_ == end_) return false;
      size_t len = end_ - begin_;
      if (len > max_line_) throw LineTooLong(lines_ + 1, max_line_);
      scanned_ = 0;
      // The padding after a final unterminated line must be readable: it is inside buf_.
      line = std::string_view(buf_.data() + begin_, len);
      begin_ = end_;
      consumed_ += len;
      ++lines_;
      return true;
    }
  }
}

}  // namespace sluice
