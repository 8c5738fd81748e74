//===- cuda_trainer.cpp - the trainer on CUDA devices ---------------------===//
//
// gp::cudaTrainerMain: the trainer of trainer.cpp with its functions on
// GPUs. Each stage gets a gp_cuda_ctx (its own stream, cuBLASLt and cuDNN
// handles, the function arena reserved once) on a GPU; with fewer GPUs than
// stages, neighbouring stages share one. Parameters live on their stage's
// device, the main copy and the optimizer update on the first stage's.
// Tensors move between the host and devices through CudaMemory (every move
// complete when it returns). How a generated function hands over its
// results is --sync's: with `host` (the default) it waits for its stream
// before it returns, so a tensor it hands over is ready for any stream;
// with `events` it returns once its work is enqueued, and every reader (a
// function's stream, CudaMemory's, a NCCL send's) waits for the event it
// recorded (gp_cuda_finish, gp_cuda_publish, gp_cuda_await).
//
//===----------------------------------------------------------------------===//

#include "gpipe/runtime/gp_cuda.h"
#include "gpipe/runtime/gp_cuda_program.h"
#include "gpipe/runtime/gp_pipeline.h"
#include "gpipe/runtime/gp_program.h"
#include "nccl_transport.h"
#include "../cuda/device_guard.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

using namespace gp;

namespace {
Tensor allocateFrom(int device, gp_cuda_ctx *stream, gp_dtype dtype, int32_t rank,
                    const int64_t *dims) {
  gp_tensor view{};
  if (gp_tensor_init(&view, dtype, rank, dims) != GP_OK)
    return Tensor();
  size_t bytes = gp_numel(&view) * gp_dtype_size(dtype);
  void *data = stream ? gp_cuda_alloc_on(stream, bytes) : gp_cuda_alloc(device, bytes);
  if (!data)
    return Tensor();
  view.data = data;
  return Tensor(view, std::shared_ptr<void>(data, [device](void *p) { gp_cuda_free(device, p); }),
                device);
}
} // namespace

Tensor gp::allocateOnDevice(int device, gp_dtype dtype, int32_t rank, const int64_t *dims) {
  return allocateFrom(device, nullptr, dtype, rank, dims);
}

Tensor gp::allocateOnStream(gp_cuda_ctx *cuda, gp_dtype dtype, int32_t rank,
                            const int64_t *dims) {
  return allocateFrom(gp_cuda_ctx_device(cuda), cuda, dtype, rank, dims);
}

gp_cuda_ctx *gp::cudaContext(FunctionContext &ctx) {
  if (!ctx.device)
    ctx.error = "a CUDA function called without a CUDA context (run it with gp::cudaTrainerMain)";
  return static_cast<gp_cuda_ctx *>(ctx.device);
}

bool gp::cudaCopyOut(FunctionContext &ctx, gp_cuda_ctx *cuda, const gp_tensor &value,
                     Tensor &result) {
  result = allocateOnStream(cuda, value.dtype, value.rank, value.dims);
  if (result.empty() ||
      gp_cuda_copy_bytes(cuda, result.view()->data, value.data, gp_cuda_ctx_device(cuda),
                         result.bytes()) != GP_OK) {
    ctx.error = std::string("cannot copy out a result: ") + gp_last_error();
    return false;
  }
  return true;
}

namespace {

/// Moves between the host and devices on a context of its own per device
/// (one caller at a time per device), waiting for each move. Under --sync
/// events its stream first waits for the tensors it reads.
class CudaMemory : public DeviceMemory {
public:
  ~CudaMemory() override {
    for (auto &[device, slot] : contexts)
      gp_cuda_ctx_destroy(slot->ctx);
  }

  Tensor toHost(const Tensor &t, std::string &error) override {
    Slot *slot = context(t.device(), error);
    if (!slot)
      return Tensor();
    std::lock_guard<std::mutex> lock(slot->mutex);
    cuda::DeviceGuard guard(t.device());
    const gp_tensor &v = *t.view();
    Tensor host = Tensor::allocate(v.dtype, v.rank, v.dims);
    if (host.empty() || gp_cuda_await(slot->ctx, &v) != GP_OK ||
        gp_cuda_to_host(slot->ctx, host.view()->data, v.data, t.bytes()) != GP_OK) {
      error = std::string("cannot copy a tensor to the host: ") + gp_last_error();
      return Tensor();
    }
    return host;
  }

