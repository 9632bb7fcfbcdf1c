// Size arithmetic and host allocation (src/arith.hpp), and the run-time
// choice between vector and element accesses that lets device kernels take
// views that are element-aligned but not 16-byte aligned (kernels/direct.cuh).
#include "arith.hpp"
#include "direct.cuh"
#include "harness.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace convkit::test {
namespace {

using namespace convkit::detail;

constexpr std::int64_t kI64 = std::numeric_limits<std::int64_t>::max();
constexpr std::size_t kSz = std::numeric_limits<std::size_t>::max();

template <class F>
std::string error_of(F&& f, Status want) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), want) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "did not throw";
  return {};
}

TEST(Arith, SaturatingOperationsStopAtTheMaximum) {
  EXPECT_EQ(mul_sat(std::int64_t(1) << 40, std::int64_t(1) << 30), kI64);
  EXPECT_EQ(mul_sat(std::int64_t(3), std::int64_t(5)), 15);
  EXPECT_EQ(add_sat(kI64, std::int64_t(1)), kI64);
  EXPECT_EQ(mul_sat(std::size_t(1) << 61, std::size_t(8)), kSz);
  EXPECT_EQ(add_sat(kSz - 1, std::size_t(2)), kSz);
  EXPECT_EQ(bytes_sat(std::int64_t(1) << 61, 8), kSz);
  EXPECT_EQ(bytes_sat(-5, 8), 0u);
  // A byte range that runs off the address space ends at its top, not past zero.
  EXPECT_EQ(byte_end_sat(reinterpret_cast<const void*>(std::uintptr_t(64)), std::int64_t(1) << 61, 8), kSz);
  EXPECT_EQ(byte_end_sat(reinterpret_cast<const void*>(std::uintptr_t(64)), 3, 8), 88u);
}

TEST(Arith, CheckedOperationsNameWhatOverflowed) {
  EXPECT_EQ(mul_checked(std::int64_t(6), std::int64_t(7), "answer"), 42);
  const std::string m = error_of([] { (void)mul_checked(kI64, std::int64_t(2), "y elements"); },
                                 Status::InvalidArgument);
  EXPECT_NE(m.find("y elements"), std::string::npos) << m;
  EXPECT_NE(m.find("overflows 64 bits"), std::string::npos) << m;
  const std::string b = error_of([] { (void)bytes_checked(std::int64_t(1) << 61, 8, "y bytes"); },
                                 Status::InvalidArgument);
  EXPECT_NE(b.find("y bytes: 2305843009213693952 * 8 overflows the address space"), std::string::npos) << b;
  error_of([] { (void)bytes_checked(-1, 4, "x"); }, Status::InvalidArgument);
  error_of([] { (void)add_checked(kSz, std::size_t(1), "end"); }, Status::InvalidArgument);
}

TEST(Arith, MessagesAreBuiltOnlyOnFailure) {
  int built = 0;
  auto what = [&] {
    ++built;
    return std::string("lazy");
  };
  EXPECT_EQ(add_checked(std::int64_t(1), std::int64_t(2), what), 3);
  EXPECT_EQ(built, 0);
  const std::string m = error_of([&] { (void)add_checked(kI64, std::int64_t(1), what); }, Status::InvalidArgument);
  EXPECT_EQ(built, 1);
  EXPECT_NE(m.find("lazy"), std::string::npos) << m;
}

TEST(Arith, HostResizeMapsImpossibleSizesToOutOfMemoryWithoutAllocating) {
  std::vector<double> v(3, 1.0);
  const std::int64_t n = (std::int64_t(1) << 40) + 1;  // 8 TiB: more than any host's memory
  const std::string m = error_of([&] { host_resize(v, n, "buffer"); }, Status::OutOfMemory);
  EXPECT_NE(m.find("buffer"), std::string::npos) << m;
  EXPECT_NE(m.find(std::to_string(8 * n) + " bytes"), std::string::npos) << m;
  EXPECT_EQ(v, std::vector<double>(3, 1.0));  // left as it was
  error_of([&] { host_resize(v, std::size_t(1) << 62, "buffer"); }, Status::OutOfMemory);  // bytes overflow
  error_of([&] { host_resize(v, -2, "buffer"); }, Status::InvalidArgument);
  host_resize(v, 5, "buffer");
  EXPECT_EQ(v.size(), 5u);
  if (host_physical_bytes() != 0) EXPECT_GT(host_physical_bytes(), std::size_t(1) << 20);
}

// The decision the direct kernels' tile loads and stores make per pointer:
// vector accesses only from a 16-byte-aligned base with rows of whole chunks.
// Views 1, 2 or 3 elements into an aligned allocation are valid (element
// aligned), and must take the element path wherever the vector one would
// misalign.
TEST(VectorAccess, ChosenFromThePointerAtRunTime) {
  alignas(16) static float f[64];
  alignas(16) static double d[64];
  using detail::direct::vector_rows;
  EXPECT_TRUE(vector_rows(f, 64));
  EXPECT_TRUE(vector_rows(d, 64));
  for (int off : {1, 2, 3}) {
    EXPECT_FALSE(vector_rows(f + off, 64)) << "float offset " << off;
    // double: 2 elements are 16 bytes, so the base stays vector-aligned and
    // rows of 4 doubles keep every chunk on a 16-byte boundary.
    EXPECT_EQ(vector_rows(d + off, 64), off == 2) << "double offset " << off;
  }
  EXPECT_FALSE(vector_rows(f + 4, 62));  // rows that are not whole chunks
  EXPECT_TRUE(vector_rows(f + 4, 8));
  // Whenever vectors are chosen, every chunk start (row r, chunk c) is
  // 16-byte aligned: the invariant the float4 / double2 accesses need.
  for (int off = 0; off < 8; ++off)
    for (long W : {4L, 8L, 12L, 6L}) {
      if (vector_rows(f + off, W))
        for (long r = 0; r < 3; ++r)
          for (long c = 0; c + detail::direct::kTileAlign <= W; c += detail::direct::kTileAlign)
            EXPECT_EQ(reinterpret_cast<std::uintptr_t>(f + off + r * W + c) % 16, 0u);
      if (vector_rows(d + off, W))
        for (long r = 0; r < 3; ++r)
          for (long c = 0; c + detail::direct::kTileAlign <= W; c += detail::direct::kTileAlign)
            for (int h = 0; h < detail::direct::kTileAlign; h += 2)
              EXPECT_EQ(reinterpret_cast<std::uintptr_t>(d + off + r * W + c + h) % 16, 0u);
    }
}

}  // namespace
}  // namespace convkit::test
