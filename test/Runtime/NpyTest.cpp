//===- NpyTest.cpp - .npy round trips and malformed files -----------------===//

#include "TestUtil.h"

#include <cstdio>
#include <fstream>
#include <string>

using namespace gptest;

namespace {
std::string tempPath(const char *name) {
  return std::string(::testing::TempDir()) + name;
}
} // namespace

TEST(Npy, RoundTripsEveryType) {
  auto f = randomF32({2, 3, 4}, 1);
  std::string path = tempPath("gp_f32.npy");
  ASSERT_GP_OK(gp_npy_write(path.c_str(), &f));
  gp_tensor back;
  ASSERT_GP_OK(gp_npy_read(path.c_str(), &back));
  ASSERT_EQ(back.dtype, GP_F32);
  ASSERT_EQ(back.rank, 3);
  EXPECT_EQ(back.dims[2], 4);
  EXPECT_EQ(std::memcmp(back.data, f.data.data(), f.size() * 4), 0);
  gp_free(back.data);

  Tensor<int64_t> i(GP_I64, {5});
  for (int k = 0; k < 5; ++k)
    i[k] = -k * 1000000000000LL;
  ASSERT_GP_OK(gp_npy_write(path.c_str(), &i));
  ASSERT_GP_OK(gp_npy_read(path.c_str(), &back));
  EXPECT_EQ(back.dtype, GP_I64);
  EXPECT_EQ(back.rank, 1);
  EXPECT_EQ(static_cast<int64_t *>(back.data)[4], -4000000000000LL);
  gp_free(back.data);

  Tensor<uint8_t> b(GP_BOOL, {});
  b[0] = 1;
  ASSERT_GP_OK(gp_npy_write(path.c_str(), &b));
  ASSERT_GP_OK(gp_npy_read(path.c_str(), &back));
  EXPECT_EQ(back.dtype, GP_BOOL);
  EXPECT_EQ(back.rank, 0);
  gp_free(back.data);
}

TEST(Npy, ReadsNumPyHeaders) {
  // A header as NumPy writes it for np.float64 of shape (3,).
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
  header.append(128 - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string path = tempPath("gp_numpy.npy");
  {
    std::ofstream out(path, std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    char len[2] = {(char)header.size(), 0};
    out.write(len, 2);
    out << header;
    double values[3] = {1.5, -2.0, 3.25};
    out.write(reinterpret_cast<char *>(values), sizeof(values));
  }
  gp_tensor t;
  ASSERT_GP_OK(gp_npy_read(path.c_str(), &t));
  EXPECT_EQ(t.dtype, GP_F64);
  EXPECT_EQ(static_cast<double *>(t.data)[2], 3.25);
  gp_free(t.data);
}

TEST(Npy, ClearErrors) {
  gp_tensor t;
  EXPECT_EQ(gp_npy_read(tempPath("gp_missing.npy").c_str(), &t), GP_ERROR);
  EXPECT_NE(std::string(gp_last_error()).find("cannot open"), std::string::npos);

  std::string path = tempPath("gp_bad.npy");
  {
    std::ofstream out(path, std::ios::binary);
    out << "not a numpy file at all";
  }
  EXPECT_EQ(gp_npy_read(path.c_str(), &t), GP_ERROR);
  EXPECT_NE(std::string(gp_last_error()).find("not a .npy file"), std::string::npos);

  auto f = randomF32({100}, 2);
  ASSERT_GP_OK(gp_npy_write(path.c_str(), &f));
  std::ifstream in(path, std::ios::binary);
  std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  {
    std::ofstream out(path, std::ios::binary);
    out.write(whole.data(), whole.size() - 10);
  }
  EXPECT_EQ(gp_npy_read(path.c_str(), &t), GP_ERROR);
  EXPECT_NE(std::string(gp_last_error()).find("truncated data"), std::string::npos);
}
