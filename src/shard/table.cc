#include "shard/table.h"

#include <simdjson.h>

#include "core/error.h"

namespace sluice::shard {
namespace {

constexpr size_t kBlock = 1 << 20;

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TableFormat FormatOfPath(const std::string& path) {
  if (EndsWith(path, ".csv")) return TableFormat::kCsv;
  if (EndsWith(path, ".tsv")) return TableFormat::kTsv;
  if (EndsWith(path, ".jsonl") || EndsWith(path, ".json")) return TableFormat::kJsonl;
  Fail(ErrorKind::kUsage, "{}: unknown table format (the name must end in .csv, .tsv, .jsonl or .json)", path);
}

TableReader::TableReader(Env* env, std::string path, std::string key_column, XXH3_state_t* hash)
    : env_(env), path_(std::move(path)), key_column_(std::move(key_column)), format_(FormatOfPath(path_)), hash_(hash) {
  file_ = env_->NewRandomAccessFile(path_);
  Fill();
  if (buf_.empty()) Fail(ErrorKind::kData, "{}: the file is empty", path_);
  if (format_ == TableFormat::kJsonl) return;
  delim_ = format_ == TableFormat::kTsv ? '\t' : ',';
  std::vector<std::string> names;
  while (names.clear(), !SplitDelimited(true, &names)) {
    buf_.erase(0, pos_);
    pos_ = 0;
    Fill();
  }
  header_ = record_;
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == key_column_) {
      key_index_ = i;
      return;
    }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  std::string hint = DidYouMean(key_column_, names);
  Fail(ErrorKind::kData, "{}:1: no key column '{}' in the header (columns: {}){}", path_, key_column_, list,
       hint.empty() ? "" : "; " + hint);
}

bool TableReader::Fill() {
  if (eof_) return false;
  size_t old = buf_.size();
  buf_.resize(old + kBlock);
  size_t n = file_->ReadAt(offset_, kBlock, buf_.data() + old);
  buf_.resize(old + n);
  offset_ += n;
  if (hash_ && n) XXH3_64bits_update(hash_, buf_.data() + old, n);
  if (n == 0) eof_ = true;
  return n > 0;
}

bool TableReader::SplitDelimited(bool header, std::vector<std::string>* fields) {
  const size_t n = buf_.size();
  size_t i = pos_, field = 0;
  uint64_t breaks = 0;
  bool in_quotes = false, at_field_start = true, have_key = false, crlf = false;
  std::string cur, key;
  auto end_field = [&] {
    if (header) fields->push_back(cur);
    else if (field == key_index_) key = cur, have_key = true;
    ++field;
    cur.clear();
    at_field_start = true;
  };
  for (;;) {
    if (i >= n) {
      if (!eof_) return false;
      if (in_quotes) Fail(ErrorKind::kData, "{}:{}: unterminated quoted field (the '\"' opened in this record is never closed)", path_, line_);
      break;
    }
    char c = buf_[i];
    bool collect = header || field == key_index_;
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 >= n && !eof_) return false;
        if (i + 1 < n && buf_[i + 1] == '"') {
          if (collect) cur += '"';
          i += 2;
          continue;
        }
        in_quotes = false;
      } else {
        if (c == '\n') ++breaks;
        if (collect) cur += c;
      }
      ++i;
      continue;
    }
    if (c == '"' && at_field_start) {
      in_quotes = true;
      at_field_start = false;
    } else if (c == delim_) {
      end_field();
    } else if (c == '\n') {
      break;
    } else if (c == '\r') {
      if (i + 1 >= n && !eof_) return false;
      if (i + 1 < n && buf_[i + 1] == '\n') {
        crlf = true;
        break;
      }
      if (collect) cur += c;
    } else {
      at_field_start = false;
      if (collect) cur += c;
    }
    ++i;
  }
  size_t end = i;
  record_.assign(buf_, pos_, end - pos_);
  record_line_ = line_;
  bool blank = end == pos_;
  pos_ = std::min(n, end + (crlf ? 2 : 1));
  line_ += breaks + 1;
  if (blank && !header) return true;  // a blank line is no record: record_ is empty
  end_field();
  if (!header && !have_key)
    Fail(ErrorKind::kData, "{}:{}: the record has {} field(s), no value for key column '{}' (field {})", path_, record_line_,
         field, key_column_, key_index_ + 1);
  if (!header) key_ = std::move(key);
  return true;
}

void TableReader::ParseJsonKey() {
  static thread_local simdjson::ondemand::parser parser;
  json_buf_.assign(record_);
  json_buf_.append(simdjson::SIMDJSON_PADDING, ' ');
  simdjson::padded_string_view text(json_buf_.data(), record_.size(), json_buf_.size());
  auto bad = [&](std::string_view why) {
    Fail(ErrorKind::kData, "{}:{}: {}", path_, record_line_, why);
  };
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (parser.iterate(text).get(doc) || doc.get_object().get(obj)) bad("not a JSON object");
  simdjson::ondemand::value v;
  auto err = obj.find_field_unordered(key_column_).get(v);
  if (err == simdjson::NO_SUCH_FIELD) bad(fmt::format("no key field '{}'", key_column_));
  if (err) bad(fmt::format("malformed JSON ({})", simdjson::error_message(err)));
  simdjson::ondemand::json_type type;
  if (v.type().get(type)) bad("malformed JSON");
  if (type == simdjson::ondemand::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s)) bad(fmt::format("malformed string in key field '{}'", key_column_));
    key_ = s;
  } else if (type == simdjson::ondemand::json_type::number) {
    std::string_view raw = v.raw_json_token();
    while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\r')) raw.remove_suffix(1);
    key_ = raw;
  } else {
    bad(fmt::format("key field '{}' is not a string or a number", key_column_));
  }
}

bool TableReader::Next() {
  if (format_ != TableFormat::kJsonl) {
    for (;;) {
      if (pos_ >= buf_.size() && eof_) return false;
      if (pos_ < buf_.size() && SplitDelimited(false, nullptr)) {
        if (!record_.empty()) return true;
        continue;  // a blank line
      }
      buf_.erase(0, pos_);
      pos_ = 0;
      if (!Fill() && buf_.empty()) return false;
    }
  }
  for (;;) {
    size_t nl = buf_.find('\n', pos_);
    if (nl == std::string::npos && !eof_) {
      buf_.erase(0, pos_);
      pos_ = 0;
      Fill();
      continue;
    }
    if (pos_ >= buf_.size()) return false;
    size_t end = nl == std::string::npos ? buf_.size() : nl;
    record_.assign(buf_, pos_, end - pos_);
    if (!record_.empty() && record_.back() == '\r') record_.pop_back();
    record_line_ = line_++;
    pos_ = end + 1;
    if (record_.find_first_not_of(" \t") == std::string::npos) continue;
    ParseJsonKey();
    return true;
  }
}

}  // namespace sluice::shard
