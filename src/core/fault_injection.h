// Test hooks for crash and fault tests, driven by environment variables and inert when those are unset
// (one predictable branch per call).
//   SLUICE_CRASH_AT=name:N  the process SIGKILLs itself at the Nth time crash point `name` is reached;
//   SLUICE_FAIL_AT=name:N   the first N times fault point `name` is reached, it reports a failure, which
//                           the caller turns into the error a real fault there would raise;
//   SLUICE_DELAY_AT=name:S  every time crash point `name` is reached, the thread sleeps S seconds: a slow
//                           job whose timing tests can rely on (tests/cli/stop_test.sh).
// Points are named where they are placed: "partition_start", "partition_start:<id>", "op:<op_name>",
// "checkpoint_commit", "manifest_commit", "result_commit", "export_write" (tests/cli/ uses them).
#pragma once

#include <string_view>

namespace sluice {

void CrashPoint(std::string_view name);
bool FaultPoint(std::string_view name);

}  // namespace sluice