  Tensor toDevice(const Tensor &t, int device, std::string &error) override {
    if (t.device() == device)
      return t;
    Slot *slot = context(device, error);
    if (!slot)
      return Tensor();
    std::lock_guard<std::mutex> lock(slot->mutex);
    cuda::DeviceGuard guard(device);
    const gp_tensor &v = *t.view();
    Tensor out = allocateOnDevice(device, v.dtype, v.rank, v.dims);
    bool ok = !out.empty();
    if (ok && t.device() < 0)
      ok = gp_cuda_to_device(slot->ctx, out.view()->data, v.data, t.bytes()) == GP_OK;
    else if (ok)
      ok = gp_cuda_await(slot->ctx, &v) == GP_OK &&
           gp_cuda_copy_bytes(slot->ctx, out.view()->data, v.data, t.device(), t.bytes()) ==
           GP_OK;
    if (!ok || gp_cuda_sync(slot->ctx) != GP_OK) {
      error = "cannot copy a tensor to GPU " + std::to_string(device) + ": " + gp_last_error();
      return Tensor();
    }
    return out;
  }

  /// Creates `device`'s context now rather than in the middle of a step,
  /// where its allocations would wait for the device (NCCL included).
  bool prepare(int device, std::string &error) { return context(device, error) != nullptr; }

  Tensor add(const Tensor &a, const Tensor &b, std::string &error) override {
    Tensor other = toDevice(b, a.device(), error);
    if (other.empty())
      return Tensor();
    Slot *slot = context(a.device(), error);
    if (!slot)
      return Tensor();
    std::lock_guard<std::mutex> lock(slot->mutex);
    cuda::DeviceGuard guard(a.device());
    const gp_tensor &v = *a.view();
    Tensor sum = allocateOnDevice(a.device(), v.dtype, v.rank, v.dims);
    if (sum.empty() || gp_cuda_await(slot->ctx, a.view()) != GP_OK ||
        gp_cuda_await(slot->ctx, other.view()) != GP_OK ||
        gp_cuda_binary(slot->ctx, GP_ADD, a.view(), other.view(), sum.view()) != GP_OK ||
        gp_cuda_sync(slot->ctx) != GP_OK) {
      error = std::string("cannot sum gradients: ") + gp_last_error();
      return Tensor();
    }
    return sum;
  }

private:
  struct Slot {
    gp_cuda_ctx *ctx = nullptr;
    std::mutex mutex;
  };
  Slot *context(int device, std::string &error) {
    std::lock_guard<std::mutex> lock(mutex);
    std::unique_ptr<Slot> &slot = contexts[device];
    if (!slot) {
      slot = std::make_unique<Slot>();
      cuda::DeviceGuard guard(device);
      if (gp_cuda_ctx_create(device, GP_PRECISION_FP32, &slot->ctx) != GP_OK) {
        error = gp_last_error();
        contexts.erase(device);
        return nullptr;
      }
    }
    return slot.get();
  }
  std::mutex mutex;
  std::map<int, std::unique_ptr<Slot>> contexts;
};

const char *precisionName(int32_t p) {
  switch (p) {
  case GP_PRECISION_TF32: return "tf32";
  case GP_PRECISION_BF16: return "bf16";
  default: return "fp32";
  }
}

/// Stages on GPUs: stage s on GPU s * gpus / stages (neighbours share),
/// or, one stage per process under mpirun, GPU (local rank % gpus).
class CudaAccelerator : public Accelerator {
public:
  CudaAccelerator(const Program &program, int gpus, const NcclOptions &nccl, CudaMemory &memory)
      : program(program), gpus(gpus), nccl(nccl), memory(memory) {}
  ~CudaAccelerator() override { detach(); }

  bool setProcess(int rank, int local, std::string &error) override {
    localRank = local;
    return true;
  }

  /// The arena a context reserves: the largest of the functions it runs
  /// (a stage's pairs and its own update; the update's, or with a split
  /// update the shared one's, the evaluation's and the loss weights' for
  /// stage -1).
  int64_t arenaOf(int stage) const {
    std::vector<int32_t> fns;
    bool split = program.stageUpdateFunctions != nullptr;
    if (stage < 0) {
      fns = {split ? program.sharedUpdateFunction : program.updateFunction,
             program.evalFunction, program.lossWeightFunction};
    } else {
      const StageSpec &spec = program.stageSpecs[stage];
      fns = {spec.forward, spec.backward, spec.forwardKeep, spec.backwardKeep,
             split ? program.stageUpdateFunctions[stage] : -1, program.lossWeightFunction};
    }
    int64_t bytes = 0;
    for (int32_t f : fns)
      if (f >= 0)
        bytes = std::max<int64_t>(bytes, program.functions[f].arenaBytes);
    return bytes;
  }

  int deviceOfStage(int stage) const {
    if (localRank >= 0)
      return localRank % gpus;
    if (stage < 0)
      stage = 0;
    return static_cast<int>(static_cast<int64_t>(stage) * gpus / program.stages);
  }

