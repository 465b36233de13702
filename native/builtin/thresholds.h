// Thresholds (amax, the clipping range; scale = amax / 127) from a tensor's histogram of |x|.
//
// Algorithms (exact definitions in README "Calibration algorithms" and thresholds.cc):
//   kENTROPY     TensorRT's EntropyCalibration2 as NVIDIA's pytorch-quantization computes it: the bin edge
//                whose clipped, 128-level quantized distribution has the least KL divergence from the data.
//   kMINMAX      max|x| over finite values (exact, not a bin edge).
//   kPERCENTILE  upper edge of the first bin at which the cumulative count reaches percentile% of the values.
//   kMSE         the bin edge minimizing the expected INT8 quantization error over the histogram.
//
// Degenerate data never yields a silent 0/NaN amax: the status says what happened, and amax is meaningful
// only when usable() is true.
//
// Threading / lifetime: pure functions of a Histogram passed by const reference; safe from any thread as long
// as nobody mutates that histogram at the same time (HistogramSet::get returns a private copy).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "builtin/histogram.h"

namespace trtc {

enum class AmaxAlgorithm : int32_t { kENTROPY = 0, kMINMAX = 1, kPERCENTILE = 2, kMSE = 3 };

enum class AmaxStatus : int32_t {
  kOK = 0,
  // Every finite value is the same nonzero c: amax = |c| for every algorithm (usable; worth a warning).
  kCONSTANT = 1,
  // No values at all.
  kEMPTY = 2,
  // Values, but none finite (only NaN / +-Inf).
  kNOT_FINITE = 3,
  // Every finite value is 0: no scale can be derived (TensorRT's caches show `0` for such tensors).
  kALL_ZERO = 4,
};

struct AmaxOptions {
  // For kPERCENTILE, in (0, 100]. Defaults to 99.99.
  double percentile{99.99};
};

struct AmaxResult {
  AmaxStatus status{AmaxStatus::kEMPTY};
  // Threshold; 0 when !usable().
  double amax{0.0};
  // Histogram edge index chosen (amax == bin * binWidth): entropy's i, percentile's/mse's k; -1 for minmax
  // and for degenerate results.
  int64_t bin{-1};
  bool usable() const noexcept { return status == AmaxStatus::kOK || status == AmaxStatus::kCONSTANT; }
};

// "entropy" | "minmax" | "percentile" | "mse"; false for anything else.
bool parseAmaxAlgorithm(std::string const& name, AmaxAlgorithm& out) noexcept;
char const* amaxAlgorithmName(AmaxAlgorithm algorithm) noexcept;
// "ok" | "constant" | "empty" | "not-finite" | "all-zero".
char const* amaxStatusName(AmaxStatus status) noexcept;

// Throws std::invalid_argument for a percentile outside (0, 100].
AmaxResult computeAmax(Histogram const& histogram, AmaxAlgorithm algorithm, AmaxOptions const& options = {});

// The entropy candidate search on raw counts (exposed for tests): returns the chosen i in [128, nbins] (amax
// = i * width), or 0 when nbins < 128 or every count is zero. Uses prefix sums: O(128 * nbins), then
// re-evaluates the candidates within 1e-9 of the minimum with the plain O(i) sum to break near-ties exactly
// as a direct implementation would.
std::size_t entropyBin(std::uint64_t const* counts, std::size_t nbins);

// KL(P||Q) of one entropy candidate i computed the plain way (exposed for tests and the tie-break).
double entropyDivergence(std::uint64_t const* counts, std::size_t nbins, std::size_t i);

}  // namespace trtc
