//===- CudaKernelTest.cpp - the CUDA kernels against the CPU kernels ------===//
//
// Every gp_cuda_* kernel runs on random inputs and its results are compared
// with those of the gp_cpu_* kernel of the same name: ||gpu - cpu|| / ||cpu||
// below a tolerance, or equal elements where the tolerance is kExact. Device
// outputs start as all-ones bytes (NaN for floats), so an element a kernel
// fails to write shows. Without a CUDA device every test skips.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "gpipe/runtime/gp_cuda.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace gptest;

namespace {

/// Tolerances on ||gpu - cpu|| / ||cpu||.
constexpr double kExact = 0;     // Data movement, integers, comparisons, arg/max.
constexpr double kF32 = 1e-5;    // Other f32 kernels.
constexpr double kMatmul = 1e-4; // Matrix products and convolutions.

std::vector<int64_t> dimsOf(const gp_tensor &t) {
  return std::vector<int64_t>(t.dims, t.dims + t.rank);
}

std::string str(const std::vector<int64_t> &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

template <typename T, typename Dist>
Tensor<T> randomTensor(gp_dtype dtype, std::vector<int64_t> dims, unsigned seed, Dist dist) {
  Tensor<T> t(dtype, std::move(dims));
  std::mt19937 rng(seed);
  for (T &v : t.data)
    v = T(dist(rng));
  return t;
}

Tensor<int64_t> randomI64(std::vector<int64_t> dims, unsigned seed, int64_t lo, int64_t hi) {
  return randomTensor<int64_t>(GP_I64, std::move(dims), seed,
                               std::uniform_int_distribution<int64_t>(lo, hi));
}

Tensor<uint8_t> randomBool(std::vector<int64_t> dims, unsigned seed) {
  return randomTensor<uint8_t>(GP_BOOL, std::move(dims), seed, std::bernoulli_distribution());
}

/// Integer-valued floats in [lo, hi]: comparisons and arg reductions meet ties.
Tensor<float> randomIntegral(std::vector<int64_t> dims, unsigned seed, int lo, int hi) {
  return randomTensor<float>(GP_F32, std::move(dims), seed,
                             std::uniform_int_distribution<int>(lo, hi));
}

/// Magnitudes in [0.5, 2) of either sign: divisors safely away from zero.
Tensor<float> randomDivisor(std::vector<int64_t> dims, unsigned seed) {
  Tensor<float> t = randomF32(std::move(dims), seed, 0.5f, 2.0f);
  for (int64_t i = 1; i < t.size(); i += 2)
    t[i] = -t[i];
  return t;
}

Tensor<int64_t> indexTensor(std::vector<int64_t> dims,
                            const std::vector<int64_t> &values) {
  Tensor<int64_t> t(GP_I64, std::move(dims));
  std::copy(values.begin(), values.end(), t.data.begin());
  return t;
}

/// Device memory holding one tensor, freed when it goes out of scope.
class DeviceTensor {
public:
  /// An output of the given shape, filled with all-ones bytes.
  DeviceTensor(gp_cuda_ctx *ctx, gp_dtype dtype,
               const std::vector<int64_t> &dims)
      : ctx(ctx) {
    allocate(dtype, dims);
    std::vector<unsigned char> poison(bytes, 0xff);
    upload(poison.data());
  }
  /// A device copy of a host tensor.
  DeviceTensor(gp_cuda_ctx *ctx, const gp_tensor &host) : ctx(ctx) {
    allocate(host.dtype, dimsOf(host));
    upload(host.data);
  }
  template <typename T>
  DeviceTensor(gp_cuda_ctx *ctx, Tensor<T> &host)
      : DeviceTensor(ctx, host.view) {}
  DeviceTensor(const DeviceTensor &) = delete;
  DeviceTensor &operator=(const DeviceTensor &) = delete;
  ~DeviceTensor() {
    if (!view.data)
      return;
    gp_cuda_sync(ctx); // No enqueued work may use the memory once freed.
    gp_cuda_free(gp_cuda_ctx_device(ctx), view.data);
  }

  gp_tensor *operator&() { return &view; }

  template <typename T> std::vector<T> download() const {
    std::vector<T> host(gp_numel(&view));
    EXPECT_EQ(sizeof(T), gp_dtype_size(view.dtype))
        << "downloading " << gp_dtype_name(view.dtype);
    if (view.data && bytes && sizeof(T) == gp_dtype_size(view.dtype)) {
      EXPECT_GP_OK(gp_cuda_to_host(ctx, host.data(), view.data, bytes));
    }
    return host;
  }

  gp_tensor view{};

private:
  void allocate(gp_dtype dtype, const std::vector<int64_t> &dims) {
    gp_tensor_init(&view, dtype, (int32_t)dims.size(), dims.data());
    bytes = size_t(gp_numel(&view)) * gp_dtype_size(dtype);
    view.data = gp_cuda_alloc(gp_cuda_ctx_device(ctx), std::max<size_t>(bytes, 1));
    if (!view.data)
      ADD_FAILURE() << "gp_cuda_alloc(" << bytes << "): " << gp_last_error();
  }
  void upload(const void *src) {
    if (view.data && bytes) {
      EXPECT_GP_OK(gp_cuda_to_device(ctx, view.data, src, bytes));
    }
  }

  gp_cuda_ctx *ctx;
  size_t bytes = 0;
};

/// Expects `got` to equal `want` (tol == kExact) or to be within relative
/// error `tol` of it; a reference of zeros only would check little.
template <typename T>
void expectClose(const std::vector<T> &got, const std::vector<T> &want,
                 double tol, const std::string &what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  EXPECT_TRUE(std::any_of(want.begin(), want.end(), [](T v) { return v != T(0); }))
      << what << ": the CPU result is all zeros";
  if (tol != kExact) {
    EXPECT_LT(relError(got, want), tol) << what;
    return;
  }
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (!(got[i] == want[i]) && bad++ == 0)
      first = i;
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << want.size()
                     << " elements differ, the first at " << first << " ("
                     << +got[first] << ", want " << +want[first] << ")";
}

template <typename T> std::vector<T> hostData(const gp_tensor &t) {
  const T *p = static_cast<const T *>(t.data);
  return std::vector<T>(p, p + gp_numel(&t));
}

void expectMatches(const DeviceTensor &got, const gp_tensor &want, double tol,
                   const std::string &what) {
  switch (want.dtype) {
  case GP_F32: return expectClose(got.download<float>(), hostData<float>(want), tol, what);
  case GP_F64: return expectClose(got.download<double>(), hostData<double>(want), tol, what);
  case GP_I64: return expectClose(got.download<int64_t>(), hostData<int64_t>(want), tol, what);
  case GP_I32: return expectClose(got.download<int32_t>(), hostData<int32_t>(want), tol, what);
  case GP_I16:
  case GP_F16:
  case GP_BF16: // Compared as bits.
    return expectClose(got.download<uint16_t>(), hostData<uint16_t>(want), tol, what);
  default: return expectClose(got.download<uint8_t>(), hostData<uint8_t>(want), tol, what);
  }
}

class CudaKernels : public ::testing::Test {
protected:
  void SetUp() override {
    int count = 0;
    if (gp_cuda_device_count(&count) != GP_OK || count < 1)
      GTEST_SKIP() << "no CUDA device: " << gp_last_error();
    ASSERT_GP_OK(gp_cuda_ctx_create(0, GP_PRECISION_FP32, &ctx));
  }
  void TearDown() override { gp_cuda_ctx_destroy(ctx); }

  /// Runs `cpu` on the host tensors and `gpu` on device copies of them, each
  /// given the views of `inputs` (null ones stay null) then of `outputs`, and
  /// expects every device output to match the CPU's.
  template <typename Cpu, typename Gpu>
  void compareKernel(const std::string &what, double tol,
                     const std::vector<gp_tensor *> &inputs,
                     const std::vector<gp_tensor *> &outputs, Cpu cpu, Gpu gpu) {
    std::vector<gp_tensor *> host = inputs, device;
    host.insert(host.end(), outputs.begin(), outputs.end());
    ASSERT_GP_OK(cpu(host.data())) << what;
    std::vector<std::unique_ptr<DeviceTensor>> owned;
    for (gp_tensor *in : inputs) {
      if (in)
        owned.push_back(std::make_unique<DeviceTensor>(ctx, *in));
      device.push_back(in ? &owned.back()->view : nullptr);
    }
    size_t firstOutput = owned.size();
    for (gp_tensor *out : outputs) {
      owned.push_back(std::make_unique<DeviceTensor>(ctx, out->dtype, dimsOf(*out)));
      device.push_back(&owned.back()->view);
    }
    ASSERT_GP_OK(gpu(device.data())) << what;
    ASSERT_GP_OK(gp_cuda_sync(ctx)) << what;
    for (size_t i = 0; i < outputs.size(); ++i)
      expectMatches(*owned[firstOutput + i], *outputs[i], tol,
                    outputs.size() == 1 ? what : what + ", output " + std::to_string(i));
  }

  /// A data movement kernel on random f32, then i64, tensors of the shapes
  /// `ins` (followed by the `extra` inputs) with a result of shape `out`.
  template <typename Cpu, typename Gpu>
  void compareMovement(const std::string &what, const std::vector<std::vector<int64_t>> &ins,
                       const std::vector<int64_t> &out, const std::vector<gp_tensor *> &extra,
                       Cpu cpu, Gpu gpu) {
    std::vector<Tensor<float>> f;
    std::vector<Tensor<int64_t>> i;
    f.reserve(ins.size()); // The views must stay where they are.
    i.reserve(ins.size());
    std::vector<gp_tensor *> fIn, iIn;
    for (const std::vector<int64_t> &dims : ins) {
      f.push_back(randomF32(dims, movementSeed++));
      i.push_back(randomI64(dims, movementSeed++, 1, int64_t(1) << 40));
      fIn.push_back(&f.back().view);
      iIn.push_back(&i.back().view);
    }
    fIn.insert(fIn.end(), extra.begin(), extra.end());
    iIn.insert(iIn.end(), extra.begin(), extra.end());
    Tensor<float> wantF(GP_F32, out);
    Tensor<int64_t> wantI(GP_I64, out);
    compareKernel(what + " f32", kExact, fIn, {&wantF}, cpu, gpu);
    compareKernel(what + " i64", kExact, iIn, {&wantI}, cpu, gpu);
  }

  gp_cuda_ctx *ctx = nullptr;
  unsigned movementSeed = 1;
};

/// gp_cpu_NAME and gp_cuda_NAME called with the same arguments, in which t[i]
/// is the view of compareKernel's i-th tensor (the inputs, then the outputs).
#define KERNEL_PAIR(name, ...)                                                 \
  [&](gp_tensor *const *t) { return gp_cpu_##name(__VA_ARGS__); },             \
      [&](gp_tensor *const *t) { return gp_cuda_##name(ctx, __VA_ARGS__); }

#define ASSERT_CUDA_OK(call)                                                   \
  do {                                                                         \
    ASSERT_GP_OK(call);                                                        \
    ASSERT_GP_OK(gp_cuda_sync(ctx));                                           \
  } while (0)

template <typename Op> struct Named {
  Op op;
  const char *name;
};

/// Operand shapes and the shape they broadcast to.
struct BroadcastShapes {
  std::vector<int64_t> a, b, out;

  std::string name() const { return str(a) + " " + str(b); }
};

const BroadcastShapes kBroadcasts[] = {
    {{3, 1, 5}, {4, 5}, {3, 4, 5}},
    {{1023}, {1023}, {1023}},
    {{}, {1023}, {1023}},
    {{2, 3, 1023}, {1023}, {2, 3, 1023}},
    {{7, 1}, {1, 9}, {7, 9}},
};

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

TEST_F(CudaKernels, UnaryF32MatchesCpu) {
  struct Case {
    const char *name;
    gp_unary_op op;
    double p0, p1;
    float lo, hi; // Inputs inside the op's domain.
  };
  const Case cases[] = {
      {"neg", GP_NEG, 0, 0, -3, 3},          {"abs", GP_ABS, 0, 0, -3, 3},
      {"sqrt", GP_SQRT, 0, 0, 0.01f, 4},     {"exp", GP_EXP, 0, 0, -3, 3},
      {"log", GP_LOG, 0, 0, 0.01f, 4},       {"reciprocal", GP_RECIPROCAL, 0, 0, 0.25f, 4},
      {"erf", GP_ERF, 0, 0, -3, 3},          {"tanh", GP_TANH, 0, 0, -3, 3},
      {"sigmoid", GP_SIGMOID, 0, 0, -8, 8},  {"relu", GP_RELU, 0, 0, -3, 3},
      {"floor", GP_FLOOR, 0, 0, -3, 3},      {"ceil", GP_CEIL, 0, 0, -3, 3},
      {"sin", GP_SIN, 0, 0, -6, 6},          {"cos", GP_COS, 0, 0, -6, 6},
      {"leaky_relu 0.1", GP_LEAKY_RELU, 0.1, 0, -3, 3},
      {"gelu (erf)", GP_GELU, 0, 0, -4, 4},  {"gelu (tanh)", GP_GELU, 1, 0, -4, 4},
      {"clip [-0.5, 0.75]", GP_CLIP, -0.5, 0.75, -2, 2},
      {"clip [-inf, 0.5]", GP_CLIP, -INFINITY, 0.5, -2, 2},
      {"clip [0, inf]", GP_CLIP, 0, INFINITY, -2, 2},
  };
  const std::vector<std::vector<int64_t>> shapes = {{1023}, {4, 33, 7}};
  unsigned seed = 1;
  for (const Case &c : cases)
    for (const std::vector<int64_t> &dims : shapes) {
      auto x = randomF32(dims, seed++, c.lo, c.hi);
      Tensor<float> want(GP_F32, dims);
      compareKernel(c.name + (" " + str(dims)), kF32, {&x}, {&want},
                    KERNEL_PAIR(unary, c.op, t[0], c.p0, c.p1, t[1]));
    }
}

TEST_F(CudaKernels, UnaryNotOnBool) {
  auto x = randomBool({1023}, 1);
  Tensor<uint8_t> want(GP_BOOL, {1023});
  compareKernel("not", kExact, {&x}, {&want}, KERNEL_PAIR(unary, GP_NOT, t[0], 0, 0, t[1]));
}

TEST_F(CudaKernels, BinaryF32Broadcasts) {
  const Named<gp_binary_op> ops[] = {{GP_ADD, "add"}, {GP_SUB, "sub"}, {GP_MUL, "mul"},
                                     {GP_DIV, "div"}, {GP_POW, "pow"}, {GP_MAX, "max"},
                                     {GP_MIN, "min"}, {GP_FMOD, "fmod"}};
  unsigned seed = 1;
  for (const Named<gp_binary_op> &o : ops)
    for (const BroadcastShapes &s : kBroadcasts) {
      // Positive bases for pow, divisors away from zero for div and fmod.
      auto a = randomF32(s.a, seed++, o.op == GP_POW ? 0.1f : -2.0f, 2.0f);
      auto b = o.op == GP_DIV || o.op == GP_FMOD ? randomDivisor(s.b, seed++)
                                                 : randomF32(s.b, seed++, -2.0f, 2.0f);
      Tensor<float> want(GP_F32, s.out);
      compareKernel(o.name + (" " + s.name()), kF32, {&a, &b}, {&want},
                    KERNEL_PAIR(binary, o.op, t[0], t[1], t[2]));
    }
}

TEST_F(CudaKernels, ComparisonsWriteBool) {
  const Named<gp_binary_op> ops[] = {{GP_EQUAL, "equal"},     {GP_LESS, "less"},
                                     {GP_LESS_EQUAL, "less_equal"}, {GP_GREATER, "greater"},
                                     {GP_GREATER_EQUAL, "greater_equal"}};
  unsigned seed = 1;
  for (const Named<gp_binary_op> &o : ops)
    for (const BroadcastShapes &s : kBroadcasts) {
      // Small integers, so that equal pairs occur; a's range inside b's, so
      // that no comparison with a scalar a is false throughout.
      auto a = randomIntegral(s.a, seed++, -1, 1);
      auto b = randomIntegral(s.b, seed++, -2, 2);
      Tensor<uint8_t> want(GP_BOOL, s.out);
      compareKernel(o.name + (" " + s.name()), kExact, {&a, &b}, {&want},
                    KERNEL_PAIR(binary, o.op, t[0], t[1], t[2]));
    }
}

TEST_F(CudaKernels, BinaryI64) {
  const Named<gp_binary_op> ops[] = {{GP_ADD, "add"}, {GP_SUB, "sub"}, {GP_MUL, "mul"},
                                     {GP_DIV, "div"}, {GP_MOD, "mod"}, {GP_FMOD, "fmod"}};
  unsigned seed = 1;
  for (const Named<gp_binary_op> &o : ops)
    for (const BroadcastShapes &s : kBroadcasts) {
      auto a = randomI64(s.a, seed++, -1000, 1000);
      auto b = randomI64(s.b, seed++, -9, 9);
      for (int64_t &v : b.data)
        v = v ? v : 7; // Integer division by zero fails.
      Tensor<int64_t> want(GP_I64, s.out);
      compareKernel(o.name + (" i64 " + s.name()), kExact, {&a, &b}, {&want},
                    KERNEL_PAIR(binary, o.op, t[0], t[1], t[2]));
    }
}

TEST_F(CudaKernels, BinaryBoolAndOr) {
  unsigned seed = 1;
  for (gp_binary_op op : {GP_AND, GP_OR})
    for (const BroadcastShapes &s : kBroadcasts) {
      auto a = randomBool(s.a, seed++);
      auto b = randomBool(s.b, seed++);
      if (a.size() == 1)
        a[0] = 1; // A false scalar would make `and` all false.
      Tensor<uint8_t> want(GP_BOOL, s.out);
      compareKernel((op == GP_AND ? "and " : "or ") + s.name(), kExact, {&a, &b},
                    {&want}, KERNEL_PAIR(binary, op, t[0], t[1], t[2]));
    }
}

TEST_F(CudaKernels, WhereBroadcastsAllThree) {
  auto cond = randomBool({3, 1, 5}, 1);
  auto a = randomF32({4, 5}, 2);
  auto b = randomF32({}, 3);
  Tensor<float> want(GP_F32, {3, 4, 5});
  compareKernel("where f32 [3,1,5] [4,5] []", kExact, {&cond, &a, &b}, {&want},
                KERNEL_PAIR(where, t[0], t[1], t[2], t[3]));

  auto cond2 = randomBool({1023}, 4);
  auto a2 = randomI64({1023}, 5, -50, 50), b2 = randomI64({1}, 6, 100, 200);
  Tensor<int64_t> want2(GP_I64, {1023});
  compareKernel("where i64 [1023] [1023] [1]", kExact, {&cond2, &a2, &b2}, {&want2},
                KERNEL_PAIR(where, t[0], t[1], t[2], t[3]));
}

TEST_F(CudaKernels, CastBetweenElementTypes) {
  const std::vector<int64_t> dims = {1023};
  auto x = randomF32(dims, 1, -100.0f, 100.0f);
  Tensor<uint16_t> bf16(GP_BF16, dims), f16(GP_F16, dims);
  Tensor<int64_t> i64(GP_I64, dims);
  Tensor<float> fromBf16(GP_F32, dims), fromF16(GP_F32, dims), fromI64(GP_F32, dims);
  auto flags = randomBool(dims, 2);
  Tensor<float> fromBool(GP_F32, dims);
  auto small = randomIntegral(dims, 3, -1, 1); // Zeros and not.
  Tensor<uint8_t> toBool(GP_BOOL, dims);
  // In order: the CPU results of the first casts are the inputs of later ones.
  const std::pair<gp_tensor *, gp_tensor *> casts[] = {
      {&x, &bf16}, {&bf16, &fromBf16}, {&x, &f16},         {&f16, &fromF16},
      {&x, &i64},  {&i64, &fromI64},   {&flags, &fromBool}, {&small, &toBool}};
  for (const auto &c : casts)
    compareKernel(std::string(gp_dtype_name(c.first->dtype)) + " -> " +
                      gp_dtype_name(c.second->dtype),
                  kExact, {c.first}, {c.second}, KERNEL_PAIR(cast, t[0], t[1]));
}

TEST_F(CudaKernels, ElementwiseCoversMoreThan65536Blocks) {
  // 4097 * 4099 elements: more than 65536 blocks of 256 threads.
  auto a = randomF32({4097, 4099}, 1);
  auto b = randomF32({4099}, 2);
  Tensor<float> sum(GP_F32, {4097, 4099}), relu(GP_F32, {4097, 4099});
  compareKernel("add [4097,4099] [4099]", kF32, {&a, &b}, {&sum},
                KERNEL_PAIR(binary, GP_ADD, t[0], t[1], t[2]));
  compareKernel("relu [4097,4099]", kF32, {&a}, {&relu},
                KERNEL_PAIR(unary, GP_RELU, t[0], 0, 0, t[1]));
}

//===----------------------------------------------------------------------===//
// Matrix products
//===----------------------------------------------------------------------===//

TEST_F(CudaKernels, MatmulBroadcastsBatchesAndVectors) {
  const BroadcastShapes cases[] = {
      {{7, 13}, {13, 9}, {7, 9}},     {{33, 65}, {65, 17}, {33, 17}},
      {{2, 1, 3, 4}, {5, 4, 6}, {2, 5, 3, 6}}, // Batch dimensions broadcast.
      {{6, 3, 8}, {8, 5}, {6, 3, 5}}, {{4}, {4, 6}, {6}},
      {{3, 4}, {4}, {3}},             {{4}, {4}, {}},
      {{2, 3, 4}, {4}, {2, 3}},       {{5}, {2, 5, 3}, {2, 3}},
  };
  unsigned seed = 1;
  for (const BroadcastShapes &s : cases) {
    auto a = randomF32(s.a, seed++), b = randomF32(s.b, seed++);
    Tensor<float> want(GP_F32, s.out);
    compareKernel("matmul " + s.name(), kMatmul, {&a, &b}, {&want},
                  KERNEL_PAIR(matmul, t[0], t[1], t[2]));
  }
}

TEST_F(CudaKernels, GemmTransposesScalesAndAddsC) {
  const int64_t m = 9, k = 17, n = 5;
  enum CKind { kNoC, kBias, kFull };
  struct Case {
    const char *name;
    CKind c;
    float alpha, beta;
  };
  const Case cases[] = {{"no c", kNoC, 1, 0},
                        {"no c, alpha 2", kNoC, 2, 0},
                        {"[N] bias, beta 1", kBias, 1, 1},
                        {"[N] bias, alpha 2, beta 1", kBias, 2, 1},
                        {"[M,N] c, alpha 2, beta 0.5", kFull, 2, 0.5f}};
  unsigned seed = 1;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (const Case &cs : cases) {
        auto a = randomF32(ta ? std::vector<int64_t>{k, m} : std::vector<int64_t>{m, k}, seed++);
        auto b = randomF32(tb ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n}, seed++);
        auto bias = randomF32({n}, seed++), full = randomF32({m, n}, seed++);
        gp_tensor *c = cs.c == kBias ? &bias : cs.c == kFull ? &full : nullptr;
        Tensor<float> want(GP_F32, {m, n});
        std::string what = std::string("gemm ") + (ta ? "a^T " : "a ") +
                           (tb ? "b^T, " : "b, ") + cs.name;
        compareKernel(what, kMatmul, {&a, &b, c}, {&want},
                      KERNEL_PAIR(gemm, t[0], t[1], t[2], cs.alpha, cs.beta, ta, tb, t[3]));
      }
}

TEST_F(CudaKernels, GemmWithReluEpilogueIsGemmThenRelu) {
  const int64_t m = 9, k = 17, n = 5;
  unsigned seed = 100;
  for (bool bias : {false, true})
    for (bool tb : {false, true}) {
      auto a = randomF32({m, k}, seed++);
      auto b = randomF32(tb ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n}, seed++);
      auto c = randomF32({n}, seed++);
      Tensor<float> want(GP_F32, {m, n});
      std::string what = std::string("gemm+relu") + (bias ? " with a [N] bias" : "") +
                         (tb ? ", b^T" : "");
      compareKernel(
          what, kMatmul, {&a, &b, bias ? &c : nullptr}, {&want},
          [&](gp_tensor *const *t) {
            gp_status s = gp_cpu_gemm(t[0], t[1], t[2], 1.0f, 1.0f, false, tb, t[3]);
            return s != GP_OK ? s : gp_cpu_unary(GP_RELU, t[3], 0, 0, t[3]);
          },
          [&](gp_tensor *const *t) {
            return gp_cuda_gemm_act(ctx, t[0], t[1], t[2], 1.0f, 1.0f, false, tb, GP_ACT_RELU,
                                    t[3]);
          });
    }
}

// A bias cuBLASLt's epilogue must not take (not 16-byte aligned: a view one
// float into a buffer; or out itself): the product runs plain, the bias
// added through C, the relu as its own kernel; the same result.
TEST_F(CudaKernels, GemmWithAMisalignedBiasRunsUnfused) {
  const int64_t m = 9, k = 17, n = 8;
  auto a = randomF32({m, k}, 300), b = randomF32({k, n}, 301), c = randomF32({n}, 302);
  Tensor<float> want(GP_F32, {m, n});
  ASSERT_GP_OK(gp_cpu_gemm(&a, &b, &c, 1.0f, 1.0f, false, false, &want));
  ASSERT_GP_OK(gp_cpu_unary(GP_RELU, &want, 0, 0, &want));
  auto padded = randomF32({n + 1}, 303);
  std::copy(c.data.begin(), c.data.end(), padded.data.begin() + 1);
  DeviceTensor dA(ctx, a), dB(ctx, b), dPadded(ctx, padded), out(ctx, GP_F32, {m, n});
  gp_tensor bias = dPadded.view;
  gp_tensor_init(&bias, GP_F32, 1, &n);
  bias.data = static_cast<float *>(dPadded.view.data) + 1;
  ASSERT_CUDA_OK(gp_cuda_gemm_act(ctx, &dA.view, &dB.view, &bias, 1.0f, 1.0f, false, false,
                                  GP_ACT_RELU, &out.view));
  expectMatches(out, want.view, kMatmul, "gemm+relu, bias at a 4-byte offset");
}

//===----------------------------------------------------------------------===//
// Convolution and pooling
//===----------------------------------------------------------------------===//

namespace {
struct ConvCase {
  const char *name;
  int64_t n, c, h, w, f, kh, kw, groups;
  int64_t strides[2], pads[4], dilations[2]; // pads: top, left, bottom, right
  bool bias;

  std::vector<int64_t> x() const { return {n, c, h, w}; }
  std::vector<int64_t> weight() const { return {f, c / groups, kh, kw}; }
  std::vector<int64_t> y() const {
    int64_t oh = (h + pads[0] + pads[2] - dilations[0] * (kh - 1) - 1) / strides[0] + 1;
    int64_t ow = (w + pads[1] + pads[3] - dilations[1] * (kw - 1) - 1) / strides[1] + 1;
    return {n, f, oh, ow};
  }
};

const ConvCase kConvCases[] = {
    {"3x3, pad 1", 2, 3, 9, 8, 4, 3, 3, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}, true},
    {"stride 2, 2 groups", 1, 4, 10, 11, 6, 3, 3, 2, {2, 2}, {0, 0, 0, 0}, {1, 1}, false},
    {"pads {1,0,0,1}", 2, 3, 9, 9, 5, 3, 3, 1, {1, 1}, {1, 0, 0, 1}, {1, 1}, true},
    {"3x2, dilation 2", 1, 2, 12, 10, 3, 3, 2, 1, {1, 1}, {2, 2, 2, 2}, {2, 2}, true},
    {"stride 2, pads {1,0,0,1}, 2 groups", 2, 4, 9, 8, 4, 3, 3, 2, {2, 2}, {1, 0, 0, 1},
     {1, 1}, false},
    {"depthwise, strides {2,1}, dilations {2,1}", 1, 4, 11, 9, 4, 3, 3, 4, {2, 1},
     {2, 1, 2, 1}, {2, 1}, true},
    {"pointwise", 2, 5, 6, 7, 3, 1, 1, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, true},
};

struct PoolCase {
  const char *name;
  int64_t n, c, h, w;
  int64_t kernel[2], strides[2], pads[4], dilations[2];
  bool ceil; // An extra, partial window where the stride leaves one.

  std::vector<int64_t> x() const { return {n, c, h, w}; }
  std::vector<int64_t> y() const {
    auto size = [&](int64_t in, int d) {
      int64_t span = in + pads[d] + pads[d + 2] - dilations[d] * (kernel[d] - 1) - 1;
      return (ceil ? span + strides[d] - 1 : span) / strides[d] + 1;
    };
    return {n, c, size(h, 0), size(w, 1)};
  }
};

const PoolCase kPoolCases[] = {
    {"3x3, stride 2, pad 1", 2, 3, 9, 8, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, false},
    {"2x3, strides {1,2}, pads {0,1,1,0}", 1, 4, 7, 10, {2, 3}, {1, 2}, {0, 1, 1, 0},
     {1, 1}, false},
    {"3x3, stride 2, ceil mode", 2, 2, 8, 9, {3, 3}, {2, 2}, {0, 0, 0, 0}, {1, 1}, true},
    {"3x3, pad 2, dilation 2", 1, 3, 11, 10, {3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 2}, false},
};
} // namespace

TEST_F(CudaKernels, Conv2d) {
  unsigned seed = 1;
  for (const ConvCase &p : kConvCases) {
    auto x = randomF32(p.x(), seed++), w = randomF32(p.weight(), seed++);
    auto b = randomF32({p.f}, seed++);
    Tensor<float> want(GP_F32, p.y());
    compareKernel(std::string("conv2d ") + p.name + (p.bias ? ", bias" : ""), kMatmul,
                  {&x, &w, p.bias ? &b : nullptr}, {&want},
                  KERNEL_PAIR(conv2d, t[0], t[1], t[2], p.strides, p.pads, p.dilations,
                              p.groups, t[3]));
  }
}

// The second call of a problem takes the algorithm the context cached on
// the first (new data, the same shapes), and still matches the CPU.
TEST_F(CudaKernels, Conv2dAndGemmAgainWithCachedAlgorithms) {
  const ConvCase &p = kConvCases[0];
  for (unsigned seed : {11u, 12u}) {
    auto x = randomF32(p.x(), seed), w = randomF32(p.weight(), seed + 100);
    Tensor<float> want(GP_F32, p.y());
    compareKernel(std::string("conv2d again ") + p.name, kMatmul, {&x, &w, nullptr}, {&want},
                  KERNEL_PAIR(conv2d, t[0], t[1], t[2], p.strides, p.pads, p.dilations,
                              p.groups, t[3]));
    auto a = randomF32({6, 10}, seed + 200), b = randomF32({10, 3}, seed + 300);
    Tensor<float> c(GP_F32, {6, 3});
    compareKernel("gemm again", kMatmul, {&a, &b, nullptr}, {&c},
                  KERNEL_PAIR(gemm, t[0], t[1], t[2], 1.0f, 0.0f, false, false, t[3]));
  }
}

TEST_F(CudaKernels, Conv2dGradInputAndWeight) {
  unsigned seed = 1;
  for (const ConvCase &p : kConvCases) {
    auto dy = randomF32(p.y(), seed++), x = randomF32(p.x(), seed++);
    auto w = randomF32(p.weight(), seed++);
    Tensor<float> dx(GP_F32, p.x()), dw(GP_F32, p.weight());
    compareKernel(std::string("conv2d_grad_input ") + p.name, kMatmul, {&dy, &w}, {&dx},
                  KERNEL_PAIR(conv2d_grad_input, t[0], t[1], p.strides, p.pads,
                              p.dilations, p.groups, t[2]));
    compareKernel(std::string("conv2d_grad_weight ") + p.name, kMatmul, {&dy, &x}, {&dw},
                  KERNEL_PAIR(conv2d_grad_weight, t[0], t[1], p.strides, p.pads,
                              p.dilations, p.groups, t[2]));
  }
}

TEST_F(CudaKernels, MaxPool2dAndGrad) {
  unsigned seed = 1;
  for (const PoolCase &p : kPoolCases) {
    auto x = randomF32(p.x(), seed++), dy = randomF32(p.y(), seed++);
    Tensor<float> y(GP_F32, p.y()), dx(GP_F32, p.x());
    compareKernel(std::string("max_pool2d ") + p.name, kExact, {&x}, {&y},
                  KERNEL_PAIR(max_pool2d, t[0], p.kernel, p.strides, p.pads, p.dilations,
                              t[1]));
    // Overlapping windows add into one element in any order: not exact.
    compareKernel(std::string("max_pool2d_grad ") + p.name, kF32, {&dy, &x}, {&dx},
                  KERNEL_PAIR(max_pool2d_grad, t[0], t[1], p.kernel, p.strides, p.pads,
                              p.dilations, t[2]));
  }
}


// The layers of test/models/resnet_cnn at its training shapes (micro-batches
// of 2 and 4 images of 3x16x16): cuDNN picks its algorithms by shape, and the
// small cases above need not reach the ones these do.
TEST_F(CudaKernels, ResNetLayersAtTrainingShapes) {
  unsigned seed = 500;
  for (int64_t n : {2, 4}) {
    const ConvCase convs[] = {
        {"stem 3->16 16x16", n, 3, 16, 16, 16, 3, 3, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}, false},
        {"block1 16->16 8x8", n, 16, 8, 8, 16, 3, 3, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}, false},
        {"block2 16->32 stride 2", n, 16, 8, 8, 32, 3, 3, 1, {2, 2}, {1, 1, 1, 1}, {1, 1},
         false},
        {"block2 32->32 4x4", n, 32, 4, 4, 32, 3, 3, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}, false},
        {"shortcut 1x1 stride 2", n, 16, 8, 8, 32, 1, 1, 1, {2, 2}, {0, 0, 0, 0}, {1, 1},
         false},
    };
    for (const ConvCase &p : convs) {
      std::string name = std::string(p.name) + ", batch " + std::to_string(n);
      auto x = randomF32(p.x(), seed++), w = randomF32(p.weight(), seed++);
      auto dy = randomF32(p.y(), seed++);
      Tensor<float> y(GP_F32, p.y()), dx(GP_F32, p.x()), dw(GP_F32, p.weight());
      compareKernel("conv2d " + name, kMatmul, {&x, &w, nullptr}, {&y},
                    KERNEL_PAIR(conv2d, t[0], t[1], t[2], p.strides, p.pads, p.dilations,
                                p.groups, t[3]));
      compareKernel("conv2d_grad_input " + name, kMatmul, {&dy, &w}, {&dx},
                    KERNEL_PAIR(conv2d_grad_input, t[0], t[1], p.strides, p.pads,
                                p.dilations, p.groups, t[2]));
      compareKernel("conv2d_grad_weight " + name, kMatmul, {&dy, &x}, {&dw},
                    KERNEL_PAIR(conv2d_grad_weight, t[0], t[1], p.strides, p.pads,
                                p.dilations, p.groups, t[2]));
    }
    for (std::vector<int64_t> dims : {std::vector<int64_t>{n, 16, 16, 16},
                                      std::vector<int64_t>{n, 16, 8, 8},
                                      std::vector<int64_t>{n, 32, 4, 4}}) {
      int64_t c = dims[1];
      auto x = randomF32(dims, seed++, -1.0f, 3.0f), dy = randomF32(dims, seed++);
      auto scale = randomF32({c}, seed++, 0.5f, 1.5f), bias = randomF32({c}, seed++);
      auto mean = randomF32({c}, seed++), var = randomF32({c}, seed++, 0.5f, 2.0f);
      Tensor<float> out(GP_F32, dims), newMean(GP_F32, {c}), newVar(GP_F32, {c});
      compareKernel("batch_norm_train " + str(dims), kF32,
                    {&x, &scale, &bias, &mean, &var}, {&out, &newMean, &newVar},
                    KERNEL_PAIR(batch_norm_train, t[0], t[1], t[2], t[3], t[4], 1e-5f,
                                0.9f, false, t[5], t[6], t[7]));
      Tensor<float> dx(GP_F32, dims), dscale(GP_F32, {c}), dbias(GP_F32, {c});
      compareKernel("batch_norm_train_grad " + str(dims), kF32, {&dy, &x, &scale},
                    {&dx, &dscale, &dbias},
                    KERNEL_PAIR(batch_norm_train_grad, t[0], t[1], t[2], 1e-5f, t[3],
                                t[4], t[5]));
    }
    // The 2x2 max pool after a ReLU: many windows of tied zeros, whose
    // gradient goes to the first of them on both devices.
    std::vector<int64_t> dims{n, 16, 16, 16}, pooled{n, 16, 8, 8};
    auto x = randomF32(dims, seed++, -2.0f, 1.0f);
    for (int64_t i = 0; i < x.size(); ++i)
      x[i] = std::max(x[i], 0.0f);
    auto dy = randomF32(pooled, seed++);
    const int64_t kernel[2] = {2, 2}, strides[2] = {2, 2}, pads[4] = {0, 0, 0, 0},
                  dilations[2] = {1, 1};
    Tensor<float> y(GP_F32, pooled), dx(GP_F32, dims);
    compareKernel("max_pool2d after relu, batch " + std::to_string(n), kExact, {&x}, {&y},
                  KERNEL_PAIR(max_pool2d, t[0], kernel, strides, pads, dilations, t[1]));
    compareKernel("max_pool2d_grad after relu, batch " + std::to_string(n), kExact, {&dy, &x},
                  {&dx},
                  KERNEL_PAIR(max_pool2d_grad, t[0], t[1], kernel, strides, pads, dilations,
                              t[2]));
  }
}
TEST_F(CudaKernels, AvgPool2dAndGrad) {
  unsigned seed = 1;
  for (const PoolCase &p : kPoolCases) {
    if (p.dilations[0] != 1 || p.dilations[1] != 1)
      continue; // Average pooling has no dilation.
    for (bool includePad : {false, true}) {
      auto x = randomF32(p.x(), seed++), dy = randomF32(p.y(), seed++);
      Tensor<float> y(GP_F32, p.y()), dx(GP_F32, p.x());
      std::string what = p.name + std::string(includePad ? ", counting padding" : "");
      compareKernel("avg_pool2d " + what, kF32, {&x}, {&y},
                    KERNEL_PAIR(avg_pool2d, t[0], p.kernel, p.strides, p.pads, includePad,
                                t[1]));
      compareKernel("avg_pool2d_grad " + what, kF32, {&dy}, {&dx},
                    KERNEL_PAIR(avg_pool2d_grad, t[0], p.kernel, p.strides, p.pads,
                                includePad, t[1]));
    }
  }
}

