//===- matmul.cu - matmul and gemm through cuBLASLt -----------------------===//
//
// cuBLASLt is column-major and the runtime's tensors are row-major. A
// row-major [r, c] matrix is the column-major [c, r] matrix of its transpose,
// so out = op(a) op(b) is computed as out^T = op(b)^T op(a)^T: b's memory is
// cuBLASLt's A operand, a's memory its B operand and the result is the
// column-major [n, m] matrix that is out's memory. A bias row of out (one
// value per column of the row-major result) is then one value per row of the
// column-major result, which is what CUBLASLT_EPILOGUE_BIAS adds.
//
//===----------------------------------------------------------------------===//

#include "cuda_internal.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <climits>

using namespace gp;
using gp::cuda::check;
using gp::cuda::roundUp256;

namespace {

/// cuBLASLt's workspace; the size NVIDIA recommends for Hopper.
constexpr size_t kLtWorkspaceBytes = size_t(32) << 20;

/// The largest power of two, up to 256, that divides `bits`: the alignment
/// of an address, or of every address built from the OR-ed offsets.
uint32_t alignmentOf(uint64_t bits) {
  uint32_t align = 256;
  while (align > 1 && bits % align)
    align /= 2;
  return align;
}

__global__ void toBf16Kernel(const float *in, __nv_bfloat16 *out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = __float2bfloat16_rn(in[i]);
}

/// out = scale * c broadcast to out's shape (`s` holds out's dims and c's
/// strides).
__global__ void broadcastKernel(const float *c, cuda::Shape s, float scale,
                                float *out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = scale * c[cuda::offsetOf(s, i)];
}

/// An owner of a cuBLASLt descriptor, so that every path destroys it.
template <typename Handle, cublasStatus_t (*destroy)(Handle)> struct Owned {
  Handle d = nullptr;
  Owned() = default;
  Owned(const Owned &) = delete;
  Owned &operator=(const Owned &) = delete;
  ~Owned() {
    if (d)
      destroy(d);
  }
};
using OpDesc = Owned<cublasLtMatmulDesc_t, cublasLtMatmulDescDestroy>;
using Layout = Owned<cublasLtMatrixLayout_t, cublasLtMatrixLayoutDestroy>;
using Preference = Owned<cublasLtMatmulPreference_t, cublasLtMatmulPreferenceDestroy>;

template <typename T>
gp_status setAttr(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr,
                  const T &value) {
  return check(cublasLtMatmulDescSetAttribute(d, attr, &value, sizeof value),
               "cublasLtMatmulDescSetAttribute");
}
template <typename T>
gp_status setAttr(cublasLtMatrixLayout_t d,
                  cublasLtMatrixLayoutAttribute_t attr, const T &value) {
  return check(cublasLtMatrixLayoutSetAttribute(d, attr, &value, sizeof value),
               "cublasLtMatrixLayoutSetAttribute");
}
template <typename T>
gp_status setAttr(cublasLtMatmulPreference_t d,
                  cublasLtMatmulPreferenceAttributes_t attr, const T &value) {
  return check(
      cublasLtMatmulPreferenceSetAttribute(d, attr, &value, sizeof value),
      "cublasLtMatmulPreferenceSetAttribute");
}

/// One row-major product, or a strided batch of them:
/// out[m, n] = alpha * op(a) op(b) + beta * out (+ bias[n] on every row).
struct Spec {
  int64_t m = 0, n = 0, k = 0;
  bool transA = false, transB = false;
  int32_t batch = 1;
  /// Elements between consecutive matrices of the batch (0: one matrix
  /// shared by all); out's matrices are always dense.
  int64_t strideA = 0, strideB = 0;
  float alpha = 1.0f, beta = 0.0f;
  const float *bias = nullptr;
  /// Applied to the result by cuBLASLt's epilogue.
  gp_cuda_activation activation = GP_ACT_NONE;
  /// Alignments (bytes) of every address the plan is run on.
  uint32_t alignA = 256, alignB = 256, alignOut = 256;
};

/// The operands in the element type cuBLASLt reads (bf16 copies in the
/// workspace with --precision=bf16) and cuBLASLt's own workspace.
struct Operands {
  const void *a = nullptr, *b = nullptr;
  size_t elemBytes = sizeof(float);
  cudaDataType_t type = CUDA_R_32F;
  void *ltWorkspace = nullptr;
};

gp_status prepareOperands(gp_cuda_ctx *ctx, const gp_tensor *a,
                          const gp_tensor *b, const char *what, Operands &ops) {
  bool bf16 = ctx->precision == GP_PRECISION_BF16;
  int64_t na = gp_numel(a), nb = gp_numel(b);
  size_t aBytes = bf16 ? roundUp256(na * sizeof(__nv_bfloat16)) : 0;
  size_t bBytes = bf16 ? roundUp256(nb * sizeof(__nv_bfloat16)) : 0;
  auto *ws = static_cast<unsigned char *>(
      cuda::workspace(ctx, kLtWorkspaceBytes + aBytes + bBytes));
  if (!ws)
    return GP_ERROR;
  ops.ltWorkspace = ws;
  if (!bf16) {
    ops.a = a->data;
    ops.b = b->data;
    return GP_OK;
  }
  auto *a16 = reinterpret_cast<__nv_bfloat16 *>(ws + kLtWorkspaceBytes);
  auto *b16 =
      reinterpret_cast<__nv_bfloat16 *>(ws + kLtWorkspaceBytes + aBytes);
  toBf16Kernel<<<cuda::blocksFor(na), cuda::kThreads, 0, ctx->stream>>>(
      static_cast<const float *>(a->data), a16, na);
  if (gp_cuda_check_launch(what) != GP_OK)
    return GP_ERROR;
  toBf16Kernel<<<cuda::blocksFor(nb), cuda::kThreads, 0, ctx->stream>>>(
      static_cast<const float *>(b->data), b16, nb);
  if (gp_cuda_check_launch(what) != GP_OK)
    return GP_ERROR;
  ops.a = a16;
  ops.b = b16;
  ops.elemBytes = sizeof(__nv_bfloat16);
  ops.type = CUDA_R_16BF;
  return GP_OK;
}

/// cuBLASLt's descriptors and algorithm for one Spec, built once and run on
/// as many operand addresses as the Spec's alignments allow.
class Plan {
public:
  gp_status init(gp_cuda_ctx *ctx, const Spec &spec, const Operands &ops) {
    this->ctx = ctx;
    this->spec = spec;
    workspace = ops.ltWorkspace;
    cublasComputeType_t compute = ctx->precision == GP_PRECISION_TF32
                                      ? CUBLAS_COMPUTE_32F_FAST_TF32
                                      : CUBLAS_COMPUTE_32F;
    if (check(cublasLtMatmulDescCreate(&op.d, compute, CUDA_R_32F),
              "cublasLtMatmulDescCreate"))
      return GP_ERROR;
    // cuBLASLt's A is b and its B is a (see the file comment).
    cublasOperation_t opLtA = spec.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t opLtB = spec.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (setAttr(op.d, CUBLASLT_MATMUL_DESC_TRANSA, opLtA) ||
        setAttr(op.d, CUBLASLT_MATMUL_DESC_TRANSB, opLtB))
      return GP_ERROR;
    bool relu = spec.activation == GP_ACT_RELU;
    if (spec.bias) {
      // The bias has out's element type (f32), cuBLASLt's default.
      const void *bias = spec.bias;
      if (setAttr(op.d, CUBLASLT_MATMUL_DESC_EPILOGUE,
                  relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS) ||
          setAttr(op.d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias))
        return GP_ERROR;
    } else if (relu &&
               setAttr(op.d, CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_EPILOGUE_RELU)) {
      return GP_ERROR;
    }
    // Row-major shapes of one stored matrix of a and of b; each is the
    // column-major matrix with rows and columns swapped.
    int64_t aRows = spec.transA ? spec.k : spec.m,
            aCols = spec.transA ? spec.m : spec.k;
    int64_t bRows = spec.transB ? spec.n : spec.k,
            bCols = spec.transB ? spec.k : spec.n;
    if (check(cublasLtMatrixLayoutCreate(&ltA.d, ops.type, bCols, bRows, bCols),
              "cublasLtMatrixLayoutCreate") ||
        check(cublasLtMatrixLayoutCreate(&ltB.d, ops.type, aCols, aRows, aCols),
              "cublasLtMatrixLayoutCreate") ||
        check(cublasLtMatrixLayoutCreate(&ltD.d, CUDA_R_32F, spec.n, spec.m,
                                         spec.n),
              "cublasLtMatrixLayoutCreate"))
      return GP_ERROR;
    if (spec.batch > 1) {
      int64_t strideD = spec.m * spec.n;
      if (setAttr(ltA.d, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, spec.batch) ||
          setAttr(ltA.d, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                  spec.strideB) ||
          setAttr(ltB.d, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, spec.batch) ||
          setAttr(ltB.d, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                  spec.strideA) ||
          setAttr(ltD.d, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, spec.batch) ||
          setAttr(ltD.d, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, strideD))
        return GP_ERROR;
    }
    Preference pref;
    uint64_t maxWorkspace = kLtWorkspaceBytes;
    if (check(cublasLtMatmulPreferenceCreate(&pref.d),
              "cublasLtMatmulPreferenceCreate") ||
        setAttr(pref.d, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                maxWorkspace) ||
        setAttr(pref.d, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                spec.alignB) ||
        setAttr(pref.d, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                spec.alignA) ||
        setAttr(pref.d, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                spec.alignOut) ||
        setAttr(pref.d, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                spec.alignOut))
      return GP_ERROR;
    // The heuristic's choice for this problem, once per context.
    std::string key =
        std::to_string(spec.m) + "," + std::to_string(spec.n) + "," + std::to_string(spec.k) +
        "," + std::to_string(spec.transA) + std::to_string(spec.transB) + "," +
        std::to_string(spec.batch) + "," + std::to_string(spec.strideA) + "," +
        std::to_string(spec.strideB) + "," + std::to_string(spec.alignA) + "," +
        std::to_string(spec.alignB) + "," + std::to_string(spec.alignOut) + "," +
        std::to_string(spec.bias != nullptr) + std::to_string(spec.activation) + "," +
        std::to_string(static_cast<int>(ops.type));
    this->key = key;
    if (ctx->matmulUnsupported.count(key)) {
      noAlgorithm = true;
      return fail("cublasLtMatmulAlgoGetHeuristic: no algorithm (cached)");
    }
    auto cached = ctx->matmulAlgos.find(key);
    if (cached != ctx->matmulAlgos.end()) {
      algo = cached->second;
      return GP_OK;
    }
    cublasLtMatmulHeuristicResult_t result{};
    int returned = 0;
    // C is D (in place): the same layout serves both.
    if (check(cublasLtMatmulAlgoGetHeuristic(ctx->lt, op.d, ltA.d, ltB.d, ltD.d,
                                             ltD.d, pref.d, 1, &result,
                                             &returned),
              "cublasLtMatmulAlgoGetHeuristic"))
      return GP_ERROR;
    if (returned < 1 || result.state != CUBLAS_STATUS_SUCCESS) {
      noAlgorithm = true;
      ctx->matmulUnsupported.insert(key);
    }
    if (noAlgorithm)
      return fail("cublasLtMatmulAlgoGetHeuristic: no algorithm for [" +
                  std::to_string(spec.m) + ", " + std::to_string(spec.k) +
                  "] x [" + std::to_string(spec.k) + ", " +
                  std::to_string(spec.n) + "] (batch " +
                  std::to_string(spec.batch) + ")");
    algo = result.algo;
    ctx->matmulAlgos.emplace(std::move(key), algo);
    return GP_OK;
  }

