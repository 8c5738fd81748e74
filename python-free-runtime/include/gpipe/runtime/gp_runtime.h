/*===- gp_runtime.h - the C API generated code calls ----------------------===*
 *
 * A narrow C API over gpipe's runtime: tensors are plain structs that point at
 * caller-owned memory; every kernel returns a status and, on failure, leaves
 * a message for gp_last_error(). Kernels are grouped by op family, as the
 * gpipe dialect is.
 *
 *===----------------------------------------------------------------------===*/

#ifndef GPIPE_RUNTIME_GP_RUNTIME_H
#define GPIPE_RUNTIME_GP_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GP_MAX_RANK 8

typedef enum gp_dtype {
  GP_F32 = 1,
  GP_F64 = 2,
  GP_I64 = 3,
  GP_I32 = 4,
  GP_I16 = 5,
  GP_I8 = 6,
  GP_U8 = 7,
  GP_BOOL = 8, /* one byte per element, 0 or 1 */
  GP_F16 = 9,  /* IEEE binary16 */
  GP_BF16 = 10, /* bfloat16 */
} gp_dtype;

/* A view of a dense row-major tensor; `data` is not owned. */
typedef struct gp_tensor {
  gp_dtype dtype;
  int32_t rank;
  int64_t dims[GP_MAX_RANK];
  void *data;
} gp_tensor;

typedef enum gp_status { GP_OK = 0, GP_ERROR = 1 } gp_status;

/* The message of the last failed call on this thread. */
const char *gp_last_error(void);
/* Bytes per element; 0 for an unknown dtype. */
size_t gp_dtype_size(gp_dtype dtype);
const char *gp_dtype_name(gp_dtype dtype);
int64_t gp_numel(const gp_tensor *t);
/* Sets rank and dims; data stays as it is. */
gp_status gp_tensor_init(gp_tensor *t, gp_dtype dtype, int32_t rank,
                         const int64_t *dims);

/*--- Threads ----------------------------------------------------------------*/
/* Threads the CPU kernels (and OpenBLAS) use; 0 keeps the default. */
void gp_cpu_set_num_threads(int n);
int gp_cpu_get_num_threads(void);

/*--- Elementwise -----------------------------------------------------------*/
typedef enum gp_unary_op {
  GP_NEG, GP_ABS, GP_SQRT, GP_EXP, GP_LOG, GP_RECIPROCAL, GP_ERF, GP_TANH,
  GP_SIGMOID, GP_RELU, GP_FLOOR, GP_CEIL, GP_SIN, GP_COS, GP_NOT,
  GP_LEAKY_RELU, /* param0 = alpha */
  GP_GELU,       /* param0 = 0 (erf form) or 1 (tanh approximation) */
  GP_CLIP,       /* param0 = min, param1 = max (use +-INFINITY for none) */
} gp_unary_op;

typedef enum gp_binary_op {
  GP_ADD, GP_SUB, GP_MUL, GP_DIV, GP_POW, GP_MAX, GP_MIN,
  GP_EQUAL, GP_LESS, GP_LESS_EQUAL, GP_GREATER, GP_GREATER_EQUAL,
  GP_AND, GP_OR,
  GP_FMOD, /* remainder with the sign of a (C fmod) */
  GP_MOD,  /* remainder with the sign of b (Python %), integers only */
} gp_binary_op;

gp_status gp_cpu_unary(gp_unary_op op, const gp_tensor *x, double param0,
                       double param1, gp_tensor *out);
/* NumPy broadcasting; comparisons write GP_BOOL. f16 and bf16 operands
 * (unary and binary ops) compute in f32 and round once. */
gp_status gp_cpu_binary(gp_binary_op op, const gp_tensor *a,
                        const gp_tensor *b, gp_tensor *out);
gp_status gp_cpu_where(const gp_tensor *cond, const gp_tensor *a,
                       const gp_tensor *b, gp_tensor *out);
gp_status gp_cpu_cast(const gp_tensor *x, gp_tensor *out);

/*--- Matrix products -------------------------------------------------------*/
/* numpy.matmul semantics, f32/f64 through BLAS. */
gp_status gp_cpu_matmul(const gp_tensor *a, const gp_tensor *b,
                        gp_tensor *out);
/* out = alpha * op(a) op(b) + beta * c; c may be NULL or broadcast to out. */
gp_status gp_cpu_gemm(const gp_tensor *a, const gp_tensor *b,
                      const gp_tensor *c, float alpha, float beta,
                      bool trans_a, bool trans_b, gp_tensor *out);

