// The `sluice run` command: from a recipe path to a finished (or refused) job.
//
// RunJob resolves the job id and directories, checks everything that can be checked before work starts
// (recipe, ops and parameters, inputs, output writability, resume compatibility), creates or reopens the
// job directory, runs the Executor, and writes job_summary.json and the final mapping report. It prints
// the job id, job directory and the exact resumption command on every run.
#pragma once

#include <string>
#include <vector>

#include "core/recipe.h"
#include "io/env.h"

namespace sluice {

struct RunOptions {
  std::string recipe_path;
  std::vector<Override> overrides;  // --section.key value (job_id and np included)
  bool dry_run = false;
  bool restart = false;
};

// Returns the process exit code (README.md, "Exit codes"). Errors are printed to stderr.
int RunJob(Env* env, const RunOptions& opt);
// The exit code of a run stopped by SIGTERM / SIGINT (`sluice stop`) after saving its state.
inline constexpr int kExitStopped = 6;

// Text of `sluice ops` (all ops, or one op's parameters).
std::string DescribeOps(const std::string& name);

}  // namespace sluice
