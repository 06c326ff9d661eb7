// sluice command line: `sluice run`, `sluice ops`. All behaviour lives in the layers below; this file
// only parses arguments (CLI11 is expensive to compile, so it stays in this one translation unit).
#include <CLI/CLI.hpp>

#include "core/error.h"
#include "io/env.h"
#include "job/job_runner.h"

int main(int argc, char** argv) {
  using namespace sluice;
  CLI::App app{"sluice: fault-tolerant, DataJuicer-compatible dataset processing"};
  app.require_subcommand(1);

  RunOptions run;
  std::string positional;
  auto* run_cmd = app.add_subcommand("run", "Run (or resume) a DataJuicer-format recipe over JSONL input");
  run_cmd->add_option("recipe", positional, "recipe YAML file (same as --config)");
  run_cmd->add_option("--config", run.recipe_path, "recipe YAML file");
  run_cmd->add_flag("--dry-run", run.dry_run, "validate the recipe, ops and input, print the plan, run nothing");
  run_cmd->add_flag("--restart", run.restart, "discard the state of an existing --job_id and start it over");
  run_cmd->allow_extras();
  run_cmd->footer(
      "Any recipe key can be overridden as --key value, nested keys with dots:\n"
      "  --job_id ID             resume job ID if its directory exists (start it otherwise)\n"
      "  --np N                  worker threads\n"
      "  --checkpoint.strategy S every_op | every_partition | every_n_ops | manual | disabled\n"
      "  --checkpoint.n_ops N    --checkpoint.op_names a,b    --partition.max_size_mb 64\n"
      "Exit codes: 0 done; 1 a partition failed; 2 bad recipe or command line; 3 bad or missing input;\n"
      "4 cannot write output; 5 job state conflict (refused resume, job already running).");

  std::string op_name;
  auto* ops_cmd = app.add_subcommand("ops", "List the ops, or one op's parameters and defaults");
  ops_cmd->add_option("name", op_name, "op name");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    if (*ops_cmd) {
      fmt::print("{}", DescribeOps(op_name));
      return 0;
    }
    if (!positional.empty()) {
      if (!run.recipe_path.empty() && run.recipe_path != positional)
        Fail(ErrorKind::kUsage, "give the recipe either as an argument or with --config, not both");
      run.recipe_path = positional;
    }
    if (run.recipe_path.empty()) Fail(ErrorKind::kUsage, "sluice run: no recipe given (sluice run RECIPE.yaml)");
    std::vector<std::string> extras = run_cmd->remaining();
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
      run.overrides.push_back({key, value});
    }
    return RunJob(Env::Default(), run);
  } catch (const Error& e) {
    fmt::print(stderr, "sluice: error: {}\n", e.what());
    return e.exit_code();
  }
}
