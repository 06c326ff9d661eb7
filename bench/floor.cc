// bench_floor: the speed ceiling sluice's text_length_filter recipe is measured against.
//
// The least work that does the same job as a recipe with one text_length_filter, on one thread: split the
// JSONL input into lines with memchr; per line run simdjson's on-demand parser in place (no copy: the bytes
// after the line serve as simdjson's padding), find_field("text"), get_string() (unescaped, as any op needs
// it), count code points (bytes that are not UTF-8 continuation bytes, AVX2), and keep the line if
// min_len <= len <= max_len. Runs of consecutive kept lines are written verbatim with one fwrite each,
// straight from the input bytes. No threads, no allocation per record, no user-space copy of kept data.
//
//   bench_floor [--mmap] [--raw] IN.jsonl OUT.jsonl [min_len [max_len]]   (defaults 10 and sys.maxsize, like DataJuicer)
//
// Input, default: read() in 256 KiB blocks into one reused, padded buffer (a partial last line is moved to
// the front). The block stays in L2 cache, so memchr and the parser read it hot; measured on the 1.1 GB bench
// corpus: 64 KiB-1 MiB blocks 2.2-2.35 GB/s, 4 MiB 2.1, 32 MiB 1.7-1.9. FLOOR_BLOCK_KB overrides the size.
// --mmap: map the whole file (MAP_POPULATE) and parse in place, no read() copy; the upper bound for an
// engine that can map its input (measured ~20% faster here). bench/run.sh reports both; the read() number
// is the floor the targets refer to.
// --raw: no get_string(): the text's length is counted on its escaped bytes, with the escapes checked in
// place (sluice's ValidateJsonEscapesPadded, core/json_string.h), as sluice's text_length_filter does. Not
// what a plain simdjson loop does, so information only; docs/benchmarks.md reports it.
//
// Prints records in/out, bytes, seconds and MB/s (10^6 bytes of input per second of wall time, from open()
// of the input to fclose() of the output), and the same as one key=value line for scripts. Blank lines are
// skipped; lines that fail to parse or lack a string "text" are dropped and counted as bad.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include <simdjson.h>

#include "core/json_string.h"
#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace {

// Code points in valid UTF-8 = bytes that are not continuation bytes (0x80..0xBF, i.e. signed < -64).
size_t count_code_points(const char* s, size_t n) {
  size_t cont = 0, i = 0;
#if defined(__AVX2__)
  const __m256i lim = _mm256_set1_epi8(-64);
  auto mask = [&](size_t at) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + at));
    return uint64_t(uint32_t(_mm256_movemask_epi8(_mm256_cmpgt_epi8(lim, v))));
  };
  for (; i + 64 <= n; i += 64) cont += __builtin_popcountll(mask(i) << 32 | mask(i + 32));
  for (; i + 32 <= n; i += 32) cont += __builtin_popcountll(mask(i));
#endif
  for (; i < n; ++i) cont += static_cast<signed char>(s[i]) < -64;
  return n - cont;
}

[[noreturn]] void die(const char* what, const char* path) {
  std::fprintf(stderr, "bench_floor: %s %s: %s\n", what, path, std::strerror(errno));
  std::exit(1);
}

struct Floor {
  uint64_t min_len, max_len;
  FILE* out;
  const char* out_path;
  bool raw = false;  // --raw
  simdjson::ondemand::parser parser;
  uint64_t n_in = 0, n_out = 0, n_bad = 0;

  void write(const char* p, size_t n) {
    if (n && std::fwrite(p, 1, n, out) != n) die("cannot write", out_path);
  }

  // Decides one line [p, p + n) (without its newline); `room` = readable bytes from p on (>= n + padding).
  bool keep(const char* p, size_t n, size_t room) {
    while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) --n;
    if (n == 0) return false;  // blank line
    ++n_in;
    auto doc = parser.iterate(p, n, room);
    uint64_t len;
    if (raw) {
      // The text's length from its escaped bytes, as sluice's text_length_filter counts it: no decoding.
      simdjson::ondemand::value v;
      std::string_view tok;
      if (doc.find_field("text").get(v) != simdjson::SUCCESS || (tok = v.raw_json_token()).empty() || tok[0] != '"') {
        ++n_bad;
        return false;
      }
      while (tok.back() != '"') tok.remove_suffix(1);
      std::string_view body = tok.substr(1, tok.size() - 2);
      size_t excess;
      if (!sluice::ValidateJsonEscapesPadded(body, excess)) {
        ++n_bad;
        return false;
      }
      len = count_code_points(body.data(), body.size()) - excess;
    } else {
      std::string_view text;
      if (doc.find_field("text").get_string().get(text) != simdjson::SUCCESS) {
        ++n_bad;
        return false;
      }
      len = count_code_points(text.data(), text.size());
    }
    if (len < min_len || len > max_len) return false;
    ++n_out;
    return true;
  }

  // Processes the complete lines in [base, stop) and writes the kept ones; every byte up to `limit` is
  // readable. Returns the start of the trailing partial line (== stop when the span ends with a newline).
  const char* lines(const char* base, const char* stop, const char* limit) {
    const char* p = base;
    const char* run = base;  // start of the current run of kept lines
    while (p < stop) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', size_t(stop - p)));
      if (!nl) break;
      if (!keep(p, size_t(nl - p), size_t(limit - p))) {
        write(run, size_t(p - run));
        run = nl + 1;
      }
      p = nl + 1;
    }
    write(run, size_t(p - run));
    return p;
  }

  // A last line without a newline, copied into a padded buffer (it may sit at the very end of the input).
  void last_line(const char* p, size_t n) {
    if (!n) return;
    std::unique_ptr<char[]> tmp(new char[n + simdjson::SIMDJSON_PADDING]);
    std::memcpy(tmp.get(), p, n);
    if (keep(tmp.get(), n, n + simdjson::SIMDJSON_PADDING)) {
      write(p, n);
      write("\n", 1);
    }
  }
};

