// Mappers that read the structure of a text (datajuicer-ops.md §4, §6): sentence_split_mapper (sentences
// by NLTK's Punkt) and extract_tables_from_html_mapper (HTML tables, a tagging op).
//
// sentence_split_mapper. Contract: the text becomes its Punkt sentences (ops/text/punkt.h) joined by '\n';
// the whitespace between sentences and at the end is dropped, so a blank text becomes "". `lang` is en, fr,
// pt or es (DataJuicer's set; anything else is refused at load), read as NLTK's english, french, portuguese
// or spanish parameters in the punkt_tab format: the directory `punkt_model` names, or
// punkt_tab/<language>/ in SLUICE_MODELS_DIR. A missing directory or file is refused when the op is built,
// naming the files. DataJuicer loads the same parameters from NLTK's pickles (punkt/<language>.pickle).
//
// extract_tables_from_html_mapper. Contract (DataJuicer parses with BeautifulSoup's html.parser; sluice
// builds the HTML5 tree with gumbo, see docs/compatibility.md for where the two trees differ):
//   * if `__dj__meta__` holds `tables_field_name` the sample is unchanged; otherwise that key is added to
//     `__dj__meta__` (created when absent or null; another non-object value is an error for the sample);
//   * the tables are every <table> element in document order, nested ones included;
//   * retain_html_tags: each table serialized as BeautifulSoup's str(tag) writes it: lowercase names,
//     attributes sorted by name with &, <, > escaped (in double quotes; in single quotes when the value
//     holds '"' but no "'"), void elements as <br/>, text with &, <, > escaped except inside script/style,
//     a text of only ASCII whitespace as one "\n" or " " (not below pre/textarea), comments kept; elements
//     the HTML5 parser inserted without a tag in the source (an implied <tbody>) are left out, their
//     content kept;
//   * otherwise, per table, per <tr> below it (any depth, nested tables' rows included, as find_all does):
//     a row with a direct <th> child is a header row and is skipped when include_header is false; its
//     cells are its direct <td>/<th> children, each the concatenation of its descendant text nodes
//     (comments excluded, script/style included as DataJuicer's html.parser keeps them as plain strings),
//     each node stripped of Python whitespace and empty ones dropped; rows without cells and tables without
//     rows are left out. The value is a list of tables, each a list of rows, each a list of strings.
//   The text itself is never changed.
#include <gumbo.h>
#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/json_writer.h"
#include "ops/op.h"
#include "ops/text/model_files.h"
#include "ops/text/punkt.h"
#include "ops/text/pystr.h"

namespace sluice {
namespace {

// ---------------------------------------------------------------------------------------------------------
// sentence_split_mapper

const std::map<std::string, std::string>& PunktLanguages() {
  static const std::map<std::string, std::string> m = {
      {"en", "english"}, {"fr", "french"}, {"pt", "portuguese"}, {"es", "spanish"}};
  return m;
}

std::shared_ptr<const text::PunktParameters> LoadPunkt(const Params& p) {
  const std::string& lang = p.GetString("lang");
  auto it = PunktLanguages().find(lang);
  if (it == PunktLanguages().end())
    Fail(ErrorKind::kUsage, "sentence_split_mapper: lang '{}' is not one of en, fr, pt, es", lang);
  std::string sub = "punkt_tab/" + it->second + "/";
  std::string given = p.GetString("punkt_model");
  std::string files;
  for (const char* f : text::kPunktTabFiles) files += (files.empty() ? "" : ", ") + std::string(f);
  // The directory is found through its first file, then every file must be beside it.
  text::ModelQuery q{"sentence_split_mapper", "NLTK Punkt parameters (a punkt_tab language directory: " + files + ")",
                     "punkt_model", given.empty() ? "" : given + "/" + text::kPunktTabFiles[0],
                     {sub + text::kPunktTabFiles[0]}};
  std::string found;
  try {
    found = text::ResolveModelFile(q);
  } catch (const Error& e) {
    // ResolveModelFile's advice names a file path for the parameter; punkt_model takes the directory.
    std::string msg = e.what();
    const std::string file_advice = "give its path with the op parameter punkt_model";
    size_t at = msg.find(file_advice);
    if (at != std::string::npos)
      msg.replace(at, file_advice.size(), "give the punkt_tab language directory (e.g. .../punkt_tab/" + it->second +
                                              ") with the op parameter punkt_model");
    Fail(e.kind(), "{}", msg);
  }
  std::string dir = std::filesystem::path(found).parent_path().string();
  std::string missing;
  for (const char* f : text::kPunktTabFiles)
    if (!std::filesystem::is_regular_file(dir + "/" + f)) missing += (missing.empty() ? "" : ", ") + dir + "/" + f;
  if (!missing.empty())
    Fail(ErrorKind::kUsage, "sentence_split_mapper: the NLTK Punkt parameters in {} lack {} (a punkt_tab directory "
         "holds {}; sluice never downloads models)", dir, missing, files);
  for (const char* f : text::kPunktTabFiles) text::ResolveModelFile({q.op, q.what, q.param, dir + "/" + f, {}});
  return text::CachedModel<text::PunktParameters>(dir + "/" + text::kPunktTabFiles[0], [&](const std::string&) {
    return std::make_shared<const text::PunktParameters>(text::LoadPunktTab(dir));
  });
}

class SentenceSplitMapper : public Mapper {
 public:
  explicit SentenceSplitMapper(const Params& p) : Mapper("sentence_split_mapper"), punkt_(LoadPunkt(p)) {}