TEST_F(CudaKernels, GlobalPool) {
  const std::vector<std::vector<int64_t>> shapes = {{2, 3, 5, 7}, {1, 4, 33, 31}};
  unsigned seed = 1;
  for (const std::vector<int64_t> &dims : shapes) {
    auto x = randomF32(dims, seed++);
    Tensor<float> mx(GP_F32, {dims[0], dims[1], 1, 1}), avg(GP_F32, {dims[0], dims[1], 1, 1});
    compareKernel("global max pool " + str(dims), kExact, {&x}, {&mx},
                  KERNEL_PAIR(global_pool, t[0], true, t[1]));
    compareKernel("global avg pool " + str(dims), kF32, {&x}, {&avg},
                  KERNEL_PAIR(global_pool, t[0], false, t[1]));
  }
}

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

TEST_F(CudaKernels, BatchNormInference) {
  const std::vector<std::vector<int64_t>> shapes = {{2, 3, 4, 5}, {8, 6}, {2, 4, 3, 2, 5}};
  unsigned seed = 1;
  for (const std::vector<int64_t> &dims : shapes) {
    int64_t c = dims[1];
    auto x = randomF32(dims, seed++);
    auto scale = randomF32({c}, seed++, 0.5f, 1.5f), bias = randomF32({c}, seed++);
    auto mean = randomF32({c}, seed++), var = randomF32({c}, seed++, 0.5f, 2.0f);
    Tensor<float> want(GP_F32, dims);
    compareKernel("batch_norm " + str(dims), kF32, {&x, &scale, &bias, &mean, &var},
                  {&want},
                  KERNEL_PAIR(batch_norm, t[0], t[1], t[2], t[3], t[4], 1e-5f, t[5]));
  }
}

