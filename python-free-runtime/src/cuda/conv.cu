//===- conv.cu - 2-D convolution (cuDNN) and pooling (direct kernels) -----===//
//
// Convolutions go to cuDNN's legacy API. Like the CPU kernels, the windows
// start at oy * sh - pt + i * dh and out's (or dy's) height and width say
// how many there are, so the bottom and right pads are implied. cuDNN pads
// symmetrically and derives the output size itself: along a dimension where
// that does not give the requested size (asymmetric pads, ceil-mode sizes)
// the input is copied into a zero-padded workspace buffer and cuDNN runs
// unpadded along it; the input gradient is then computed for the padded
// buffer and cropped.
//
// Precision: FP32 restricts cuDNN to FMA kernels (no TF32); TF32 lets it use
// TF32 tensor cores on the f32 tensors. The legacy API has no f32-storage,
// bf16-compute mode, so BF16 convolutions also run with TF32 tensor-op math.
//
// Pooling uses direct kernels that visit every window in the CPU kernels'
// order, so results (and the max-pool gradient's routing to the first
// maximum of a window) match them exactly; the gradients gather per input
// pixel instead of scattering, which keeps them deterministic.
//
//===----------------------------------------------------------------------===//

#include "cuda_internal.h"

#include <climits>
#include <cmath>
#include <initializer_list>
#include <vector>

using namespace gp;
using gp::cuda::check;
using gp::cuda::roundUp256;

namespace {

/// The most workspace a convolution algorithm may ask for.
constexpr size_t kMaxConvWorkspaceBytes = size_t(512) << 20;

/// The first index of a grid-stride loop, and its step.
__device__ inline int64_t threadIndex() {
  return blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
}
__device__ inline int64_t gridThreads() {
  return int64_t(gridDim.x) * blockDim.x;
}

/// Owns a cuDNN descriptor, so that every path destroys it.
template <typename T, cudnnStatus_t (*Destroy)(T)> struct Owned {
  T d = nullptr;
  Owned() = default;
  Owned(const Owned &) = delete;
  Owned &operator=(const Owned &) = delete;
  ~Owned() {
    if (d)
      Destroy(d);
  }
};
using TensorDesc = Owned<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor>;
using FilterDesc = Owned<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor>;
using ConvDesc =
    Owned<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor>;

bool fitInt(std::initializer_list<int64_t> values) {
  for (int64_t v : values)
    if (v < INT_MIN || v > INT_MAX)
      return false;
  return true;
}

/// A convolution as the CPU kernels see it.
struct Conv {
  int64_t n, c, h, w;    // input
  int64_t f, cg, kh, kw; // filter
  int64_t oh, ow;        // output
  int64_t sh, sw, pt, pl, dh, dw, groups;
};

Conv convOf(const gp_tensor *in, const gp_tensor *filter, const gp_tensor *out,
            const int64_t *strides, const int64_t *pads,
            const int64_t *dilations, int64_t groups) {
  int64_t dh = dilations ? dilations[0] : 1, dw = dilations ? dilations[1] : 1;
  const int64_t *d = in->dims, *k = filter->dims;
  return {d[0],    d[1],    d[2],         d[3],         k[0],       k[1],
          k[2],    k[3],    out->dims[2], out->dims[3], strides[0], strides[1],
          pads[0], pads[1], dh,           dw,           groups};
}

/// Where the zero-padded copy of an input sits: hp x wp planes holding the
/// h x w input at (offH, offW).
struct Padding {
  int64_t planes, h, w, hp, wp, offH, offW;
};

/// dst[y][x] = src[y - offH][x - offW] (zero outside src) for every plane:
/// pads an input (dst is the padded buffer) or, with negated offsets, crops
/// the padded buffer's gradient, which leaves pixels outside it at zero.
__global__ void shiftKernel(const float *src, int64_t srcH, int64_t srcW,
                            float *dst, int64_t dstH, int64_t dstW,
                            int64_t offH, int64_t offW, int64_t n) {
  for (int64_t i = threadIndex(); i < n; i += gridThreads()) {
    int64_t x = i % dstW, t = i / dstW, y = t % dstH, plane = t / dstH;
    int64_t sy = y - offH, sx = x - offW;
    dst[i] = sy >= 0 && sy < srcH && sx >= 0 && sx < srcW
                 ? src[(plane * srcH + sy) * srcW + sx]
                 : 0.0f;
  }
}

/// out = (add ? out : 0) + (bias ? bias[channel] : 0) over NCHW planes of
/// `planeSize` elements and `f` channels.
__global__ void biasKernel(float *out, const float *bias, int64_t f,
                           int64_t planeSize, bool add, int64_t n) {
  for (int64_t i = threadIndex(); i < n; i += gridThreads()) {
    float b = bias ? bias[(i / planeSize) % f] : 0.0f;
    out[i] = add ? out[i] + b : b;
  }
}

/// cuDNN's view of a convolution: descriptors for the input (or its padded
/// copy), the filter, the output and the convolution itself.
struct ConvPlan {
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  Padding padding{};
  bool padded = false;

