// The `sluice shard` command line: `sluice shard [options] -- WORKER ARGS...` (scheduler.h) and
// `sluice shard status OUT` (the per-shard table). cli/main.cc hands over every word after `shard`.
#pragma once

#include <string>
#include <vector>

#include "io/env.h"

namespace sluice::shard {

// Parses `args` and runs; returns the process exit code (usage errors: 2, with the message on stderr).
// Other sluice::Error are thrown to the caller.
int ShardCommand(Env* env, std::vector<std::string> args);

}  // namespace sluice::shard
