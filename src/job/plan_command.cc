#include "job/plan_command.h"

#include <algorithm>
#include <thread>

#include "core/error.h"

namespace sluice {
namespace {

bool Overridden(const std::vector<Override>& overrides, std::initializer_list<const char*> keys) {
  for (const auto& o : overrides)
    for (const char* k : keys)
      if (o.key == k) return true;
  return false;
}

Source Given(bool given, bool on_command_line) {
  return on_command_line ? Source::kCommandLine : given ? Source::kRecipe : Source::kDefault;
}

}  // namespace

AutoConfigured AutoConfigure(Env* env, const Recipe& recipe, const std::vector<Override>& overrides,
                             const std::vector<InputFile>& inputs, const Plan* stored) {
  AutoConfigured ac;
  AutoRequest& q = ac.request;
  q.enabled = recipe.auto_configure;
  q.np = recipe.np;
  q.np_source = Given(recipe.np_given, Overridden(overrides, {"np"}));
  q.max_size_mb = recipe.partition_max_size_mb;
  q.size_source = Given(recipe.partition_max_size_given, Overridden(overrides, {"partition.max_size_mb", "max_partition_size_mb"}));
  q.partition_records = recipe.partition_records;
  q.records_source = Given(recipe.partition_records > 0, Overridden(overrides, {"partition.size", "partition_size"}));
  q.partition_count = recipe.partition_count;
  if (stored != nullptr) {
    uint64_t largest = 0;
    for (const auto& p : stored->partitions) largest = std::max(largest, p.end - p.begin);
    q.stored_max_partition_bytes = largest;
    q.stored_partitions = stored->partitions.size();
  }
  ac.resources = DetectResources(env);
  SampleKeys keys{recipe.text_keys, recipe.image_key, recipe.audio_key, recipe.video_key};
  ac.sample = SampleInput(env, inputs, keys);
  ac.decision = Decide(ac.resources, ac.sample, q);
  ac.json = AutoConfigJson(ac.resources, ac.sample, q, ac.decision);

  ac.tuned = recipe;
  if (q.enabled) {
    ac.tuned.np = std::max(1, static_cast<int>(ac.decision.np.value));
    // The journal's buffers follow partition_max_size_mb (engine/executor.cc), so a resumed job gets its
    // stored partitions' size here too; a plan cut from num_of_partitions keeps the recipe's value.
    if (q.partition_count == 0) ac.tuned.partition_max_size_mb = ac.decision.max_size_mb.value;
    ac.tuned.partition_records = static_cast<int64_t>(ac.decision.partition_records.value);
  }
  return ac;
}

Plan MakeTunedPlan(Env* env, const Recipe& recipe, const AutoConfigured& ac, const Pipeline& pipeline,
                   const std::vector<InputFile>& inputs, int workers) {
  Plan plan = MakePlan(env, ac.tuned, pipeline, inputs, workers);
  Plan header = MakePlanHeader(recipe, pipeline, inputs);
  plan.settings = std::move(header.settings);
  plan.recipe_hash = std::move(header.recipe_hash);
  return plan;
}

int PlanCommand(Env* env, const RunOptions& opt) {
  try {
    Recipe recipe = LoadRecipe(opt.recipe_path, opt.overrides);
    Pipeline pipeline = ResolvePipeline(recipe);
    for (const auto& w : recipe.warnings) fmt::print(stderr, "sluice: warning: {}\n", w);
    std::vector<InputFile> inputs = ResolveInputs(env, recipe.dataset_paths);
    AutoConfigured ac = AutoConfigure(env, recipe, opt.overrides, inputs, nullptr);
    // What `sluice run` would start with: it also caps np at the CPUs the process can use.
    int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    int np = std::min(ac.tuned.np, cpus);
    Plan plan = recipe.auto_configure ? MakeTunedPlan(env, recipe, ac, pipeline, inputs, np) : MakePlan(env, recipe, pipeline, inputs, np);
    std::string json = AutoConfigJson(ac.resources, ac.sample, ac.request, ac.decision, [&](JsonWriter& w) {
      w.Key("plan").BeginObject().Field("np", np).Field("partition_max_size_mb", ac.tuned.partition_max_size_mb);
      w.Field("partition_size", ac.tuned.partition_records).Field("partitions", static_cast<uint64_t>(plan.partitions.size()));
      w.Field("recipe_hash", plan.recipe_hash).EndObject();
    });
    fmt::print("{}\n", json);
    return 0;
  } catch (const Error& e) {
    fmt::print(stderr, "sluice: error: {}\n", e.what());
    return e.exit_code();
  }
}

}  // namespace sluice