  size_t paddedBytes() const {
    return padded
               ? roundUp256(size_t(padding.planes * padding.hp * padding.wp) *
                            sizeof(float))
               : 0;
  }
};

/// An f32 NCHW tensor descriptor (dims already checked to fit int).
gp_status tensorDesc(TensorDesc &t, int64_t n, int64_t c, int64_t h,
                     int64_t w) {
  if (check(cudnnCreateTensorDescriptor(&t.d), "cudnnCreateTensorDescriptor"))
    return GP_ERROR;
  return check(cudnnSetTensor4dDescriptor(t.d, CUDNN_TENSOR_NCHW,
                                          CUDNN_DATA_FLOAT, int(n), int(c),
                                          int(h), int(w)),
               "cudnnSetTensor4dDescriptor");
}

/// Whether cuDNN's output size along one dimension, padded by `pad` on both
/// sides, is the requested `out`.
bool cudnnFits(int64_t in, int64_t pad, int64_t extent, int64_t stride,
               int64_t out) {
  int64_t span = in + 2 * pad - extent;
  return pad >= 0 && span >= 0 && span / stride + 1 == out;
}

gp_status makePlan(gp_cuda_ctx *ctx, const Conv &g, const char *what,
                   ConvPlan &p) {
  if (g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1)
    return fail(std::string(what) + ": strides and dilations must be positive");
  int64_t extentH = (g.kh - 1) * g.dh + 1, extentW = (g.kw - 1) * g.dw + 1;
  bool fitsH = cudnnFits(g.h, g.pt, extentH, g.sh, g.oh);
  bool fitsW = cudnnFits(g.w, g.pl, extentW, g.sw, g.ow);
  p.padded = !fitsH || !fitsW;
  // Exactly the rows and columns the windows cover, along a dimension cuDNN
  // cannot pad by itself.
  int64_t hp = fitsH ? g.h : (g.oh - 1) * g.sh + extentH;
  int64_t wp = fitsW ? g.w : (g.ow - 1) * g.sw + extentW;
  p.padding = {g.n * g.c, g.h, g.w, hp, wp, fitsH ? 0 : g.pt, fitsW ? 0 : g.pl};
  int64_t padH = fitsH ? g.pt : 0, padW = fitsW ? g.pl : 0;
  // cuDNN's 4-d descriptors hold int strides too: each tensor's element
  // count must fit.
  if (!fitInt({g.n, g.c, hp, wp, g.f, g.cg, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw,
               padH, padW, g.dh, g.dw, g.groups, g.n * g.c * hp * wp,
               g.n * g.f * g.oh * g.ow, g.f * g.cg * g.kh * g.kw}))
    return fail(std::string(what) + ": dimensions exceed cuDNN's int range (a tensor of " +
                "2^31 elements or more; split the batch)");
  if (tensorDesc(p.x, g.n, g.c, hp, wp) ||
      tensorDesc(p.y, g.n, g.f, g.oh, g.ow) ||
      check(cudnnCreateFilterDescriptor(&p.w.d),
            "cudnnCreateFilterDescriptor") ||
      check(cudnnSetFilter4dDescriptor(p.w.d, CUDNN_DATA_FLOAT,
                                       CUDNN_TENSOR_NCHW, int(g.f), int(g.cg),
                                       int(g.kh), int(g.kw)),
            "cudnnSetFilter4dDescriptor") ||
      check(cudnnCreateConvolutionDescriptor(&p.conv.d),
            "cudnnCreateConvolutionDescriptor") ||
      check(cudnnSetConvolution2dDescriptor(
                p.conv.d, int(padH), int(padW), int(g.sh), int(g.sw), int(g.dh),
                int(g.dw), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
            "cudnnSetConvolution2dDescriptor") ||
      check(cudnnSetConvolutionGroupCount(p.conv.d, int(g.groups)),
            "cudnnSetConvolutionGroupCount"))
    return GP_ERROR;
  cudnnMathType_t math = ctx->precision == GP_PRECISION_FP32
                             ? CUDNN_FMA_MATH
                             : CUDNN_TENSOR_OP_MATH;
  return check(cudnnSetConvolutionMathType(p.conv.d, math),
               "cudnnSetConvolutionMathType");
}

/// Picks the first of cuDNN's heuristic choices (best first) that works
/// within kMaxConvWorkspaceBytes, preferring deterministic ones when asked
/// and, in FP32 mode, FMA-only ones. `query(count, &returned, perf)` runs
/// cudnnGetConvolution*Algorithm_v7 and `workspaceSize(algo, &bytes)` the
/// matching workspace query; the convolution descriptor is left with the
/// chosen algorithm's math type.
template <typename Perf, int kCount, typename Algo, typename Query,
          typename WorkspaceSize>
gp_status chooseAlgo(gp_cuda_ctx *ctx, ConvPlan &p, const Conv &g,
                     bool deterministic, Query query,
                     WorkspaceSize workspaceSize, const char *what, Algo &algo,
                     size_t &bytes) {
  // The choice for this problem, once per context: the heuristic is asked
  // for the same shapes every micro-batch.
  std::string key = what;
  for (int64_t v : {g.n, g.c, g.h, g.w, g.f, g.cg, g.kh, g.kw, g.oh, g.ow, g.sh,
                    g.sw, g.pt, g.pl, g.dh, g.dw, g.groups})
    key += "," + std::to_string(v);
  auto cached = ctx->convAlgos.find(key);
  if (cached != ctx->convAlgos.end()) {
    algo = static_cast<Algo>(cached->second.algo);
    bytes = cached->second.bytes;
    return check(cudnnSetConvolutionMathType(p.conv.d, cached->second.math),
                 "cudnnSetConvolutionMathType");
  }
  Perf perf[kCount];
  int returned = 0;
  if (query(kCount, &returned, perf))
    return GP_ERROR;
  bool fp32 = ctx->precision == GP_PRECISION_FP32;
  // Preferences are dropped one at a time: the math type, then determinism.
  for (int pass = 0; pass < 3; ++pass)
    for (int i = 0; i < returned; ++i) {
      const Perf &r = perf[i];
      if (r.status != CUDNN_STATUS_SUCCESS ||
          (pass == 0 && fp32 && r.mathType != CUDNN_FMA_MATH) ||
          (pass < 2 && deterministic && r.determinism != CUDNN_DETERMINISTIC))
        continue;
      // FP32 keeps FMA math even for an algorithm reported with another
      // math type: cuDNN then rejects it below if it cannot honour that.
      cudnnMathType_t math = fp32 ? CUDNN_FMA_MATH : r.mathType;
      if (cudnnSetConvolutionMathType(p.conv.d, math) != CUDNN_STATUS_SUCCESS)
        continue;
      size_t need = 0;
      if (workspaceSize(r.algo, &need) != CUDNN_STATUS_SUCCESS ||
          need > kMaxConvWorkspaceBytes)
        continue;
      algo = r.algo;
      bytes = need;
      ctx->convAlgos[key] = {static_cast<int>(algo), need, math};
      return GP_OK;
    }
  return fail(std::string(what) + ": cuDNN offers no usable algorithm");
}

/// The workspace as a zero-padded buffer of `p.paddedBytes()` followed by
/// cuDNN's `algoBytes`.
gp_status carveWorkspace(gp_cuda_ctx *ctx, const ConvPlan &p, size_t algoBytes,
                         float *&padded, void *&algoWorkspace) {
  padded = nullptr;
  algoWorkspace = nullptr;
  size_t padBytes = p.paddedBytes();
  if (padBytes + algoBytes == 0)
    return GP_OK;
  auto *ws =
      static_cast<unsigned char *>(cuda::workspace(ctx, padBytes + algoBytes));
  if (!ws)
    return GP_ERROR;
  if (p.padded)
    padded = reinterpret_cast<float *>(ws);
  if (algoBytes)
    algoWorkspace = ws + padBytes;
  return GP_OK;
}

/// xp = x copied into the plan's zero-padded buffer.
gp_status padInput(gp_cuda_ctx *ctx, const ConvPlan &p, const float *x,
                   float *xp, const char *what) {
  const Padding &q = p.padding;
  int64_t n = q.planes * q.hp * q.wp;
  shiftKernel<<<cuda::blocksFor(n), cuda::kThreads, 0, ctx->stream>>>(
      x, q.h, q.w, xp, q.hp, q.wp, q.offH, q.offW, n);
  return gp_cuda_check_launch(what);
}

gp_status checkNCHW(gp_cuda_ctx *ctx, const gp_tensor *x, const gp_tensor *out,
                    const char *what) {
  if (!ctx || !x || !out)
    return fail(std::string(what) + ": missing operand");
  if (x->rank != 4 || out->rank != 4)
    return fail(std::string(what) + ": expects NCHW tensors, got " +
                describe(x) + " -> " + describe(out));
  if (x->dtype != out->dtype)
    return fail(std::string(what) + ": element types differ");
  std::string w(what);
  if (expect(x, (w + ": input").c_str(), GP_F32) ||
      expect(out, (w + ": result").c_str(), GP_F32))
    return GP_ERROR;
  return GP_OK;
}

/// The checks of the CPU kernels' backward window: NCHW tensors of one
/// element type (f32 here) and batch.
gp_status checkWindow(gp_cuda_ctx *ctx, const gp_tensor *in,
                      const gp_tensor *out, const char *what) {
  if (!ctx)
    return fail(std::string(what) + ": missing context");
  if (!in || !out || in->rank != 4 || out->rank != 4 ||
      in->dtype != out->dtype || in->dims[0] != out->dims[0])
    return fail(std::string(what) +
                ": expects NCHW tensors of one element type and batch");
  std::string w(what);
  if (expect(in, (w + ": input").c_str(), GP_F32) ||
      expect(out, (w + ": output").c_str(), GP_F32))
    return GP_ERROR;
  return GP_OK;
}

gp_status zero(gp_cuda_ctx *ctx, gp_tensor *t) {
  return check(
      cudaMemsetAsync(t->data, 0, gp_numel(t) * sizeof(float), ctx->stream),
      "cudaMemsetAsync");
}

//===--- Pooling ----------------------------------------------------------===//

/// A window sliding over NCHW planes, as the CPU kernels' Window (plus the
/// bottom and right pads the average's divisor needs).
struct Pool {
  int64_t planes, h, w, oh, ow, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
};

__device__ inline int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return q * b > a ? q - 1 : q;
}

__global__ void maxPoolKernel(const float *x, Pool g, float *y) {
  for (int64_t o = threadIndex(); o < g.planes * g.oh * g.ow;
       o += gridThreads()) {
    int64_t ox = o % g.ow, t = o / g.ow, oy = t % g.oh, p = t / g.oh;
    const float *plane = x + p * g.h * g.w;
    float best = -INFINITY;
    for (int64_t i = 0; i < g.kh; ++i) {
      int64_t iy = oy * g.sh - g.pt + i * g.dh;
      if (iy < 0 || iy >= g.h)
        continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        int64_t ix = ox * g.sw - g.pl + j * g.dw;
        // std::max(best, v) of the CPU kernel: NaNs do not replace best.
        if (ix >= 0 && ix < g.w && best < plane[iy * g.w + ix])
          best = plane[iy * g.w + ix];
      }
    }
    y[o] = best;
  }
}