/*--- Convolution and pooling (NCHW) ----------------------------------------*/
/* strides[2], pads[4] = {top, left, bottom, right}, dilations[2]. */
gp_status gp_cpu_conv2d(const gp_tensor *x, const gp_tensor *w,
                        const gp_tensor *bias, const int64_t *strides,
                        const int64_t *pads, const int64_t *dilations,
                        int64_t groups, gp_tensor *out);
gp_status gp_cpu_max_pool2d(const gp_tensor *x, const int64_t *kernel,
                            const int64_t *strides, const int64_t *pads,
                            const int64_t *dilations, gp_tensor *out);
gp_status gp_cpu_avg_pool2d(const gp_tensor *x, const int64_t *kernel,
                            const int64_t *strides, const int64_t *pads,
                            bool count_include_pad, gp_tensor *out);
/* is_max: global max pooling, else global average. */
gp_status gp_cpu_global_pool(const gp_tensor *x, bool is_max, gp_tensor *out);

/*--- Normalization ---------------------------------------------------------*/
gp_status gp_cpu_batch_norm(const gp_tensor *x, const gp_tensor *scale,
                            const gp_tensor *bias, const gp_tensor *mean,
                            const gp_tensor *var, float epsilon,
                            gp_tensor *out);
/* Batch statistics; new_* = momentum * running + (1 - momentum) * batch,
 * with the batch variance biased (ONNX) or, with unbiased_var_update, scaled
 * by n / (n - 1) (PyTorch). */
gp_status gp_cpu_batch_norm_train(const gp_tensor *x, const gp_tensor *scale,
                                  const gp_tensor *bias,
                                  const gp_tensor *running_mean,
                                  const gp_tensor *running_var, float epsilon,
                                  float momentum, bool unbiased_var_update,
                                  gp_tensor *out, gp_tensor *new_mean,
                                  gp_tensor *new_var);
/* Normalizes over dims [axis, rank); bias may be NULL. */
gp_status gp_cpu_layer_norm(const gp_tensor *x, const gp_tensor *scale,
                            const gp_tensor *bias, int64_t axis, float epsilon,
                            gp_tensor *out);
gp_status gp_cpu_softmax(const gp_tensor *x, int64_t axis, bool log,
                         gp_tensor *out);
/* mask (may be NULL) is GP_BOOL; with training false, out = x and mask is all
 * true. With training, element i is kept (and scaled by 1 / (1 - ratio)) when
 * a counter-based uniform of (seed, stream, counter) is at least ratio: rng
 * NULL: stream 0 and counter i; rng an i64 tensor [stream, part]: counter
 * part * numel(x) + i, so part p of a tensor split into equal outermost
 * pieces draws exactly its slice of the whole tensor's mask. The CUDA
 * kernel draws the same masks. */
gp_status gp_cpu_dropout(const gp_tensor *x, float ratio, bool training,
                         uint64_t seed, const gp_tensor *rng, gp_tensor *out,
                         gp_tensor *mask);

/*--- Reductions ------------------------------------------------------------*/
typedef enum gp_reduce_op { GP_REDUCE_SUM, GP_REDUCE_MEAN, GP_REDUCE_MAX, GP_REDUCE_MIN } gp_reduce_op;
/* axes sorted and non-negative; naxes == 0 reduces everything. The output's
 * shape (with or without kept dimensions) only changes how it is viewed. */
gp_status gp_cpu_reduce(gp_reduce_op op, const gp_tensor *x,
                        const int64_t *axes, int32_t naxes, gp_tensor *out);

/* out (i64): the index of the maximum (is_max) or minimum of x along axis;
 * the first on ties, or the last with select_last. */
gp_status gp_cpu_arg_reduce(const gp_tensor *x, int64_t axis, bool is_max,
                            bool select_last, gp_tensor *out);

/*--- Data movement ---------------------------------------------------------*/
/* Same element count; copies the bytes (reshape, flatten, squeeze, ...). */
gp_status gp_cpu_copy(const gp_tensor *x, gp_tensor *out);
gp_status gp_cpu_transpose(const gp_tensor *x, const int64_t *perm,
                           gp_tensor *out);
gp_status gp_cpu_concat(const gp_tensor *const *inputs, int32_t n,
                        int64_t axis, gp_tensor *out);
/* out[i] = x[starts + i * steps] per dimension (out's dims give the count). */
gp_status gp_cpu_slice(const gp_tensor *x, const int64_t *starts,
                       const int64_t *steps, gp_tensor *out);
