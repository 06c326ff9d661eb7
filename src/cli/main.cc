// sluice command line: `sluice run`, `sluice plan`, `sluice ops`, `sluice snapshot`, `sluice jobs`. All behaviour lives in
// the layers below; this file only parses arguments (CLI11 is expensive to compile, so it stays in this one
// translation unit).
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/env.h"
#include "job/job_runner.h"
#include "job/jobs_list.h"
#include "job/monitor.h"
#include "job/plan_command.h"
#include "job/snapshot.h"
#include "job/stop.h"
#include "manager/client.h"
#include "manager/server.h"
#include "shard/shard_command.h"

namespace {

// `sluice run` / `sluice plan` take recipe overrides as `--key value` pairs, which CLI11 only collects as
// extras; left as two tokens, the value is free for CLI11 to take as the recipe positional (`run --config
// r.yaml --job_id J` read J as a second recipe; `plan --np 4 r.yaml` read 4 as the recipe). Joined into
// `--key=value` before parsing, every override is one token that no positional can take. An override is a
// `--name` that is none of the subcommand's own options (asked of CLI11, so a new option needs no change here).
std::vector<std::string> JoinOverrideValues(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  if (args.size() < 3) return args;
  auto named = app.get_subcommands([&](CLI::App* c) { return c->check_name(args[1]) && c->get_allow_extras(); });
  if (named.empty()) return args;
  CLI::App* sub = named.front();
  std::vector<std::string> out(args.begin(), args.begin() + 2);
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    out.push_back(a);
    if (a.size() <= 2 || a.rfind("--", 0) != 0 || a.find('=') != std::string::npos || i + 1 >= args.size()) continue;
    const CLI::Option* own = sub->get_option_no_throw(a);
    if (own == nullptr) out.back() += "=" + args[++i];
    else if (own->get_items_expected_min() > 0) out.push_back(args[++i]);
  }
  return out;
}