  std::string describe() const override {
    cudaDeviceProp prop{};
    std::string name =
        cudaGetDeviceProperties(&prop, deviceOfStage(0)) == cudaSuccess ? prop.name : "GPU";
    std::string s = "cuda: " + std::to_string(gpus) + " x " + name + ", precision " +
                    precisionName(program.precision) + ", sync " +
                    (gp_cuda_get_sync_mode() == GP_CUDA_SYNC_EVENTS ? "events" : "host") + ";";
    if (localRank >= 0)
      return s + " this rank's stage on GPU " + std::to_string(deviceOfStage(0));
    for (int g = 0; g < gpus; ++g) {
      std::string stages;
      for (int st = 0; st < program.stages; ++st)
        if (deviceOfStage(st) == g)
          stages += (stages.empty() ? "" : ",") + std::to_string(st);
      if (!stages.empty())
        s += " GPU " + std::to_string(g) + ": stage" + (stages.find(',') != std::string::npos ? "s " : " ") +
             stages + ";";
    }
    s.pop_back();
    return s;
  }

  bool attach(int stage, FunctionContext &ctx, std::string &error) override {
    gp_cuda_ctx *cuda = nullptr;
    unsigned char *arena = nullptr;
    std::string who = stage < 0 ? "the update" : "stage " + std::to_string(stage);
    if (gp_cuda_ctx_create(deviceOfStage(stage),
                           static_cast<gp_cuda_precision>(program.precision), &cuda) != GP_OK ||
        gp_cuda_arena(cuda, static_cast<size_t>(arenaOf(stage)), &arena) != GP_OK) {
      error = who + ": cannot set up its GPU: " + gp_last_error();
      gp_cuda_ctx_destroy(cuda);
      return false;
    }
    if (!memory.prepare(deviceOfStage(stage), error)) {
      error = who + ": cannot set up its GPU: " + error;
      gp_cuda_ctx_destroy(cuda);
      return false;
    }
    contexts.push_back(cuda);
    ctx.device = cuda;
    return true;
  }

  int deviceOf(const FunctionContext &ctx) const override {
    return gp_cuda_ctx_device(static_cast<const gp_cuda_ctx *>(ctx.device));
  }

  bool enter(FunctionContext &ctx, std::string &error) override {
    if (gp_cuda_ctx_bind(static_cast<gp_cuda_ctx *>(ctx.device)) == GP_OK)
      return true;
    error = gp_last_error();
    return false;
  }

  /// NCCL between stages on different GPUs (under mpirun: between ranks
  /// unless both use one GPU); the queues alone when every stage shares
  /// one GPU.
  std::unique_ptr<Transport> transport(std::unique_ptr<Transport> inner,
                                       const std::vector<int> &localStages,
                                       std::string &error) override {
    std::set<int> devices;
    for (int s : localStages)
      devices.insert(deviceOfStage(s));
    // A stalled stage stops the others after the timeout, whatever the
    // transport.
    inner->setRecvTimeout(nccl.timeoutSeconds);
    if (localRank < 0 && devices.size() <= 1)
      return inner;
    std::set<std::pair<int, int>> edges;
    for (int s = 0; s < program.stages; ++s) {
      const StageSpec &spec = program.stageSpecs[s];
      for (int32_t f : {spec.forward, spec.forwardKeep}) {
        if (f < 0)
          continue;
        const FunctionSpec &fn = program.functions[f];
        for (int32_t a = 0; a < fn.numArgs; ++a)
          if (fn.args[a].role == Role::Source && fn.args[a].a >= 0)
            edges.insert({static_cast<int>(fn.args[a].a), s});
      }
    }
    return makeNcclTransport(std::move(inner), {edges.begin(), edges.end()}, localStages,
                             [this](int s) { return deviceOfStage(s); }, nccl, error);
  }

  /// A stage blocked in a CUDA call (behind a NCCL kernel whose peer is
  /// blocked too) is not reached by the receive timeouts: the pipeline
  /// watches for a run without progress for as long.
  double stallSeconds() const override { return nccl.timeoutSeconds; }

  void detach() override {
    for (gp_cuda_ctx *c : contexts)
      gp_cuda_ctx_destroy(c);
    contexts.clear();
  }

private:
  const Program &program;
  int gpus;
  /// Under mpirun: this process's rank among those on its node; -1 alone.
  int localRank = -1;
  NcclOptions nccl;
  CudaMemory &memory;
  std::vector<gp_cuda_ctx *> contexts;
};

int fail(const std::string &message) {
  std::fprintf(stderr, "trainer: error: %s\n", message.c_str());
  return 1;
}

} // namespace

