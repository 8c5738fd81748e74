//===- context.cpp - CUDA contexts, device memory and status checks -------===//
//
// gp_cuda_ctx: a device, a non-blocking stream and the cuBLASLt and cuDNN
// handles on it, a workspace and the function arena. Device memory comes
// from a caching allocator per device (cudaMalloc synchronizes the device,
// so a training step must not call it once warm). Every status is checked
// and turned into a message naming the call.
//
//===----------------------------------------------------------------------===//

#include "cuda_internal.h"
#include "device_guard.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

using namespace gp;

gp_status gp::cuda::check(cudaError_t status, const char *call) {
  if (status == cudaSuccess)
    return GP_OK;
  return fail(std::string(call) + ": " + cudaGetErrorName(status) + " (" +
              cudaGetErrorString(status) + ")");
}

gp_status gp::cuda::check(cublasStatus_t status, const char *call) {
  if (status == CUBLAS_STATUS_SUCCESS)
    return GP_OK;
  return fail(std::string(call) + ": " + cublasLtGetStatusName(status) + " (" +
              cublasLtGetStatusString(status) + ")");
}

gp_status gp::cuda::check(cudnnStatus_t status, const char *call) {
  if (status == CUDNN_STATUS_SUCCESS)
    return GP_OK;
  return fail(std::string(call) + ": " + cudnnGetErrorString(status));
}

namespace {

/// Blocks by size class: requests are rounded up to a multiple of 512 bytes
/// below 1 MiB and of 1 MiB above, so a block freed by one micro-batch fits
/// the next one's request of the same shape.
size_t sizeClass(size_t bytes) {
  constexpr size_t kSmall = 512, kLarge = size_t(1) << 20;
  if (bytes == 0)
    bytes = 1;
  size_t unit = bytes < kLarge ? kSmall : kLarge;
  return (bytes + unit - 1) / unit * unit;
}

std::atomic<int> syncMode{GP_CUDA_SYNC_HOST};

bool eventMode() { return syncMode.load(std::memory_order_relaxed) == GP_CUDA_SYNC_EVENTS; }

/// The stream of the context last bound on this thread (gp_cuda_ctx_bind):
/// in event mode, a user of the blocks this thread allocates.
thread_local cudaStream_t boundStream = nullptr;
thread_local int boundDevice = -1;

/// A stream that used a block (event mode).
struct StreamUse {
  cudaStream_t stream;
  int device;
};

/// A live block of device memory.
struct Block {
  size_t size = 0;
  /// Event mode: when its contents are complete (null: they are, as far as
  /// any stream needs to wait), and the streams that used it.
  std::shared_ptr<cuda::Fence> ready;
  std::vector<StreamUse> users;

  void addUser(cudaStream_t stream, int dev) {
    for (const StreamUse &u : users)
      if (u.stream == stream)
        return;
    users.push_back({stream, dev});
  }
};

/// An event recorded on a stream that used a freed block.
struct UseEvent {
  int device;
  cudaStream_t stream;
  cudaEvent_t event;
};

/// A freed block that waits for the streams that used it: one event per
/// stream, recorded at the free.
struct Pending {
  void *ptr = nullptr;
  std::vector<UseEvent> events;
};

/// How many of a size class's waiting blocks an allocation looks at
/// (oldest first) before it asks cudaMalloc.
constexpr int kWaitingScan = 8;

class Allocator {
public:
  /// `stream`: the stream that will do the block's work (null: unknown). A
  /// freed block whose remaining uses are all on that stream is handed out
  /// at once: the stream runs the new work after the old (PyTorch's rule
  /// for a block that stays on its stream).
  void *alloc(int device, size_t bytes, cudaStream_t stream = nullptr) {
    size_t size = sizeClass(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (void *p = takeCached(device, size, stream))
        return adopt(p, device, size, stream);
    }
    int current = 0;
    if (cuda::check(cudaGetDevice(&current), "cudaGetDevice") != GP_OK)
      return nullptr;
    if (current != device && cuda::check(cudaSetDevice(device), "cudaSetDevice") != GP_OK)
      return nullptr;
    void *p = nullptr;
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation) {
      // Wait for the blocks freed while streams still used them, give the
      // cached blocks back and try once more.
      cudaGetLastError();
      drainPending(device);
      release(device);
      status = cudaMalloc(&p, size);
    }
    if (status == cudaSuccess) {
      std::lock_guard<std::mutex> lock(mutex);
      Stats &st = stats[device];
      ++st.mallocs;
      st.reserved += size;
      st.peakReserved = std::max(st.peakReserved, st.reserved);
    }
    if (current != device)
      cudaSetDevice(current);
    if (status != cudaSuccess) {
      cuda::check(status, ("cudaMalloc of " + std::to_string(size) + " bytes on device " +
                           std::to_string(device))
                              .c_str());
      return nullptr;
    }
    std::lock_guard<std::mutex> lock(mutex);
    return adopt(p, device, size, stream);
  }

