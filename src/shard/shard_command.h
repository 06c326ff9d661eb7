// The `sluice shard` command line: `sluice shard [options] -- WORKER ARGS...` (scheduler.h; with --submit
// as a job-manager array), `sluice shard status OUT` (the per-shard table), and what a submitted array's
// jobs run: `sluice shard task OUT` and `sluice shard merge OUT`. cli/main.cc hands over every word after `shard`.
#pragma once

#include <string>
#include <vector>

#include "io/env.h"

namespace sluice::shard {

// Parses `args` and runs; returns the process exit code (usage errors: 2, with the message on stderr).
// Other sluice::Error are thrown to the caller.
int ShardCommand(Env* env, std::vector<std::string> args);

}  // namespace sluice::shard