TEST_F(CudaKernels, BatchNormTrainUpdatesRunningStatistics) {
  const std::vector<std::vector<int64_t>> shapes = {{4, 3, 5, 7}, {16, 5}};
  unsigned seed = 1;
  for (const std::vector<int64_t> &dims : shapes)
    for (bool unbiased : {false, true}) {
      int64_t c = dims[1];
      auto x = randomF32(dims, seed++, -1.0f, 3.0f);
      auto scale = randomF32({c}, seed++, 0.5f, 1.5f), bias = randomF32({c}, seed++);
      auto mean = randomF32({c}, seed++), var = randomF32({c}, seed++, 0.5f, 2.0f);
      Tensor<float> out(GP_F32, dims), newMean(GP_F32, {c}), newVar(GP_F32, {c});
      compareKernel("batch_norm_train " + str(dims) + (unbiased ? ", unbiased" : ""), kF32,
                    {&x, &scale, &bias, &mean, &var}, {&out, &newMean, &newVar},
                    KERNEL_PAIR(batch_norm_train, t[0], t[1], t[2], t[3], t[4], 1e-5f,
                                0.9f, unbiased, t[5], t[6], t[7]));
    }
}

TEST_F(CudaKernels, BatchNormTrainGrad) {
  const std::vector<std::vector<int64_t>> shapes = {{4, 3, 5, 7}, {16, 5}};
  unsigned seed = 1;
  for (const std::vector<int64_t> &dims : shapes) {
    int64_t c = dims[1];
    auto dy = randomF32(dims, seed++), x = randomF32(dims, seed++, -1.0f, 3.0f);
    auto scale = randomF32({c}, seed++, 0.5f, 1.5f);
    Tensor<float> dx(GP_F32, dims), dscale(GP_F32, {c}), dbias(GP_F32, {c});
    compareKernel("batch_norm_train_grad " + str(dims), kF32, {&dy, &x, &scale},
                  {&dx, &dscale, &dbias},
                  KERNEL_PAIR(batch_norm_train_grad, t[0], t[1], t[2], 1e-5f, t[3], t[4],
                              t[5]));
  }
}