  void free(int device, void *p) {
    if (!p)
      return;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = blocks.find(p);
    if (it == blocks.end())
      return;
    Block block = std::move(it->second);
    blocks.erase(it);
    if (block.users.empty()) {
      cache[device][block.size].push_back(p);
      return;
    }
    // Event mode: the streams that used the block may not have reached the
    // work they were given with it. An event on each, recorded now (after
    // all of that work), says when they have.
    Pending pending{p, {}};
    for (const StreamUse &u : block.users) {
      if (!liveStreams.count(u.stream))
        continue; // destroyed, so synchronized first
      cudaEvent_t event = takeEvent(u.device);
      bool recorded = false;
      if (event) {
        cuda::DeviceGuard on(u.device);
        recorded = cudaEventRecord(event, u.stream) == cudaSuccess;
      }
      if (!recorded) {
        // Without the event nothing says when the block is free again: it
        // stays out of the cache for good.
        cudaGetLastError();
        if (event)
          eventPool[u.device].push_back(event);
        for (const UseEvent &e : pending.events)
          eventPool[e.device].push_back(e.event);
        return;
      }
      pending.events.push_back({u.device, u.stream, event});
    }
    if (pending.events.empty())
      cache[device][block.size].push_back(p);
    else
      waiting[device][block.size].push_back(std::move(pending));
  }

  /// cudaFree of every cached block of `device`. cudaFree waits for the
  /// device, NCCL kernels waiting on a peer included, so it runs outside
  /// the lock: the peer's own allocations must not wait for it.
  void release(int device) {
    std::vector<void *> freed;
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (auto &[size, list] : cache[device]) {
        freed.insert(freed.end(), list.begin(), list.end());
        stats[device].reserved -= size * list.size();
      }
      cache[device].clear();
    }
    for (void *p : freed)
      cudaFree(p);
  }

  gp_cuda_memory_stats statsOf(int device) {
    std::lock_guard<std::mutex> lock(mutex);
    const Stats &st = stats[device];
    gp_cuda_memory_stats out{};
    out.mallocs = st.mallocs;
    out.reserved_bytes = st.reserved;
    out.peak_reserved_bytes = st.peakReserved;
    out.cache_hits = st.cacheHits;
    out.same_stream_reuses = st.sameStream;
    return out;
  }

  /// Event mode: the block holding `data`, if it is one of ours.
  template <typename F> void withBlock(const void *data, F &&f) {
    if (!data)
      return;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = blocks.upper_bound(const_cast<void *>(data));
    if (it == blocks.begin())
      return;
    --it;
    auto *base = static_cast<const unsigned char *>(it->first);
    auto *at = static_cast<const unsigned char *>(data);
    if (at < base + it->second.size)
      f(it->second);
  }

  void addStream(cudaStream_t stream) {
    std::lock_guard<std::mutex> lock(mutex);
    liveStreams.insert(stream);
  }
  void removeStream(cudaStream_t stream) {
    std::lock_guard<std::mutex> lock(mutex);
    liveStreams.erase(stream);
  }