  gp_status run(const void *a, const void *b, float *out) {
    cublasStatus_t status =
        cublasLtMatmul(ctx->lt, op.d, &spec.alpha, b, ltA.d, a, ltB.d, &spec.beta, out, ltD.d,
                       out, ltD.d, &algo, workspace, kLtWorkspaceBytes, ctx->stream);
    if (status == CUBLAS_STATUS_NOT_SUPPORTED) {
      noAlgorithm = true;
      ctx->matmulUnsupported.insert(key);
      ctx->matmulAlgos.erase(key);
    }
    return check(status, "cublasLtMatmul");
  }
  /// Whether the last init or run failed because cuBLASLt has no kernel
  /// for this problem (rather than an error).
  bool unsupported() const { return noAlgorithm; }

private:
  gp_cuda_ctx *ctx = nullptr;
  Spec spec;
  OpDesc op;
  Layout ltA, ltB, ltD;
  cublasLtMatmulAlgo_t algo{};
  void *workspace = nullptr;
  std::string key;
  bool noAlgorithm = false;
};

/// Fails unless a, b and out are all f32 (the dtypes already agree).
gp_status expectF32(const gp_tensor *a, const gp_tensor *b,
                    const gp_tensor *out, const char *what) {
  std::string w(what);
  if (expect(a, (w + ": a").c_str(), GP_F32) ||
      expect(b, (w + ": b").c_str(), GP_F32) ||
      expect(out, (w + ": result").c_str(), GP_F32))
    return GP_ERROR;
  return GP_OK;
}

} // namespace

