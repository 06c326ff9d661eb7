// Pipeline jobs (kind "pipeline", docs/manager.md): a sluice recipe that the daemon runs as
// `sluice run <recipe> --work_dir <job_dir> --job_id <basename>`, so the sluice job directory is fixed when
// the job is submitted and every attempt of the manager job (a retry, a re-run after a crash) resumes that
// same sluice job from its checkpoints. The recipe is checked at submit (YAML, keys, ops and their
// parameters, with the overrides applied); inputs are not, since a dependency may still produce them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json_writer.h"
#include "io/env.h"
#include "manager/job_spec.h"

namespace sluice::manager {

// The sluice job directory of pipeline job `id`: spec.pipeline.job_dir, or <data_dir>/jobs/<id>/run.
std::string PipelineJobDir(const JobSpec& spec, const std::string& data_dir, int64_t id);

// "" if the recipe loads and every op resolves with its parameters; else the error (the job is REJECTED).
// With `np`: set to the recipe's explicit np (0 when it leaves np to auto-configuration).
std::string CheckPipeline(const PipelineSpec& p, int* np = nullptr);

// What the wrapper executes: `sluice_exe run <recipe> --work_dir <job_dir> --job_id <name> --key value...`.
std::vector<std::string> PipelineArgv(const JobSpec& spec, const std::string& job_dir, const std::string& sluice_exe);

// Adds "job_dir" and "snapshot" {status, progress_percentage, partitions, failed_partitions, ...} from the
// job directory (job/snapshot.h) to the object being written; a directory that is not a job yet is
// "not_started". Reads the job's files: call it without holding the manager's lock.
void WritePipelineStatus(Env* env, const std::string& job_dir, JsonWriter& w);

}  // namespace sluice::manager