/* Broadcasts x to out's shape. */
gp_status gp_cpu_expand(const gp_tensor *x, gp_tensor *out);
gp_status gp_cpu_gather(const gp_tensor *data, const gp_tensor *indices,
                        int64_t axis, gp_tensor *out);

/*--- Losses ----------------------------------------------------------------*/
typedef enum gp_loss_reduction { GP_LOSS_NONE = 0, GP_LOSS_SUM = 1, GP_LOSS_MEAN = 2 } gp_loss_reduction;
/* input: log-probabilities [N, C, D...]; labels [N, D...]; weights [C] or NULL. */
gp_status gp_cpu_nll_loss(const gp_tensor *input, const gp_tensor *labels,
                          const gp_tensor *weights,
                          gp_loss_reduction reduction, bool has_ignore_index,
                          int64_t ignore_index, gp_tensor *out);
/* scores: logits; the log-softmax over dimension 1, then nll_loss. */
gp_status gp_cpu_softmax_cross_entropy(const gp_tensor *scores,
                                       const gp_tensor *labels,
                                       const gp_tensor *weights,
                                       gp_loss_reduction reduction,
                                       bool has_ignore_index,
                                       int64_t ignore_index, gp_tensor *out);

/*--- Backward kernels ------------------------------------------------------*/
/* The gradients of the forward kernels above, for training. Each writes its
 * whole output (zeros where nothing flows). */
gp_status gp_cpu_conv2d_grad_input(const gp_tensor *dy, const gp_tensor *w,
                                   const int64_t *strides, const int64_t *pads,
                                   const int64_t *dilations, int64_t groups,
                                   gp_tensor *dx);
gp_status gp_cpu_conv2d_grad_weight(const gp_tensor *dy, const gp_tensor *x,
                                    const int64_t *strides, const int64_t *pads,
                                    const int64_t *dilations, int64_t groups,
                                    gp_tensor *dw);
gp_status gp_cpu_max_pool2d_grad(const gp_tensor *dy, const gp_tensor *x,
                                 const int64_t *kernel, const int64_t *strides,
                                 const int64_t *pads, const int64_t *dilations,
                                 gp_tensor *dx);
gp_status gp_cpu_avg_pool2d_grad(const gp_tensor *dy, const int64_t *kernel,
                                 const int64_t *strides, const int64_t *pads,
                                 bool count_include_pad, gp_tensor *dx);
gp_status gp_cpu_batch_norm_train_grad(const gp_tensor *dy, const gp_tensor *x,
                                       const gp_tensor *scale, float epsilon,
                                       gp_tensor *dx, gp_tensor *dscale,
                                       gp_tensor *dbias);
gp_status gp_cpu_layer_norm_grad(const gp_tensor *dy, const gp_tensor *x,
                                 const gp_tensor *scale, int64_t axis,
                                 float epsilon, gp_tensor *dx,
                                 gp_tensor *dscale, gp_tensor *dbias);
/* dloss: the loss gradient ([] or per element for GP_LOSS_NONE). */
gp_status gp_cpu_nll_loss_grad(const gp_tensor *dloss, const gp_tensor *labels,
                               const gp_tensor *weights,
                               gp_loss_reduction reduction,
                               bool has_ignore_index, int64_t ignore_index,
                               gp_tensor *dinput);
gp_status gp_cpu_gather_grad(const gp_tensor *dy, const gp_tensor *indices,
                             int64_t axis, gp_tensor *ddata);
gp_status gp_cpu_slice_grad(const gp_tensor *dy, const int64_t *starts,
                            const int64_t *steps, gp_tensor *dx);

/*--- .npy files ------------------------------------------------------------*/
/* Reads a little-endian C-order .npy (f32, f64, i64, i32, i16, i8, u8, bool).
 * On success *out describes the array and out->data is malloc'ed: release
 * it with gp_free. */
gp_status gp_npy_read(const char *path, gp_tensor *out);
/* An integer array read for an i64 input (class labels saved as uint8,
 * token ids as int32): with `want` GP_I64 and `t` of i32, i16, i8 or u8, `t`
 * becomes an i64 array with the same values (its data reallocated, still
 * released with gp_free). Anything else is left as it is, for the caller's
 * type check: floats are never converted. */
gp_status gp_npy_widen(gp_tensor *t, gp_dtype want);
gp_status gp_npy_write(const char *path, const gp_tensor *t);
void gp_free(void *data);

#ifdef __cplusplus
}
#endif

#endif /* GPIPE_RUNTIME_GP_RUNTIME_H */
