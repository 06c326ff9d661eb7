#include "ops/text/ngram_lm.h"

#include <xxhash.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "ops/text/model_files.h"
#include "ops/text/pystr.h"

namespace sluice::text {
namespace {

constexpr int kMaxOrder = kKenlmMaxOrder;

uint64_t WordHash(std::string_view w) { return XXH3_64bits(w.data(), w.size()); }

uint64_t NonZero(uint64_t k) { return k == 0 ? 1 : k; }

// Key of the unigram of a word, and of the n-gram that extends the n-gram `key` by one word on the left.
uint64_t UnigramKey(uint64_t word) { return NonZero(word * 0x9E3779B97F4A7C15ull ^ 0xD6E8FEB86659FD93ull); }
uint64_t ExtendLeft(uint64_t key, uint64_t word) {
  return NonZero((key * 8978948897894561157ull) ^ ((word + 1) * 17894857484156487943ull));
}

size_t SlotOf(uint64_t key, size_t mask) {
  key ^= key >> 33;
  key *= 0xFF51AFD7ED558CCDull;
  key ^= key >> 33;
  return static_cast<size_t>(key) & mask;
}

// Line-by-line reader of the ARPA file, tracking the line number for messages.
class ArpaReader {
 public:
  explicit ArpaReader(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "rb")) {
    if (f_ == nullptr) Fail(ErrorKind::kUsage, "cannot open the n-gram model {}: {}", path, std::strerror(errno));
  }
  ~ArpaReader() {
    std::free(buf_);
    std::fclose(f_);
  }
  ArpaReader(const ArpaReader&) = delete;
  ArpaReader& operator=(const ArpaReader&) = delete;

  // The next line without its line break (and trailing '\r' / spaces); false at end of file.
  bool Next(std::string_view& line) {
    ssize_t n = ::getline(&buf_, &cap_, f_);
    if (n < 0) return false;
    ++line_no_;
    while (n > 0 && (buf_[n - 1] == '\n' || buf_[n - 1] == '\r' || buf_[n - 1] == ' ' || buf_[n - 1] == '\t')) --n;
    line = std::string_view(buf_, static_cast<size_t>(n));
    return true;
  }
  // The next non-empty line; fails with `what` expected at end of file.
  std::string_view NextNonEmpty(const char* what) {
    std::string_view line;
    while (Next(line))
      if (!line.empty()) return line;
    Bad(fmt::format("unexpected end of file, expected {}", what));
  }
  [[noreturn]] void Bad(const std::string& why) const {
    Fail(ErrorKind::kUsage, "the n-gram model {} is not a valid ARPA file: line {}: {}", path_, line_no_, why);
  }

