/*===- gp_cuda.h - the CUDA backend's C API generated code calls ----------===*
 *
 * The CUDA counterpart of gp_runtime.h's gp_cpu_* kernels. Every call takes
 * a context (gp_cuda_ctx: one device, one stream, the cuBLASLt and cuDNN
 * handles bound to that stream, a workspace and the function arena) and
 * only enqueues work on the context's stream: tensors are gp_tensor views
 * of *device* memory, the same layout as on the CPU (dense, row-major).
 * Shapes and element types are checked on the host before anything is
 * enqueued; a failing call returns GP_ERROR with a message for
 * gp_last_error() that names the CUDA, cuBLAS or cuDNN call and its status.
 * Errors of the work itself surface at gp_cuda_sync.
 *
 * Semantics match the CPU kernels of the same name (gp_cpu_*) but for
 * element types: floating-point kernels compute in f32 (f64 where noted),
 * data movement handles every element type.
 *
 *===----------------------------------------------------------------------===*/

#ifndef GPIPE_RUNTIME_GP_CUDA_H
#define GPIPE_RUNTIME_GP_CUDA_H

#include "gpipe/runtime/gp_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gp_cuda_ctx gp_cuda_ctx;

/* How matrix products and convolutions compute (--precision): f32
 * throughout; f32 storage with TF32 tensor-core math; bf16 operands (f32
 * values rounded when read) with f32 accumulation and f32 results, so master
 * weights, gradients and optimizer state stay f32. */
typedef enum gp_cuda_precision {
  GP_PRECISION_FP32 = 0,
  GP_PRECISION_TF32 = 1,
  GP_PRECISION_BF16 = 2,
} gp_cuda_precision;

/*--- Devices, contexts and memory ------------------------------------------*/
/* The number of usable CUDA devices; GP_ERROR (with the driver's reason,
 * e.g. no driver or no device) when there is none. */
gp_status gp_cuda_device_count(int *count);
/* A context on `device`: a non-blocking stream, cuBLASLt and cuDNN handles
 * on it. Makes `device` current on the calling thread. */
gp_status gp_cuda_ctx_create(int device, gp_cuda_precision precision,
                             gp_cuda_ctx **out);
/* Waits for the context's work and releases it (NULL: nothing). */
void gp_cuda_ctx_destroy(gp_cuda_ctx *ctx);
int gp_cuda_ctx_device(const gp_cuda_ctx *ctx);
gp_cuda_precision gp_cuda_ctx_precision(const gp_cuda_ctx *ctx);
/* The context's cudaStream_t. */
void *gp_cuda_ctx_stream(gp_cuda_ctx *ctx);
/* Makes the context's device current on the calling thread, and its stream
 * the one the allocator counts as a user of the blocks this thread
 * allocates (event mode). */
gp_status gp_cuda_ctx_bind(gp_cuda_ctx *ctx);
/* The context's function arena, at least `bytes` long: one cudaMalloc,
 * grown (after waiting for the stream) only when a larger one is asked for;
 * reserve the largest up front and it is allocated once. */
gp_status gp_cuda_arena(gp_cuda_ctx *ctx, size_t bytes, unsigned char **out);
/* Waits for everything enqueued on the context's stream; reports the first
 * error of that work. */
gp_status gp_cuda_sync(gp_cuda_ctx *ctx);
/* Reports a failed kernel launch (cudaGetLastError) as `what`'s error. */
gp_status gp_cuda_check_launch(const char *what);
/* A device copy of constant host data, uploaded on first use and cached in
 * the context by `host->data`; *out stays valid as long as the context. */
gp_status gp_cuda_constant(gp_cuda_ctx *ctx, const gp_tensor *host,
                           const gp_tensor **out);

/*--- Hand-offs between streams ---------------------------------------------*/
/* How a generated function hands what it computed to other streams and to
 * the host (the trainer's --sync):
 *   GP_CUDA_SYNC_HOST: gp_cuda_finish waits for the context's stream, so a
 *     tensor a function returns is complete for every stream and the host;
 *     gp_cuda_await and gp_cuda_publish do nothing.
 *   GP_CUDA_SYNC_EVENTS: gp_cuda_finish records a CUDA event after the
 *     function's work and returns at once; gp_cuda_publish marks a tensor's
 *     memory ready at that event, and gp_cuda_await makes a stream wait for
 *     it (cudaStreamWaitEvent; nothing when the same stream wrote it). The
 *     allocator then remembers every stream that used a block (that awaited
 *     or published it, or was bound on the allocating thread) and reuses a
 *     freed block only once each of those streams has passed the point of
 *     the free (an event recorded on each at gp_cuda_free).
 * Process-wide; set it before the first context is created. */