/// The in-plane index of each window's first maximum, -1 for a window
/// entirely in the padding.
__global__ void argMaxKernel(const float *x, Pool g, int64_t *arg) {
  for (int64_t o = threadIndex(); o < g.planes * g.oh * g.ow;
       o += gridThreads()) {
    int64_t ox = o % g.ow, t = o / g.ow, oy = t % g.oh, p = t / g.oh;
    const float *plane = x + p * g.h * g.w;
    int64_t best = -1;
    for (int64_t i = 0; i < g.kh; ++i) {
      int64_t iy = oy * g.sh - g.pt + i * g.dh;
      if (iy < 0 || iy >= g.h)
        continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        int64_t ix = ox * g.sw - g.pl + j * g.dw;
        if (ix >= 0 && ix < g.w &&
            (best < 0 || plane[iy * g.w + ix] > plane[best]))
          best = iy * g.w + ix;
      }
    }
    arg[o] = best;
  }
}

/// dx of every input pixel: the sum of dy over the windows whose first
/// maximum it is, in increasing output order as the CPU kernel adds them.
__global__ void maxPoolGradKernel(const float *dy, const int64_t *arg, Pool g,
                                  float *dx) {
  for (int64_t idx = threadIndex(); idx < g.planes * g.h * g.w;
       idx += gridThreads()) {
    int64_t ix = idx % g.w, t = idx / g.w, iy = t % g.h, p = t / g.h;
    int64_t self = iy * g.w + ix;
    float acc = 0.0f;
    // Decreasing kernel offsets visit increasing output positions.
    for (int64_t i = g.kh - 1; i >= 0; --i) {
      int64_t ty = iy + g.pt - i * g.dh;
      if (ty < 0 || ty % g.sh || ty / g.sh >= g.oh)
        continue;
      int64_t oy = ty / g.sh;
      for (int64_t j = g.kw - 1; j >= 0; --j) {
        int64_t tx = ix + g.pl - j * g.dw;
        if (tx < 0 || tx % g.sw || tx / g.sw >= g.ow)
          continue;
        int64_t o = (p * g.oh + oy) * g.ow + tx / g.sw;
        if (arg[o] == self)
          acc += dy[o];
      }
    }
    dx[idx] = acc;
  }
}

