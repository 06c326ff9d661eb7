// A native reimplementation of ftfy.fix_text (ftfy 6.3.1, default TextFixerConfig), the behaviour of
// DataJuicer's fix_unicode_mapper (datajuicer-ops.md §4 fix_unicode_mapper).
//
// Contract (what fix_text does, step by step):
//   The text is cut into segments, each ending after a '\n' (or after 1,000,000 code points). HTML
//   unescaping is on until the first segment that contains '<'; from that segment on it stays off. Each
//   segment is fixed on its own by repeating, until a whole round changes nothing:
//     1. unescape_html: "&name;" for the HTML5 entities ending in ';' (and upper-cased forms of lower-case
//        ones, e.g. "&EACUTE;"), "&#N;" / "&#xH;" with html.unescape's numeric rules; nothing else;
//     2. fix_encoding: while the segment looks like mojibake (IsBad), re-encode it in the first single-byte
//        codec that can hold it (latin-1, sloppy-windows-1252/1251/1250/1253/1254/1257, iso-8859-2,
//        macroman, cp437), restoring bytes A0 taken for spaces and marking lossy U+FFFD sequences, and
//        decode as UTF-8 (or CESU-8 / Java's C0 80); else decode inconsistent embedded UTF-8 runs; else
//        latin-1 read as windows-1252; else the C1 fix below;
//     3. fix_c1_controls (U+0080..U+009F as windows-1252), fix_latin_ligatures (ﬁ -> fi, Ĳ -> IJ, ...),
//        fix_character_width (U+FF01..U+FFEF to their NFKC forms, U+3000 -> ' '), uncurl_quotes
//        (U+02BC, U+2018..U+201B -> ', U+201C..U+201F -> "), fix_line_breaks (\r\n, \r, U+2028, U+2029 ->
//        \n), fix_surrogates (nothing to do: texts are valid UTF-8, so they hold no surrogates),
//        remove_terminal_escapes (ESC [ [0-9;]* [A-Za-z]), remove_control_chars (U+0000..U+0008, U+000B,
//        U+000E..U+001F, U+007F, U+206A..U+206F, U+FEFF, U+FFF9..U+FFFC);
//     4. Unicode normalization (NFC by default).
// Input and output are valid UTF-8. Normalization uses ICU's Unicode version, which may differ from the
// Python that runs DataJuicer (see docs for the op).
#pragma once

#include <string>
#include <string_view>

namespace sluice::ftfy {

enum class Normalization { kNFC, kNFKC, kNFD, kNFKD };

class Fixer {
 public:
  explicit Fixer(Normalization n);

  // ftfy.fix_text(text, normalization=n): rewrites `text`, returns true if it changed. Text no step
  // touches (e.g. ASCII without '&', '\r' or control characters) costs one scan and is left alone.
  bool FixText(std::string& text);

  // Unicode normalization of s (step 4); true if it changed.
  bool Normalize(std::string& s);

 private:
  bool NeedsWork(std::string_view s) const;
  void FixSegment(std::string& seg, bool unescape);

  const void* normalizer_;  // icu::Normalizer2*, owned by ICU
  std::string out_, seg_, prev_, tmp_;
  std::u32string wide_;
};

// The single steps on one segment, exposed for tests. Each rewrites `s` (using `tmp` as scratch) and
// returns true if it changed.
bool UnescapeHtml(std::string& s, std::string& tmp);
bool FixEncoding(std::string& s, std::u32string& tmp);
bool FixCharacters(std::string& s, std::string& tmp);  // c1 controls, ligatures, width, quotes, line breaks
bool RemoveControls(std::string& s, std::string& tmp);  // terminal escapes, then control characters
// Whether ftfy's badness heuristic (badness.is_bad) sees mojibake in s.
bool IsBad(std::string_view s);

}  // namespace sluice::ftfy
