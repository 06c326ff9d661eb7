// JSON string bodies: the bytes between a string's quotes, still escaped, exactly as they sit in the input.
//
// The record parser validates a text field's escapes without decoding it and decodes it only when an op
// reads it (TextField::value), so an op that needs only the text's length never pays for the copy.
//
// Contract:
//   ValidateJsonEscapes(body, excess)  true iff every backslash escape in `body` is one simdjson's get_string
//       accepts: \" \\ \/ \b \f \n \r \t, and \uXXXX where a high surrogate must be followed by \u and a low
//       surrogate and a lone low surrogate is an error. UTF-8 and unescaped control characters are not
//       checked here (simdjson's stage 1 checks the whole line). On success `excess` is how many more bytes
//       the escapes take than the code points they stand for ("\n" 1, "\u00e9" 5, a surrogate pair 11), so
//       the decoded text has (code points of body) - excess code points.
//   AppendDecodedJsonString(body, out)  appends the decoded text; `body` must have passed
//       ValidateJsonEscapes (anything else is decoded to unspecified bytes, never read out of bounds).
//   DescribeJsonEscapeError(body)  for a body that failed ValidateJsonEscapes, its first offending escape:
//       "lone surrogate escape \ud800" (a high surrogate not followed by an escaped low one, or a low one
//       alone: valid JSON to Python's json, but no Unicode text) or "bad escape sequence \q".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {

bool ValidateJsonEscapes(std::string_view body, size_t& excess);
// The same, for a body followed by at least 64 readable bytes (a string inside a line that has simdjson's
// padding): the last partial block is read in place instead of copied.
bool ValidateJsonEscapesPadded(std::string_view body, size_t& excess);
void AppendDecodedJsonString(std::string_view body, std::string& out);
std::string DescribeJsonEscapeError(std::string_view body);

}  // namespace sluice
