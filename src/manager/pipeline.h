// Pipeline jobs (kind "pipeline", docs/manager.md): a sluice recipe that the daemon runs as
// `sluice run <recipe> --work_dir <job_dir> --job_id <basename>`, so the sluice job directory is fixed when
// the job is submitted and every attempt of the manager job (a retry, a re-run after a crash) resumes that
// same sluice job from its checkpoints. Each manager job (each task of an array) has its own sluice job id
// (an explicit job directory's name is kept to one directory by the manager, manager.cc CheckSluiceJobId),
// which names its export journal (`<export_path>.<job_id>.partial`) and stats side journal, so two jobs never
// write the same file before the export's final rename; two jobs exporting to the same path are not run at
// once (the manager's admission, manager.cc). The recipe is checked at submit (YAML, keys, ops and their
// parameters, with the overrides applied); inputs are not, since a dependency may still produce them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json_writer.h"
#include "io/env.h"
#include "manager/job_spec.h"

namespace sluice::manager {

// The sluice job directory of pipeline job `id`: spec.pipeline.job_dir; else <data_dir>/jobs/<id>/run if
// that exists (a job an older daemon started, whose sluice job id was "run" for every job: it is resumed
// there); else <data_dir>/jobs/<id>/sluice-<DataDirTag(data_dir)>-job<id>, a sluice job id no other job of
// any daemon has.
std::string PipelineJobDir(Env* env, const JobSpec& spec, const std::string& data_dir, int64_t id);

// An explicit job directory as PipelineJobDir gives it: lexically normal, without a trailing '/'.
std::string NormalJobDir(const std::string& job_dir);

// The sluice job id `sluice run` is given for the job directory `job_dir` (PipelineJobDir's): its basename,
// since sluice's job directory is its work_dir when that ends in the job id.
std::string SluiceJobId(const std::string& job_dir);

struct PipelineCheck {
  std::string error;        // "" if the recipe loads and every op resolves with its parameters (else REJECTED)
  int np = 0;               // the recipe's explicit np (0 when it leaves np to auto-configuration)
  std::string export_path;  // as the recipe and overrides give it: {work_dir} / {job_id} not substituted
};
PipelineCheck CheckPipeline(const PipelineSpec& p);

// The recipe's export_path with the overrides, as in CheckPipeline (the recipe only loaded, its ops not
// resolved: cheap); "" if it does not load.
std::string PipelineExportPath(const PipelineSpec& p);

// The export (absolute) that a run in `cwd` of the sluice job in `job_dir` writes: CheckPipeline's
// export_path with {work_dir} and {job_id} substituted as `sluice run --work_dir <job_dir> --job_id
// <basename>` does. "" for "".
std::string PipelineExport(const std::string& export_path, const std::string& cwd, const std::string& job_dir);

// What the wrapper executes: `sluice_exe run <recipe> --work_dir <job_dir> --job_id <name> --key value...`.
std::vector<std::string> PipelineArgv(const JobSpec& spec, const std::string& job_dir, const std::string& sluice_exe);

// Adds "job_dir" and "snapshot" {status, progress_percentage, partitions, failed_partitions, ...} from the
// job directory (job/snapshot.h) to the object being written; a directory that is not a job yet is
// "not_started". Reads the job's files: call it without holding the manager's lock.
void WritePipelineStatus(Env* env, const std::string& job_dir, JsonWriter& w);

}  // namespace sluice::manager
