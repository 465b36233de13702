// Vector helpers of the histogram hot loops (histogram.cc, derived.cc). Pure C++17 with GCC/Clang vector
// extensions: 8 floats per vector (one AVX register, or two SSE/NEON ones), scalar code with other compilers.
//
// TRTC_AVX2_CLONES on a function makes the compiler emit it twice, for AVX2 and for the baseline ISA, and
// pick one when the library loads (GNU ifunc: x86-64 Linux with GCC or Clang only; elsewhere a single
// baseline version). The AVX2 versions compute the same values: no FMA is enabled (and the addon builds with
// -ffp-contract=off), and min/max/compare semantics do not depend on the vector width.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__GNUC__)
#define TRTC_HAVE_VECTORS 1
#else
#define TRTC_HAVE_VECTORS 0
#endif

// GNU ifunc needs glibc's loader (musl has none) and a compiler that knows the attribute (GCC 6+, Clang 14+).
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__) && \
    defined(__has_attribute)
#if __has_attribute(target_clones)
#define TRTC_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef TRTC_AVX2_CLONES
#define TRTC_AVX2_CLONES
#endif

#if defined(__GNUC__)
#define TRTC_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define TRTC_ALWAYS_INLINE inline
#endif

namespace trtc {

// Min, max and NaN count of values: what the first histogram pass needs (NaN skipped by min/max, which may
// be +-inf).
struct MinMaxNan {
  float min{std::numeric_limits<float>::infinity()};
  float max{-std::numeric_limits<float>::infinity()};
  std::uint64_t nan{0};
};

#if TRTC_HAVE_VECTORS
// 8-float vectors never pass by value between functions (only by reference): a function compiled for AVX2
// (TRTC_AVX2_CLONES) and one compiled for the baseline would pass them differently when not inlined (-O0).
using F8 = float __attribute__((vector_size(32)));
using I8 = std::int32_t __attribute__((vector_size(32)));

TRTC_ALWAYS_INLINE void load8(F8& v, float const* p) { std::memcpy(&v, p, sizeof v); }
TRTC_ALWAYS_INLINE void store8(float* p, F8 const& v) { std::memcpy(p, &v, sizeof v); }
TRTC_ALWAYS_INLINE void splat8(F8& v, float x) {
  float const lanes[8] = {x, x, x, x, x, x, x, x};
  std::memcpy(&v, lanes, sizeof v);
}

// Per-lane accumulators of MinMaxNan.
struct MinMaxNan8 {
  F8 min{};
  F8 max{};
  I8 nan{};
  MinMaxNan8() {
    splat8(min, std::numeric_limits<float>::infinity());
    splat8(max, -std::numeric_limits<float>::infinity());
    nan = I8{0, 0, 0, 0, 0, 0, 0, 0};
  }
};

TRTC_ALWAYS_INLINE void accumulate8(MinMaxNan8& acc, F8 const& v) {
  acc.nan -= (v != v);  // -1 per NaN lane; NaN compares false below, so min/max skip it
  acc.min = v < acc.min ? v : acc.min;
  acc.max = v > acc.max ? v : acc.max;
}

TRTC_ALWAYS_INLINE void reduce8(MinMaxNan8 const& acc, MinMaxNan& r) {
  for (int k = 0; k < 8; ++k) {
    r.min = acc.min[k] < r.min ? acc.min[k] : r.min;
    r.max = acc.max[k] > r.max ? acc.max[k] : r.max;
    r.nan += static_cast<std::uint64_t>(static_cast<std::uint32_t>(acc.nan[k]));
  }
}
#endif

TRTC_ALWAYS_INLINE void accumulate1(MinMaxNan& r, float v) {
  r.nan += (v != v) ? 1 : 0;
  r.min = v < r.min ? v : r.min;
  r.max = v > r.max ? v : r.max;
}

}  // namespace trtc