/// The window of output (oy, ox) clipped to the input, and its divisor, as
/// gp_cpu_avg_pool2d computes them.
struct AvgWindow {
  int64_t ya, yb, xa, xb, count;
};

__device__ inline AvgWindow avgWindow(const Pool &g, int64_t oy, int64_t ox,
                                      bool countIncludePad) {
  int64_t y0 = oy * g.sh - g.pt, x0 = ox * g.sw - g.pl;
  // With count_include_pad the divisor counts padding, but not the part of
  // a ceil-mode window beyond the padded input.
  int64_t y1 = min(y0 + g.kh, g.h + g.pb), x1 = min(x0 + g.kw, g.w + g.pr);
  AvgWindow a;
  a.ya = max(y0, int64_t(0));
  a.yb = min(y0 + g.kh, g.h);
  a.xa = max(x0, int64_t(0));
  a.xb = min(x0 + g.kw, g.w);
  a.count =
      countIncludePad ? (y1 - y0) * (x1 - x0) : (a.yb - a.ya) * (a.xb - a.xa);
  return a;
}

__global__ void avgPoolKernel(const float *x, Pool g, bool countIncludePad,
                              float *y) {
  for (int64_t o = threadIndex(); o < g.planes * g.oh * g.ow;
       o += gridThreads()) {
    int64_t ox = o % g.ow, t = o / g.ow, oy = t % g.oh, p = t / g.oh;
    const float *plane = x + p * g.h * g.w;
    AvgWindow a = avgWindow(g, oy, ox, countIncludePad);
    float sum = 0.0f;
    for (int64_t iy = a.ya; iy < a.yb; ++iy)
      for (int64_t ix = a.xa; ix < a.xb; ++ix)
        sum += plane[iy * g.w + ix];
    y[o] = a.count > 0 ? sum / float(a.count) : 0.0f;
  }
}