private:
  /// A cached block of `size` for work on `stream` (null: unknown); nullptr
  /// if none. Under the lock. A block from the cache first, else the oldest
  /// of the first kWaitingScan freed blocks whose uses `stream` need not
  /// wait for (those on `stream` itself, or passed).
  void *takeCached(int device, size_t size, cudaStream_t stream) {
    auto &free = cache[device][size];
    if (free.empty()) {
      auto &queue = waiting[device][size];
      if (stream) {
        // One query per event: a block passed for every stream is as good
        // here as one only `stream` still uses.
        int scan = 0;
        for (auto it = queue.begin(); it != queue.end() && scan < kWaitingScan; ++it, ++scan) {
          bool onStream = false;
          if (readyFor(*it, stream, onStream)) {
            void *p = it->ptr;
            queue.erase(it);
            ++(onStream ? stats[device].sameStream : stats[device].cacheHits);
            return p;
          }
        }
        return nullptr;
      }
      // Those passed for every stream move to the cache, oldest first.
      bool onStream = false;
      while (!queue.empty() && readyFor(queue.front(), nullptr, onStream)) {
        free.push_back(queue.front().ptr);
        queue.pop_front();
      }
    }
    if (free.empty())
      return nullptr;
    ++stats[device].cacheHits;
    void *p = free.back();
    free.pop_back();
    return p;
  }

  /// Whether work on `stream` may use `p` now: each of its events is on
  /// that stream (which runs the new work after it; `onStream` says whether
  /// one was) or has completed. When so, its events go back to the pool (an
  /// event still pending may be recorded again).
  bool readyFor(Pending &p, cudaStream_t stream, bool &onStream) {
    onStream = false;
    for (const UseEvent &e : p.events) {
      if (stream && e.stream == stream) {
        onStream = true;
        continue;
      }
      cudaError_t status = cudaEventQuery(e.event);
      if (status != cudaSuccess) {
        // cudaErrorNotReady is no error, but it stays as the thread's last
        // error for the next cudaGetLastError (a launch check) to find.
        cudaGetLastError();
        return false;
      }
    }
    for (const UseEvent &e : p.events)
      eventPool[e.device].push_back(e.event);
    p.events.clear();
    return true;
  }

  /// Records a block handed out: in event mode its first user is `stream`,
  /// else the stream bound on this thread (the function allocating it).
  void *adopt(void *p, int device, size_t size, cudaStream_t stream) {
    Block &b = blocks[p];
    b = Block();
    b.size = size;
    if (!eventMode())
      return p;
    cudaStream_t first = stream ? stream : (boundDevice == device ? boundStream : nullptr);
    if (first && liveStreams.count(first))
      b.addUser(first, device);
    return p;
  }

  /// An event on `device` from the pool (nullptr if none can be made).
  cudaEvent_t takeEvent(int device) {
    auto &pool = eventPool[device];
    if (!pool.empty()) {
      cudaEvent_t e = pool.back();
      pool.pop_back();
      return e;
    }
    cuda::DeviceGuard on(device);
    cudaEvent_t e = nullptr;
    if (cudaEventCreateWithFlags(&e, cudaEventDisableTiming) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    return e;
  }

  /// Waits (outside the lock: NCCL may hold a stream) until every freed
  /// block of `device` is free of its streams, then caches them all.
  void drainPending(int device) {
    std::vector<std::pair<size_t, Pending>> all;
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (auto &[size, queue] : waiting[device])
        for (Pending &p : queue)
          all.push_back({size, std::move(p)});
      waiting[device].clear();
    }
    for (auto &[size, p] : all)
      for (const UseEvent &e : p.events) {
        cuda::DeviceGuard on(e.device);
        cudaEventSynchronize(e.event);
      }
    cudaGetLastError();
    std::lock_guard<std::mutex> lock(mutex);
    for (auto &[size, p] : all) {
      for (const UseEvent &e : p.events)
        eventPool[e.device].push_back(e.event);
      cache[device][size].push_back(p.ptr);
    }
  }

  struct Stats {
    uint64_t mallocs = 0, reserved = 0, peakReserved = 0, cacheHits = 0, sameStream = 0;
  };

  std::mutex mutex;
  std::map<int, std::map<size_t, std::vector<void *>>> cache;
  std::map<int, std::map<size_t, std::deque<Pending>>> waiting;
  std::map<int, std::vector<cudaEvent_t>> eventPool;
  /// Live blocks by address (ordered: a view's data finds its block).
  std::map<void *, Block> blocks;
  /// The streams of live contexts; a destroyed one was synchronized first.
  std::set<cudaStream_t> liveStreams;
  std::map<int, Stats> stats;
};