// CLI11's PositiveNumber / NonNegativeNumber state their range as "0.000000 to 1797693...": say it in words.
CLI::Validator NumberCheck(bool positive) {
  return CLI::Validator(
      [positive](std::string& s) -> std::string {
        char* end = nullptr;
        double v = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != '\0' || !(positive ? v > 0 : v >= 0))
          return positive ? "must be a number greater than 0, got '" + s + "'" : "must be a number >= 0, got '" + s + "'";
        return "";
      },
      positive ? "POSITIVE" : "NONNEGATIVE");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice;
  CLI::App app{"sluice: fault-tolerant, DataJuicer-compatible dataset processing"};
  app.require_subcommand(1);
  // sluice shard parses its own options and the worker command after `--` (src/shard/shard_command.h); it is
  // registered here for the command list only.
  app.add_subcommand("shard", "Run a worker command per key range of a table on GPU groups; resume; merge (sluice shard --help)");
  if (argc > 1 && std::string_view(argv[1]) == "shard") {
    try {
      return shard::ShardCommand(Env::Default(), std::vector<std::string>(argv + 2, argv + argc));
    } catch (const Error& e) {
      fmt::print(stderr, "sluice: error: {}\n", e.what());
      return e.exit_code();
    }
  }

  RunOptions run;
  std::string positional;
  auto* run_cmd = app.add_subcommand("run", "Run (or resume) a DataJuicer-format recipe over JSONL input");
  run_cmd->add_option("recipe", positional, "recipe YAML file (same as --config)");
  run_cmd->add_option("--config", run.recipe_path, "recipe YAML file");
  run_cmd->add_flag("--dry-run", run.dry_run, "validate the recipe and ops, find the input files and check their first 1000 records each, plan the partitions, print the plan; run nothing (later records are checked as the run reads them)");
  run_cmd->add_flag("--restart", run.restart, "discard the state of an existing --job_id and start it over");
  run_cmd->allow_extras();
  run_cmd->footer(
      "Any recipe key can be overridden as --key value, nested keys with dots:\n"
      "  --job_id ID             resume job ID if its directory exists (start it otherwise)\n"
      "  --np N                  worker threads\n"
      "  --checkpoint.strategy S every_op | every_partition | every_n_ops | manual | disabled\n"
      "  --checkpoint.n_ops N    --checkpoint.op_names a,b    --partition.max_size_mb 64\n"
      "Exit codes: 0 done; 1 a partition failed; 2 bad recipe or command line; 3 bad or missing input;\n"
      "4 cannot write output; 5 job state conflict (refused resume, job already running); 6 stopped by\n"
      "SIGTERM / SIGINT (sluice stop) with its state saved: rerun the same command to resume.");

  std::string op_name;
  auto* ops_cmd = app.add_subcommand("ops", "List the ops, or one op's parameters and defaults");
  ops_cmd->add_option("name", op_name, "op name");

  std::string snap_dir, snap_output;
  bool snap_human = false, snap_compact = false;
  SnapshotOptions snap_opt;
  auto* snap_cmd = app.add_subcommand("snapshot", "Report a job's state as JSON: status, progress, timing, checkpoints, per partition and op");
  snap_cmd->add_option("job_dir", snap_dir, "the job directory (<work_dir>/<job_id>; `sluice run` prints it)")->required();
  snap_cmd->add_flag("--human-readable", snap_human, "a compact aligned text report instead of JSON");
  snap_cmd->add_flag("--compact", snap_compact, "JSON on one line instead of indented");
  snap_cmd->add_flag("--verify-checksums", snap_opt.verify_checksums,
                     "hash every checkpoint and committed result as a resume would (reads all of their data)");
  snap_cmd->add_option("-o,--output", snap_output, "write to this file (atomically) instead of stdout");
  snap_cmd->footer(
      "Computed from the job's own files: events.jsonl (every run of the job), metadata/dataset_mapping.json\n"
      "(the plan), job_summary.json, dag_execution_plan.json, and the manifests of its checkpoints and results\n"
      "(a checkpoint counts only if its manifest verifies). Status: running (a process holds <job_dir>/job.lock),\n"
      "completed, completed_with_failures, failed, interrupted (nobody runs it and it did not finish: resume it),\n"
      "stopped (ended by sluice stop, SIGTERM or SIGINT: resume it), not_started. Works while the job runs, and on\n"
      "DataJuicer job directories. Fields: docs/snapshot.md.\n"
      "Exit codes: 0 done; 2 usage; 3 not a job directory; 4 the -o file cannot be written.");

  RunOptions plan;
  auto* plan_cmd = app.add_subcommand("plan", "Print the resource-aware np and partition size for a recipe as JSON; run nothing");
  plan_cmd->add_option("recipe", plan.recipe_path, "recipe YAML file")->required();
  plan_cmd->allow_extras();
  plan_cmd->footer(
      "Detects CPUs (affinity, cgroup quota, Slurm), memory (MemAvailable, cgroup limit, Slurm), GPUs (NVML) and the\n"
      "MPI allocation, samples the input (record size, text length, modality) and prints the decision with every\n"
      "input and reason (docs/partitioning.md). Overrides as for `sluice run` (--np 2, --partition.max_size_mb 16);\n"
      "given values win and are reported as such. `sluice run` applies the decision when the recipe sets\n"
      "partition.auto_configure or resource_optimization.auto_configure. Creates no job directory.");

  std::string jobs_dir = ".";
  bool jobs_running = false, jobs_json = false;
  auto* jobs_cmd = app.add_subcommand("jobs", "List the jobs under a work directory with status, progress, start time and duration");
  jobs_cmd->add_option("work_dir", jobs_dir, "directory holding job directories (a recipe's work_dir; default: .)");
  jobs_cmd->add_flag("--running", jobs_running, "only jobs a process is running now");
  jobs_cmd->add_flag("--json", jobs_json, "a JSON array (job_id, job_dir, status, progress_percentage, partitions, times)");
  jobs_cmd->footer("Newest first. Status as in `sluice snapshot` (running is decided by the job lock, not by the log).");

  std::string stop_dir;
  StopOptions stop_opt;
  auto* stop_cmd = app.add_subcommand("stop", "Stop a running job gracefully (SIGTERM), escalating to SIGKILL after a timeout");
  stop_cmd->add_option("job_dir", stop_dir, "the job directory")->required();
  stop_cmd->add_option("--timeout", stop_opt.timeout_seconds, "seconds to wait after SIGTERM before SIGKILL (default 30)")
      ->check(NumberCheck(false));
  stop_cmd->add_flag("--force", stop_opt.force, "SIGKILL at once (the job is left as after a crash)");
  stop_cmd->footer(
      "The process is the one <job_dir>/job.pid records (pid, start time, boot id, host) and only while it holds\n"
      "job.lock: a recycled pid or another host's process is never signalled. On SIGTERM the run starts no new\n"
      "partition, abandons the uncommitted segments in flight, records job_stopped and exits 6; resume it with the\n"
      "same --job_id. Exit codes: 0 stopped; 1 killed after --timeout; 2 bad command line; 3 not a job directory;\n"
      "5 refused (another host, or the lock holder cannot be identified, or no permission); 7 not running.\n"
      "docs/monitoring.md.");

  std::string mon_dir;
  MonitorOptions mon_opt;
  auto* mon_cmd = app.add_subcommand("monitor", "Follow a job: progress per stage, rows/s, MB/s, ETA, failed and retried partitions");
  mon_cmd->add_option("job_dir", mon_dir, "the job directory")->required();
  mon_cmd->add_option("--interval", mon_opt.interval_seconds, "seconds between reports (default 2)")->check(NumberCheck(true));
  mon_cmd->add_flag("--once", mon_opt.once, "report the current state once and exit");
  mon_cmd->footer(
      "On a terminal the report is redrawn in place, otherwise one key=value line per interval. Exits when the job\n"
      "ends. Exit codes (the job's status): 0 completed (or running, with --once); 1 failed or completed with\n"
      "failures; 2 usage; 3 not a job directory; 6 stopped; 7 interrupted or not started. docs/monitoring.md.");

  // Job manager: the daemon and the thin clients over its HTTP API (src/manager/, docs/manager.md, docs/api.md).
  manager::ServerOptions srv_opt;
  std::vector<std::string> srv_resources;
  auto* srv_cmd = app.add_subcommand("server", "Run the job manager daemon (HTTP API; durable job queue in --data-dir)");
  srv_cmd->add_option("--listen", srv_opt.listen, "HOST:PORT to serve on (default 127.0.0.1:19001; port 0 picks one)");
  srv_cmd->add_option("--data-dir", srv_opt.data_dir, "state.db and job logs (default ~/.local/state/sluice)");
  srv_cmd->add_option("--token-file", srv_opt.token_file, "bearer token every request must carry (required off loopback)");
  srv_cmd->add_option("--cpus", srv_opt.cpus, "CPUs jobs may declare in all (default: this process's CPUs)")->check(NumberCheck(true));
  srv_cmd->add_option("--memory", srv_opt.memory, "memory jobs may declare in all, e.g. 64GiB (default: physical memory)");
  srv_cmd->add_option("--resource", srv_resources, "a custom resource NAME=AMOUNT (repeatable)");
  manager::ClientOptions cli_opt;
  auto client_flags = [&cli_opt](CLI::App* c) {
    c->add_option("--server", cli_opt.server, "HOST:PORT of sluice server (default $SLUICE_SERVER or 127.0.0.1:19001)");
    c->add_option("--token-file", cli_opt.token_file, "bearer token file (default $SLUICE_TOKEN_FILE)");
  };
  manager::SubmitOptions sub;
  auto* sub_cmd = app.add_subcommand("submit", "Submit a command to sluice server; prints the job id");
  client_flags(sub_cmd);
  sub_cmd->add_option("--name", sub.name, "job name");
  sub_cmd->add_option("--cpus", sub.cpus, "CPUs it declares (default 1; with --recipe, the recipe's np)")->check(NumberCheck(false));
  sub_cmd->add_option("--mem", sub.memory, "memory it declares, e.g. 4GiB");
  sub_cmd->add_option("--resource", sub.resources, "custom resource NAME=AMOUNT (repeatable)");
  sub_cmd->add_option("--after", sub.after, "dependency COND:ID, COND ok|any|notok|start (repeatable; ID alone = ok)");
  sub_cmd->add_option("--retries", sub.retries, "extra attempts after a failure (default 0)")->check(NumberCheck(false));
  sub_cmd->add_option("--backoff", sub.backoff, "retry backoff INITIAL[,xMULT[,MAX]], e.g. 10s,x2,10m");
  sub_cmd->add_option("--timeout", sub.timeout, "run timeout, e.g. 2h (SIGTERM, then SIGKILL)");
  sub_cmd->add_option("--priority", sub.priority, "higher runs first (default 0)");
  sub_cmd->add_option("--cwd", sub.cwd, "working directory (default: the job's directory in the data dir)");
  sub_cmd->add_option("--env", sub.env, "KEY=VALUE for the job (repeatable)");
  sub_cmd->add_flag("--shell", sub.shell, "run the command words joined by spaces under /bin/sh -c");
  sub_cmd->add_option("--gpus", sub.gpus, "whole GPUs it needs, given to it alone by UUID (CUDA_VISIBLE_DEVICES)")->check(NumberCheck(false));
  sub_cmd->add_option("--gpu-mem", sub.gpu_memory, "free memory each of its GPUs must have when it starts, e.g. 20GiB");
  sub_cmd->add_option("--queue-timeout", sub.queue_timeout, "cancel it if still pending after this long, e.g. 1h");
  sub_cmd->add_option("--kill-grace", sub.kill_grace, "time between SIGTERM and SIGKILL when it is cancelled or times out (default 10s)");
  sub_cmd->add_option("--recipe", sub.recipe, "a pipeline job: run this sluice recipe (sluice run) instead of a command");
  sub_cmd->add_option("--job-dir", sub.job_dir, "the pipeline's sluice job directory (default <data-dir>/jobs/<id>/run)");
  sub_cmd->add_option("--array", sub.array,
                      "an array job: one task per index of SPEC, items N, A-B or A-B:STEP separated by commas, then %M to run at "
                      "most M tasks at once (e.g. 0-15, 1,3,5-7, 0-99:2%4); indices 0..1e9, at most 10000 tasks");
  bool sub_json = false;
  sub_cmd->add_flag("--json", sub_json, "print the server's answer as JSON (an array's task ids included)");
  sub_cmd->footer("The command follows `--`: sluice submit [options] -- CMD ARGS...; or sluice submit --recipe R.yaml [--job-dir D]\n"
                  "An array prints its id (its tasks are ID_INDEX); each task runs with SLUICE_ARRAY_JOB_ID, SLUICE_ARRAY_TASK_ID (its\n"
                  "index), SLUICE_ARRAY_TASK_COUNT, SLUICE_ARRAY_TASK_MIN and SLUICE_ARRAY_TASK_MAX. --after COND:ID on an array\n"
                  "waits for every task; COND:ID_K for one.");
  // CLI11 2.1 hands the words after `--` to the top-level app, not to the subcommand: split them off first.
  for (int i = 2; argc > 2 && std::string_view(argv[1]) == "submit" && i < argc; ++i)
    if (std::string_view(argv[i]) == "--") {
      sub.argv.assign(argv + i + 1, argv + argc);
      argc = i;
    }
  std::string mjob_id;
  bool mjson = false, mstderr = false;
  int mattempt = 0;
  int64_t mtail = -1;
  double mwait_timeout = 0;
  bool mfollow = false;
  double mstats_window = 0;
  std::string mstate;
  auto* mstatus_cmd = app.add_subcommand("status", "Show a sluice server job: state, reason, attempts");
  auto* mlist_cmd = app.add_subcommand("list", "List sluice server jobs");
  auto* mlogs_cmd = app.add_subcommand("logs", "Print a sluice server job's stdout (or --stderr)");
  auto* mcancel_cmd = app.add_subcommand("cancel", "Cancel a sluice server job (SIGTERM to its process group, SIGKILL after the grace)");
  auto* mwait_cmd = app.add_subcommand("wait", "Wait for a sluice server job to end; the exit code mirrors the job's");
  auto* mretry_cmd = app.add_subcommand("retry", "Run a FAILED or CANCELLED sluice server job again under the same id");
  auto* mhold_cmd = app.add_subcommand("hold", "Keep a pending sluice server job from starting until it is released");
  auto* mrelease_cmd = app.add_subcommand("release", "Let a held sluice server job start again");
  for (auto* c : {mstatus_cmd, mlist_cmd, mlogs_cmd, mcancel_cmd, mwait_cmd, mretry_cmd, mhold_cmd, mrelease_cmd}) client_flags(c);
  for (auto* c : {mstatus_cmd, mlogs_cmd, mcancel_cmd, mwait_cmd, mretry_cmd, mhold_cmd, mrelease_cmd})
    c->add_option("id", mjob_id, "job id: ID, or ID_K for task K of array ID (an array's ID alone: the whole array)")->required();
  mstatus_cmd->add_flag("--json", mjson, "the job as JSON (spec, dependencies, attempts)");
  mlist_cmd->add_flag("--json", mjson, "a JSON array");
  mlist_cmd->add_option("--state", mstate, "only jobs in this state");
  mlogs_cmd->add_flag("--stderr", mstderr, "stderr instead of stdout");
  mlogs_cmd->add_option("--attempt", mattempt, "attempt number (default: the latest)")->check(NumberCheck(false));
  mlogs_cmd->add_option("--tail", mtail, "only the last N lines")->check(NumberCheck(false));
  mlogs_cmd->add_flag("-f,--follow", mfollow, "keep printing as the log grows, until the job ends (through its retries)");
  auto* mhealth_cmd = app.add_subcommand("health", "Is sluice server serving and ready; what it has allocated (exit 0 ready, 1 not ready, 2 refused: token, 3 unreachable)");
  auto* mstats_cmd = app.add_subcommand("stats", "sluice server statistics: jobs by state, submit rate, queue-wait and run-time percentiles, GPU-hours");
  for (auto* c : {mhealth_cmd, mstats_cmd}) {
    client_flags(c);
    c->add_flag("--json", mjson, "the server's JSON");
  }
  mstats_cmd->add_option("--window", mstats_window, "durations over the last this many seconds (default: all history)")->check(NumberCheck(false));
  mwait_cmd->add_option("--timeout", mwait_timeout, "give up after this many seconds (exit 8)")->check(NumberCheck(false));
  mwait_cmd->footer("Exit code: 0 COMPLETED; a FAILED job's exit code, 128+signal, 124 timeout, 1 lost; 9 CANCELLED; 10 REJECTED.\n"
                    "An array: 0 when every task COMPLETED, else the code of its first task (by index) that did not.");

  std::vector<std::string> joined = JoinOverrideValues(app, argc, argv);
  std::vector<const char*> joined_argv;
  for (const auto& a : joined) joined_argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(joined_argv.size()), joined_argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    if (*ops_cmd) {
      fmt::print("{}", DescribeOps(op_name));
      return 0;
    }
    if (*snap_cmd) {
      Snapshot s = TakeSnapshot(Env::Default(), snap_dir, snap_opt);
      std::string text = snap_human ? ToText(s) : ToJson(s, !snap_compact);
      if (!snap_human)
        for (const auto& w : s.warnings) fmt::print(stderr, "sluice: warning: {}\n", w);
      if (snap_output.empty()) fmt::print("{}", text);
      else WriteFileAtomic(Env::Default(), std::filesystem::absolute(snap_output).string(), text);
      return 0;
    }
    if (*jobs_cmd) {
      std::vector<std::string> warnings;
      auto jobs = ListJobs(Env::Default(), jobs_dir, jobs_running, &warnings);
      for (const auto& w : warnings) fmt::print(stderr, "sluice: warning: {}\n", w);
      fmt::print("{}", jobs_json ? JobsToJson(jobs) : JobsToText(jobs));
      return 0;
    }
    if (*stop_cmd) {
      StopResult r = StopJob(Env::Default(), stop_dir, stop_opt, [](const std::string& s) { fmt::print(stderr, "sluice: {}\n", s); });
      fmt::print(stderr, "sluice: {}\n", r.message);
      return StopExitCode(r.outcome);
    }
    if (*mon_cmd) return MonitorJob(Env::Default(), mon_dir, mon_opt, stdout, 1);
    if (*srv_cmd) {
      for (const auto& kv : srv_resources) srv_opt.resources.insert(manager::ParseResourceFlag(kv));
      return manager::RunServer(Env::Default(), srv_opt);
    }
    if (*sub_cmd) return manager::SubmitCommand(Env::Default(), cli_opt, sub, sub_json);
    if (*mstatus_cmd) return manager::StatusCommand(Env::Default(), cli_opt, mjob_id, mjson);
    if (*mlist_cmd) return manager::ListCommand(Env::Default(), cli_opt, mstate, mjson);
    if (*mlogs_cmd) return manager::LogsCommand(Env::Default(), cli_opt, mjob_id, mattempt, mstderr, mtail, mfollow);
    if (*mhealth_cmd) return manager::HealthCommand(Env::Default(), cli_opt, mjson);
    if (*mstats_cmd) return manager::StatsCommand(Env::Default(), cli_opt, mstats_window, mjson);
    if (*mcancel_cmd) return manager::CancelCommand(Env::Default(), cli_opt, mjob_id);
    if (*mwait_cmd) return manager::WaitCommand(Env::Default(), cli_opt, mjob_id, mwait_timeout);
    for (auto* c : {mretry_cmd, mhold_cmd, mrelease_cmd})
      if (*c) return manager::JobActionCommand(Env::Default(), cli_opt, mjob_id, c->get_name());
    // --key value / --key=value pairs after the recipe: recipe overrides.
    auto overrides = [](const std::vector<std::string>& extras) {
      std::vector<Override> out;
      for (size_t i = 0; i < extras.size(); ++i) {
        const std::string& a = extras[i];
        if (a.rfind("--", 0) != 0 || a.size() < 3) Fail(ErrorKind::kUsage, "unexpected argument '{}'", a);
        std::string key = a.substr(2), value;
        size_t eq = key.find('=');
        if (eq != std::string::npos) {
          value = key.substr(eq + 1);
          key.resize(eq);
        } else {
          if (i + 1 >= extras.size()) Fail(ErrorKind::kUsage, "option --{} needs a value", key);
          value = extras[++i];
        }
        out.push_back({key, value});
      }
      return out;
    };
    if (*plan_cmd) {
      plan.overrides = overrides(plan_cmd->remaining());
      return PlanCommand(Env::Default(), plan);
    }
    if (!positional.empty()) {
      if (!run.recipe_path.empty() && run.recipe_path != positional)
        Fail(ErrorKind::kUsage, "give the recipe either as an argument or with --config, not both");
      run.recipe_path = positional;
    }
    if (run.recipe_path.empty()) Fail(ErrorKind::kUsage, "sluice run: no recipe given (sluice run RECIPE.yaml)");
    run.overrides = overrides(run_cmd->remaining());
    return RunJob(Env::Default(), run);
  } catch (const Error& e) {
    fmt::print(stderr, "sluice: error: {}\n", e.what());
    return e.exit_code();
  }
}