/// dx of every input pixel: the shares of the windows that cover it, in
/// increasing output order as the CPU kernel adds them.
__global__ void avgPoolGradKernel(const float *dy, Pool g, bool countIncludePad,
                                  float *dx) {
  for (int64_t idx = threadIndex(); idx < g.planes * g.h * g.w;
       idx += gridThreads()) {
    int64_t ix = idx % g.w, t = idx / g.w, iy = t % g.h, p = t / g.h;
    // Windows with y0 <= iy < y0 + kh, y0 = oy * sh - pt (likewise for x).
    int64_t oy0 = max(floorDiv(iy + g.pt - g.kh, g.sh) + 1, int64_t(0));
    int64_t oy1 = min(floorDiv(iy + g.pt, g.sh), g.oh - 1);
    int64_t ox0 = max(floorDiv(ix + g.pl - g.kw, g.sw) + 1, int64_t(0));
    int64_t ox1 = min(floorDiv(ix + g.pl, g.sw), g.ow - 1);
    float acc = 0.0f;
    for (int64_t oy = oy0; oy <= oy1; ++oy)
      for (int64_t ox = ox0; ox <= ox1; ++ox) {
        AvgWindow a = avgWindow(g, oy, ox, countIncludePad);
        if (a.count > 0)
          acc += dy[(p * g.oh + oy) * g.ow + ox] / float(a.count);
      }
    dx[idx] = acc;
  }
}

/// The window of pooling `in` (N, C, H, W) into `out`'s (OH, OW).
gp_status poolOf(const gp_tensor *in, const gp_tensor *out,
                 const int64_t *kernel, const int64_t *strides,
                 const int64_t *pads, const int64_t *dilations,
                 const char *what, Pool &g) {
  int64_t dh = dilations ? dilations[0] : 1, dw = dilations ? dilations[1] : 1;
  g = {in->dims[0] * in->dims[1],
       in->dims[2],
       in->dims[3],
       out->dims[2],
       out->dims[3],
       kernel[0],
       kernel[1],
       strides[0],
       strides[1],
       pads[0],
       pads[1],
       pads[2],
       pads[3],
       dh,
       dw};
  if (g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1)
    return fail(std::string(what) + ": strides and dilations must be positive");
  if (in->dims[0] != out->dims[0] || in->dims[1] != out->dims[1])
    return fail(std::string(what) + ": batch and channels of " + describe(in) +
                " and " + describe(out) + " differ");
  return GP_OK;
}

} // namespace

//===--- Convolution ------------------------------------------------------===//

