#include "ops/text/html_text.h"

#include <gumbo.h>

#include "core/utf8.h"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace sluice::html {

// Chunks are kept across parses; Reset() rewinds to the first one. A parse needs a few times the input
// size, so after the first large document the arena stops growing.
struct BodyTextExtractor::Arena {
  struct Chunk {
    char* data;
    size_t size;
  };
  std::vector<Chunk> chunks;
  size_t current = 0;  // index of the chunk being filled
  size_t used = 0;     // bytes used in it

  ~Arena() {
    for (auto& c : chunks) std::free(c.data);
  }
  void Reset() {
    current = 0;
    used = 0;
  }
  void* Allocate(size_t n) {
    n = (n + 15) & ~size_t{15};
    while (current < chunks.size()) {
      Chunk& c = chunks[current];
      if (used + n <= c.size) {
        void* p = c.data + used;
        used += n;
        return p;
      }
      ++current;
      used = 0;
    }
    size_t size = std::max<size_t>(n, chunks.empty() ? size_t{1} << 16 : chunks.back().size * 2);
    char* data = static_cast<char*>(std::malloc(size));
    if (data == nullptr) throw std::bad_alloc();
    chunks.push_back({data, size});
    current = chunks.size() - 1;
    used = n;
    return data;
  }
};

namespace {

void* ArenaAllocate(void* userdata, size_t size) {
  return static_cast<BodyTextExtractor::Arena*>(userdata)->Allocate(size);
}
void ArenaFree(void*, void*) {}

const GumboNode* FindBody(const GumboNode* html) {
  if (html == nullptr || html->type != GUMBO_NODE_ELEMENT) return nullptr;
  const GumboVector& children = html->v.element.children;
  for (unsigned i = 0; i < children.length; ++i) {
    auto* n = static_cast<const GumboNode*>(children.data[i]);
    if (n->type == GUMBO_NODE_ELEMENT && n->v.element.tag == GUMBO_TAG_BODY) return n;
  }
  return nullptr;
}

// Gumbo turns C0/C1 controls (other than HTML whitespace and NUL) and noncharacters into U+FFFD; the
// HTML5 spec (and selectolax's parser) keep them: they are parse errors, not replaced. So before parsing
// each such character becomes a placeholder code point of plane 15's private use area, which gumbo treats
// like any other ordinary character, and the text is mapped back afterwards. Code points in the
// placeholder range itself are prefixed with kEscape so the mapping is reversible.
constexpr char32_t kPlaceholderBase = 0xF0000;
constexpr char32_t kEscape = 0xF1000;

bool Replaced(char32_t c) {
  return (c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) || (c >= 0x7F && c <= 0x9F) ||
         (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE;
}
char32_t Placeholder(char32_t c) {
  if (c < 0xA0) return kPlaceholderBase + c;
  if (c < 0xFDF0) return kPlaceholderBase + 0x100 + (c - 0xFDD0);
  return kPlaceholderBase + 0x200 + (c >> 16) * 2 + (c & 1);
}
char32_t FromPlaceholder(char32_t p) {
  char32_t i = p - kPlaceholderBase;
  if (i < 0x100) return i;
  if (i < 0x200) return 0xFDD0 + (i - 0x100);
  i -= 0x200;
  return ((i / 2) << 16) | 0xFFFE | (i & 1);
}
bool InPlaceholderRange(char32_t c) { return c >= kPlaceholderBase && c <= kEscape; }

// Whether `s` holds a character Protect must rewrite: a byte below 0x20 other than HTML whitespace and
// NUL, DEL, or a lead byte of C1 controls (C2), of U+FDD0..U+FFFF (EF), or of the supplementary planes
// (F0..F4, which hold the per-plane noncharacters and the placeholder range). A cheap superset test.
bool MayNeedProtection(std::string_view s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != 0 && c != '\t' && c != '\n' && c != '\f' && c != '\r') || c == 0x7F || c == 0xC2 ||
        c == 0xEF || c >= 0xF0)
      return true;
  return false;
}

// Rewrites `in` into `out` with placeholders; returns false (out untouched) when nothing needed it.
bool Protect(std::string_view in, std::string& out) {
  if (!MayNeedProtection(in)) return false;
  out.clear();
  bool any = false;
  for (size_t i = 0; i < in.size();) {
    size_t start = i;
    char32_t c = utf8::Next(in, i);
    if (Replaced(c)) {
      utf8::Append(out, Placeholder(c));
      any = true;
    } else if (InPlaceholderRange(c)) {
      utf8::Append(out, kEscape);
      utf8::Append(out, c);
      any = true;
    } else {
      out.append(in, start, i - start);
    }
  }
  return any;
}

// Inverse of Protect on extracted text.
void Unprotect(std::string& text, std::string& scratch) {
  scratch.clear();
  for (size_t i = 0; i < text.size();) {
    size_t start = i;
    char32_t c = utf8::Next(text, i);
    if (c == kEscape && i < text.size()) {
      size_t j = i;
      char32_t next = utf8::Next(text, j);
      if (InPlaceholderRange(next)) {
        utf8::Append(scratch, next);
        i = j;
        continue;
      }
    }
    if (InPlaceholderRange(c) && c != kEscape)
      utf8::Append(scratch, FromPlaceholder(c));
    else
      scratch.append(text, start, i - start);
  }
  text.swap(scratch);
}

}  // namespace

BodyTextExtractor::BodyTextExtractor() : arena_(std::make_unique<Arena>()) {}
BodyTextExtractor::~BodyTextExtractor() = default;

bool BodyTextExtractor::BodyText(std::string_view html, std::string& out) {
  out.clear();
  GumboOptions options = kGumboDefaultOptions;
  options.allocator = ArenaAllocate;
  options.deallocator = ArenaFree;
  options.userdata = arena_.get();
  options.max_errors = 0;  // parse errors are not needed; recording them would only allocate
  arena_->Reset();
  bool protected_input = Protect(html, protected_);
  if (protected_input) html = protected_;
  // Gumbo never fails on any input: every byte sequence is a document. The output lives in the arena and
  // is dropped by the next Reset (gumbo_destroy_output would only call the no-op deallocator).
  GumboOutput* output = gumbo_parse_with_options(&options, html.data(), html.size());
  const GumboNode* body = FindBody(output->root);
  if (body == nullptr) return false;

  // Pre-order traversal: children pushed in reverse so they pop in document order.
  stack_.clear();
  auto push_children = [this](const GumboNode* n) {
    const GumboVector& c = n->v.element.children;
    for (unsigned i = c.length; i-- > 0;) stack_.push_back(static_cast<const GumboNode*>(c.data[i]));
  };
  push_children(body);
  while (!stack_.empty()) {
    const GumboNode* n = stack_.back();
    stack_.pop_back();
    switch (n->type) {
      case GUMBO_NODE_TEXT:
      case GUMBO_NODE_WHITESPACE:
      case GUMBO_NODE_CDATA:
        out.append(n->v.text.text);
        break;
      case GUMBO_NODE_ELEMENT:
      case GUMBO_NODE_TEMPLATE:
        push_children(n);
        break;
      default:  // comments
        break;
    }
  }
  if (protected_input) Unprotect(out, protected_);
  return true;
}

}  // namespace sluice::html
