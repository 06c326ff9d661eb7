// HTML text extraction as DataJuicer's clean_html_mapper sees it (datajuicer-ops.md §4 clean_html_mapper):
// selectolax's `HTMLParser(html).text()`, i.e. the HTML5 tree is built (here by gumbo, an HTML5-conformant
// parser) and the text nodes under <body> are concatenated in document order, without separators.
//
// Contract of BodyText(html, out):
//   * `out` receives the concatenated text of every text node below the <body> element (whitespace-only
//     nodes and CDATA sections included; comments excluded), entities decoded, CR/CRLF turned into LF by
//     HTML5 input preprocessing; control characters and noncharacters are kept as they are (gumbo would
//     replace them, see html_text.cc). Text in <head> (e.g. <title>) and outside <body> is not part of it.
//   * returns false when the document has no <body> (a <frameset> document): selectolax's `.text()` then
//     fails, so the caller reports an error for the sample.
// The parse allocates from an arena owned by the extractor and reset on every call, so steady-state
// parsing does not touch malloc. One extractor per thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct GumboInternalNode;

namespace sluice::html {

class BodyTextExtractor {
 public:
  BodyTextExtractor();
  ~BodyTextExtractor();
  BodyTextExtractor(const BodyTextExtractor&) = delete;
  BodyTextExtractor& operator=(const BodyTextExtractor&) = delete;

  bool BodyText(std::string_view html, std::string& out);

  // Bump allocator gumbo allocates from (its frees are no-ops); public for the C callbacks only.
  struct Arena;

 private:
  std::unique_ptr<Arena> arena_;
  std::vector<const GumboInternalNode*> stack_;
  std::string protected_;  // the input with placeholders (see html_text.cc), reused
};

}  // namespace sluice::html