extern "C" gp_status gp_cuda_conv2d(gp_cuda_ctx *ctx, const gp_tensor *x,
                                    const gp_tensor *w, const gp_tensor *bias,
                                    const int64_t *strides, const int64_t *pads,
                                    const int64_t *dilations, int64_t groups,
                                    gp_tensor *out) {
  if (gp_status s = checkNCHW(ctx, x, out, "conv2d"))
    return s;
  if (!w || w->rank != 4 || w->dtype != x->dtype)
    return fail("conv2d: weight must be a rank-4 tensor of the input's type");
  int64_t f = w->dims[0], cg = w->dims[1];
  if (groups < 1 || x->dims[1] != cg * groups || f % groups ||
      out->dims[1] != f || out->dims[0] != x->dims[0])
    return fail("conv2d: channels of " + describe(x) + ", " + describe(w) +
                " and " + describe(out) + " do not agree for " +
                std::to_string(groups) + " groups");
  if (bias &&
      (bias->rank != 1 || bias->dims[0] != f || bias->dtype != x->dtype))
    return fail("conv2d: bias " + describe(bias) + " must have shape [" +
                std::to_string(f) + "]");
  if (expect(w, "conv2d: weight", GP_F32) ||
      (bias && expect(bias, "conv2d: bias", GP_F32)))
    return GP_ERROR;
  int64_t total = gp_numel(out);
  if (total == 0)
    return GP_OK;
  auto *o = static_cast<float *>(out->data);
  const float *bi = bias ? static_cast<const float *>(bias->data) : nullptr;
  int64_t planeSize = out->dims[2] * out->dims[3];
  // No input or no taps: every output is the bias (or zero).
  if (gp_numel(x) == 0 || gp_numel(w) == 0) {
    biasKernel<<<cuda::blocksFor(total), cuda::kThreads, 0, ctx->stream>>>(
        o, bi, f, planeSize, false, total);
    return gp_cuda_check_launch("gp_cuda_conv2d");
  }
  Conv g = convOf(x, w, out, strides, pads, dilations, groups);
  ConvPlan p;
  if (makePlan(ctx, g, "conv2d", p))
    return GP_ERROR;
  auto query = [&](int count, int *returned,
                   cudnnConvolutionFwdAlgoPerf_t *perf) {
    return check(cudnnGetConvolutionForwardAlgorithm_v7(ctx->cudnn, p.x.d,
                                                        p.w.d, p.conv.d, p.y.d,
                                                        count, returned, perf),
                 "cudnnGetConvolutionForwardAlgorithm_v7");
  };
  auto size = [&](cudnnConvolutionFwdAlgo_t algo, size_t *bytes) {
    return cudnnGetConvolutionForwardWorkspaceSize(
        ctx->cudnn, p.x.d, p.w.d, p.conv.d, p.y.d, algo, bytes);
  };
  cudnnConvolutionFwdAlgo_t algo{};
  size_t algoBytes = 0;
  if (chooseAlgo<cudnnConvolutionFwdAlgoPerf_t,
                 CUDNN_CONVOLUTION_FWD_ALGO_COUNT>(ctx, p, g, false, query, size,
                                                   "conv2d", algo, algoBytes))
    return GP_ERROR;
  float *padded = nullptr;
  void *algoWorkspace = nullptr;
  if (carveWorkspace(ctx, p, algoBytes, padded, algoWorkspace))
    return GP_ERROR;
  const float *in = static_cast<const float *>(x->data);
  if (p.padded) {
    if (padInput(ctx, p, in, padded, "gp_cuda_conv2d"))
      return GP_ERROR;
    in = padded;
  }
  const float one = 1.0f, zeroValue = 0.0f;
  if (check(cudnnConvolutionForward(ctx->cudnn, &one, p.x.d, in, p.w.d, w->data,
                                    p.conv.d, algo, algoWorkspace, algoBytes,
                                    &zeroValue, p.y.d, o),
            "cudnnConvolutionForward"))
    return GP_ERROR;
  if (!bi)
    return GP_OK;
  biasKernel<<<cuda::blocksFor(total), cuda::kThreads, 0, ctx->stream>>>(
      o, bi, f, planeSize, true, total);
  return gp_cuda_check_launch("gp_cuda_conv2d");
}