  bool Map(std::string& text) override {
    punkt_.SpanTokenize(text, spans_);
    out_.clear();
    for (size_t i = 0; i < spans_.size(); ++i) {
      if (i) out_ += '\n';
      out_.append(text, spans_[i].first, spans_[i].second - spans_[i].first);
    }
    if (out_ == text) return false;
    text.swap(out_);
    return true;
  }

 private:
  text::PunktSentenceTokenizer punkt_;
  std::vector<std::pair<size_t, size_t>> spans_;
  std::string out_;
};

// ---------------------------------------------------------------------------------------------------------
// extract_tables_from_html_mapper

bool IsElement(const GumboNode* n, GumboTag tag) {
  return n->type == GUMBO_NODE_ELEMENT && n->v.element.tag == tag;
}

const GumboVector& Children(const GumboNode* n) {
  return n->type == GUMBO_NODE_TEMPLATE || n->type == GUMBO_NODE_ELEMENT ? n->v.element.children
                                                                         : n->v.document.children;
}

// Every element with `tag` below `n`, in document order (BeautifulSoup's find_all).
void FindAll(const GumboNode* n, GumboTag tag, std::vector<const GumboNode*>& out) {
  const GumboVector& c = Children(n);
  for (unsigned i = 0; i < c.length; ++i) {
    auto* child = static_cast<const GumboNode*>(c.data[i]);
    if (child->type != GUMBO_NODE_ELEMENT && child->type != GUMBO_NODE_TEMPLATE) continue;
    if (child->v.element.tag == tag) out.push_back(child);
    FindAll(child, tag, out);
  }
}

bool IsTextNode(const GumboNode* n) {
  return n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA;
}

// get_text(strip=True): every descendant text node stripped, empty ones dropped, concatenated.
void StrippedText(const GumboNode* n, std::string& out) {
  const GumboVector& c = Children(n);
  for (unsigned i = 0; i < c.length; ++i) {
    auto* child = static_cast<const GumboNode*>(c.data[i]);
    if (IsTextNode(child)) out += text::PyStrip(child->v.text.text);
    else if (child->type == GUMBO_NODE_ELEMENT || child->type == GUMBO_NODE_TEMPLATE) StrippedText(child, out);
  }
}

std::string_view TagName(const GumboNode* n) {
  if (n->v.element.tag != GUMBO_TAG_UNKNOWN) return gumbo_normalized_tagname(n->v.element.tag);
  GumboStringPiece piece = n->v.element.original_tag;
  gumbo_tag_from_original_text(&piece);
  return {piece.data, piece.length};
}

bool IsVoid(std::string_view name) {
  static const std::string_view kVoid[] = {"area", "base", "br", "col", "embed", "hr", "img", "input", "keygen",
                                           "link", "menuitem", "meta", "param", "source", "track", "wbr", "basefont",
                                           "bgsound", "command", "frame", "image", "isindex", "nextid", "spacer"};
  for (auto v : kVoid)
    if (v == name) return true;
  return false;
}

void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (quote && c == '"') out += "&quot;";
    else out += c;
  }
}

// BeautifulSoup keeps a string of only ASCII whitespace as one "\n" (if it has one) or one space, except
// below <pre> or <textarea>.
void AppendText(std::string& out, std::string_view s, bool raw, bool preserve) {
  if (!preserve && !s.empty() && s.find_first_not_of(" \t\n\f\r") == std::string_view::npos) {
    out += s.find('\n') != std::string_view::npos ? '\n' : ' ';
    return;
  }
  if (raw) out += s;
  else AppendEscaped(out, s, false);
}