typedef enum gp_cuda_sync_mode {
  GP_CUDA_SYNC_HOST = 0,
  GP_CUDA_SYNC_EVENTS = 1,
} gp_cuda_sync_mode;
void gp_cuda_set_sync_mode(gp_cuda_sync_mode mode);
gp_cuda_sync_mode gp_cuda_get_sync_mode(void);
/* The end of a function's work: gp_cuda_sync (host mode), or an event
 * recorded on the stream that later gp_cuda_publish calls attach. */
gp_status gp_cuda_finish(gp_cuda_ctx *ctx);
/* Marks the memory under `t` (from gp_cuda_alloc) ready once the context's
 * last gp_cuda_finish event completes. A tensor with no data: nothing. */
gp_status gp_cuda_publish(gp_cuda_ctx *ctx, const gp_tensor *t);
/* Makes the context's stream wait until the memory under `t` is ready and
 * records the stream as a user of it. Memory not from gp_cuda_alloc, or
 * never published: nothing to wait for. */
gp_status gp_cuda_await(gp_cuda_ctx *ctx, const gp_tensor *t);
/* gp_cuda_await of each of `n` tensors (NULL entries are skipped). */
gp_status gp_cuda_await_all(gp_cuda_ctx *ctx, const gp_tensor *const *ts, int32_t n);
/* gp_cuda_await for a stream of the caller's own (a cudaStream_t on
 * `device`, e.g. a NCCL channel's) that is no context's; the caller keeps
 * `t` alive until that stream's work on it is done. */
gp_status gp_cuda_await_stream(void *stream, int device, const gp_tensor *t);

/* Device memory from a caching allocator (per device; freed blocks are kept
 * for reuse, by size class). NULL (with gp_last_error set) when the device
 * is out of memory even after the cache is released. */
void *gp_cuda_alloc(int device, size_t bytes);
/* gp_cuda_alloc for work on the context's stream: in event mode a freed
 * block whose remaining uses are all on that stream is reused at once (the
 * stream runs the new work after them) instead of waiting for its event. */
void *gp_cuda_alloc_on(gp_cuda_ctx *ctx, size_t bytes);
/* Returns `ptr` (from gp_cuda_alloc on `device`) to the cache. In host sync
 * mode call it only once no enqueued work uses the memory; in event mode
 * the block waits for the streams that used it (see above). */
void gp_cuda_free(int device, void *ptr);
/* The allocator's counts for `device` since the process began. */
typedef struct gp_cuda_memory_stats {
  uint64_t mallocs;             /* cudaMalloc calls that succeeded */
  uint64_t reserved_bytes;      /* held from CUDA now (live and cached) */
  uint64_t peak_reserved_bytes; /* the most ever held */
  uint64_t cache_hits;          /* allocations served by a free block */
  uint64_t same_stream_reuses;  /* ... by a block still in use on the
                                   allocating stream (event mode) */
} gp_cuda_memory_stats;
gp_cuda_memory_stats gp_cuda_get_memory_stats(int device);
/* Copies `bytes` on the context's stream; host memory may be pageable. */
gp_status gp_cuda_to_device(gp_cuda_ctx *ctx, void *dst, const void *src,
                            size_t bytes);
gp_status gp_cuda_to_host(gp_cuda_ctx *ctx, void *dst, const void *src,
                          size_t bytes);
/* Device to device; `src` may be on another device (peer copy). */
gp_status gp_cuda_copy_bytes(gp_cuda_ctx *ctx, void *dst, const void *src,
                             int src_device, size_t bytes);
gp_status gp_cuda_memset_zero(gp_cuda_ctx *ctx, void *dst, size_t bytes);

/*--- Elementwise -----------------------------------------------------------*/
/* f32 and f64; GP_NOT on bool. */
gp_status gp_cuda_unary(gp_cuda_ctx *ctx, gp_unary_op op, const gp_tensor *x,
                        double param0, double param1, gp_tensor *out);
/* NumPy broadcasting; f32, f64, i64, i32 (and bool for GP_AND/GP_OR);
 * comparisons write GP_BOOL. */
gp_status gp_cuda_binary(gp_cuda_ctx *ctx, gp_binary_op op, const gp_tensor *a,
                         const gp_tensor *b, gp_tensor *out);
gp_status gp_cuda_where(gp_cuda_ctx *ctx, const gp_tensor *cond,
                        const gp_tensor *a, const gp_tensor *b, gp_tensor *out);