extern "C" gp_status
gp_cuda_conv2d_grad_input(gp_cuda_ctx *ctx, const gp_tensor *dy,
                          const gp_tensor *w, const int64_t *strides,
                          const int64_t *pads, const int64_t *dilations,
                          int64_t groups, gp_tensor *dx) {
  if (!w || w->rank != 4)
    return fail("conv2d_grad_input: weight must have rank 4");
  if (gp_status s = checkWindow(ctx, dx, dy, "conv2d_grad_input"))
    return s;
  if (expect(w, "conv2d_grad_input: weight", GP_F32))
    return GP_ERROR;
  int64_t f = w->dims[0], cg = w->dims[1];
  if (groups < 1 || cg * groups != dx->dims[1] || dy->dims[1] != f ||
      f % groups)
    return fail("conv2d_grad_input: channels do not agree");
  if (gp_numel(dx) == 0)
    return GP_OK;
  if (gp_numel(dy) == 0 || gp_numel(w) == 0)
    return zero(ctx, dx);
  Conv g = convOf(dx, w, dy, strides, pads, dilations, groups);
  ConvPlan p;
  if (makePlan(ctx, g, "conv2d_grad_input", p))
    return GP_ERROR;
  auto query = [&](int count, int *returned,
                   cudnnConvolutionBwdDataAlgoPerf_t *perf) {
    return check(
        cudnnGetConvolutionBackwardDataAlgorithm_v7(
            ctx->cudnn, p.w.d, p.y.d, p.conv.d, p.x.d, count, returned, perf),
        "cudnnGetConvolutionBackwardDataAlgorithm_v7");
  };
  auto size = [&](cudnnConvolutionBwdDataAlgo_t algo, size_t *bytes) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(
        ctx->cudnn, p.w.d, p.y.d, p.conv.d, p.x.d, algo, bytes);
  };
  cudnnConvolutionBwdDataAlgo_t algo{};
  size_t algoBytes = 0;
  if (chooseAlgo<cudnnConvolutionBwdDataAlgoPerf_t,
                 CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT>(
          ctx, p, g, true, query, size, "conv2d_grad_input", algo, algoBytes))
    return GP_ERROR;
  float *padded = nullptr;
  void *algoWorkspace = nullptr;
  if (carveWorkspace(ctx, p, algoBytes, padded, algoWorkspace))
    return GP_ERROR;
  auto *out = static_cast<float *>(dx->data);
  const float one = 1.0f, zeroValue = 0.0f;
  if (check(cudnnConvolutionBackwardData(ctx->cudnn, &one, p.w.d, w->data,
                                         p.y.d, dy->data, p.conv.d, algo,
                                         algoWorkspace, algoBytes, &zeroValue,
                                         p.x.d, p.padded ? padded : out),
            "cudnnConvolutionBackwardData"))
    return GP_ERROR;
  if (!p.padded)
    return GP_OK;
  const Padding &q = p.padding;
  int64_t n = gp_numel(dx);
  shiftKernel<<<cuda::blocksFor(n), cuda::kThreads, 0, ctx->stream>>>(
      padded, q.hp, q.wp, out, q.h, q.w, -q.offH, -q.offW, n);
  return gp_cuda_check_launch("gp_cuda_conv2d_grad_input");
}

extern "C" gp_status
gp_cuda_conv2d_grad_weight(gp_cuda_ctx *ctx, const gp_tensor *dy,
                           const gp_tensor *x, const int64_t *strides,
                           const int64_t *pads, const int64_t *dilations,
                           int64_t groups, gp_tensor *dw) {
  if (!dw || dw->rank != 4)
    return fail("conv2d_grad_weight: weight gradient must have rank 4");
  if (gp_status s = checkWindow(ctx, x, dy, "conv2d_grad_weight"))
    return s;
  if (expect(dw, "conv2d_grad_weight: weight gradient", GP_F32))
    return GP_ERROR;
  int64_t f = dw->dims[0], cg = dw->dims[1];
  if (groups < 1 || cg * groups != x->dims[1] || dy->dims[1] != f || f % groups)
    return fail("conv2d_grad_weight: channels do not agree");
  if (gp_numel(dw) == 0)
    return GP_OK;
  if (gp_numel(dy) == 0 || gp_numel(x) == 0)
    return zero(ctx, dw);
  Conv g = convOf(x, dw, dy, strides, pads, dilations, groups);
  ConvPlan p;
  if (makePlan(ctx, g, "conv2d_grad_weight", p))
    return GP_ERROR;
  auto query = [&](int count, int *returned,
                   cudnnConvolutionBwdFilterAlgoPerf_t *perf) {
    return check(
        cudnnGetConvolutionBackwardFilterAlgorithm_v7(
            ctx->cudnn, p.x.d, p.y.d, p.conv.d, p.w.d, count, returned, perf),
        "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
  };
  auto size = [&](cudnnConvolutionBwdFilterAlgo_t algo, size_t *bytes) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(
        ctx->cudnn, p.x.d, p.y.d, p.conv.d, p.w.d, algo, bytes);
  };
  cudnnConvolutionBwdFilterAlgo_t algo{};
  size_t algoBytes = 0;
  if (chooseAlgo<cudnnConvolutionBwdFilterAlgoPerf_t,
                 CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT>(
          ctx, p, g, true, query, size, "conv2d_grad_weight", algo, algoBytes))
    return GP_ERROR;
  float *padded = nullptr;
  void *algoWorkspace = nullptr;
  if (carveWorkspace(ctx, p, algoBytes, padded, algoWorkspace))
    return GP_ERROR;
  const float *in = static_cast<const float *>(x->data);
  if (p.padded) {
    if (padInput(ctx, p, in, padded, "gp_cuda_conv2d_grad_weight"))
      return GP_ERROR;
    in = padded;
  }
  const float one = 1.0f, zeroValue = 0.0f;
  return check(cudnnConvolutionBackwardFilter(
                   ctx->cudnn, &one, p.x.d, in, p.y.d, dy->data, p.conv.d, algo,
                   algoWorkspace, algoBytes, &zeroValue, p.w.d, dw->data),
               "cudnnConvolutionBackwardFilter");
}