uint64_t run_read(Floor& f, int fd, const char* in_path) {
  size_t cap = size_t(256) << 10;
  if (const char* e = std::getenv("FLOOR_BLOCK_KB")) cap = std::max<size_t>(16, std::strtoull(e, nullptr, 10)) << 10;
  std::unique_ptr<char[]> buf(new char[cap + simdjson::SIMDJSON_PADDING]);
  uint64_t bytes = 0;
  size_t have = 0;  // bytes at the start of buf carried over from the previous block (a partial line)
  for (;;) {
    size_t end = have;
    bool eof = false;
    while (end < cap) {
      const ssize_t r = read(fd, buf.get() + end, cap - end);
      if (r < 0) {
        if (errno == EINTR) continue;
        die("cannot read", in_path);
      }
      if (r == 0) {
        eof = true;
        break;
      }
      end += size_t(r);
    }
    bytes += end - have;
    const char* const stop = buf.get() + end;
    const char* p = f.lines(buf.get(), stop, buf.get() + cap + simdjson::SIMDJSON_PADDING);
    const size_t rest = size_t(stop - p);
    if (eof) {
      f.last_line(p, rest);
      return bytes;
    }
    if (rest == cap) {  // one line longer than the whole buffer: grow it
      std::unique_ptr<char[]> bigger(new char[2 * cap + simdjson::SIMDJSON_PADDING]);
      std::memcpy(bigger.get(), buf.get(), cap);
      buf = std::move(bigger);
      cap *= 2;
    } else if (rest) {
      std::memmove(buf.get(), p, rest);
    }
    have = rest;
  }
}

uint64_t run_mmap(Floor& f, int fd, const char* in_path) {
  struct stat st;
  if (fstat(fd, &st) != 0) die("cannot stat", in_path);
  const size_t size = size_t(st.st_size);
  if (size == 0) return 0;
  void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (m == MAP_FAILED) die("cannot mmap", in_path);
  madvise(m, size, MADV_SEQUENTIAL);
  const char* base = static_cast<const char*>(m);
  const char* end = base + size;
  // Lines that end within SIMDJSON_PADDING of the end of the mapping lack readable padding: stop the in-place
  // pass before them and run them through a small padded copy.
  const char* safe = size > simdjson::SIMDJSON_PADDING ? end - simdjson::SIMDJSON_PADDING : base;
  const char* cut = base;
  if (safe > base) {
    const char* nl = static_cast<const char*>(memrchr(base, '\n', size_t(safe - base)));
    cut = nl ? nl + 1 : base;
  }
  f.lines(base, cut, end);
  const size_t tail = size_t(end - cut);
  std::unique_ptr<char[]> tmp(new char[tail + simdjson::SIMDJSON_PADDING]);
  std::memcpy(tmp.get(), cut, tail);
  // The tail copy is only for parsing; kept bytes are written from tmp, identical to the input.
  const char* rest = f.lines(tmp.get(), tmp.get() + tail, tmp.get() + tail + simdjson::SIMDJSON_PADDING);
  f.last_line(rest, size_t(tmp.get() + tail - rest));
  munmap(m, size);
  return size;
}

}  // namespace

int main(int argc, char** argv) {
  bool use_mmap = false, raw = false;
  while (argc > 1 && (std::strcmp(argv[1], "--mmap") == 0 || std::strcmp(argv[1], "--raw") == 0)) {
    if (std::strcmp(argv[1], "--mmap") == 0) use_mmap = true;
    else raw = true;
    --argc;
    ++argv;
  }
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: bench_floor [--mmap] [--raw] IN.jsonl OUT.jsonl [min_len [max_len]]\n");
    return 2;
  }
  const char* in_path = argv[1];
  const char* out_path = argv[2];
  Floor f;
  f.raw = raw;
  f.min_len = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 10;
  f.max_len = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : uint64_t(INT64_MAX);
  f.out_path = out_path;

  const auto t0 = std::chrono::steady_clock::now();
  const int fd = open(in_path, O_RDONLY);
  if (fd < 0) die("cannot open", in_path);
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  f.out = std::fopen(out_path, "wb");
  if (!f.out) die("cannot create", out_path);
  const uint64_t bytes = use_mmap ? run_mmap(f, fd, in_path) : run_read(f, fd, in_path);
  if (std::fclose(f.out) != 0) die("cannot close", out_path);
  close(fd);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double mbps = double(bytes) / 1e6 / secs;

  std::printf("records in %" PRIu64 " out %" PRIu64 " (bad %" PRIu64 ")  bytes %" PRIu64
              "  seconds %.3f  MB/s %.1f  (%s)\n",
              f.n_in, f.n_out, f.n_bad, bytes, secs, mbps, use_mmap ? (raw ? "mmap, raw" : "mmap") : (raw ? "read, raw" : "read"));
  std::printf("floor in=%" PRIu64 " out=%" PRIu64 " bad=%" PRIu64 " bytes=%" PRIu64 " seconds=%.6f mb_per_s=%.1f\n",
              f.n_in, f.n_out, f.n_bad, bytes, secs, mbps);
  return 0;
}