/* Between f32, f64, f16, bf16, i64, i32, i16, i8, u8 and bool. */
gp_status gp_cuda_cast(gp_cuda_ctx *ctx, const gp_tensor *x, gp_tensor *out);

/*--- Matrix products (cuBLASLt) --------------------------------------------*/
/* numpy.matmul semantics (batch dimensions broadcast), f32. */
gp_status gp_cuda_matmul(gp_cuda_ctx *ctx, const gp_tensor *a,
                         const gp_tensor *b, gp_tensor *out);
/* out = alpha * op(a) op(b) + beta * c; c may be NULL or broadcast to out
 * (a [N] bias row goes to a cuBLASLt bias epilogue). */
gp_status gp_cuda_gemm(gp_cuda_ctx *ctx, const gp_tensor *a,
                       const gp_tensor *b, const gp_tensor *c, float alpha,
                       float beta, bool trans_a, bool trans_b, gp_tensor *out);

/* An activation cuBLASLt applies to a GEMM's result in its epilogue. */
typedef enum gp_cuda_activation { GP_ACT_NONE = 0, GP_ACT_RELU = 1 } gp_cuda_activation;
/* gp_cuda_gemm, then `activation` on the result, in one cuBLASLt call (the
 * relu of a linear layer: CUBLASLT_EPILOGUE_RELU_BIAS with a [N] bias). */
gp_status gp_cuda_gemm_act(gp_cuda_ctx *ctx, const gp_tensor *a,
                           const gp_tensor *b, const gp_tensor *c, float alpha,
                           float beta, bool trans_a, bool trans_b,
                           gp_cuda_activation activation, gp_tensor *out);

/*--- Convolution and pooling (cuDNN, NCHW, f32) ----------------------------*/
gp_status gp_cuda_conv2d(gp_cuda_ctx *ctx, const gp_tensor *x,
                         const gp_tensor *w, const gp_tensor *bias,
                         const int64_t *strides, const int64_t *pads,
                         const int64_t *dilations, int64_t groups,
                         gp_tensor *out);
gp_status gp_cuda_max_pool2d(gp_cuda_ctx *ctx, const gp_tensor *x,
                             const int64_t *kernel, const int64_t *strides,
                             const int64_t *pads, const int64_t *dilations,
                             gp_tensor *out);
gp_status gp_cuda_avg_pool2d(gp_cuda_ctx *ctx, const gp_tensor *x,
                             const int64_t *kernel, const int64_t *strides,
                             const int64_t *pads, bool count_include_pad,
                             gp_tensor *out);
gp_status gp_cuda_global_pool(gp_cuda_ctx *ctx, const gp_tensor *x,
                              bool is_max, gp_tensor *out);

/*--- Normalization ---------------------------------------------------------*/
gp_status gp_cuda_batch_norm(gp_cuda_ctx *ctx, const gp_tensor *x,
                             const gp_tensor *scale, const gp_tensor *bias,
                             const gp_tensor *mean, const gp_tensor *var,
                             float epsilon, gp_tensor *out);
gp_status gp_cuda_batch_norm_train(gp_cuda_ctx *ctx, const gp_tensor *x,
                                   const gp_tensor *scale,
                                   const gp_tensor *bias,
                                   const gp_tensor *running_mean,
                                   const gp_tensor *running_var, float epsilon,
                                   float momentum, bool unbiased_var_update,
                                   gp_tensor *out, gp_tensor *new_mean,
                                   gp_tensor *new_var);
gp_status gp_cuda_layer_norm(gp_cuda_ctx *ctx, const gp_tensor *x,
                             const gp_tensor *scale, const gp_tensor *bias,
                             int64_t axis, float epsilon, gp_tensor *out);
gp_status gp_cuda_softmax(gp_cuda_ctx *ctx, const gp_tensor *x, int64_t axis,
                          bool log, gp_tensor *out);
/* gp_cpu_dropout's masks, from the same counter-based generator; rng (may be
 * NULL) is an i64[2] device tensor [stream, part] the kernel reads. */
gp_status gp_cuda_dropout(gp_cuda_ctx *ctx, const gp_tensor *x, float ratio,
                          bool training, uint64_t seed, const gp_tensor *rng,
                          gp_tensor *out, gp_tensor *mask);

/*--- Reductions ------------------------------------------------------------*/
gp_status gp_cuda_reduce(gp_cuda_ctx *ctx, gp_reduce_op op, const gp_tensor *x,
                         const int64_t *axes, int32_t naxes, gp_tensor *out);
