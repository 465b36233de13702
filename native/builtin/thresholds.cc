// Threshold algorithms over a Histogram of |x| (definitions in thresholds.h and README "Calibration
// algorithms").
#include "builtin/thresholds.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace trtc {
namespace {

// INT8 symmetric: 128 quantized levels for |x| (pytorch-quantization's nbins for num_bits=8, unsigned=False).
constexpr std::size_t kLEVELS = 128;
constexpr double kINF = std::numeric_limits<double>::infinity();
// Candidates whose fast KL lies this close to the minimum are re-evaluated with the plain sum.
constexpr double kTIE_TOLERANCE = 1e-9;
constexpr std::size_t kMAX_TIE_CANDIDATES = 256;

// counts with bins[0] = bins[1] (pytorch-quantization ignores the spike of exact zeros, e.g. after ReLU).
std::vector<double> entropyBins(std::uint64_t const* counts, std::size_t nbins) {
  std::vector<double> b(counts, counts + nbins);
  if (nbins >= 2) b[0] = b[1];
  return b;
}

double plainDivergence(std::vector<double> const& b, std::size_t i) {
  std::size_t const nbins = b.size();
  // Q: bins[0..i-1] merged into 128 levels (source bin j -> level floor(128 j / i)), each level's total
  // spread evenly over its non-zero source bins; empty source bins stay 0.
  double levelSum[kLEVELS] = {};
  double levelCount[kLEVELS] = {};
  for (std::size_t j = 0; j < i; ++j) {
    if (b[j] != 0.0) {
      std::size_t const level = (kLEVELS * j) / i;
      levelSum[level] += b[j];
      levelCount[level] += 1.0;
    }
  }
  std::vector<double> q(i, 0.0);
  std::vector<double> p(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(i));
  for (std::size_t j = 0; j < i; ++j) {
    if (b[j] != 0.0) {
      std::size_t const level = (kLEVELS * j) / i;
      q[j] = levelSum[level] / levelCount[level];
    }
  }
  // P: bins[0..i-1] with every count from bin i on folded into P[i-1].
  double outliers = 0.0;
  for (std::size_t j = i; j < nbins; ++j) outliers += b[j];
  p[i - 1] += outliers;
  double sumP = 0.0;
  double sumQ = 0.0;
  for (std::size_t j = 0; j < i; ++j) {
    sumP += p[j];
    sumQ += q[j];
  }
  if (sumQ == 0.0 || sumP == 0.0) return kINF;
  double kl = 0.0;
  for (std::size_t j = 0; j < i; ++j) {
    double const pj = p[j] / sumP;
    if (pj == 0.0) continue;
    double const qj = q[j] / sumQ;
    if (qj == 0.0) return kINF;
    kl += pj * std::log(pj / qj);
  }
  return kl;
}

AmaxResult degenerate(Histogram const& h) {
  AmaxResult r;
  if (h.count() == 0) {
    r.status = AmaxStatus::kEMPTY;
  } else if (h.finiteCount() == 0) {
    r.status = AmaxStatus::kNOT_FINITE;
  } else if (h.absMax() == 0.0F || h.binWidth() == 0.0) {
    r.status = AmaxStatus::kALL_ZERO;
  } else if (h.min() == h.max()) {
    r.status = AmaxStatus::kCONSTANT;
    r.amax = static_cast<double>(h.absMax());
  } else {
    r.status = AmaxStatus::kOK;
  }
  return r;
}

std::size_t percentileBin(std::vector<std::uint64_t> const& counts, double percentile) {
  std::uint64_t total = 0;
  for (std::uint64_t c : counts) total += c;
  double const target = percentile / 100.0 * static_cast<double>(total);
  std::uint64_t cumulative = 0;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    cumulative += counts[k];
    if (static_cast<double>(cumulative) >= target) return k + 1;
  }
  return counts.size();
}

