// Auto-configuration glue for `sluice run` and the `sluice plan` command (docs/partitioning.md).
//
// AutoConfigure turns a recipe with auto_configure on into the recipe a job runs with: it detects the
// resources, samples the input once, decides (engine/auto_config.h) and sets np, partition.max_size_mb and
// partition.size on a copy. Which settings the user gave is read from the recipe and the command-line
// overrides, so the decision can say "kept (command_line)". On a resume the stored plan wins: its
// partitions are kept and only np is chosen again (for the machine it resumes on).
//
// MakeTunedPlan cuts the partitions with the tuned recipe but records the settings and recipe hash of the
// recipe as written, so a resume compares what the user wrote, not what a machine-dependent decision
// picked (a resume on a machine with less memory would otherwise be refused as a changed recipe).
//
// PlanCommand is `sluice plan RECIPE [--key value ...]`: the decision as one JSON object on stdout, with
// the partition count of the plan it would cut; nothing is written (no job directory).
#pragma once

#include <string>
#include <vector>

#include "core/recipe.h"
#include "engine/auto_config.h"
#include "engine/input.h"
#include "engine/plan.h"
#include "io/env.h"
#include "job/job_runner.h"
#include "ops/pipeline.h"

namespace sluice {

struct AutoConfigured {
  Recipe tuned;
  AutoRequest request;
  Resources resources;
  InputSample sample;
  AutoDecision decision;
  std::string json;  // AutoConfigJson: the `auto_configure` event's `resource_plan`
};

AutoConfigured AutoConfigure(Env* env, const Recipe& recipe, const std::vector<Override>& overrides,
                             const std::vector<InputFile>& inputs, const Plan* stored);

Plan MakeTunedPlan(Env* env, const Recipe& recipe, const AutoConfigured& ac, const Pipeline& pipeline,
                   const std::vector<InputFile>& inputs, int workers);

// Returns the exit code; errors are printed to stderr.
int PlanCommand(Env* env, const RunOptions& opt);

}  // namespace sluice