extern "C" gp_status gp_cuda_matmul(gp_cuda_ctx *ctx, const gp_tensor *a,
                                    const gp_tensor *b, gp_tensor *out) {
  if (!ctx)
    return fail("matmul: missing operand");
  MatmulShape shape;
  if (matmulShape(a, b, out, "matmul", shape) || expectF32(a, b, out, "matmul"))
    return GP_ERROR;
  int64_t m = shape.m, k = shape.k, n = shape.n, numBatch = shape.numBatch;
  const std::vector<int64_t> &batch = shape.batch, &as = shape.strideA, &bs = shape.strideB;
  size_t batchRank = batch.size();
  bool rhsShared = shape.rhsShared, lhsDense = shape.lhsDense;
  if (numBatch * m * n == 0)
    return GP_OK;
  if (k == 0)
    return check(cudaMemsetAsync(out->data, 0, gp_numel(out) * sizeof(float),
                                 ctx->stream),
                 "cudaMemsetAsync");

  Operands ops;
  if (prepareOperands(ctx, a, b, "gp_cuda_matmul", ops))
    return GP_ERROR;
  auto *o = static_cast<float *>(out->data);
  uint64_t e = ops.elemBytes;
  Spec spec;
  spec.n = n;
  spec.k = k;
  // One weight matrix for every batch entry: a single [batch * m, k] x
  // [k, n] product.
  if (rhsShared && lhsDense) {
    spec.m = numBatch * m;
    spec.alignA = alignmentOf(reinterpret_cast<uintptr_t>(ops.a));
    spec.alignB = alignmentOf(reinterpret_cast<uintptr_t>(ops.b));
    spec.alignOut = alignmentOf(reinterpret_cast<uintptr_t>(o));
    Plan plan;
    if (plan.init(ctx, spec, ops))
      return GP_ERROR;
    return plan.run(ops.a, ops.b, o);
  }

  // The innermost batch dimensions over which each operand's matrices are
  // evenly spaced (dense, or one matrix for all) become one strided-batched
  // call; the outer ones are looped over.
  int64_t strideA = -1, strideB = -1, inner = 1;
  size_t split = batchRank;
  for (int64_t d = int64_t(batchRank) - 1; d >= 0; --d) {
    if (batch[d] == 1) {
      split = d;
      continue;
    }
    // The innermost non-trivial dimension (inner == 1) sets the spacing.
    int64_t sa = strideA < 0 ? as[d] : strideA,
            sb = strideB < 0 ? bs[d] : strideB;
    if (as[d] != sa * inner || bs[d] != sb * inner ||
        inner * batch[d] > INT32_MAX)
      break;
    strideA = sa;
    strideB = sb;
    inner *= batch[d];
    split = d;
  }
  spec.m = m;
  spec.batch = static_cast<int32_t>(inner);
  spec.strideA = std::max<int64_t>(strideA, 0);
  spec.strideB = std::max<int64_t>(strideB, 0);
  uint64_t aBits = reinterpret_cast<uintptr_t>(ops.a) | spec.strideA * e;
  uint64_t bBits = reinterpret_cast<uintptr_t>(ops.b) | spec.strideB * e;
  for (size_t d = 0; d < split; ++d) {
    aBits |= as[d] * e;
    bBits |= bs[d] * e;
  }
  spec.alignA = alignmentOf(aBits);
  spec.alignB = alignmentOf(bBits);
  spec.alignOut = alignmentOf(reinterpret_cast<uintptr_t>(o) |
                              uint64_t(m * n) * sizeof(float));
  Plan plan;
  if (plan.init(ctx, spec, ops))
    return GP_ERROR;
  int64_t outer = numBatch / inner;
  const auto *a0 = static_cast<const unsigned char *>(ops.a);
  const auto *b0 = static_cast<const unsigned char *>(ops.b);
  for (int64_t bi = 0; bi < outer; ++bi) {
    int64_t rem = bi, ao = 0, bo = 0;
    for (int64_t d = int64_t(split) - 1; d >= 0; --d) {
      int64_t c = rem % batch[d];
      rem /= batch[d];
      ao += c * as[d];
      bo += c * bs[d];
    }
    if (plan.run(a0 + ao * e, b0 + bo * e, o + bi * inner * m * n))
      return GP_ERROR;
  }
  return GP_OK;
}