// Expected squared INT8 error over the histogram (value = bin centre c_j = (j + 0.5) w) for amax = k w:
// q_j = min(127, round_half_even(c_j / s)) with s = amax / 127, error sum_j cnt_j (q_j s - c_j)^2. The ratio
// c_j / s = (2j + 1) 127 / (2k) is rational, so the level boundaries are found exactly in integers, and each
// level's sum cnt (q s - c)^2 = q^2 s^2 sum cnt - 2 q s sum cnt c + sum cnt c^2 comes from prefix sums:
// O(128) per candidate instead of O(nbins).
class MseEvaluator {
 public:
  MseEvaluator(std::vector<std::uint64_t> const& counts, double width) : mWidth(width), mBins(counts.size()) {
    mC0.assign(mBins + 1, 0.0L);
    mC1.assign(mBins + 1, 0.0L);
    mC2.assign(mBins + 1, 0.0L);
    for (std::size_t j = 0; j < mBins; ++j) {
      long double const cnt = static_cast<long double>(counts[j]);
      long double const c = (static_cast<long double>(j) + 0.5L) * width;
      mC0[j + 1] = mC0[j] + cnt;
      mC1[j + 1] = mC1[j] + cnt * c;
      mC2[j + 1] = mC2[j] + cnt * c * c;
    }
  }

  // First bin j whose centre rounds to level >= q (q in 1..127) for candidate k.
  std::size_t firstBinOfLevel(std::uint64_t q, std::uint64_t k) const {
    // (2j + 1) * 127 >= (2q - 1) * k, and on equality (an exact .5) the tie goes to the even level.
    std::uint64_t const t = (2 * q - 1) * k;
    std::uint64_t j = t <= 127 ? 0 : (t - 127 + 253) / 254;
    if (254 * j + 127 == t && (q & 1) != 0) ++j;
    return static_cast<std::size_t>(std::min<std::uint64_t>(j, mBins));
  }

  double error(std::size_t k) const {
    long double const step = static_cast<long double>(static_cast<double>(k) * mWidth / 127.0);
    long double err = 0.0L;
    std::size_t lo = 0;
    for (std::uint64_t q = 0; q < kLEVELS; ++q) {
      std::size_t const hi = q + 1 == kLEVELS ? mBins : firstBinOfLevel(q + 1, k);
      if (hi > lo) {
        long double const v = static_cast<long double>(q) * step;
        err += v * v * (mC0[hi] - mC0[lo]) - 2.0L * v * (mC1[hi] - mC1[lo]) + (mC2[hi] - mC2[lo]);
      }
      lo = std::max(lo, hi);
    }
    return static_cast<double>(err);
  }

 private:
  double mWidth;
  std::size_t mBins;
  std::vector<long double> mC0;
  std::vector<long double> mC1;
  std::vector<long double> mC2;
};

std::size_t mseBin(Histogram const& h) {
  std::size_t const n = h.nbins();
  MseEvaluator mse(h.counts(), h.binWidth());
  std::size_t best = n;
  double bestErr = kINF;
  for (std::size_t k = 1; k <= n; ++k) {
    double const e = mse.error(k);
    if (e < bestErr) {  // first minimum, as pytorch-quantization's argmin
      bestErr = e;
      best = k;
    }
  }
  return best;
}

}  // namespace

bool parseAmaxAlgorithm(std::string const& name, AmaxAlgorithm& out) noexcept {
  if (name == "entropy") {
    out = AmaxAlgorithm::kENTROPY;
  } else if (name == "minmax") {
    out = AmaxAlgorithm::kMINMAX;
  } else if (name == "percentile") {
    out = AmaxAlgorithm::kPERCENTILE;
  } else if (name == "mse") {
    out = AmaxAlgorithm::kMSE;
  } else {
    return false;
  }
  return true;
}

char const* amaxAlgorithmName(AmaxAlgorithm algorithm) noexcept {
  switch (algorithm) {
    case AmaxAlgorithm::kENTROPY:
      return "entropy";
    case AmaxAlgorithm::kMINMAX:
      return "minmax";
    case AmaxAlgorithm::kPERCENTILE:
      return "percentile";
    case AmaxAlgorithm::kMSE:
      return "mse";
  }
  return "unknown";
}

