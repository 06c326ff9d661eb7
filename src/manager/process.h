// The job manager runs each attempt under the recording wrapper of io/process.h (shared with the shard
// scheduler); this header only brings its names into sluice::manager, where the daemon's code uses them.
#pragma once

#include "io/process.h"

namespace sluice::manager {

using sluice::ExitStatus;
using sluice::LaunchRequest;
using sluice::PosixProcesses;
using sluice::Processes;
using sluice::ProcessIdentity;
using sluice::ReadStatusFile;

}  // namespace sluice::manager