//===--- Pooling ----------------------------------------------------------===//

extern "C" gp_status
gp_cuda_max_pool2d(gp_cuda_ctx *ctx, const gp_tensor *x, const int64_t *kernel,
                   const int64_t *strides, const int64_t *pads,
                   const int64_t *dilations, gp_tensor *out) {
  if (gp_status s = checkNCHW(ctx, x, out, "max_pool2d"))
    return s;
  Pool g{};
  if (poolOf(x, out, kernel, strides, pads, dilations, "max_pool2d", g))
    return GP_ERROR;
  int64_t n = gp_numel(out);
  if (n == 0)
    return GP_OK;
  maxPoolKernel<<<cuda::blocksFor(n), cuda::kThreads, 0, ctx->stream>>>(
      static_cast<const float *>(x->data), g, static_cast<float *>(out->data));
  return gp_cuda_check_launch("gp_cuda_max_pool2d");
}

extern "C" gp_status
gp_cuda_avg_pool2d(gp_cuda_ctx *ctx, const gp_tensor *x, const int64_t *kernel,
                   const int64_t *strides, const int64_t *pads,
                   bool count_include_pad, gp_tensor *out) {
  if (gp_status s = checkNCHW(ctx, x, out, "avg_pool2d"))
    return s;
  Pool g{};
  if (poolOf(x, out, kernel, strides, pads, nullptr, "avg_pool2d", g))
    return GP_ERROR;
  int64_t n = gp_numel(out);
  if (n == 0)
    return GP_OK;
  avgPoolKernel<<<cuda::blocksFor(n), cuda::kThreads, 0, ctx->stream>>>(
      static_cast<const float *>(x->data), g, count_include_pad,
      static_cast<float *>(out->data));
  return gp_cuda_check_launch("gp_cuda_avg_pool2d");
}

extern "C" gp_status
gp_cuda_max_pool2d_grad(gp_cuda_ctx *ctx, const gp_tensor *dy,
                        const gp_tensor *x, const int64_t *kernel,
                        const int64_t *strides, const int64_t *pads,
                        const int64_t *dilations, gp_tensor *dx) {
  if (gp_status s = checkWindow(ctx, x, dy, "max_pool2d_grad"))
    return s;
  if (expect(dx, "max_pool2d_grad: input gradient", GP_F32) ||
      expectDims(dx, "max_pool2d_grad: input gradient", dimsOf(x)))
    return GP_ERROR;
  Pool g{};
  if (poolOf(x, dy, kernel, strides, pads, dilations, "max_pool2d_grad", g))
    return GP_ERROR;
  int64_t nx = gp_numel(dx), ny = gp_numel(dy);
  if (nx == 0)
    return GP_OK;
  if (ny == 0)
    return zero(ctx, dx);
  auto *arg =
      static_cast<int64_t *>(cuda::workspace(ctx, ny * sizeof(int64_t)));
  if (!arg)
    return GP_ERROR;
  argMaxKernel<<<cuda::blocksFor(ny), cuda::kThreads, 0, ctx->stream>>>(
      static_cast<const float *>(x->data), g, arg);
  if (gp_cuda_check_launch("gp_cuda_max_pool2d_grad") != GP_OK)
    return GP_ERROR;
  maxPoolGradKernel<<<cuda::blocksFor(nx), cuda::kThreads, 0, ctx->stream>>>(
      static_cast<const float *>(dy->data), arg, g,
      static_cast<float *>(dx->data));
  return gp_cuda_check_launch("gp_cuda_max_pool2d_grad");
}

extern "C" gp_status
gp_cuda_avg_pool2d_grad(gp_cuda_ctx *ctx, const gp_tensor *dy,
                        const int64_t *kernel, const int64_t *strides,
                        const int64_t *pads, bool count_include_pad,
                        gp_tensor *dx) {
  if (gp_status s = checkWindow(ctx, dx, dy, "avg_pool2d_grad"))
    return s;
  Pool g{};
  if (poolOf(dx, dy, kernel, strides, pads, nullptr, "avg_pool2d_grad", g))
    return GP_ERROR;
  int64_t nx = gp_numel(dx);
  if (nx == 0)
    return GP_OK;
  if (gp_numel(dy) == 0)
    return zero(ctx, dx);
  avgPoolGradKernel<<<cuda::blocksFor(nx), cuda::kThreads, 0, ctx->stream>>>(
      static_cast<const float *>(dy->data), g, count_include_pad,
      static_cast<float *>(dx->data));
  return gp_cuda_check_launch("gp_cuda_avg_pool2d_grad");
}