// str(tag) as BeautifulSoup's default ("minimal") formatter writes it: attributes sorted by name, a value
// holding '"' quoted with "'" unless it also holds "'" (then '"' becomes &quot;).
void Serialize(const GumboNode* n, std::string& out, bool raw_text, bool preserve) {
  switch (n->type) {
    case GUMBO_NODE_TEXT:
    case GUMBO_NODE_WHITESPACE:
      AppendText(out, n->v.text.text, raw_text, preserve);
      return;
    case GUMBO_NODE_CDATA:
      out += "<![CDATA[";
      out += n->v.text.text;
      out += "]]>";
      return;
    case GUMBO_NODE_COMMENT:
      out += "<!--";
      out += n->v.text.text;
      out += "-->";
      return;
    case GUMBO_NODE_ELEMENT:
    case GUMBO_NODE_TEMPLATE: {
      const GumboElement& el = n->v.element;
      bool implied = (n->parse_flags & GUMBO_INSERTION_IMPLIED) != 0 && el.original_tag.length == 0;
      std::string_view name = TagName(n);
      if (!implied) {
        out += '<';
        out += name;
        std::vector<const GumboAttribute*> attrs;
        for (unsigned i = 0; i < el.attributes.length; ++i)
          attrs.push_back(static_cast<const GumboAttribute*>(el.attributes.data[i]));
        std::stable_sort(attrs.begin(), attrs.end(), [](const GumboAttribute* a, const GumboAttribute* b) {
          return std::string_view(a->name) < std::string_view(b->name);
        });
        for (const GumboAttribute* a : attrs) {
          std::string_view v = a->value;
          bool single = v.find('"') != std::string_view::npos && v.find('\'') == std::string_view::npos;
          out += ' ';
          out += a->name;
          out += single ? "='" : "=\"";
          AppendEscaped(out, v, !single);
          out += single ? '\'' : '"';
        }
        if (IsVoid(name)) {
          out += "/>";
          return;
        }
        out += '>';
      }
      bool raw = name == "script" || name == "style";
      bool keep = preserve || name == "pre" || name == "textarea";
      for (unsigned i = 0; i < el.children.length; ++i)
        Serialize(static_cast<const GumboNode*>(el.children.data[i]), out, raw, keep);
      if (!implied) {
        out += "</";
        out += name;
        out += '>';
      }
      return;
    }
    default: return;
  }
}

class ExtractTablesFromHtmlMapper : public RecordMapper {
 public:
  explicit ExtractTablesFromHtmlMapper(const Params& p)
      : RecordMapper("extract_tables_from_html_mapper"),
        field_(p.GetString("tables_field_name")),
        retain_tags_(p.GetBool("retain_html_tags")),
        include_header_(p.GetBool("include_header")) {}

  Result MapRecord(std::string_view record, std::string& out) override {
    simdjson::dom::element doc;
    if (auto err = parser_.parse(record.data(), record.size()).get(doc))
      Fail(ErrorKind::kInternal, "{}: cannot re-parse the record: {}", name(), simdjson::error_message(err));
    simdjson::dom::object obj, meta;
    if (doc.get(obj)) Fail(ErrorKind::kInternal, "{}: the record is not an object", name());
    simdjson::dom::element meta_value;
    bool has_meta = !obj["__dj__meta__"].get(meta_value) && !meta_value.is_null();
    if (has_meta) {
      if (meta_value.get(meta)) Fail(ErrorKind::kData, "{}: __dj__meta__ is not an object", name());
      simdjson::dom::element existing;
      if (!meta[field_].get(existing)) return Result::kUnchanged;
    }
    std::string_view html;
    if (!FindText(doc, html)) return Result::kUnchanged;  // a null or absent text: nothing to parse

    JsonWriter tables;
    Extract(html, tables);
    JsonWriter w;
    w.BeginObject();
    bool written = false;
    for (auto [k, v] : obj) {
      if (k == "__dj__meta__") {
        WriteMeta(w, has_meta ? &meta : nullptr, tables.str());
        written = true;
      } else {
        w.Key(k).Raw(simdjson::minify(v));
      }
    }
    if (!written) WriteMeta(w, nullptr, tables.str());
    w.EndObject();
    out = w.Take();
    return Result::kReplaced;
  }