 private:
  std::string path_;
  FILE* f_;
  char* buf_ = nullptr;
  size_t cap_ = 0;
  size_t line_no_ = 0;
};

bool ParseFloat(std::string_view s, float& v) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

void NgramLm::Table::Reserve(size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  slots_.assign(cap, Entry{});
  mask_ = cap - 1;
  size_ = 0;
}

NgramLm::Entry* NgramLm::Table::Insert(uint64_t key) {
  if (2 * (size_ + 1) > slots_.size()) {
    std::vector<Entry> old = std::move(slots_);
    Reserve(old.size());  // doubles: Reserve sizes for 2n
    for (const Entry& e : old)
      if (e.key != 0) *Insert(e.key) = e;
  }
  for (size_t i = SlotOf(key, mask_);; i = (i + 1) & mask_) {
    Entry& e = slots_[i];
    if (e.key == key) return &e;
    if (e.key == 0) {
      e.key = key;
      ++size_;
      return &e;
    }
  }
}

const NgramLm::Entry* NgramLm::Table::Find(uint64_t key) const {
  for (size_t i = SlotOf(key, mask_);; i = (i + 1) & mask_) {
    const Entry& e = slots_[i];
    if (e.key == key) return &e;
    if (e.key == 0) return nullptr;
  }
}

std::shared_ptr<const NgramLm> NgramLm::Load(const std::string& path) {
  return CachedModel<NgramLm>(path, [](const std::string& file) {
    std::shared_ptr<NgramLm> lm(new NgramLm());
    char head[8] = {};
    FILE* f = std::fopen(file.c_str(), "rb");
    size_t got = f ? std::fread(head, 1, sizeof head, f) : 0;
    if (f) std::fclose(f);
    if (LooksLikeKenlmBinary(std::string_view(head, got))) lm->binary_ = KenlmBinaryModel::Open(file);
    else lm->ReadArpa(file);
    return std::shared_ptr<const NgramLm>(std::move(lm));
  });
}

void NgramLm::ReadArpa(const std::string& path) {
  ArpaReader in(path);
  std::string_view line = in.NextNonEmpty("\\data\\");
  if (line != "\\data\\") in.Bad("expected \\data\\");
  std::vector<size_t> counts;
  for (line = in.NextNonEmpty("ngram counts"); line.starts_with("ngram "); line = in.NextNonEmpty("\\1-grams:")) {
    size_t eq = line.find('=');
    size_t order = 0, count = 0;
    if (eq == std::string_view::npos ||
        std::from_chars(line.data() + 6, line.data() + eq, order).ptr != line.data() + eq ||
        std::from_chars(line.data() + eq + 1, line.data() + line.size(), count).ptr != line.data() + line.size() ||
        order != counts.size() + 1)
      in.Bad(fmt::format("malformed count line '{}'", line));
    counts.push_back(count);
  }
  if (counts.empty()) in.Bad("no ngram counts");
  if (counts.size() > kMaxOrder) in.Bad(fmt::format("order {} is above the supported {}", counts.size(), kMaxOrder));
  tables_.resize(counts.size());

  std::string_view words[kMaxOrder + 2];
  for (size_t n = 1; n <= counts.size(); ++n) {
    if (n > 1) line = in.NextNonEmpty("an n-gram section");
    if (line != fmt::format("\\{}-grams:", n)) in.Bad(fmt::format("expected \\{}-grams:", n));
    Table& table = tables_[n - 1];
    table.Reserve(counts[n - 1] + (n == 1));  // room for an added <unk>
    for (size_t i = 0; i < counts[n - 1]; ++i) {
      if (!in.Next(line) || line.empty())
        in.Bad(fmt::format("the {}-gram section has fewer entries than its count {}", n, counts[n - 1]));
      size_t k = 0;
      ForEachAsciiWord(line, [&](std::string_view w) {
        if (k < n + 2) words[k] = w;
        ++k;
      });
      float prob = 0, backoff = 0;
      if (k < n + 1 || k > n + 2 || !ParseFloat(words[0], prob) || (k == n + 2 && !ParseFloat(words[n + 1], backoff)))
        in.Bad(fmt::format("malformed {}-gram entry '{}'", n, line));
      uint64_t key = UnigramKey(WordHash(words[n]));
      for (size_t j = n - 1; j >= 1; --j) key = ExtendLeft(key, WordHash(words[j]));
      Entry* e = table.Insert(key);
      e->prob = prob;
      e->backoff = backoff;
    }
  }
  line = in.NextNonEmpty("\\end\\");
  if (line != "\\end\\") in.Bad(fmt::format("expected \\end\\ after the {}-grams", counts.size()));

  unk_ = WordHash("<unk>");
  bos_ = WordHash("<s>");
  eos_ = WordHash("</s>");
  if (tables_[0].Find(UnigramKey(bos_)) == nullptr || tables_[0].Find(UnigramKey(eos_)) == nullptr)
    Fail(ErrorKind::kUsage, "the n-gram model {} has no <s> or no </s> unigram", path);
  if (tables_[0].Find(UnigramKey(unk_)) == nullptr) tables_[0].Insert(UnigramKey(unk_))->prob = -100.0f;  // KenLM's
}

float NgramLm::ScoreSentence(std::string_view line) const {
  if (binary_) return binary_->ScoreSentence(line);
  const int n = order();
  // The state KenLM keeps between words: the context words, most recent first, and the back-off weights of
  // the context suffixes that are n-grams of the model (bo[i]: the suffix of i + 1 words).
  uint64_t ctx[kMaxOrder];
  float bo[kMaxOrder];
  int len = 0;
  if (n > 1) {
    ctx[0] = bos_;
    bo[0] = tables_[0].Find(UnigramKey(bos_))->backoff;
    len = 1;
  }
  auto score = [&](uint64_t w) {
    uint64_t key = UnigramKey(w);
    const Entry* e = tables_[0].Find(key);
    if (e == nullptr) {
      w = unk_;
      key = UnigramKey(w);
      e = tables_[0].Find(key);
    }
    float prob = e->prob;
    float next_bo[kMaxOrder];
    next_bo[0] = e->backoff;
    int next_len = n > 1 ? 1 : 0, matched = 0;
    for (int l = 1; l <= len; ++l) {
      key = ExtendLeft(key, ctx[l - 1]);
      const Entry* f = tables_[static_cast<size_t>(l)].Find(key);
      if (f == nullptr) break;
      prob = f->prob;
      matched = l;
      if (l + 1 < n) {
        next_bo[l] = f->backoff;
        next_len = l + 1;
      }
    }
    for (int i = matched; i < len; ++i) prob += bo[i];
    for (int i = next_len - 1; i > 0; --i) ctx[i] = ctx[i - 1];
    if (next_len > 0) ctx[0] = w;
    for (int i = 0; i < next_len; ++i) bo[i] = next_bo[i];
    len = next_len;
    return prob;
  };
  float total = 0;
  ForEachAsciiWord(line, [&](std::string_view word) { total += score(WordHash(word)); });
  total += score(eos_);
  return total;
}

}  // namespace sluice::text