char const* amaxStatusName(AmaxStatus status) noexcept {
  switch (status) {
    case AmaxStatus::kOK:
      return "ok";
    case AmaxStatus::kCONSTANT:
      return "constant";
    case AmaxStatus::kEMPTY:
      return "empty";
    case AmaxStatus::kNOT_FINITE:
      return "not-finite";
    case AmaxStatus::kALL_ZERO:
      return "all-zero";
  }
  return "unknown";
}

double entropyDivergence(std::uint64_t const* counts, std::size_t nbins, std::size_t i) {
  if (i == 0 || i > nbins) throw std::invalid_argument("entropy candidate out of range");
  return plainDivergence(entropyBins(counts, nbins), i);
}

std::size_t entropyBin(std::uint64_t const* counts, std::size_t nbins) {
  if (nbins < kLEVELS) return 0;
  std::vector<double> const b = entropyBins(counts, nbins);
  // Prefix sums: counts (exact: integers below 2^53), non-zero bins, and sum b log b.
  std::vector<double> cumB(nbins + 1, 0.0);
  std::vector<std::uint32_t> cumNonZero(nbins + 1, 0);
  std::vector<long double> cumBLogB(nbins + 1, 0.0L);
  for (std::size_t j = 0; j < nbins; ++j) {
    cumB[j + 1] = cumB[j] + b[j];
    cumNonZero[j + 1] = cumNonZero[j] + (b[j] != 0.0 ? 1 : 0);
    cumBLogB[j + 1] = cumBLogB[j] + (b[j] != 0.0 ? static_cast<long double>(b[j]) * std::log(b[j]) : 0.0L);
  }
  double const total = cumB[nbins];
  if (total == 0.0) return 0;
  long double const logTotal = std::log(static_cast<long double>(total));

  // KL(P||Q) = (sum P log P - sum P log Q) / T - log T + log(T - O), with T every count, O the outliers
  // folded into P[i-1], and sum P log Q grouped by level: sum_L S_L (log S_L - log n_L) + O log Q[i-1].
  // Every level of candidate i spans floor(i / 128) or ceil(i / 128) bins, so a level's (first bin, width)
  // recurs across candidates: log S_L is kept per first bin in the slot of its width's parity (the two widths
  // in use at a time differ in parity), tagged with the width. n_L <= width: a small table of logs.
  std::size_t const maxWidth = nbins / kLEVELS + 1;
  std::vector<double> logCount(maxWidth + 1, 0.0);
  for (std::size_t k = 1; k <= maxWidth; ++k) logCount[k] = std::log(static_cast<double>(k));
  std::vector<double> logSum[2] = {std::vector<double>(nbins, 0.0), std::vector<double>(nbins, 0.0)};
  std::vector<std::size_t> logSumWidth[2] = {std::vector<std::size_t>(nbins, 0),
                                             std::vector<std::size_t>(nbins, 0)};
  std::size_t const candidates = nbins - kLEVELS + 1;
  std::vector<double> kl(candidates, kINF);
  for (std::size_t i = kLEVELS; i <= nbins; ++i) {
    double const inside = cumB[i];
    double const outliers = total - inside;
    double const lastBin = b[i - 1];
    if (inside == 0.0 || (outliers > 0.0 && lastBin == 0.0)) continue;  // some P > 0 where Q = 0: +inf
    double const pLast = lastBin + outliers;
    // pLast is 0 when the candidate's last bin is empty and nothing lies above it (bins above the data, e.g.
    // a width fixed with setBinWidth): 0 log 0 = 0, as in the plain sum, not NaN (a NaN candidate is never
    // chosen).
    long double const sumPLogP =
        cumBLogB[i - 1] + (pLast > 0.0 ? static_cast<long double>(pLast) * std::log(pLast) : 0.0L);
    double sumPLogQ = 0.0;
    double lastLogQ = 0.0;
    std::size_t start = 0;
    for (std::size_t level = 0; level < kLEVELS; ++level) {
      std::size_t const end = level + 1 == kLEVELS ? i : ((level + 1) * i + kLEVELS - 1) / kLEVELS;
      std::uint32_t const nonZero = cumNonZero[end] - cumNonZero[start];
      if (nonZero != 0) {
        double const sum = cumB[end] - cumB[start];
        std::size_t const width = end - start;
        std::size_t const slot = width & 1U;
        double logS;
        if (logSumWidth[slot][start] == width) {
          logS = logSum[slot][start];
        } else {
          logS = std::log(sum);
          logSum[slot][start] = logS;
          logSumWidth[slot][start] = width;
        }
        lastLogQ = logS - logCount[nonZero];
        sumPLogQ += sum * lastLogQ;
      }
      start = end;
    }
    if (outliers > 0.0) sumPLogQ += outliers * lastLogQ;
    long double const value =
        (sumPLogP - static_cast<long double>(sumPLogQ)) / static_cast<long double>(total) - logTotal +
        static_cast<long double>(std::log(inside));
    kl[i - kLEVELS] = static_cast<double>(value);
  }

  double minimum = kINF;
  std::size_t chosen =
      nbins;  // all +inf cannot happen (i = nbins has no outliers), but keep pytorch's answer
  for (std::size_t k = 0; k < candidates; ++k) {
    if (kl[k] <= minimum) {  // <=: the LAST minimum, as pytorch-quantization
      minimum = kl[k];
      chosen = k + kLEVELS;
    }
  }
  if (!std::isfinite(minimum)) return chosen;
  // Near-ties: the fast sum's rounding differs from the plain sum's; decide those with the plain sum.
  std::vector<std::size_t> close;
  for (std::size_t k = 0; k < candidates; ++k) {
    if (kl[k] <= minimum + kTIE_TOLERANCE) close.push_back(k + kLEVELS);
  }
  if (close.size() > 1 && close.size() <= kMAX_TIE_CANDIDATES) {
    double best = kINF;
    for (std::size_t i : close) {
      double const value = plainDivergence(b, i);
      if (value <= best) {
        best = value;
        chosen = i;
      }
    }
  }
  return chosen;
}