extern "C" gp_status gp_cuda_gemm(gp_cuda_ctx *ctx, const gp_tensor *a,
                                  const gp_tensor *b, const gp_tensor *c,
                                  float alpha, float beta, bool ta, bool tb,
                                  gp_tensor *out) {
  return gp_cuda_gemm_act(ctx, a, b, c, alpha, beta, ta, tb, GP_ACT_NONE, out);
}

extern "C" gp_status gp_cuda_gemm_act(gp_cuda_ctx *ctx, const gp_tensor *a,
                                      const gp_tensor *b, const gp_tensor *c,
                                      float alpha, float beta, bool ta,
                                      bool tb, gp_cuda_activation activation,
                                      gp_tensor *out) {
  if (activation != GP_ACT_NONE && activation != GP_ACT_RELU)
    return fail("gemm: unknown activation " + std::to_string(activation));
  if (!ctx || !a || !b || !out)
    return fail("gemm: missing operand");
  if (a->rank != 2 || b->rank != 2 || out->rank != 2)
    return fail("gemm: operands must have rank 2");
  if (a->dtype != b->dtype || out->dtype != a->dtype ||
      (c && c->dtype != a->dtype))
    return fail("gemm: operands differ in element type");
  if (expectF32(a, b, out, "gemm") || (c && expect(c, "gemm: c", GP_F32)))
    return GP_ERROR;
  int64_t m = a->dims[ta ? 1 : 0], k = a->dims[ta ? 0 : 1];
  int64_t kb = b->dims[tb ? 1 : 0], n = b->dims[tb ? 0 : 1];
  if (k != kb || out->dims[0] != m || out->dims[1] != n)
    return fail("gemm: shapes " + describe(a) + " x " + describe(b) + " -> " +
                describe(out) + " do not agree");
  if (m == 0 || n == 0)
    return GP_OK;
  auto *o = static_cast<float *>(out->data);
  bool useC = c && beta != 0.0f;
  cuda::Shape cShape;
  if (useC) {
    std::vector<int64_t> dims = dimsOf(out), strides;
    if (!broadcastStrides(c, dims, strides))
      return fail("gemm: c " + describe(c) + " does not broadcast to " +
                  describe(out));
    cShape.rank = 2;
    for (int d = 0; d < 2; ++d) {
      cShape.dims[d] = dims[d];
      cShape.strides[d] = strides[d];
    }
  }
  // out = c (or beta * c when nothing is added to it) ahead of the product.
  auto expandC = [&](float scale) {
    broadcastKernel<<<cuda::blocksFor(m * n), cuda::kThreads, 0, ctx->stream>>>(
        static_cast<const float *>(c->data), cShape, scale, o, m * n);
    return gp_cuda_check_launch("gp_cuda_gemm");
  };
  if (k == 0) {
    // No product: beta * c (or zeros), then the activation in place.
    gp_status filled =
        useC ? expandC(beta)
             : check(cudaMemsetAsync(o, 0, m * n * sizeof(float), ctx->stream),
                     "cudaMemsetAsync");
    if (filled != GP_OK || activation == GP_ACT_NONE)
      return filled;
    return gp_cuda_unary(ctx, GP_RELU, out, 0.0, 0.0, out);
  }
  // A [n] (or [1, n]) row added as is goes to the bias epilogue; any other
  // c is expanded into out, which cuBLASLt then scales by beta in place.
  // cuBLASLt's alignment preferences do not cover the bias pointer, so the
  // epilogue takes only a 16-byte aligned one, not out itself, and not the
  // degenerate k = 1 or n = 1 problems some of its kernels mishandle.
  bool biasRow = useC && beta == 1.0f && k > 1 && n > 1 && c->data != out->data &&
                 reinterpret_cast<uintptr_t>(c->data) % 16 == 0 &&
                 ((c->rank == 1 && c->dims[0] == n) ||
                  (c->rank == 2 && c->dims[0] == 1 && c->dims[1] == n));
  if (useC && !biasRow && expandC(1.0f))
    return GP_ERROR;
  Operands ops;
  if (prepareOperands(ctx, a, b, "gp_cuda_gemm", ops))
    return GP_ERROR;
  Spec spec;
  spec.m = m;
  spec.n = n;
  spec.k = k;
  spec.transA = ta;
  spec.transB = tb;
  spec.alpha = alpha;
  spec.beta = useC && !biasRow ? beta : 0.0f;
  spec.bias = biasRow ? static_cast<const float *>(c->data) : nullptr;
  spec.activation = activation;
  spec.alignA = alignmentOf(reinterpret_cast<uintptr_t>(ops.a));
  spec.alignB = alignmentOf(reinterpret_cast<uintptr_t>(ops.b));
  spec.alignOut = alignmentOf(reinterpret_cast<uintptr_t>(o));
  Plan plan;
  bool fused = spec.bias || spec.activation != GP_ACT_NONE;
  if (!fused)
    return plan.init(ctx, spec, ops) ? GP_ERROR : plan.run(ops.a, ops.b, o);
  // An epilogue cuBLASLt cannot serve for these types and alignments (no
  // algorithm, or a kernel that reports CUBLAS_STATUS_NOT_SUPPORTED) falls
  // back, once and for the rest of the context, to the plain product with
  // the bias in C and the activation as its own kernel.
  if (!plan.init(ctx, spec, ops)) {
    gp_status ran = plan.run(ops.a, ops.b, o);
    if (ran == GP_OK || !plan.unsupported())
      return ran;
  } else if (!plan.unsupported()) {
    return GP_ERROR;
  }
  if (spec.bias && expandC(1.0f))
    return GP_ERROR;
  spec.beta = spec.bias ? 1.0f : spec.beta;
  spec.bias = nullptr;
  spec.activation = GP_ACT_NONE;
  Plan plain;
  if (plain.init(ctx, spec, ops) || plain.run(ops.a, ops.b, o))
    return GP_ERROR;
  return activation == GP_ACT_RELU ? gp_cuda_unary(ctx, GP_RELU, out, 0.0, 0.0, out) : GP_OK;
}
