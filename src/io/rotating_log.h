// Log files that rotate, keep a bounded number of old files and gzip them; and the leveled Logger over them
// (DataJuicer's logger_utils.setup_logger, datajuicer-executor.md §10; docs/logging.md).
//
// RotatingLog appends records (each one or more complete lines) to one file with a single write() each on
// an O_APPEND descriptor, so records of several threads or processes never interleave. Before a record
// would take the file past max_bytes it rotates: path.N(.gz) is dropped (N = backup_count), each
// path.i(.gz) becomes path.(i+1)(.gz), the file becomes path.1 and a fresh one is opened; a background
// thread then gzips every uncompressed rotated file (path.1, or what another process shifted it to) into
// path.i.gz (temporary file, fsync, rename) and removes it. Writers wait only when a rotation finds the
// previous one still compressing. A record is never split across files, and no record of this process is
// lost or duplicated by rotation. Across processes, rotation and compression hold an flock on a hidden lock
// file beside the log (.<name>.lock) and rotate only if the file at the path is still full; each rotation
// appends one byte to that file, and a writer that sees its size change (one stat per record) reopens the
// path before writing. Left open: a writer of another process descheduled between that check and its write
// for longer than a whole rotation and compression writes that record into the removed file (sluice runs
// one process per job directory: job.lock; docs/logging.md). A crash mid-rotation leaves at worst an
// uncompressed path.i beside or instead of path.i.gz; the next RotatingLog on the path finishes it.
// All file access goes through Env. Errors of the background compression are raised by the next Append or
// Drain as sluice::Error (kOutput); an uncompressed file is kept, never deleted, when compression fails.
//
// Logger writes leveled records to a main file (records at or above its level, plain text lines
// "YYYY-MM-DD HH:MM:SS.mmm | LEVEL    | message") and, as DataJuicer does, to one file per level named
// <stem>_DEBUG<ext>, <stem>_WARNING<ext>, <stem>_ERROR<ext> holding exactly that level, as JSON lines in
// loguru's serialized shape ({"text": <the main-format line>, "record": {...}}). Every file rotates with the
// same options. A message's newlines are escaped as "\n" in text lines so that one record is one line.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "io/env.h"

namespace sluice {

struct RotatingLogOptions {
  uint64_t max_bytes = 100ull << 20;  // rotate before a record would take the file past this; 0: never
  int backup_count = 5;               // rotated files kept (path.1.gz newest .. path.N.gz); 0: none
};

class RotatingLog {
 public:
  RotatingLog(Env* env, std::string path, RotatingLogOptions opt);
  ~RotatingLog();  // finishes a pending compression
  RotatingLog(const RotatingLog&) = delete;
  RotatingLog& operator=(const RotatingLog&) = delete;

  // Thread-safe. `record` should end with '\n'. Throws kOutput when the file cannot be written.
  void Append(std::string_view record);
  // Waits until every rotated file is compressed; throws the first compression error.
  void Drain();
  const std::string& path() const { return path_; }

 private:
  std::string Rotated(int i, bool gz) const;
  void OpenLocked();                       // (re)opens path_; mu_ held
  void RotateLocked(uint64_t incoming);    // mu_ held
  struct RotatedFile {
    int index;
    bool gz;
  };
  std::vector<RotatedFile> ListRotated() const;  // path.<i>[.gz] that exist, by index
  void FinishLeftovers();                  // what a crash left: temporaries, raw path.i, beyond retention
  void CompressAll();                      // every raw path.i -> path.i.gz, under the cross-process lock
  void CompressorLoop();
  void ThrowIfFailedLocked();

  Env* env_;
  std::string path_, lock_path_;
  RotatingLogOptions opt_;
  std::mutex mu_;
  std::unique_ptr<WritableFile> file_;
  uint64_t size_ = 0;        // bytes in the file at path_, as far as this writer knows
  uint64_t generation_ = 0;  // size of the lock file when path_ was opened
  // Background compression: at most one rotated file (path.1) waits; a rotation waits until it is done.
  std::condition_variable cv_;
  bool pending_ = false, stop_ = false;
  std::string error_;
  std::thread compressor_;
};

enum class LogLevel { kDebug, kInfo, kWarning, kError };
const char* LogLevelName(LogLevel level);  // "DEBUG", "INFO", "WARNING", "ERROR"

struct LoggerOptions {
  std::string dir;                      // created if missing
  std::string name = "log.txt";         // main file; level files are <stem>_<LEVEL><ext>
  LogLevel main_level = LogLevel::kInfo;
  RotatingLogOptions rotation;
};

class Logger {
 public:
  Logger(Env* env, LoggerOptions opt);
  ~Logger();
  // Thread-safe; one line per record in the main file (if level >= main_level) and in its level file.
  void Log(LogLevel level, std::string_view message);
  // Formats a text line "time | LEVEL    | message\n" as the main file has it (tests, events.log).
  static std::string FormatLine(double epoch_seconds, std::string_view level, std::string_view message);
  void Drain();

 private:
  Env* env_;
  LoggerOptions opt_;
  std::unique_ptr<RotatingLog> main_, debug_, warning_, error_;
};

}  // namespace sluice
