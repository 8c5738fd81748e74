//===- CudaSyncTest.cpp - hand-offs between streams (--sync) --------------===//
//
// gp_cuda_finish / gp_cuda_publish / gp_cuda_await and the caching
// allocator under GP_CUDA_SYNC_EVENTS: a reader's stream waits for the
// writer's event, and a freed block is not handed out again while a stream
// that used it may still be working on it. Each test keeps the writing
// stream busy (fp32 4096x4096 matrix products, milliseconds of work) and
// checks that it still is when the hand-off happens, so a missing wait
// shows as wrong data or a reused block. Without a CUDA device every test
// skips.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "gpipe/runtime/gp_cuda.h"

#include <cuda_runtime.h>

#include <random>
#include <vector>

namespace {

constexpr int64_t kBig = 4096;

class CudaSync : public ::testing::Test {
protected:
  void SetUp() override {
    int count = 0;
    if (gp_cuda_device_count(&count) != GP_OK || count < 1)
      GTEST_SKIP() << "no CUDA device: " << gp_last_error();
    gp_cuda_set_sync_mode(GP_CUDA_SYNC_EVENTS);
    ASSERT_GP_OK(gp_cuda_ctx_create(0, GP_PRECISION_FP32, &a));
    ASSERT_GP_OK(gp_cuda_ctx_create(0, GP_PRECISION_FP32, &b));
    ASSERT_GP_OK(gp_cuda_ctx_bind(a));
    int64_t dims[2] = {kBig, kBig};
    for (gp_tensor *t : {&m0, &m1}) {
      gp_tensor_init(t, GP_F32, 2, dims);
      t->data = gp_cuda_alloc(0, bytesOf(*t));
      ASSERT_NE(t->data, nullptr) << gp_last_error();
    }
    // Not zeros: ones, so the products stay finite.
    std::vector<float> ones(kBig * kBig, 1.0f / kBig);
    ASSERT_GP_OK(gp_cuda_to_device(a, m0.data, ones.data(), bytesOf(m0)));
    // CUDA loads a kernel's module at its first launch (lazy loading): a
    // first launch between a test's long work and its busy check took so
    // long on an H200 that the work was done (the first test, run alone).
    // Each kernel the tests launch runs once here.
    const int64_t few = 16;
    gp_tensor head0{}, head1{};
    gp_tensor_init(&head0, GP_F32, 1, &few);
    gp_tensor_init(&head1, GP_F32, 1, &few);
    head0.data = m0.data;
    head1.data = m1.data;
    ASSERT_GP_OK(gp_cuda_matmul(a, &m0, &m0, &m1));
    ASSERT_GP_OK(gp_cuda_unary(a, GP_NEG, &head0, 0, 0, &head1));
    ASSERT_GP_OK(gp_cuda_sync(a));
    ASSERT_GP_OK(gp_cuda_copy(b, &head0, &head1));
    ASSERT_GP_OK(gp_cuda_memset_zero(b, head1.data, bytesOf(head1)));
    ASSERT_GP_OK(gp_cuda_sync(b));
  }
  void TearDown() override {
    if (a)
      gp_cuda_sync(a);
    for (gp_tensor *t : {&m0, &m1})
      if (t->data)
        gp_cuda_free(0, t->data);
    gp_cuda_ctx_destroy(a);
    gp_cuda_ctx_destroy(b);
    gp_cuda_set_sync_mode(GP_CUDA_SYNC_HOST);
  }

  static size_t bytesOf(const gp_tensor &t) { return gp_numel(&t) * gp_dtype_size(t.dtype); }

  /// Milliseconds of work on `ctx`'s stream.
  void keepBusy(gp_cuda_ctx *ctx) {
    for (int i = 0; i < 8; ++i)
      ASSERT_GP_OK(gp_cuda_matmul(ctx, &m0, &m0, &m1));
  }

  /// An f32[n] block that `a` writes after milliseconds of work and
  /// publishes, and `b` waits for.
  gp_tensor writtenByAReadByB(int64_t n) {
    gp_tensor p{};
    gp_tensor_init(&p, GP_F32, 1, &n);
    // Allocated with `a` bound: in event mode a's stream is its first user.
    p.data = gp_cuda_alloc(0, bytesOf(p));
    EXPECT_NE(p.data, nullptr) << gp_last_error();
    if (!p.data)
      return p;
    keepBusy(a);
    EXPECT_GP_OK(gp_cuda_memset_zero(a, p.data, bytesOf(p)));
    EXPECT_GP_OK(gp_cuda_finish(a));
    EXPECT_GP_OK(gp_cuda_publish(a, &p));
    EXPECT_GP_OK(gp_cuda_await(b, &p));
    return p;
  }

