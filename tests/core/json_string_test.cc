// ValidateJsonEscapes / AppendDecodedJsonString against simdjson's own get_string, the parser they stand in
// for: on random string bodies built from valid and broken escapes, both must accept exactly the same bodies,
// decode them to the same bytes, and `excess` must turn the body's code points into the decoded text's. And
// the encoder, AppendJsonString, against a byte-at-a-time reference.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include <simdjson.h>

#include "core/json_string.h"
#include "core/json_writer.h"

namespace sluice {
namespace {

std::string fmt_hex(unsigned char c) {
  static const char kHex[] = "0123456789abcdef";
  return std::string("\\u00") + kHex[c >> 4] + kHex[c & 15];
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// What simdjson says of "body": accepted, and the decoded text.
bool SimdjsonDecode(const std::string& body, std::string& out) {
  static simdjson::ondemand::parser parser;
  simdjson::padded_string json("\"" + body + "\"");
  simdjson::ondemand::document doc;
  if (parser.iterate(json).get(doc)) return false;
  std::string_view v;
  if (doc.get_string().get(v)) return false;
  out.assign(v);
  return true;
}

void Check(const std::string& body) {
  std::string want;
  bool ok = SimdjsonDecode(body, want);
  size_t excess = 0;
  ASSERT_EQ(ValidateJsonEscapes(body, excess), ok) << "body: " << body;
  // In place, with bytes after the body that must not count: a backslash, then escapable characters.
  std::string padded = body + "\\nnnn" + std::string(64, '\\');
  size_t excess_padded = 0;
  ASSERT_EQ(ValidateJsonEscapesPadded(std::string_view(padded.data(), body.size()), excess_padded), ok) << "body: " << body;
  if (ok) {
    ASSERT_EQ(excess_padded, excess) << "body: " << body;
  }
  if (!ok) return;
  std::string got = "prefix:";
  AppendDecodedJsonString(body, got);
  ASSERT_EQ(got, "prefix:" + want) << "body: " << body;
  ASSERT_EQ(CodePoints(body) - excess, CodePoints(want)) << "body: " << body;
}

TEST(JsonString, HandPickedBodies) {
  for (const char* b : {"", "plain", "caf\xc3\xa9", "a\\nb", "\\\"q\\\"", "\\\\", "\\/", "\\b\\f\\r\\t",
                        "\\u00e9", "\\u0000", "\\uD83D\\uDE00", "\\ud83d\\ude00x", "\\uFFFF", "\\x", "\\u12",
                        "\\u12G4", "\\ud800", "\\udc00", "\\ud800\\u0041", "\\ud800\\udbff", "\\ud800x",
                        "\\uDBFF\\uDFFF", "\\\\u0041", "tail\\u00"})
    Check(b);
}

TEST(JsonString, RandomBodiesMatchSimdjson) {
  // Fragments that make valid escapes, broken ones and, side by side, partial \u sequences.
  const char* frags[] = {"a", "Z", " ", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\\n", "\\\"", "\\\\",
                         "\\/", "\\b", "\\f", "\\r", "\\t", "\\x", "\\u", "\\U", "\\u00e9", "\\u0000",
                         "\\uD83D", "\\uDE00", "\\ud800", "\\udc00", "\\uDBFF\\uDFFF", "\\u12G4", "\\uFFFF",
                         "0", "F", "g", "d8", "DC", "\\ud83d\\u"};
  std::mt19937 rng(42);
  std::uniform_int_distribution<size_t> pick(0, std::size(frags) - 1), len(0, 10), long_len(0, 90);
  int accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string body;
    // Every fourth body is long enough to cross several 64-byte blocks (and their carries).
    for (size_t n = i % 4 == 0 ? long_len(rng) : len(rng); n > 0; --n) body += frags[pick(rng)];
    // A trailing odd backslash would escape the closing quote: that is an unterminated string, stage 1's case.
    size_t slashes = 0;
    while (slashes < body.size() && body[body.size() - 1 - slashes] == '\\') ++slashes;
    if (slashes % 2 == 1) body.pop_back();
    std::string want;
    accepted += SimdjsonDecode(body, want);
    Check(body);
    if (HasFatalFailure()) return;
  }
  // Both outcomes were exercised many times.
  EXPECT_GT(accepted, 20000);
  EXPECT_LT(accepted, 180000);
}

TEST(JsonString, RunsOfBackslashesAcrossBlocks) {
  // Runs of 1..70 backslashes ending at every offset around a block boundary, then a valid or an invalid
  // escape character: an odd run escapes the character after it.
  for (size_t run = 1; run <= 70; ++run)
    for (size_t lead = 0; lead < 70; ++lead)
      for (const char* after : {"n", "x", "u00e9", "ud83d\\ude00", ""}) Check(std::string(lead, 'a') + std::string(run, '\\') + after);
}

TEST(JsonString, AppendJsonStringEscapesExactlyTheNeededBytes) {
  // AppendJsonString (json_writer.h) against a byte-at-a-time reference, on strings that put control
  // characters, quotes and backslashes at every offset of its 32-byte steps; simdjson must read back the input.
  auto reference = [](std::string_view s) {
    std::string o = "\"";
    for (unsigned char c : s) {
      if (c == '"') o += "\\\"";
      else if (c == '\\') o += "\\\\";
      else if (c == '\n') o += "\\n";
      else if (c == '\r') o += "\\r";
      else if (c == '\t') o += "\\t";
      else if (c == '\b') o += "\\b";
      else if (c == '\f') o += "\\f";
      else if (c < 0x20) o += fmt_hex(c);
      else o += static_cast<char>(c);
    }
    return o + "\"";
  };
  const std::string alphabet[] = {"a", " ", "\xc3\xa9", "\xf0\x9f\x98\x80", "\"", "\\", "\n", "\t", std::string(1, '\0'),
                                  "\x1f", "\x7f", "\x01"};
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> pick(0, std::size(alphabet) - 1), len(0, 120), plain(0, 3);
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (size_t n = len(rng); n > 0; --n) s += plain(rng) ? std::string("x") : alphabet[pick(rng)];
    std::string got = "[", want = "[";
    AppendJsonString(got, s);
    want += reference(s);
    ASSERT_EQ(got, want) << i;
    std::string back;
    ASSERT_TRUE(SimdjsonDecode(got.substr(2, got.size() - 3), back)) << got;
    ASSERT_EQ(back, s);
  }
}

}  // namespace
}  // namespace sluice
