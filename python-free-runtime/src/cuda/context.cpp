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

#include <map>
#include <memory>
#include <mutex>
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

class Allocator {
public:
  void *alloc(int device, size_t bytes) {
    size_t size = sizeClass(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto &free = cache[device][size];
      if (!free.empty()) {
        void *p = free.back();
        free.pop_back();
        sizes[p] = size;
        return p;
      }
    }
    int current = 0;
    if (cuda::check(cudaGetDevice(&current), "cudaGetDevice") != GP_OK)
      return nullptr;
    if (current != device && cuda::check(cudaSetDevice(device), "cudaSetDevice") != GP_OK)
      return nullptr;
    void *p = nullptr;
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation) {
      // Give the cached blocks back and try once more.
      cudaGetLastError();
      release(device);
      status = cudaMalloc(&p, size);
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
    sizes[p] = size;
    return p;
  }

  void free(int device, void *p) {
    if (!p)
      return;
    std::lock_guard<std::mutex> lock(mutex);
    auto it = sizes.find(p);
    if (it == sizes.end())
      return;
    cache[device][it->second].push_back(p);
    sizes.erase(it);
  }

  /// cudaFree of every cached block of `device`. cudaFree waits for the
  /// device, NCCL kernels waiting on a peer included, so it runs outside
  /// the lock: the peer's own allocations must not wait for it.
  void release(int device) {
    std::vector<void *> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (auto &[size, list] : cache[device])
        blocks.insert(blocks.end(), list.begin(), list.end());
      cache[device].clear();
    }
    for (void *p : blocks)
      cudaFree(p);
  }

private:
  std::mutex mutex;
  std::map<int, std::map<size_t, std::vector<void *>>> cache;
  std::map<void *, size_t> sizes;
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
  *out = ctx.release();
  return GP_OK;
}

extern "C" void gp_cuda_ctx_destroy(gp_cuda_ctx *ctx) {
  if (!ctx)
    return;
  cudaSetDevice(ctx->device);
  if (ctx->stream)
    cudaStreamSynchronize(ctx->stream);
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
  return cuda::check(cudaSetDevice(ctx->device), "cudaSetDevice");
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

extern "C" void gp_cuda_free(int device, void *ptr) { allocator().free(device, ptr); }

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