Allocator &allocator() {
  // Never destroyed: blocks may be returned from static destructors after
  // the CUDA runtime has shut down.
  static Allocator *a = new Allocator();
  return *a;
}

} // namespace

void *gp::cuda::workspace(gp_cuda_ctx *ctx, size_t bytes) {
  if (bytes <= ctx->workspaceBytes)
    return ctx->workspace;
  // The old workspace may still be read by enqueued work.
  if (check(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize") != GP_OK)
    return nullptr;
  allocator().free(ctx->device, ctx->workspace);
  ctx->workspace = nullptr;
  ctx->workspaceBytes = 0;
  void *p = allocator().alloc(ctx->device, bytes);
  if (!p)
    return nullptr;
  ctx->workspace = p;
  ctx->workspaceBytes = bytes;
  return p;
}

extern "C" gp_status gp_cuda_device_count(int *count) {
  *count = 0;
  cudaError_t status = cudaGetDeviceCount(count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    *count = 0;
    return cuda::check(status, "cudaGetDeviceCount");
  }
  if (*count == 0)
    return fail("cudaGetDeviceCount: no CUDA device");
  return GP_OK;
}

extern "C" gp_status gp_cuda_ctx_create(int device, gp_cuda_precision precision,
                                        gp_cuda_ctx **out) {
  *out = nullptr;
  auto ctx = std::make_unique<gp_cuda_ctx>();
  ctx->device = device;
  ctx->precision = precision;
  if (cuda::check(cudaSetDevice(device), "cudaSetDevice") != GP_OK ||
      cuda::check(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking),
                  "cudaStreamCreateWithFlags") != GP_OK)
    return GP_ERROR;
  if (cuda::check(cublasLtCreate(&ctx->lt), "cublasLtCreate") != GP_OK ||
      cuda::check(cudnnCreate(&ctx->cudnn), "cudnnCreate") != GP_OK ||
      cuda::check(cudnnSetStream(ctx->cudnn, ctx->stream), "cudnnSetStream") != GP_OK) {
    gp_cuda_ctx_destroy(ctx.release());
    return GP_ERROR;
  }
  allocator().addStream(ctx->stream);
  *out = ctx.release();
  return GP_OK;
}

extern "C" void gp_cuda_ctx_destroy(gp_cuda_ctx *ctx) {
  if (!ctx)
    return;
  cudaSetDevice(ctx->device);
  if (ctx->stream) {
    cudaStreamSynchronize(ctx->stream);
    // Its work is done: blocks it used need no event on it any more.
    allocator().removeStream(ctx->stream);
    if (boundStream == ctx->stream)
      boundStream = nullptr;
  }
  ctx->lastFence.reset();
  for (auto &[host, c] : ctx->constants)
    allocator().free(ctx->device, c.data);
  allocator().free(ctx->device, ctx->workspace);
  allocator().free(ctx->device, ctx->arena);
  if (ctx->cudnn)
    cudnnDestroy(ctx->cudnn);
  if (ctx->lt)
    cublasLtDestroy(ctx->lt);
  if (ctx->stream)
    cudaStreamDestroy(ctx->stream);
  delete ctx;
}

extern "C" int gp_cuda_ctx_device(const gp_cuda_ctx *ctx) { return ctx->device; }

extern "C" gp_cuda_precision gp_cuda_ctx_precision(const gp_cuda_ctx *ctx) {
  return ctx->precision;
}

extern "C" void *gp_cuda_ctx_stream(gp_cuda_ctx *ctx) { return ctx->stream; }

extern "C" gp_status gp_cuda_ctx_bind(gp_cuda_ctx *ctx) {
  boundStream = ctx->stream;
  boundDevice = ctx->device;
  return cuda::check(cudaSetDevice(ctx->device), "cudaSetDevice");
}

extern "C" void gp_cuda_set_sync_mode(gp_cuda_sync_mode mode) { syncMode = mode; }

extern "C" gp_cuda_sync_mode gp_cuda_get_sync_mode(void) {
  return static_cast<gp_cuda_sync_mode>(syncMode.load());
}

extern "C" gp_status gp_cuda_finish(gp_cuda_ctx *ctx) {
  if (!eventMode())
    return gp_cuda_sync(ctx);
  cuda::DeviceGuard on(ctx->device);
  static std::atomic<uint64_t> fences{0};
  auto fence = std::make_shared<cuda::Fence>();
  fence->stream = ctx->stream;
  fence->device = ctx->device;
  fence->seq = ++fences;
  if (cuda::check(cudaEventCreateWithFlags(&fence->event, cudaEventDisableTiming),
                  "cudaEventCreateWithFlags") != GP_OK ||
      cuda::check(cudaEventRecord(fence->event, ctx->stream), "cudaEventRecord") != GP_OK)
    return GP_ERROR;
  ctx->lastFence = std::move(fence);
  return GP_OK;
}

extern "C" gp_status gp_cuda_publish(gp_cuda_ctx *ctx, const gp_tensor *t) {
  if (!eventMode() || !t || !t->data)
    return GP_OK;
  if (!ctx->lastFence)
    return fail("gp_cuda_publish before gp_cuda_finish");
  allocator().withBlock(t->data, [&](Block &b) {
    b.ready = ctx->lastFence;
    b.addUser(ctx->stream, ctx->device);
  });
  return GP_OK;
}

namespace {
/// `waited`: the waiting context's record of fences already waited for
/// (null for a stream that is no context's).
gp_status awaitOn(cudaStream_t stream, int device, bool track, const gp_tensor *t,
                  std::unordered_map<cudaStream_t, uint64_t> *waited) {
  if (!eventMode() || !t || !t->data)
    return GP_OK;
  std::shared_ptr<cuda::Fence> fence;
  allocator().withBlock(t->data, [&](Block &b) {
    if (b.ready && b.ready->stream != stream && !b.ready->done.load(std::memory_order_acquire))
      fence = b.ready;
    if (track)
      b.addUser(stream, device);
  });
  if (!fence)
    return GP_OK;
  uint64_t *seen = nullptr;
  if (waited) {
    seen = &(*waited)[fence->stream];
    if (*seen >= fence->seq)
      return GP_OK; // a wait for this fence or a later one of its stream
  }
  // A parameter is read by every micro-batch's functions long after the
  // update that wrote it: once its event is seen complete, no more waits.
  cudaError_t status = cudaEventQuery(fence->event);
  if (status == cudaSuccess) {
    fence->done.store(true, std::memory_order_release);
  } else {
    if (status != cudaErrorNotReady)
      return cuda::check(status, "cudaEventQuery");
    cudaGetLastError(); // not-ready is not an error a launch check should see
    // The fence stays alive (this reference) until the wait is enqueued.
    if (cuda::check(cudaStreamWaitEvent(stream, fence->event, 0), "cudaStreamWaitEvent") !=
        GP_OK)
      return GP_ERROR;
  }
  if (seen)
    *seen = fence->seq;
  return GP_OK;
}
} // namespace

extern "C" gp_status gp_cuda_await(gp_cuda_ctx *ctx, const gp_tensor *t) {
  return awaitOn(ctx->stream, ctx->device, /*track=*/true, t, &ctx->waited);
}

extern "C" gp_status gp_cuda_await_all(gp_cuda_ctx *ctx, const gp_tensor *const *ts,
                                       int32_t n) {
  for (int32_t i = 0; i < n; ++i)
    if (awaitOn(ctx->stream, ctx->device, /*track=*/true, ts[i], &ctx->waited) != GP_OK)
      return GP_ERROR;
  return GP_OK;
}

extern "C" gp_status gp_cuda_await_stream(void *stream, int device, const gp_tensor *t) {
  return awaitOn(static_cast<cudaStream_t>(stream), device, /*track=*/false, t, nullptr);
}

extern "C" gp_status gp_cuda_arena(gp_cuda_ctx *ctx, size_t bytes, unsigned char **out) {
  if (bytes > ctx->arenaBytes) {
    if (cuda::check(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize") != GP_OK)
      return GP_ERROR;
    allocator().free(ctx->device, ctx->arena);
    ctx->arena = nullptr;
    ctx->arenaBytes = 0;
    void *p = allocator().alloc(ctx->device, bytes);
    if (!p)
      return GP_ERROR;
    ctx->arena = static_cast<unsigned char *>(p);
    ctx->arenaBytes = bytes;
  }
  *out = ctx->arena;
  return GP_OK;
}

extern "C" gp_status gp_cuda_sync(gp_cuda_ctx *ctx) {
  cudaError_t status = cudaStreamSynchronize(ctx->stream);
  if (status == cudaSuccess)
    return GP_OK;
  // The error belongs to some kernel enqueued before; naming it needs
  // launches that wait.
  return cuda::check(status, ("the GPU's work (cudaStreamSynchronize on GPU " +
                              std::to_string(ctx->device) +
                              "; rerun with CUDA_LAUNCH_BLOCKING=1 to find the kernel)")
                                 .c_str());
}

extern "C" gp_status gp_cuda_check_launch(const char *what) {
  cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess)
    return GP_OK;
  return cuda::check(status, (std::string(what) + " (kernel launch)").c_str());
}

extern "C" gp_status gp_cuda_constant(gp_cuda_ctx *ctx, const gp_tensor *host,
                                      const gp_tensor **out) {
  auto [it, inserted] = ctx->constants.try_emplace(host->data);
  gp_cuda_ctx::Constant &c = it->second;
  if (inserted) {
    size_t bytes = gp_numel(host) * gp_dtype_size(host->dtype);
    c.data = allocator().alloc(ctx->device, bytes);
    if (!c.data ||
        (bytes && cuda::check(cudaMemcpyAsync(c.data, host->data, bytes, cudaMemcpyHostToDevice,
                                              ctx->stream),
                              "cudaMemcpyAsync (constant)") != GP_OK)) {
      allocator().free(ctx->device, c.data);
      ctx->constants.erase(it);
      return GP_ERROR;
    }
    c.view = *host;
    c.view.data = c.data;
  }
  *out = &c.view;
  return GP_OK;
}

extern "C" void *gp_cuda_alloc(int device, size_t bytes) {
  return allocator().alloc(device, bytes);
}

extern "C" void *gp_cuda_alloc_on(gp_cuda_ctx *ctx, size_t bytes) {
  return allocator().alloc(ctx->device, bytes, ctx->stream);
}

extern "C" void gp_cuda_free(int device, void *ptr) { allocator().free(device, ptr); }

extern "C" gp_cuda_memory_stats gp_cuda_get_memory_stats(int device) {
  return allocator().statsOf(device);
}

extern "C" gp_status gp_cuda_to_device(gp_cuda_ctx *ctx, void *dst, const void *src,
                                       size_t bytes) {
  if (!bytes)
    return GP_OK;
  // From pageable memory the copy is staged before the call returns, so
  // the caller may reuse `src` at once.
  return cuda::check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx->stream),
                     "cudaMemcpyAsync (to the device)");
}

extern "C" gp_status gp_cuda_to_host(gp_cuda_ctx *ctx, void *dst, const void *src,
                                     size_t bytes) {
  if (!bytes)
    return GP_OK;
  if (cuda::check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx->stream),
                  "cudaMemcpyAsync (to the host)") != GP_OK)
    return GP_ERROR;
  return gp_cuda_sync(ctx);
}

extern "C" gp_status gp_cuda_copy_bytes(gp_cuda_ctx *ctx, void *dst, const void *src,
                                        int src_device, size_t bytes) {
  if (!bytes)
    return GP_OK;
  if (src_device == ctx->device)
    return cuda::check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx->stream),
                       "cudaMemcpyAsync (device to device)");
  return cuda::check(cudaMemcpyPeerAsync(dst, ctx->device, src, src_device, bytes, ctx->stream),
                     "cudaMemcpyPeerAsync");
}

extern "C" gp_status gp_cuda_memset_zero(gp_cuda_ctx *ctx, void *dst, size_t bytes) {
  if (!bytes)
    return GP_OK;
  return cuda::check(cudaMemsetAsync(dst, 0, bytes, ctx->stream), "cudaMemsetAsync");
}
