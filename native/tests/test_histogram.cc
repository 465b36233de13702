// C++ core tests of histogram.h / thresholds.h / cache_text.h (no Node). Self-contained: exposes
// `int runHistogramTests()` returning the number of failed checks, so any core_tests main can call it; built
// standalone with -DTRTC_HISTOGRAM_TEST_MAIN it is its own program.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "builtin/histogram.h"
#include "builtin/thresholds.h"
#include "core/cache_text.h"

namespace {

int gFailures = 0;

#define HCHECK(cond)                                                                \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++gFailures;                                                                  \
    }                                                                               \
  } while (0)

template <typename F>
bool throwsHistogramError(F&& f) {
  try {
    f();
  } catch (trtc::HistogramError const&) {
    return true;
  }
  return false;
}

void testGrowthAndMerge() {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0F, 1.0F);
  std::vector<std::vector<float>> batches(4, std::vector<float>(5000));
  for (std::size_t b = 0; b < batches.size(); ++b) {
    for (float& x : batches[b]) x = nd(rng) * (1.0F + 0.5F * static_cast<float>(b));
  }
  trtc::Histogram one;
  for (auto const& b : batches) one.add(b.data(), b.size());
  HCHECK(one.nbins() > trtc::kHISTOGRAM_BINS);
  HCHECK(one.binnedCount() == 20000);

  trtc::Histogram a;
  a.add(batches[0].data(), batches[0].size());
  double const width = a.binWidth();
  a.add(batches[1].data(), batches[1].size());
  HCHECK(a.binWidth() == width);  // extension keeps the width
  trtc::Histogram b(width);
  b.add(batches[2].data(), batches[2].size());
  b.add(batches[3].data(), batches[3].size());
  a.merge(b);
  HCHECK(a.counts() == one.counts());
  HCHECK(a.count() == one.count() && a.min() == one.min() && a.max() == one.max());

  trtc::Histogram other;
  float const odd[] = {3.0F, 1.0F};
  other.add(odd, 2);
  std::vector<std::uint64_t> const before = a.counts();
  HCHECK(throwsHistogramError([&] { a.merge(other); }));
  HCHECK(a.counts() == before);

  std::vector<std::uint8_t> const bytes = a.serialize();
  trtc::Histogram back = trtc::Histogram::deserialize(bytes.data(), bytes.size());
  HCHECK(back.counts() == a.counts() && back.binWidth() == a.binWidth() && back.count() == a.count());
  HCHECK(throwsHistogramError([&] { trtc::Histogram::deserialize(bytes.data(), bytes.size() - 1); }));
  std::vector<std::uint8_t> tampered = bytes;
  tampered[80] ^= 1;
  HCHECK(throwsHistogramError([&] { trtc::Histogram::deserialize(tampered.data(), tampered.size()); }));

  trtc::HistogramSet set;
  set.add("x", batches[0].data(), batches[0].size());
  set.add("y", odd, 2);
  std::vector<std::uint8_t> const setBytes = set.serialize();
  auto copy = trtc::HistogramSet::deserialize(setBytes.data(), setBytes.size());
  HCHECK(copy->names() == set.names());
  HCHECK(copy->get("x").counts() == set.get("x").counts());
}

void testThresholds() {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0F, 1.0F);
  std::vector<float> v(40000);
  for (float& x : v) x = nd(rng);
  trtc::Histogram h;
  h.add(v.data(), v.size());
  trtc::AmaxResult const e = trtc::computeAmax(h, trtc::AmaxAlgorithm::kENTROPY);
  HCHECK(e.status == trtc::AmaxStatus::kOK);
  // The fast search agrees with the plain divergence: no candidate has a strictly smaller KL, none after it
  // ties.
  double const chosen =
      trtc::entropyDivergence(h.counts().data(), h.nbins(), static_cast<std::size_t>(e.bin));
  for (std::size_t i = 128; i <= h.nbins(); ++i) {
    double const kl = trtc::entropyDivergence(h.counts().data(), h.nbins(), i);
    HCHECK(!(kl < chosen - 1e-12));
    if (i > static_cast<std::size_t>(e.bin)) HCHECK(kl > chosen - 1e-12);
  }
  trtc::AmaxResult const m = trtc::computeAmax(h, trtc::AmaxAlgorithm::kMINMAX);
  HCHECK(m.amax == static_cast<double>(h.absMax()));
  trtc::AmaxOptions options;
  options.percentile = 100.0;
  trtc::AmaxResult const p = trtc::computeAmax(h, trtc::AmaxAlgorithm::kPERCENTILE, options);
  HCHECK(p.bin == static_cast<std::int64_t>(h.nbins()));
  options.percentile = 0.0;
  bool threw = false;
  try {
    trtc::computeAmax(h, trtc::AmaxAlgorithm::kPERCENTILE, options);
  } catch (std::invalid_argument const&) {
    threw = true;
  }
  HCHECK(threw);

  trtc::Histogram zeros;
  std::vector<float> z(100, 0.0F);
  zeros.add(z.data(), z.size());
  HCHECK(trtc::computeAmax(zeros, trtc::AmaxAlgorithm::kENTROPY).status == trtc::AmaxStatus::kALL_ZERO);
  HCHECK(zeros.pendingZeros() == 100);
  float const nanInf[] = {NAN, INFINITY, -INFINITY};
  trtc::Histogram bad;
  bad.add(nanInf, 3);
  HCHECK(trtc::computeAmax(bad, trtc::AmaxAlgorithm::kMSE).status == trtc::AmaxStatus::kNOT_FINITE);
  HCHECK(bad.nanCount() == 1 && bad.posInfCount() == 1 && bad.negInfCount() == 1);
  trtc::Histogram empty;
  HCHECK(trtc::computeAmax(empty, trtc::AmaxAlgorithm::kMINMAX).status == trtc::AmaxStatus::kEMPTY);
}

void testCacheText() {
  std::uint32_t const bits = 0x3c010a14;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  HCHECK(trtc::formatScaleHex(scale) == "3c010a14");
  HCHECK(trtc::formatScaleHex(0.0F) == "0");
  std::string const text = trtc::formatCacheText(
      "8601", "EntropyCalibration2",
      {{"input", static_cast<double>(scale) * 127.0}, {"(Unnamed Layer* 4) [Constant]_output", 0.0}});
  HCHECK(text == "TRT-8601-EntropyCalibration2\ninput: 3c010a14\n(Unnamed Layer* 4) [Constant]_output: 0\n");
  bool threw = false;
  try {
    trtc::formatCacheText("8601", "EntropyCalibration2", {{"x", std::nan("")}});
  } catch (std::invalid_argument const&) {
    threw = true;
  }
  HCHECK(threw);
}

}  // namespace

int runHistogramTests() {
  gFailures = 0;
  testGrowthAndMerge();
  testThresholds();
  testCacheText();
  return gFailures;
}

#ifdef TRTC_HISTOGRAM_TEST_MAIN
int main() {
  int const failures = runHistogramTests();
  std::printf("histogram tests: %d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
#endif