namespace {
struct NormCase {
  std::vector<int64_t> x;
  int64_t axis;

  std::vector<int64_t> params() const { return {x.begin() + axis, x.end()}; }
  std::string name() const { return str(x) + " axis " + std::to_string(axis); }
};
const NormCase kLayerNormCases[] = {{{4, 6, 10}, 2}, {{4, 6, 10}, 1}, {{3, 1023}, 1}};
} // namespace

TEST_F(CudaKernels, LayerNormWithAndWithoutBias) {
  unsigned seed = 1;
  for (const NormCase &c : kLayerNormCases)
    for (bool withBias : {false, true}) {
      auto x = randomF32(c.x, seed++, -1.0f, 3.0f);
      auto scale = randomF32(c.params(), seed++, 0.5f, 1.5f);
      auto bias = randomF32(c.params(), seed++);
      Tensor<float> want(GP_F32, c.x);
      compareKernel("layer_norm " + c.name() + (withBias ? ", bias" : ""), kF32,
                    {&x, &scale, withBias ? &bias : nullptr}, {&want},
                    KERNEL_PAIR(layer_norm, t[0], t[1], t[2], c.axis, 1e-5f, t[3]));
    }
}

TEST_F(CudaKernels, LayerNormGrad) {
  unsigned seed = 1;
  for (const NormCase &c : kLayerNormCases) {
    auto dy = randomF32(c.x, seed++), x = randomF32(c.x, seed++, -1.0f, 3.0f);
    auto scale = randomF32(c.params(), seed++, 0.5f, 1.5f);
    Tensor<float> dx(GP_F32, c.x), dscale(GP_F32, c.params()), dbias(GP_F32, c.params());
    compareKernel("layer_norm_grad " + c.name(), kF32, {&dy, &x, &scale},
                  {&dx, &dscale, &dbias},
                  KERNEL_PAIR(layer_norm_grad, t[0], t[1], t[2], c.axis, 1e-5f, t[3], t[4],
                              t[5]));
  }
}