gp_status gp_cuda_arg_reduce(gp_cuda_ctx *ctx, const gp_tensor *x,
                             int64_t axis, bool is_max, bool select_last,
                             gp_tensor *out);

/*--- Data movement (every element type) ------------------------------------*/
gp_status gp_cuda_copy(gp_cuda_ctx *ctx, const gp_tensor *x, gp_tensor *out);
gp_status gp_cuda_transpose(gp_cuda_ctx *ctx, const gp_tensor *x,
                            const int64_t *perm, gp_tensor *out);
/* `inputs` is a host array of device tensors. */
gp_status gp_cuda_concat(gp_cuda_ctx *ctx, const gp_tensor *const *inputs,
                         int32_t n, int64_t axis, gp_tensor *out);
gp_status gp_cuda_slice(gp_cuda_ctx *ctx, const gp_tensor *x,
                        const int64_t *starts, const int64_t *steps,
                        gp_tensor *out);
gp_status gp_cuda_expand(gp_cuda_ctx *ctx, const gp_tensor *x, gp_tensor *out);
gp_status gp_cuda_gather(gp_cuda_ctx *ctx, const gp_tensor *data,
                         const gp_tensor *indices, int64_t axis,
                         gp_tensor *out);

/*--- Losses ----------------------------------------------------------------*/
gp_status gp_cuda_nll_loss(gp_cuda_ctx *ctx, const gp_tensor *input,
                           const gp_tensor *labels, const gp_tensor *weights,
                           gp_loss_reduction reduction, bool has_ignore_index,
                           int64_t ignore_index, gp_tensor *out);
gp_status gp_cuda_softmax_cross_entropy(gp_cuda_ctx *ctx,
                                        const gp_tensor *scores,
                                        const gp_tensor *labels,
                                        const gp_tensor *weights,
                                        gp_loss_reduction reduction,
                                        bool has_ignore_index,
                                        int64_t ignore_index, gp_tensor *out);

/*--- Backward kernels ------------------------------------------------------*/
gp_status gp_cuda_conv2d_grad_input(gp_cuda_ctx *ctx, const gp_tensor *dy,
                                    const gp_tensor *w, const int64_t *strides,
                                    const int64_t *pads,
                                    const int64_t *dilations, int64_t groups,
                                    gp_tensor *dx);
gp_status gp_cuda_conv2d_grad_weight(gp_cuda_ctx *ctx, const gp_tensor *dy,
                                     const gp_tensor *x, const int64_t *strides,
                                     const int64_t *pads,
                                     const int64_t *dilations, int64_t groups,
                                     gp_tensor *dw);
gp_status gp_cuda_max_pool2d_grad(gp_cuda_ctx *ctx, const gp_tensor *dy,
                                  const gp_tensor *x, const int64_t *kernel,
                                  const int64_t *strides, const int64_t *pads,
                                  const int64_t *dilations, gp_tensor *dx);
gp_status gp_cuda_avg_pool2d_grad(gp_cuda_ctx *ctx, const gp_tensor *dy,
                                  const int64_t *kernel, const int64_t *strides,
                                  const int64_t *pads, bool count_include_pad,
                                  gp_tensor *dx);
gp_status gp_cuda_batch_norm_train_grad(gp_cuda_ctx *ctx, const gp_tensor *dy,
                                        const gp_tensor *x,
                                        const gp_tensor *scale, float epsilon,
                                        gp_tensor *dx, gp_tensor *dscale,
                                        gp_tensor *dbias);
gp_status gp_cuda_layer_norm_grad(gp_cuda_ctx *ctx, const gp_tensor *dy,
                                  const gp_tensor *x, const gp_tensor *scale,
                                  int64_t axis, float epsilon, gp_tensor *dx,
                                  gp_tensor *dscale, gp_tensor *dbias);
gp_status gp_cuda_nll_loss_grad(gp_cuda_ctx *ctx, const gp_tensor *dloss,
                                const gp_tensor *labels,
                                const gp_tensor *weights,
                                gp_loss_reduction reduction,
                                bool has_ignore_index, int64_t ignore_index,
                                gp_tensor *dinput);
gp_status gp_cuda_gather_grad(gp_cuda_ctx *ctx, const gp_tensor *dy,
                              const gp_tensor *indices, int64_t axis,
                              gp_tensor *ddata);
gp_status gp_cuda_slice_grad(gp_cuda_ctx *ctx, const gp_tensor *dy,
                             const int64_t *starts, const int64_t *steps,
                             gp_tensor *dx);

#ifdef __cplusplus
}
#endif

#endif /* GPIPE_RUNTIME_GP_CUDA_H */
