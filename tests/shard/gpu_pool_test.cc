// GPU allocation over injected inventories (Env::ListGpus): the free-memory threshold, groups, an
// inherited CUDA_VISIBLE_DEVICES mask, held GPUs, and the worker's CUDA environment.
#include "shard/gpu_pool.h"

#include "core/error.h"
#include "shard_fixture.h"

namespace sluice::shard {
namespace {

std::vector<int> Indices(const std::optional<std::vector<GpuDevice>>& g) {
  std::vector<int> out;
  if (g)
    for (const auto& d : *g) out.push_back(d.index);
  return out;
}

TEST(GpuPool, ThresholdGroupsAndHeldGpus) {
  FakeGpuEnv env;
  env.gpus = [] { return std::vector<GpuDevice>{FakeGpu(0, 40), FakeGpu(1, 5), FakeGpu(2, 40), FakeGpu(3, 40)}; };
  GpuPool pool(&env, 2, 10 * kGiB);
  pool.CheckFeasible();
  std::string why;
  auto a = pool.Acquire(&why);
  EXPECT_EQ(Indices(a), (std::vector<int>{0, 2}));  // GPU 1 has 5 GiB free, below the threshold
  EXPECT_FALSE(pool.Acquire(&why));                 // only GPU 3 is left: not a group of 2
  EXPECT_NE(why.find("1 GPU(s) usable, 2 needed: 2 held by running workers, 1 with less than 10.0 GiB free"), std::string::npos) << why;
  pool.Release(*a);
  EXPECT_EQ(Indices(pool.Acquire(&why)), (std::vector<int>{0, 2}));
}

TEST(GpuPool, InheritedMaskLimitsTheChoice) {
  FakeGpuEnv env;
  env.gpus = [] { return std::vector<GpuDevice>{FakeGpu(0, 40), FakeGpu(1, 40), FakeGpu(2, 40)}; };
  env.vars["CUDA_VISIBLE_DEVICES"] = "GPU-fake-2,1";
  GpuPool pool(&env, 1, 10 * kGiB);
  std::string why;
  EXPECT_EQ(Indices(pool.Acquire(&why)), (std::vector<int>{2}));  // mask order
  EXPECT_EQ(Indices(pool.Acquire(&why)), (std::vector<int>{1}));
  EXPECT_FALSE(pool.Acquire(&why));  // GPU 0 is not ours to give
  env.vars["CUDA_VISIBLE_DEVICES"] = "0";
  GpuPool two(&env, 2, 0);
  try {
    two.CheckFeasible();
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--gpus-per-worker 2 but 1 GPU(s) visible (CUDA_VISIBLE_DEVICES=0)"), std::string::npos) << e.what();
  }
}

TEST(GpuPool, ImpossibleRequestsAreRefusedNotWaitedFor) {
  FakeGpuEnv env;
  GpuPool none(&env, 1, 0);
  try {
    none.CheckFeasible();
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("0 GPU(s) visible (no NVML here (injected)); --gpus-per-worker 0 runs CPU workers"),
              std::string::npos)
        << e.what();
  }
  env.gpus = [] { return std::vector<GpuDevice>{FakeGpu(0, 15, 16)}; };
  GpuPool big(&env, 1, 20 * kGiB);
  EXPECT_THROW(big.CheckFeasible(), Error);  // a 16 GiB GPU never has 20 GiB free
  GpuPool fits(&env, 1, 16 * kGiB);
  fits.CheckFeasible();  // 16 GiB total: it may have enough free later, so wait for it
  std::string why;
  EXPECT_FALSE(fits.Acquire(&why));
}

TEST(GpuPool, CudaEnvironmentByUuidElseIndexInPciOrder) {
  std::vector<GpuDevice> g{FakeGpu(3, 1), FakeGpu(5, 1)};
  EXPECT_EQ(CudaEnvironment(g), (std::map<std::string, std::string>{{"CUDA_VISIBLE_DEVICES", "GPU-fake-3,GPU-fake-5"}}));
  g[1].uuid.clear();
  EXPECT_EQ(CudaEnvironment(g),
            (std::map<std::string, std::string>{{"CUDA_VISIBLE_DEVICES", "3,5"}, {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}}));
}

}  // namespace
}  // namespace sluice::shard
