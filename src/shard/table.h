// Tables the shard scheduler reads: its input (to plan the key ranges) and the workers' result files (to
// count, verify and merge them). CSV (RFC 4180: a field in double quotes may hold the delimiter, quotes
// doubled as "" and line breaks), TSV (the same rules with a tab), or JSONL (one JSON object per line),
// chosen by the file name's extension. A CSV/TSV file starts with a header naming its columns.
//
// TableReader streams: it holds one block of the file and the current record, never the table, so a table
// of any size is read in constant memory. Blank lines are skipped. Every error names the file and the line
// (of the record's start) and says what is wrong: an empty file, no such key column, a record without the
// key field, an unterminated quote, a line that is not a JSON object, a key that is null or not a scalar.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/env.h"

namespace sluice::shard {

enum class TableFormat { kCsv, kTsv, kJsonl };
// From the extension (.csv, .tsv, .jsonl, .json); throws kUsage naming the path for any other.
TableFormat FormatOfPath(const std::string& path);

class TableReader {
 public:
  // Opens `path` and, for CSV/TSV, reads the header and finds `key_column` in it. Throws kData if the file
  // is empty or the header lacks the column, kInput if it cannot be read. A non-null `hash` is fed every
  // byte of the file as it is read (so a scan fingerprints the file in the same pass).
  TableReader(Env* env, std::string path, std::string key_column, XXH3_state_t* hash = nullptr);
  TableReader(const TableReader&) = delete;
  TableReader& operator=(const TableReader&) = delete;

  // Advances to the next record; false at the end of the file.
  bool Next();
  std::string_view record() const { return record_; }  // the record's bytes, without its line break
  std::string_view key() const { return key_; }        // the key field's value (unquoted, unescaped)
  uint64_t line() const { return record_line_; }       // the line the record starts on (1-based)
  const std::string& header() const { return header_; }  // CSV/TSV header record; "" for JSONL
  const std::string& path() const { return path_; }
  TableFormat format() const { return format_; }

 private:
  bool Fill();  // reads the next block; false at EOF
  // Splits one delimited record starting at buf_[pos_] into record_ (empty for a blank line) and key_ (or,
  // for the header, every field into `fields`); false if the buffer ends before the record does.
  bool SplitDelimited(bool header, std::vector<std::string>* fields);
  void ParseJsonKey();

  Env* env_;
  std::string path_, key_column_;
  TableFormat format_;
  XXH3_state_t* hash_;
  std::unique_ptr<RandomAccessFile> file_;
  uint64_t offset_ = 0;
  bool eof_ = false;
  std::string buf_;
  size_t pos_ = 0;
  uint64_t line_ = 1;  // the line buf_[pos_] is on
  char delim_ = ',';
  size_t key_index_ = 0;
  std::string header_, record_, key_, json_buf_;
  uint64_t record_line_ = 0;
};

}  // namespace sluice::shard