  /// An f32[n] block for work on `a` (gp_cuda_alloc_on) that `a` zeroes,
  /// after milliseconds of work when `busyFirst`, and publishes.
  gp_tensor zeroedOnA(int64_t n, bool busyFirst) {
    gp_tensor p{};
    gp_tensor_init(&p, GP_F32, 1, &n);
    p.data = gp_cuda_alloc_on(a, bytesOf(p));
    EXPECT_NE(p.data, nullptr) << gp_last_error();
    if (!p.data)
      return p;
    if (busyFirst)
      keepBusy(a);
    EXPECT_GP_OK(gp_cuda_memset_zero(a, p.data, bytesOf(p)));
    EXPECT_GP_OK(gp_cuda_finish(a));
    EXPECT_GP_OK(gp_cuda_publish(a, &p));
    return p;
  }

  static bool busy(gp_cuda_ctx *ctx) {
    cudaError_t status = cudaStreamQuery(static_cast<cudaStream_t>(gp_cuda_ctx_stream(ctx)));
    cudaGetLastError();
    return status == cudaErrorNotReady;
  }

  gp_cuda_ctx *a = nullptr, *b = nullptr;
  gp_tensor m0{}, m1{};
};

std::vector<float> randomValues(int64_t n) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

TEST_F(CudaSync, ReaderStreamWaitsForTheWritersEvent) {
  const int64_t n = 1 << 20;
  std::vector<float> values = randomValues(n);
  gp_tensor x{}, y{}, z{};
  for (gp_tensor *t : {&x, &y, &z}) {
    gp_tensor_init(t, GP_F32, 1, &n);
    t->data = gp_cuda_alloc(0, bytesOf(*t));
    ASSERT_NE(t->data, nullptr);
  }
  ASSERT_GP_OK(gp_cuda_to_device(a, x.data, values.data(), bytesOf(x)));
  ASSERT_GP_OK(gp_cuda_memset_zero(b, y.data, bytesOf(y)));
  ASSERT_GP_OK(gp_cuda_sync(a));
  ASSERT_GP_OK(gp_cuda_sync(b));

  // A writes y = -x after its long work; B copies y (its second half seen
  // through a view, which finds the block too) once it has waited.
  keepBusy(a);
  ASSERT_GP_OK(gp_cuda_unary(a, GP_NEG, &x, 0, 0, &y));
  ASSERT_GP_OK(gp_cuda_finish(a));
  ASSERT_GP_OK(gp_cuda_publish(a, &y));
  EXPECT_TRUE(busy(a)) << "the writer finished before the hand-off: nothing was tested";
  gp_tensor half = y;
  half.dims[0] = n / 2;
  half.data = static_cast<float *>(y.data) + n / 2;
  ASSERT_GP_OK(gp_cuda_await(b, &half));
  gp_tensor zHalf = z;
  zHalf.dims[0] = n / 2;
  zHalf.data = static_cast<float *>(z.data) + n / 2;
  ASSERT_GP_OK(gp_cuda_copy(b, &half, &zHalf));
  std::vector<float> got(n / 2);
  ASSERT_GP_OK(gp_cuda_to_host(b, got.data(), zHalf.data, bytesOf(zHalf)));
  size_t bad = 0;
  for (int64_t i = 0; i < n / 2; ++i)
    bad += got[i] != -values[n / 2 + i];
  EXPECT_EQ(bad, 0u) << "the reader's stream copied y before the writer's event";
  ASSERT_GP_OK(gp_cuda_sync(a));
  for (gp_tensor *t : {&x, &y, &z})
    gp_cuda_free(0, t->data);
}

TEST_F(CudaSync, AFreedBlockWaitsForTheStreamsThatUsedIt) {
  gp_tensor p = writtenByAReadByB(1 << 18);
  ASSERT_NE(p.data, nullptr);
  gp_cuda_free(0, p.data);
  void *again = gp_cuda_alloc(0, bytesOf(p));
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(busy(a)) << "the stream finished before the free: nothing was tested";
  EXPECT_NE(again, p.data) << "a block was handed out while a stream that used it was working";
  // Once every stream has passed the free, the block is cached again.
  ASSERT_GP_OK(gp_cuda_sync(a));
  ASSERT_GP_OK(gp_cuda_sync(b));
  // (Blocks of this size other tests cached come first.)
  std::vector<void *> taken{again};
  bool back = false;
  for (int i = 0; i < 64 && !back; ++i) {
    taken.push_back(gp_cuda_alloc(0, bytesOf(p)));
    ASSERT_NE(taken.back(), nullptr);
    back = taken.back() == p.data;
  }
  EXPECT_TRUE(back) << "the freed block never came back to the cache";
  for (void *t : taken)
    gp_cuda_free(0, t);
}

// gp_cuda_alloc_on: a freed block that only its own stream still works on
// goes back to that stream at once (the stream runs the new work after the
// old), never to another stream or an allocation of unknown stream.
TEST_F(CudaSync, AFreedBlockIsReusedAtOnceOnTheStreamThatUsedIt) {
  // A size no other test uses, so no cached block of it comes first.
  gp_tensor p = zeroedOnA(3 << 18, /*busyFirst=*/true);
  ASSERT_NE(p.data, nullptr);
  gp_cuda_free(0, p.data);
  gp_cuda_memory_stats before = gp_cuda_get_memory_stats(0);
  void *onB = gp_cuda_alloc_on(b, bytesOf(p));
  void *unknown = gp_cuda_alloc(0, bytesOf(p));
  void *onA = gp_cuda_alloc_on(a, bytesOf(p));
  gp_cuda_memory_stats after = gp_cuda_get_memory_stats(0);
  EXPECT_TRUE(busy(a)) << "the stream finished before the allocations: nothing was tested";
  EXPECT_NE(onB, p.data) << "another stream got a block its old stream was still working on";
  EXPECT_NE(unknown, p.data) << "an allocation of no stream got a block still in use";
  EXPECT_EQ(onA, p.data) << "the block's own stream did not get it back at once";
  EXPECT_EQ(after.same_stream_reuses, before.same_stream_reuses + 1);
  EXPECT_EQ(after.mallocs, before.mallocs + 2) << "onB and unknown are new blocks";
  EXPECT_GE(after.peak_reserved_bytes, after.reserved_bytes);
  for (void *t : {onB, unknown, onA})
    gp_cuda_free(0, t);
}

// A block another stream also used waits for that stream, whoever asks.
TEST_F(CudaSync, AFreedBlockSharedWithAnotherStreamIsNotReusedEarly) {
  gp_tensor p = zeroedOnA(5 << 18, /*busyFirst=*/false);
  ASSERT_NE(p.data, nullptr);
  ASSERT_GP_OK(gp_cuda_await(b, &p)); // b becomes a user
  keepBusy(b);
  ASSERT_GP_OK(gp_cuda_copy_bytes(b, m1.data, p.data, 0, bytesOf(p)));
  gp_cuda_free(0, p.data);
  void *onA = gp_cuda_alloc_on(a, bytesOf(p));
  EXPECT_TRUE(busy(b)) << "the reader finished before the allocation: nothing was tested";
  EXPECT_NE(onA, p.data) << "a block was handed to one stream while another still read it";
  ASSERT_GP_OK(gp_cuda_sync(b));
  gp_cuda_free(0, onA);
}

TEST_F(CudaSync, HostModeFinishWaitsAndFreeReusesAtOnce) {
  gp_cuda_set_sync_mode(GP_CUDA_SYNC_HOST);
  gp_tensor p = writtenByAReadByB(1 << 18);
  ASSERT_NE(p.data, nullptr);
  EXPECT_FALSE(busy(a)) << "gp_cuda_finish returned before the stream's work was done";
  gp_cuda_free(0, p.data);
  void *again = gp_cuda_alloc(0, bytesOf(p));
  EXPECT_EQ(again, p.data);
  gp_cuda_free(0, again);
}

TEST_F(CudaSync, PublishBeforeFinishIsAnError) {
  const int64_t n = 16;
  gp_tensor p{};
  gp_tensor_init(&p, GP_F32, 1, &n);
  p.data = gp_cuda_alloc(0, bytesOf(p));
  ASSERT_NE(p.data, nullptr);
  EXPECT_EQ(gp_cuda_publish(b, &p), GP_ERROR);
  EXPECT_NE(std::string(gp_last_error()).find("before gp_cuda_finish"), std::string::npos)
      << gp_last_error();
  gp_cuda_free(0, p.data);
}

} // namespace