AmaxResult computeAmax(Histogram const& histogram, AmaxAlgorithm algorithm, AmaxOptions const& options) {
  if (algorithm == AmaxAlgorithm::kPERCENTILE && !(options.percentile > 0.0 && options.percentile <= 100.0)) {
    throw std::invalid_argument("percentile must be in (0, 100]");
  }
  AmaxResult r = degenerate(histogram);
  if (r.status != AmaxStatus::kOK) return r;
  double const width = histogram.binWidth();
  switch (algorithm) {
    case AmaxAlgorithm::kMINMAX:
      r.amax = static_cast<double>(histogram.absMax());
      r.bin = -1;
      break;
    case AmaxAlgorithm::kENTROPY:
      r.bin = static_cast<int64_t>(entropyBin(histogram.counts().data(), histogram.nbins()));
      r.amax = static_cast<double>(r.bin) * width;
      break;
    case AmaxAlgorithm::kPERCENTILE:
      r.bin = static_cast<int64_t>(percentileBin(histogram.counts(), options.percentile));
      r.amax = static_cast<double>(r.bin) * width;
      break;
    case AmaxAlgorithm::kMSE:
      r.bin = static_cast<int64_t>(mseBin(histogram));
      r.amax = static_cast<double>(r.bin) * width;
      break;
  }
  if (!(r.amax > 0.0 && std::isfinite(r.amax))) {
    // Cannot happen with a nonzero max and nbins >= 128; never hand out a silent 0.
    r.status = AmaxStatus::kALL_ZERO;
    r.amax = 0.0;
    r.bin = -1;
  }
  return r;
}

}  // namespace trtc