int gp::cudaTrainerMain(const Program &program, int argc, char **argv) {
  // --gpus N and --nccl-timeout S are ours; the rest is the trainer's.
  std::vector<char *> args{argv[0]};
  long gpus = 0;
  NcclOptions nccl;
  gp_cuda_sync_mode sync = GP_CUDA_SYNC_HOST;
  bool serialized = false, memoryStats = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      int rc = trainerMain(program, 2, std::vector<char *>{argv[0], argv[i]}.data());
      std::printf("CUDA: --gpus N uses the first N visible GPUs (default: all; stages share "
                  "GPUs when there are fewer GPUs than stages);\n"
                  "--nccl-timeout S stops every stage when a peer has not answered a NCCL\n"
                  "receive for S seconds (default %.0f);\n"
                  "--sync host|events: how a stage's function hands its results on: host (the\n"
                  "default) waits for its stream before it returns; events returns once the work\n"
                  "is enqueued and the readers' streams wait on a CUDA event (then --trace spans\n"
                  "are the host's enqueue times, and a GPU fault is reported where the host\n"
                  "next waits);\n"
                  "--memory-stats prints, at the end, each GPU's cudaMalloc calls, the most\n"
                  "memory held and the allocations the caching allocator served.\n",
                  nccl.timeoutSeconds);
      return rc;
    }
    if (!std::strcmp(argv[i], "--memory-stats")) {
      memoryStats = true;
      continue;
    }
    if (!std::strcmp(argv[i], "--gpus")) {
      char *end = nullptr;
      gpus = i + 1 < argc ? std::strtol(argv[i + 1], &end, 10) : 0;
      if (i + 1 >= argc || *end || gpus < 1)
        return fail("--gpus needs a number of at least 1");
      ++i;
      continue;
    }
    if (!std::strcmp(argv[i], "--sync")) {
      const char *mode = i + 1 < argc ? argv[i + 1] : "";
      if (!std::strcmp(mode, "host"))
        sync = GP_CUDA_SYNC_HOST;
      else if (!std::strcmp(mode, "events"))
        sync = GP_CUDA_SYNC_EVENTS;
      else
        return fail(std::string("--sync needs host or events") +
                    (i + 1 < argc ? std::string(", got '") + mode + "'" : std::string()));
      ++i;
      continue;
    }
    if (!std::strcmp(argv[i], "--serialize-stages"))
      serialized = true;
    if (!std::strcmp(argv[i], "--nccl-timeout")) {
      char *end = nullptr;
      nccl.timeoutSeconds = i + 1 < argc ? std::strtod(argv[i + 1], &end) : 0;
      if (i + 1 >= argc || *end || !(nccl.timeoutSeconds > 0))
        return fail("--nccl-timeout needs a positive number of seconds");
      ++i;
      continue;
    }
    args.push_back(argv[i]);
  }
  args.push_back(nullptr);
  // One stage's work at a time needs a stage to end when its work does.
  if (serialized && sync == GP_CUDA_SYNC_EVENTS)
    return fail("--serialize-stages needs --sync host (with events a stage's function returns "
                "before its work runs)");
  gp_cuda_set_sync_mode(sync);
  // Before the first CUDA call: more hardware queues than the default 8,
  // so the streams of stages, copies and NCCL channels sharing a GPU do not
  // queue behind each other (a user's setting stays).
  setenv("CUDA_DEVICE_MAX_CONNECTIONS", "32", /*overwrite=*/0);
  int available = 0;
  if (gp_cuda_device_count(&available) != GP_OK)
    return fail(std::string("this trainer runs on CUDA GPUs and none can be used: ") +
                gp_last_error());
  if (gpus > available)
    return fail("--gpus " + std::to_string(gpus) + ": only " + std::to_string(available) +
                " GPUs are visible");
  if (gpus == 0)
    gpus = std::min(available, program.stages);
  // Never destroyed: tensors released at exit still return their blocks.
  static CudaMemory *memory = new CudaMemory();
  setDeviceMemory(memory);
  CudaAccelerator accelerator(program, static_cast<int>(gpus), nccl, *memory);
  int rc = trainerMain(program, static_cast<int>(args.size()) - 1, args.data(), &accelerator);
  if (memoryStats)
    for (int d = 0; d < gpus; ++d) {
      gp_cuda_memory_stats st = gp_cuda_get_memory_stats(d);
      constexpr double kMiB = 1024.0 * 1024.0;
      std::printf("GPU %d memory: %llu cudaMalloc calls, at most %.1f MiB held (%.1f MiB at the "
                  "end); %llu allocations from the cache, %llu of them still in use on their own "
                  "stream\n",
                  d, static_cast<unsigned long long>(st.mallocs), st.peak_reserved_bytes / kMiB,
                  st.reserved_bytes / kMiB, static_cast<unsigned long long>(st.cache_hits +
                                                                            st.same_stream_reuses),
                  static_cast<unsigned long long>(st.same_stream_reuses));
    }
  return rc;
}
