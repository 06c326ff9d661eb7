#include "ops/pipeline.h"

#include <cstdlib>
#include <stdexcept>

#include <fmt/ranges.h>

#include "core/error.h"
#include "core/fault_injection.h"
#include "core/json_writer.h"
#include "core/record.h"
#include "ops/text/analysis.h"

namespace sluice {

namespace {

// DataJuicer keeps a deduplicator's hash column after it (document_minhash_deduplicator drops its own) and
// its compute_hash returns a sample that holds the column untouched, so a deduplicator named again does not
// hash the current text: it reuses what the first instance computed, on the text as it was then, with that
// instance's parameters and text key. sluice does not carry hashes in the records; this gives the same result
// where it can and refuses the recipe where it cannot.
void ReuseDedupHashes(const Recipe& recipe, Pipeline& p) {
  for (size_t j = 0; j < p.ops.size(); ++j) {
    const std::string& name = p.ops[j].def->name;
    bool exact = name == "document_deduplicator";
    if (!exact && name != "document_simhash_deduplicator") continue;
    size_t i = 0;
    while (p.ops[i].def != p.ops[j].def) ++i;  // the first instance: it computed the hash
    if (i == j) continue;
    const char* column = exact ? "__dj__hash" : "__dj__simhash";
    auto refuse = [&](const std::string& why) {
      Fail(ErrorKind::kUsage,
           "{}:{}: op '{}' (#{}) reuses the {} the same op at line {} computed, as in DataJuicer (a sample that has "
           "the column is not hashed again), but {}; sluice does not carry that column in the records, so it cannot "
           "give DataJuicer's result: see docs/compatibility.md",
           recipe.config_path, p.ops[j].recipe_line, name, j, column, p.ops[i].recipe_line, why);
    };
    for (size_t k = i + 1; k < j; ++k) {
      const OpDef& between = *p.ops[k].def;
      if (exact && between.expands)
        refuse(fmt::format("{} between them copies each sample's hash into all its chunks", between.name));
      if (!exact && between.kind == OpKind::kMapper)
        refuse(fmt::format("{} between them may change the text that hash was computed on", between.name));
    }
    if (exact) {
      // The samples reaching it are what the first kept (one per hash), changed or dropped by the ops between,
      // none copied: every hash is distinct, whatever the text is now.
      p.ops[j].keeps_all = true;
      continue;
    }
    // No mapper between: the text is the one the first hashed, so hashing it with the same parameters gives
    // the first's hash, and the op runs as it is (with its own num_blocks and hamming_distance).
    std::vector<std::string> differ;
    if (p.ops[i].text_key != p.ops[j].text_key) differ.push_back("text_key");
    for (const char* k : {"tokenization", "window_size", "lowercase", "ignore_pattern"})
      if (p.ops[i].params.Get(k).ToJson() != p.ops[j].params.Get(k).ToJson()) differ.push_back(k);
    if (!differ.empty()) refuse(fmt::format("its own {} differ", fmt::join(differ, ", ")));
  }
}

}  // namespace

Pipeline ResolvePipeline(const Recipe& recipe) {
  Pipeline p;
  p.text_keys.push_back(recipe.text_keys[0]);
  std::vector<std::string> names;
  for (const auto& d : AllOps()) names.push_back(d.name);
  for (const auto& rop : recipe.process) {
    const OpDef* def = FindOp(rop.name);
    // DataJuicer ops sluice cannot build: refused by name, not as a misspelling of an op it has.
    if (def == nullptr && (rop.name == "text_action_filter" || rop.name == "text_entity_dependency_filter"))
      Fail(ErrorKind::kUsage, "{}:{}: op '{}' requires spaCy, which is not packaged in Debian 12; see docs/compatibility.md",
           recipe.config_path, rop.line, rop.name);
    if (def == nullptr)
      Fail(ErrorKind::kUsage, "{}:{}: unknown op '{}'{}; `sluice ops` lists the ops", recipe.config_path, rop.line,
           rop.name, DidYouMean(rop.name, names));
    ResolvedOp r;
    r.def = def;
    r.recipe_line = rop.line;
    try {
      std::vector<std::string> ignored;
      r.params = Params::Resolve(def->name, FullParamSpecs(*def), rop.params, &ignored);
      for (const auto& k : ignored)
        p.warnings.push_back(fmt::format("{}:{}: op '{}' has no parameter '{}'; ignored, as DataJuicer ignores it "
                                         "(`sluice ops {}` lists its parameters)",
                                         recipe.config_path, rop.line, def->name, k, def->name));
    } catch (const Error& e) {
      Fail(e.kind(), "{}:{}: {}", recipe.config_path, rop.line, e.what());
    }
    r.text_key = r.params.Has("text_key") ? r.params.GetString("text_key") : recipe.text_keys[0];
    r.skip_op_error = r.params.Has("skip_op_error") ? r.params.GetBool("skip_op_error") : recipe.skip_op_error;
    r.slot = -1;
    for (size_t s = 0; s < p.text_keys.size(); ++s)
      if (p.text_keys[s] == r.text_key) r.slot = static_cast<int>(s);
    if (r.slot < 0) {
      r.slot = static_cast<int>(p.text_keys.size());
      p.text_keys.push_back(r.text_key);
    }
    // Construct once now so that parameter values an op rejects (bad regex, out-of-range value) fail
    // before any data is read.
    try {
      def->create(r.params);
    } catch (const Error& e) {
      Fail(ErrorKind::kUsage, "{}:{}: op '{}': {}", recipe.config_path, rop.line, def->name, e.what());
    }
    JsonWriter w;
    w.BeginObject().Field("name", def->name).Key("params").BeginObject();
    for (const auto& [k, v] : r.params.items()) {
      bool own = false;
      for (const auto& s : def->params) own |= s.name == k;
      for (const char* f : {"min_closed_interval", "max_closed_interval", "reversed_range"}) own |= k == f;
      if (own) w.Key(k).Raw(v.ToJson());
    }
    w.EndObject().Field("text_key", r.text_key).Field("skip_op_error", r.skip_op_error).EndObject();
    r.canonical = w.Take();
    // The reserved columns DataJuicer adds for this op (datajuicer-ops.md §1.1): they decide the export.
    p.adds_stats |= def->kind == OpKind::kFilter && def->name != "suffix_filter";
    p.adds_meta |= def->name == "extract_tables_from_html_mapper";
    p.adds_suffix |= def->name == "suffix_filter";
    r.stats_column = p.adds_stats;  // this op or an earlier one added the column
    p.ops.push_back(std::move(r));
  }
  ReuseDedupHashes(recipe, p);
  p.traced.assign(p.ops.size(), false);
  if (recipe.open_tracer) {
    p.trace_num = static_cast<size_t>(recipe.trace_num);
    for (const auto& name : recipe.op_list_to_trace)
      if (FindOp(name) == nullptr)
        Fail(ErrorKind::kUsage, "{}: op_list_to_trace names an unknown op '{}'{}", recipe.config_path, name,
             DidYouMean(name, names));
    for (size_t i = 0; i < p.ops.size(); ++i) {
      const auto& l = recipe.op_list_to_trace;
      // DataJuicer's tracer covers mappers, filters and deduplicators; selectors are not traced.
      p.traced[i] = p.ops[i].def->kind != OpKind::kSelector &&
                    (l.empty() || std::find(l.begin(), l.end(), p.ops[i].def->name) != l.end());
    }
  }
  return p;
}

SerializeOptions OpRecordView(const Pipeline& p, size_t i, const Sample& s, std::string& suffix) {
  SerializeOptions so;
  so.keep_stats = true;
  so.stats_column = p.ops[i].stats_column;
  // The loader's column (Sample::source_file is the input file in every stage; a record read back from a
  // checkpoint has the member already, and keeps it).
  if (p.adds_suffix && !s.had_suffix) {
    suffix = DjFileSuffix(s.source_file);
    so.suffix = suffix;
  }
  return so;
}

bool ApplyRecordMapper(RecordMapper& m, RecordParser& parser, Sample& s, std::string& in, std::string& out,
                       SerializeOptions view) {
  in.clear();
  view.keep_stats = true;
  SerializeSample(s, view, in);
  in.pop_back();  // '\n'
  out.clear();
  switch (m.MapRecord(in, out)) {
    case RecordMapper::Result::kUnchanged: return true;
    case RecordMapper::Result::kDropped: return false;
    case RecordMapper::Result::kReplaced: break;
  }
  std::string error;
  if (ReplaceRecord(parser, out, s, error) == ParseStatus::kBad)
    Fail(ErrorKind::kData, "the sample it returned is not a valid record: {}", error);
  return true;  // kNullText: a null text is what the mapper made of it; text mappers skip it
}

OpChain::OpChain(const Pipeline& pipeline)
    : pipeline_(pipeline), counters_(pipeline.ops.size()), trace_(pipeline.ops.size()) {
  const char* fail_at = std::getenv("SLUICE_FAIL_AT");
  faults_ = fail_at != nullptr && std::string_view(fail_at).starts_with("op:");
  for (const auto& r : pipeline.ops) {
    fault_names_.push_back("op:" + r.def->name);
    ops_.push_back(r.def->create(r.params));
    ops_.back()->set_slot(r.slot);
    ops_.back()->set_slot_keys(pipeline.text_keys);
    if (auto* rm = dynamic_cast<RecordMapper*>(ops_.back().get())) rm->set_text_key(r.text_key);
    if (r.def->kind == OpKind::kMapper && static_cast<Mapper&>(*ops_.back()).record_mapper() && !record_parser_)
      record_parser_ = std::make_unique<RecordParser>(pipeline.text_keys);
  }
}

void OpChain::ResetCounters() {
  for (auto& c : counters_) c = OpCounters{};
  failed_op_.reset();
}

void OpChain::ResetTrace() {
  for (auto& t : trace_) t.clear();
}

bool OpChain::Run(Sample& s, size_t begin, size_t end) {
  text::AnalysisScope analysis(s);  // filters between two mappers share one analysis of the text
  for (size_t i = begin; i < end; ++i) {
    Op& op = *ops_[i];
    OpCounters& c = counters_[i];
    ++c.in;
    try {
      if (faults_ && FaultPoint(fault_names_[i])) throw std::runtime_error("injected op failure (SLUICE_FAIL_AT)");
      TextField& tf = s.texts[op.slot()];
      switch (op.kind()) {
        case OpKind::kMapper:
          if (static_cast<Mapper&>(op).record_mapper()) {
            bool traced = Tracing(i) && !tf.is_null;
            if (traced) before_ = tf.value();
            if (!ApplyRecordMapper(static_cast<RecordMapper&>(op), *record_parser_, s, record_in_, record_out_,
                                   OpRecordView(pipeline_, i, s, suffix_)))
              return false;
            const TextField& now = s.texts[op.slot()];
            if (traced && !now.is_null && now.value() != before_) {
              JsonWriter w;
              w.BeginObject().Field("original text", before_).Field("processed_text", now.value()).EndObject();
              trace_[i].push_back(w.Take());
            }
            break;
          }
          if (tf.is_null) break;
          if (Tracing(i)) {
            before_ = tf.value();
            if (static_cast<Mapper&>(op).Map(tf.mutable_value())) tf.changed = true;
            if (tf.value() != before_) {
              JsonWriter w;
              w.BeginObject().Field("original text", before_).Field("processed_text", tf.value()).EndObject();
              trace_[i].push_back(w.Take());
            }
          } else if (static_cast<Mapper&>(op).Map(tf.mutable_value())) {
            tf.changed = true;
          }
          break;
        case OpKind::kFilter: {
          auto& f = static_cast<Filter&>(op);
          size_t before = s.stats.size();
          f.ComputeStats(s);
          if (s.stats.size() != before) s.stats_changed = true;
          if (!f.Keep(s)) {
            if (Tracing(i)) {
              std::string row;
              SerializeSample(s, OpRecordView(pipeline_, i, s, suffix_), row);
              if (!row.empty() && row.back() == '\n') row.pop_back();
              trace_[i].push_back(std::move(row));
            }
            return false;
          }
          break;
        }
        case OpKind::kDeduplicator:
        case OpKind::kSelector:  // a selector instance is a Deduplicator (op.h)
          // A deduplicator that reuses an earlier one's hashes does not read the sample (its fingerprint,
          // whatever the buffer holds, is not looked at: ResolvedOp::keeps_all).
          if (!pipeline_.ops[i].keeps_all) static_cast<Deduplicator&>(op).Fingerprint(s);
          break;
      }
    } catch (const std::exception& e) {
      if (!pipeline_.ops[i].skip_op_error) {
        failed_op_ = i;
        Fail(ErrorKind::kJobFailed, "op '{}' (#{}) failed: {}", op.name(), i, e.what());
      }
      ++c.errors;
      if (c.first_error.empty()) c.first_error = e.what();
      return false;
    }
    if (op.kind() == OpKind::kMapper) analysis.Renew();  // the text may have changed
    ++c.out;
  }
  return true;
}

}  // namespace sluice
