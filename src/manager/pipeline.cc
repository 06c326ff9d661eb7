#include "manager/pipeline.h"

#include <filesystem>

#include "core/error.h"
#include "core/recipe.h"
#include "job/snapshot.h"
#include "manager/limits.h"
#include "ops/pipeline.h"

namespace sluice::manager {
namespace {
std::vector<Override> Overrides(const PipelineSpec& p) {
  std::vector<Override> out;
  for (const auto& [k, v] : p.overrides) out.push_back({k, v});
  return out;
}
}  // namespace

std::string PipelineJobDir(Env* env, const JobSpec& spec, const std::string& data_dir, int64_t id) {
  if (spec.pipeline.job_dir.empty()) {
    std::string legacy = fmt::format("{}/jobs/{}/run", data_dir, id);
    if (env->FileExists(legacy)) return legacy;
    return fmt::format("{}/jobs/{}/sluice-{}-job{}", data_dir, id, DataDirTag(data_dir), id);
  }
  return NormalJobDir(spec.pipeline.job_dir);
}

std::string NormalJobDir(const std::string& job_dir) {
  std::string d = std::filesystem::path(job_dir).lexically_normal().string();
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d;
}

std::string SluiceJobId(const std::string& job_dir) { return std::filesystem::path(job_dir).filename().string(); }

PipelineCheck CheckPipeline(const PipelineSpec& p) {
  PipelineCheck c;
  try {
    Recipe recipe = LoadRecipe(p.recipe, Overrides(p));
    ResolvePipeline(recipe);
    c.np = recipe.np_given ? recipe.np : 0;
    c.export_path = recipe.export_path;
  } catch (const Error& e) {
    c.error = fmt::format("recipe {}: {}", p.recipe, e.what());
  }
  return c;
}

std::string PipelineExportPath(const PipelineSpec& p) {
  try {
    return LoadRecipe(p.recipe, Overrides(p)).export_path;
  } catch (const Error&) {
    return "";
  }
}

std::string PipelineExport(const std::string& export_path, const std::string& cwd, const std::string& job_dir) {
  if (export_path.empty()) return "";
  return (std::filesystem::path(cwd) / SubstituteJobPlaceholders(export_path, job_dir, SluiceJobId(job_dir))).lexically_normal().string();
}

std::vector<std::string> PipelineArgv(const JobSpec& spec, const std::string& job_dir, const std::string& sluice_exe) {
  std::vector<std::string> argv = {sluice_exe, "run", spec.pipeline.recipe, "--work_dir", job_dir, "--job_id", SluiceJobId(job_dir)};
  for (const auto& [k, v] : spec.pipeline.overrides) {
    argv.push_back("--" + k);
    argv.push_back(v);
  }
  return argv;
}

void WritePipelineStatus(Env* env, const std::string& job_dir, JsonWriter& w) {
  w.Field("job_dir", job_dir).Key("snapshot").BeginObject();
  if (!env->FileExists(job_dir)) {
    w.Field("status", JobStatusName(JobStatus::kNotStarted)).EndObject();
    return;
  }
  try {
    Snapshot s = TakeSnapshot(env, job_dir);
    w.Field("status", JobStatusName(s.status)).Field("progress_percentage", s.overall_percentage)
        .Field("total_partitions", s.total_partitions).Field("completed_partitions", s.completed_partitions)
        .Field("failed_partitions", s.failed_partitions).Field("resumable", s.resumable);
    if (s.duration_seconds) w.Field("duration_seconds", *s.duration_seconds);
  } catch (const Error& e) {
    w.Field("status", JobStatusName(JobStatus::kNotStarted)).Field("error", e.what());
  }
  w.EndObject();
}

}  // namespace sluice::manager