TEST_F(CudaKernels, SoftmaxAndLogSoftmaxAlongAnyAxis) {
  const NormCase cases[] = {{{2, 3, 4}, 0}, {{2, 3, 4}, 1}, {{2, 3, 4}, 2}, {{5, 1023}, 1}};
  unsigned seed = 1;
  for (const NormCase &c : cases)
    for (bool log : {false, true}) {
      auto x = randomF32(c.x, seed++, -5.0f, 5.0f);
      Tensor<float> want(GP_F32, c.x);
      compareKernel((log ? "log_softmax " : "softmax ") + c.name(), kF32, {&x}, {&want},
                    KERNEL_PAIR(softmax, t[0], c.axis, log, t[1]));
    }
}

TEST_F(CudaKernels, DropoutInferencePassesThrough) {
  auto x = randomF32({1023}, 1);
  Tensor<float> out(GP_F32, {1023});
  Tensor<uint8_t> mask(GP_BOOL, {1023});
  compareKernel("dropout, not training", kExact, {&x}, {&out, &mask},
                KERNEL_PAIR(dropout, t[0], 0.5f, false, 7, nullptr, t[1], t[2]));
}

TEST_F(CudaKernels, DropoutTrainingKeepsHalfScaledByTwo) {
  const int64_t n = 100000;
  auto x = randomF32({n}, 1, 0.5f, 1.5f); // Nonzero: dropped elements show.
  DeviceTensor dx(ctx, x), out(ctx, GP_F32, {n}), mask(ctx, GP_BOOL, {n});
  ASSERT_CUDA_OK(gp_cuda_dropout(ctx, &dx, 0.5f, true, 42, nullptr, &out, &mask));
  std::vector<float> o = out.download<float>();
  std::vector<uint8_t> m = mask.download<uint8_t>();
  ASSERT_EQ(o.size(), size_t(n));
  ASSERT_EQ(m.size(), size_t(n));
  int64_t kept = 0, bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    kept += m[i] == 1;
    bad += !(m[i] == 1 ? o[i] == 2 * x[i] : m[i] == 0 && o[i] == 0.0f);
  }
  EXPECT_EQ(bad, 0) << "elements neither 0 (mask false) nor 2 * x (mask true)";
  EXPECT_GE(double(kept) / n, 0.48);
  EXPECT_LE(double(kept) / n, 0.52);

  // The mask depends on the seed and the index only: the same seed (with or
  // without a mask to write) drops the same elements, another seed others.
  DeviceTensor again(ctx, GP_F32, {n}), mask2(ctx, GP_BOOL, {n});
  ASSERT_CUDA_OK(gp_cuda_dropout(ctx, &dx, 0.5f, true, 42, nullptr, &again, nullptr));
  expectClose(again.download<float>(), o, kExact, "dropout without a mask, same seed");
  ASSERT_CUDA_OK(gp_cuda_dropout(ctx, &dx, 0.5f, true, 43, nullptr, &again, &mask2));
  EXPECT_TRUE(mask2.download<uint8_t>() != m) << "seeds 42 and 43 gave the same mask";
}

