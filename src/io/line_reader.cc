#include "io/line_reader.h"

#include <algorithm>
#include <cstring>

namespace sluice {

LineReader::LineReader(std::unique_ptr<ByteSource> src, size_t padding, size_t block)
    : src_(std::move(src)), padding_(padding), block_(block) {
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
  if (buf_.size() - padding_ - end_ < block_ / 2) buf_.resize(buf_.size() * 2);
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
    const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
    if (nl != nullptr) {
      size_t len = static_cast<size_t>(nl - start);
      line = std::string_view(start, len);
      begin_ += len + 1;
      consumed_ += len + 1;
      ++lines_;
      return true;
    }
    if (eof_ || !Fill()) {
      if (begin_ == end_) return false;
      size_t len = end_ - begin_;
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