 private:
  // `meta`: the sample's __dj__meta__ object, or null for a new one.
  void WriteMeta(JsonWriter& w, const simdjson::dom::object* meta, const std::string& tables) {
    w.Key("__dj__meta__").BeginObject();
    if (meta != nullptr)
      for (auto [k, v] : *meta) w.Key(k).Raw(simdjson::minify(v));
    w.Key(field_).Raw(tables).EndObject();
  }

  // The text field: a top-level member of that exact name, else the dotted path (DataJuicer's lookup).
  bool FindText(simdjson::dom::element root, std::string_view& out) {
    const std::string& key = text_key();
    simdjson::dom::element e;
    if (root[key].get(e)) {
      simdjson::dom::element cur = root;
      size_t b = 0;
      while (b <= key.size()) {
        size_t d = key.find('.', b);
        if (d == std::string::npos) d = key.size();
        simdjson::dom::object level;
        if (cur.get(level) || level[key.substr(b, d - b)].get(cur)) return false;
        b = d + 1;
      }
      e = cur;
    }
    return !e.get(out);
  }

  void Extract(std::string_view html, JsonWriter& w) {
    GumboOptions options = kGumboDefaultOptions;
    GumboOutput* g = gumbo_parse_with_options(&options, html.data(), html.size());
    std::vector<const GumboNode*> tables, rows;
    FindAll(g->document, GUMBO_TAG_TABLE, tables);
    w.BeginArray();
    std::string buf;
    for (const GumboNode* t : tables) {
      if (retain_tags_) {
        buf.clear();
        Serialize(t, buf, false, false);
        w.String(buf);
        continue;
      }
      rows.clear();
      FindAll(t, GUMBO_TAG_TR, rows);
      bool table_open = false;
      for (const GumboNode* r : rows) {
        const GumboVector& c = r->v.element.children;
        bool header = false, any = false;
        for (unsigned i = 0; i < c.length; ++i) {
          auto* cell = static_cast<const GumboNode*>(c.data[i]);
          header |= IsElement(cell, GUMBO_TAG_TH);
          any |= IsElement(cell, GUMBO_TAG_TH) || IsElement(cell, GUMBO_TAG_TD);
        }
        if ((header && !include_header_) || !any) continue;
        if (!table_open) w.BeginArray(), table_open = true;
        w.BeginArray();
        for (unsigned i = 0; i < c.length; ++i) {
          auto* cell = static_cast<const GumboNode*>(c.data[i]);
          if (!IsElement(cell, GUMBO_TAG_TH) && !IsElement(cell, GUMBO_TAG_TD)) continue;
          buf.clear();
          StrippedText(cell, buf);
          w.String(buf);
        }
        w.EndArray();
      }
      if (table_open) w.EndArray();
    }
    w.EndArray();
    gumbo_destroy_output(&options, g);
  }

  std::string field_;
  bool retain_tags_, include_header_;
  simdjson::dom::parser parser_;
};

}  // namespace

void RegisterStructureMappers(std::vector<OpDef>& ops) {
  ops.push_back({"sentence_split_mapper", OpKind::kMapper,
                 "put each sentence (NLTK Punkt) on its own line",
                 {{"lang", ParamType::kString, ParamValue::String("en"), "language of the Punkt parameters: en, fr, pt or es"},
                  {"punkt_model", ParamType::kString, ParamValue::String(""),
                   "sluice: directory of the Punkt parameters in NLTK's punkt_tab format (default: "
                   "punkt_tab/<language>/ in SLUICE_MODELS_DIR)"}},
                 [](const Params& p) { return std::make_unique<SentenceSplitMapper>(p); }});
  ops.push_back({"extract_tables_from_html_mapper", OpKind::kMapper,
                 "store the tables of the HTML text in __dj__meta__ (a tagging op; the text is unchanged)",
                 {{"tables_field_name", ParamType::kString, ParamValue::String("html_tables"),
                   "key of __dj__meta__ that receives the tables"},
                  {"retain_html_tags", ParamType::kBool, ParamValue::Bool(false),
                   "store each table's HTML instead of its cell texts"},
                  {"include_header", ParamType::kBool, ParamValue::Bool(true),
                   "keep rows with a <th> cell (only without retain_html_tags)"}},
                 [](const Params& p) { return std::make_unique<ExtractTablesFromHtmlMapper>(p); }});
}

}  // namespace sluice