// The CPU and the GPU draw the same masks, with and without a stream
// operand (read from device memory by the kernel).
TEST_F(CudaKernels, DropoutMasksEqualTheCpus) {
  auto x = randomF32({37, 129}, 3, 0.5f, 1.5f);
  Tensor<float> out(GP_F32, {37, 129});
  Tensor<uint8_t> mask(GP_BOOL, {37, 129});
  compareKernel("dropout, seed 11", kExact, {&x}, {&out, &mask},
                KERNEL_PAIR(dropout, t[0], 0.3f, true, 11, nullptr, t[1], t[2]));
  Tensor<int64_t> rng(GP_I64, {2});
  rng[0] = 17;
  rng[1] = 3;
  compareKernel("dropout, stream 17 part 3", kExact, {&x, &rng}, {&out, &mask},
                KERNEL_PAIR(dropout, t[0], 0.3f, true, 11, t[1], t[2], t[3]));
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

TEST_F(CudaKernels, ReduceOverAxes) {
  struct Case {
    std::vector<int64_t> x, axes, out;
  };
  const Case cases[] = {
      {{3, 4, 5}, {1}, {3, 5}},       {{3, 4, 5}, {0, 2}, {4}},
      {{3, 4, 5}, {}, {}},            {{37, 1023}, {0}, {1023}},
      {{37, 1023}, {1}, {37}},        {{7, 1023, 3}, {1}, {7, 3}},
  };
  const Named<gp_reduce_op> ops[] = {{GP_REDUCE_SUM, "sum"}, {GP_REDUCE_MEAN, "mean"},
                                     {GP_REDUCE_MAX, "max"}, {GP_REDUCE_MIN, "min"}};
  unsigned seed = 1;
  for (const Case &c : cases)
    for (const Named<gp_reduce_op> &o : ops) {
      auto x = randomF32(c.x, seed++);
      Tensor<float> want(GP_F32, c.out);
      double tol = o.op == GP_REDUCE_SUM || o.op == GP_REDUCE_MEAN ? kF32 : kExact;
      compareKernel(o.name + (" " + str(c.x) + " over " + str(c.axes)), tol, {&x}, {&want},
                    KERNEL_PAIR(reduce, o.op, t[0], c.axes.data(), (int32_t)c.axes.size(),
                                t[1]));
    }
}

TEST_F(CudaKernels, ArgReduceBreaksTiesAsAsked) {
  unsigned seed = 1;
  // Few distinct values in the first tensor: ties decide many results.
  auto ties = randomIntegral({3, 4, 5}, seed++, 0, 3);
  auto x = randomF32({5, 1023}, seed++);
  for (gp_tensor *in : {&ties, &x})
    for (int64_t axis = 0; axis < in->rank; ++axis)
      for (bool isMax : {false, true})
        for (bool last : {false, true}) {
          std::vector<int64_t> dims = dimsOf(*in);
          std::string what = std::string(isMax ? "argmax " : "argmin ") + str(dims) +
                             " axis " + std::to_string(axis) + (last ? ", last" : "");
          dims.erase(dims.begin() + axis);
          Tensor<int64_t> want(GP_I64, dims);
          compareKernel(what, kExact, {in}, {&want},
                        KERNEL_PAIR(arg_reduce, t[0], axis, isMax, last, t[1]));
        }
}

//===----------------------------------------------------------------------===//
// Data movement
//===----------------------------------------------------------------------===//

TEST_F(CudaKernels, CopyReshapes) {
  compareMovement("copy [3,4,5] to [60]", {{3, 4, 5}}, {60}, {}, KERNEL_PAIR(copy, t[0], t[1]));
  compareMovement("copy [7,9] to [9,7]", {{7, 9}}, {9, 7}, {}, KERNEL_PAIR(copy, t[0], t[1]));
  auto b = randomBool({1023}, 1);
  Tensor<uint8_t> want(GP_BOOL, {1023});
  compareKernel("copy bool", kExact, {&b}, {&want}, KERNEL_PAIR(copy, t[0], t[1]));
}

TEST_F(CudaKernels, TransposePermutes) {
  struct Case {
    std::vector<int64_t> x, perm;
  };
  const Case cases[] = {{{3, 4, 5}, {2, 0, 1}}, {{2, 3, 4, 5}, {0, 2, 3, 1}}, {{33, 65}, {1, 0}}};
  for (const Case &c : cases) {
    std::vector<int64_t> out;
    for (int64_t p : c.perm)
      out.push_back(c.x[p]);
    compareMovement("transpose " + str(c.x) + " by " + str(c.perm), {c.x}, out, {},
                    KERNEL_PAIR(transpose, t[0], c.perm.data(), t[1]));
  }
}

TEST_F(CudaKernels, ConcatThreeInputs) {
  struct Case {
    std::vector<int64_t> a, b, c, out;
    int64_t axis;
  };
  const Case cases[] = {{{2, 3, 4}, {2, 1, 4}, {2, 5, 4}, {2, 9, 4}, 1},
                        {{2, 3, 1}, {2, 3, 6}, {2, 3, 2}, {2, 3, 9}, 2},
                        {{1, 1023}, {3, 1023}, {2, 1023}, {6, 1023}, 0}};
  for (const Case &c : cases)
    compareMovement("concat axis " + std::to_string(c.axis) + " of " + str(c.a) + " " +
                        str(c.b) + " " + str(c.c),
                    {c.a, c.b, c.c}, c.out, {}, KERNEL_PAIR(concat, t, 3, c.axis, t[3]));
}

namespace {
struct SliceCase {
  std::vector<int64_t> starts, steps, out;

  std::string name() const { return "starts " + str(starts) + " steps " + str(steps); }
};
const std::vector<int64_t> kSliced = {5, 6, 7};
const SliceCase kSliceCases[] = {
    {{4, 1, 6}, {-1, 2, -3}, {5, 3, 3}},
    {{0, 5, 2}, {2, -2, 1}, {3, 3, 4}},
};
} // namespace

TEST_F(CudaKernels, SliceWithNegativeSteps) {
  for (const SliceCase &s : kSliceCases)
    compareMovement("slice " + s.name(), {kSliced}, s.out, {},
                    KERNEL_PAIR(slice, t[0], s.starts.data(), s.steps.data(), t[1]));
}

TEST_F(CudaKernels, SliceGradScattersIntoZeros) {
  unsigned seed = 1;
  for (const SliceCase &s : kSliceCases) {
    auto dy = randomF32(s.out, seed++);
    Tensor<float> want(GP_F32, kSliced);
    compareKernel("slice_grad " + s.name(), kExact, {&dy}, {&want},
                  KERNEL_PAIR(slice_grad, t[0], s.starts.data(), s.steps.data(), t[1]));
  }
}

TEST_F(CudaKernels, ExpandBroadcasts) {
  const std::pair<std::vector<int64_t>, std::vector<int64_t>> cases[] = {
      {{3, 1, 5}, {2, 3, 4, 5}}, {{}, {1023}}, {{4, 1}, {4, 1023}}};
  for (const auto &c : cases)
    compareMovement("expand " + str(c.first) + " to " + str(c.second), {c.first}, c.second, {},
                    KERNEL_PAIR(expand, t[0], t[1]));
}

namespace {
struct GatherCase {
  std::vector<int64_t> indexDims, indices;
  int64_t axis;
  std::vector<int64_t> out;

  std::string name() const {
    return "axis " + std::to_string(axis) + " indices " + str(indices);
  }
};
const std::vector<int64_t> kGathered = {5, 4, 3};
} // namespace

TEST_F(CudaKernels, GatherWithNegativeIndices) {
  const GatherCase cases[] = {
      {{2, 3}, {0, -1, 4, -5, 2, 2}, 0, {2, 3, 4, 3}},
      {{6}, {3, -4, 1, -1, 0, 2}, 1, {5, 6, 3}},
      {{}, {-2}, 2, {5, 4}},
  };
  for (const GatherCase &c : cases) {
    auto indices = indexTensor(c.indexDims, c.indices);
    compareMovement("gather " + c.name(), {kGathered}, c.out, {&indices},
                    KERNEL_PAIR(gather, t[0], t[1], c.axis, t[2]));
  }
}

TEST_F(CudaKernels, GatherGradAddsRepeatedIndices) {
  const GatherCase cases[] = {
      {{6}, {1, 1, -4, 3, 1, 0}, 1, {5, 6, 3}},
      {{2, 3}, {0, -1, 4, -5, 4, 0}, 0, {2, 3, 4, 3}},
  };
  unsigned seed = 1;
  for (const GatherCase &c : cases) {
    auto indices = indexTensor(c.indexDims, c.indices);
    auto dy = randomF32(c.out, seed++);
    Tensor<float> want(GP_F32, kGathered);
    compareKernel("gather_grad " + c.name(), kExact, {&dy, &indices}, {&want},
                  KERNEL_PAIR(gather_grad, t[0], t[1], c.axis, t[2]));
  }
}

// An embedding's gradient: 2048 tokens over a 300-row table, most rows hit
// several times; the sums follow the CPU's order, so they equal its to the
// bit (and a second run equals the first).
TEST_F(CudaKernels, GatherGradOfAnEmbeddingEqualsTheCpu) {
  const std::vector<int64_t> table = {300, 24};
  auto indices = randomI64({8, 256}, 7, -300, 299);
  auto dy = randomF32({8, 256, 24}, 8);
  Tensor<float> want(GP_F32, table);
  compareKernel("gather_grad embedding", kExact, {&dy, &indices}, {&want},
                KERNEL_PAIR(gather_grad, t[0], t[1], 0, t[2]));
  DeviceTensor dDy(ctx, dy), dIndices(ctx, indices), first(ctx, GP_F32, table),
      second(ctx, GP_F32, table);
  ASSERT_CUDA_OK(gp_cuda_gather_grad(ctx, &dDy.view, &dIndices.view, 0, &first.view));
  ASSERT_CUDA_OK(gp_cuda_gather_grad(ctx, &dDy.view, &dIndices.view, 0, &second.view));
  EXPECT_EQ(first.download<float>(), second.download<float>());
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

namespace {
struct LossCase {
  std::vector<int64_t> input; // [N, C, D...]
  bool weighted;
  bool hasIgnore;
  int64_t ignoreIndex;
  gp_loss_reduction reduction;

  std::vector<int64_t> labelDims() const {
    std::vector<int64_t> d = input;
    d.erase(d.begin() + 1);
    return d;
  }
  std::vector<int64_t> lossDims() const {
    return reduction == GP_LOSS_NONE ? labelDims() : std::vector<int64_t>{};
  }
  /// Labels in [0, C); every fourth is the ignored index where that is not a
  /// class.
  Tensor<int64_t> labels(unsigned seed) const {
    Tensor<int64_t> l = randomI64(labelDims(), seed, 0, input[1] - 1);
    if (hasIgnore && ignoreIndex < 0)
      for (int64_t i = 0; i < l.size(); i += 4)
        l[i] = ignoreIndex;
    return l;
  }
  std::string name() const {
    static const char *const reductions[] = {"none", "sum", "mean"};
    return str(input) + (weighted ? ", weighted" : "") +
           (hasIgnore ? ", ignoring " + std::to_string(ignoreIndex) : "") + ", reduction " +
           reductions[reduction];
  }
};

/// Two shapes, with and without weights, ignoring nothing, -100 (on some
/// labels) or class 2, each reduction.
std::vector<LossCase> lossCases() {
  std::vector<LossCase> cases;
  const std::vector<std::vector<int64_t>> shapes = {{8, 5}, {3, 5, 7}};
  for (const std::vector<int64_t> &dims : shapes)
    for (bool weighted : {false, true})
      for (int ignore = 0; ignore < 3; ++ignore)
        for (gp_loss_reduction r : {GP_LOSS_NONE, GP_LOSS_SUM, GP_LOSS_MEAN})
          cases.push_back({dims, weighted, ignore != 0, ignore == 2 ? 2 : -100, r});
  return cases;
}
} // namespace

TEST_F(CudaKernels, NllLoss) {
  unsigned seed = 1;
  for (const LossCase &c : lossCases()) {
    auto input = randomF32(c.input, seed++, -4.0f, 0.0f); // Log-probabilities.
    auto labels = c.labels(seed++);
    auto weights = randomF32({c.input[1]}, seed++, 0.5f, 2.0f);
    Tensor<float> want(GP_F32, c.lossDims());
    compareKernel("nll_loss " + c.name(), kF32,
                  {&input, &labels, c.weighted ? &weights : nullptr}, {&want},
                  KERNEL_PAIR(nll_loss, t[0], t[1], t[2], c.reduction, c.hasIgnore,
                              c.ignoreIndex, t[3]));
  }
}

TEST_F(CudaKernels, SoftmaxCrossEntropy) {
  unsigned seed = 1;
  for (const LossCase &c : lossCases()) {
    auto scores = randomF32(c.input, seed++, -3.0f, 3.0f);
    auto labels = c.labels(seed++);
    auto weights = randomF32({c.input[1]}, seed++, 0.5f, 2.0f);
    Tensor<float> want(GP_F32, c.lossDims());
    compareKernel("softmax_cross_entropy " + c.name(), kF32,
                  {&scores, &labels, c.weighted ? &weights : nullptr}, {&want},
                  KERNEL_PAIR(softmax_cross_entropy, t[0], t[1], t[2], c.reduction,
                              c.hasIgnore, c.ignoreIndex, t[3]));
  }
}

TEST_F(CudaKernels, NllLossGrad) {
  unsigned seed = 1;
  for (const LossCase &c : lossCases()) {
    auto dloss = randomF32(c.lossDims(), seed++, 0.5f, 1.5f);
    auto labels = c.labels(seed++);
    auto weights = randomF32({c.input[1]}, seed++, 0.5f, 2.0f);
    Tensor<float> want(GP_F32, c.input);
    compareKernel("nll_loss_grad " + c.name(), kF32,
                  {&dloss, &labels, c.weighted ? &weights : nullptr}, {&want},
                  KERNEL_PAIR(nll_loss_grad, t[0], t[1], t[2], c.reduction, c.hasIgnore,
                              c.ignoreIndex, t[3]));
  }
}

//===----------------------------------------------------------------------===//
// Contexts and memory
//===----------------------------------------------------------------------===//

TEST_F(CudaKernels, ConstantsAreUploadedOncePerContext) {
  auto host = randomF32({5, 7}, 3);
  const gp_tensor *first = nullptr, *again = nullptr;
  ASSERT_CUDA_OK(gp_cuda_constant(ctx, &host, &first));
  ASSERT_CUDA_OK(gp_cuda_constant(ctx, &host, &again));
  EXPECT_EQ(first, again);
  EXPECT_NE(first->data, host.view.data);
  std::vector<float> back(host.data.size());
  ASSERT_GP_OK(gp_cuda_to_host(ctx, back.data(), first->data, back.size() * sizeof(float)));
  EXPECT_EQ(back, host.data);
}

TEST_F(CudaKernels, ArenaGrowsOnlyWhenAskedForMore) {
  unsigned char *a = nullptr, *b = nullptr, *c = nullptr;
  ASSERT_GP_OK(gp_cuda_arena(ctx, 1 << 20, &a));
  ASSERT_GP_OK(gp_cuda_arena(ctx, 1000, &b));
  EXPECT_EQ(a, b);
  ASSERT_GP_OK(gp_cuda_arena(ctx, 4 << 20, &c));
  ASSERT_NE(c, nullptr);
  ASSERT_GP_OK(gp_cuda_memset_zero(ctx, c, 4 << 20));
  ASSERT_GP_OK(gp_cuda_sync(ctx));
}

TEST_F(CudaKernels, FreedBlocksAreReusedAndCopiesRoundTrip) {
  int device = gp_cuda_ctx_device(ctx);
  void *p = gp_cuda_alloc(device, 3000);
  ASSERT_NE(p, nullptr) << gp_last_error();
  gp_cuda_free(device, p);
  void *q = gp_cuda_alloc(device, 2900); // the same size class
  EXPECT_EQ(p, q);
  auto host = randomF32({700}, 4);
  std::vector<float> back(700, 0.0f);
  void *r = gp_cuda_alloc(device, 700 * sizeof(float));
  ASSERT_NE(r, nullptr) << gp_last_error();
  ASSERT_GP_OK(gp_cuda_to_device(ctx, q, host.data.data(), 700 * sizeof(float)));
  ASSERT_GP_OK(gp_cuda_copy_bytes(ctx, r, q, device, 700 * sizeof(float)));
  ASSERT_GP_OK(gp_cuda_to_host(ctx, back.data(), r, 700 * sizeof(float)));
  EXPECT_EQ(back, host.data);
  gp_cuda_free(device, q);
  gp_cuda_free(device, r);
}
