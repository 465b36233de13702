// C++ core tests of builtin/histogram.h, builtin/thresholds.h and core/cache_text.h (no Node): histogram
// growth and merge, tampered serialization, the entropy search against a brute-force KL scan, degenerate
// statuses, and the cache text.
#include "builtin/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "builtin/thresholds.h"
#include "core/cache_text.h"
#include "test_framework.h"

namespace {

template <typename F>
bool throwsHistogramError(F&& f) {
  try {
    f();
  } catch (trtc::HistogramError const&) {
    return true;
  }
  return false;
}

}  // namespace

TEST(histogram_grows_at_one_width_merges_shards_and_refuses_tampered_bytes) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0F, 1.0F);
  std::vector<std::vector<float>> batches(4, std::vector<float>(5000));
  for (std::size_t b = 0; b < batches.size(); ++b) {
    for (float& x : batches[b]) x = nd(rng) * (1.0F + 0.5F * static_cast<float>(b));
  }
  trtc::Histogram one;
  for (auto const& b : batches) one.add(b.data(), b.size());
  CHECK(one.nbins() > trtc::kHISTOGRAM_BINS);
  CHECK(one.binnedCount() == 20000);

  trtc::Histogram a;
  a.add(batches[0].data(), batches[0].size());
  double const width = a.binWidth();
  a.add(batches[1].data(), batches[1].size());
  CHECK(a.binWidth() == width);  // extension keeps the width
  trtc::Histogram b(width);
  b.add(batches[2].data(), batches[2].size());
  b.add(batches[3].data(), batches[3].size());
  a.merge(b);
  CHECK(a.counts() == one.counts());
  CHECK(a.count() == one.count() && a.min() == one.min() && a.max() == one.max());

  trtc::Histogram other;
  float const odd[] = {3.0F, 1.0F};
  other.add(odd, 2);
  std::vector<std::uint64_t> const before = a.counts();
  CHECK(throwsHistogramError([&] { a.merge(other); }));
  CHECK(a.counts() == before);

  std::vector<std::uint8_t> const bytes = a.serialize();
  trtc::Histogram back = trtc::Histogram::deserialize(bytes.data(), bytes.size());
  CHECK(back.counts() == a.counts() && back.binWidth() == a.binWidth() && back.count() == a.count());
  CHECK(throwsHistogramError([&] { trtc::Histogram::deserialize(bytes.data(), bytes.size() - 1); }));
  std::vector<std::uint8_t> tampered = bytes;
  tampered[80] ^= 1;
  CHECK(throwsHistogramError([&] { trtc::Histogram::deserialize(tampered.data(), tampered.size()); }));

  trtc::HistogramSet set;
  set.add("x", batches[0].data(), batches[0].size());
  set.add("y", odd, 2);
  std::vector<std::uint8_t> const setBytes = set.serialize();
  auto copy = trtc::HistogramSet::deserialize(setBytes.data(), setBytes.size());
  CHECK(copy->names() == set.names());
  CHECK(copy->get("x").counts() == set.get("x").counts());
}

TEST(histogram_merge_of_widths_a_power_of_two_apart_sums_the_finer_bins_in_groups) {
  // Shard a: max 1 -> width 1/2048; shard b: max 4 -> width 4/2048 (4x). The merge coarsens a by 4 (each of
  // its bins i goes to bin i / 4), then adds b bin by bin; zeros seen before b's first nonzero value land in
  // bin 0.
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> ua(-1.0F, 1.0F);
  std::uniform_real_distribution<float> ub(-4.0F, 4.0F);
  std::vector<float> va(3000);
  std::vector<float> vb(2000);
  for (float& x : va) x = ua(rng);
  for (float& x : vb) x = ub(rng);
  va[0] = 1.0F;
  vb[0] = -4.0F;
  trtc::Histogram a;
  a.add(va.data(), va.size());
  trtc::Histogram b;
  std::vector<float> const zeros(7, 0.0F);
  b.add(zeros.data(), zeros.size());  // pending: b has no width yet
  b.add(vb.data(), vb.size());
  REQUIRE(a.binWidth() * 4.0 == b.binWidth());
  std::vector<std::uint64_t> expected(b.counts());
  for (std::size_t i = 0; i < a.counts().size(); ++i) expected[i / 4] += a.counts()[i];
  trtc::Histogram merged = a;
  merged.merge(b);
  CHECK(merged.binWidth() == b.binWidth());
  CHECK(merged.counts() == expected);
  CHECK(merged.count() == 3000 + 2007);
  CHECK(merged.binnedCount() == 3000 + 2007);
  CHECK(merged.min() == -4.0F && merged.max() == std::max(a.max(), b.max()));
  // The other way round gives the same histogram.
  trtc::Histogram reverse = b;
  reverse.merge(a);
  CHECK(reverse.counts() == expected && reverse.binWidth() == merged.binWidth());
}

TEST(entropy_search_finds_the_last_minimum_kl_and_degenerate_data_gets_a_status) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0F, 1.0F);
  std::vector<float> v(40000);
  for (float& x : v) x = nd(rng);
  trtc::Histogram h;
  h.add(v.data(), v.size());
  trtc::AmaxResult const e = trtc::computeAmax(h, trtc::AmaxAlgorithm::kENTROPY);
  CHECK(e.status == trtc::AmaxStatus::kOK);
  // The fast search agrees with the plain divergence: no candidate has a strictly smaller KL, none after it
  // ties.
  double const chosen =
      trtc::entropyDivergence(h.counts().data(), h.nbins(), static_cast<std::size_t>(e.bin));
  for (std::size_t i = 128; i <= h.nbins(); ++i) {
    double const kl = trtc::entropyDivergence(h.counts().data(), h.nbins(), i);
    CHECK(!(kl < chosen - 1e-12));
    if (i > static_cast<std::size_t>(e.bin)) CHECK(kl > chosen);  // the LAST minimum: nothing after it ties
  }
  trtc::AmaxResult const m = trtc::computeAmax(h, trtc::AmaxAlgorithm::kMINMAX);
  CHECK(m.amax == static_cast<double>(h.absMax()));
  trtc::AmaxOptions options;
  options.percentile = 100.0;
  trtc::AmaxResult const p = trtc::computeAmax(h, trtc::AmaxAlgorithm::kPERCENTILE, options);
  CHECK(p.bin == static_cast<std::int64_t>(h.nbins()));
  options.percentile = 0.0;
  bool threw = false;
  try {
    trtc::computeAmax(h, trtc::AmaxAlgorithm::kPERCENTILE, options);
  } catch (std::invalid_argument const&) {
    threw = true;
  }
  CHECK(threw);

  trtc::Histogram zeros;
  std::vector<float> z(100, 0.0F);
  zeros.add(z.data(), z.size());
  CHECK(trtc::computeAmax(zeros, trtc::AmaxAlgorithm::kENTROPY).status == trtc::AmaxStatus::kALL_ZERO);
  CHECK(zeros.pendingZeros() == 100);
  float const nanInf[] = {NAN, INFINITY, -INFINITY};
  trtc::Histogram bad;
  bad.add(nanInf, 3);
  CHECK(trtc::computeAmax(bad, trtc::AmaxAlgorithm::kMSE).status == trtc::AmaxStatus::kNOT_FINITE);
  CHECK(bad.nanCount() == 1 && bad.posInfCount() == 1 && bad.negInfCount() == 1);
  trtc::Histogram empty;
  CHECK(trtc::computeAmax(empty, trtc::AmaxAlgorithm::kMINMAX).status == trtc::AmaxStatus::kEMPTY);
}

TEST(entropy_search_keeps_the_last_tied_minimum_when_the_top_bins_are_empty) {
  // Nonzero bins 20 apart up to bin 1900, none above (a width fixed before the data): each nonzero bin is
  // alone in its level, so every candidate above 1900 has a plain KL of exactly 0 and the last one, 2048, is
  // chosen.
  std::vector<std::uint64_t> counts(2048, 0);
  std::uint64_t k = 1;
  for (std::size_t j = 20; j <= 1900; j += 20, ++k) counts[j] = k % 7 + 1;
  std::size_t last = 0;
  double best = INFINITY;
  for (std::size_t i = 128; i <= counts.size(); ++i) {
    double const kl = trtc::entropyDivergence(counts.data(), counts.size(), i);
    if (kl <= best) {
      best = kl;
      last = i;
    }
  }
  CHECK_EQ(last, std::size_t{2048});
  CHECK_EQ(trtc::entropyBin(counts.data(), counts.size()), last);
}

TEST(histogram_merge_adds_the_zeros_of_a_histogram_without_width_to_bin_0) {
  float const data[] = {1.0F, 0.5F, 0.25F, 0.0F};
  std::vector<float> const zeros(9, 0.0F);
  trtc::Histogram withData;
  withData.add(data, 4);
  trtc::Histogram onlyZeros;
  onlyZeros.add(zeros.data(), zeros.size());
  CHECK(onlyZeros.binWidth() == 0.0 && onlyZeros.pendingZeros() == 9);
  std::vector<std::uint64_t> expected = withData.counts();
  expected[0] += 9;
  trtc::Histogram a = withData;
  a.merge(onlyZeros);
  CHECK(a.counts() == expected && a.count() == 13 && a.pendingZeros() == 0);
  trtc::Histogram b = onlyZeros;
  b.merge(withData);
  CHECK(b.counts() == expected && b.count() == 13 && b.pendingZeros() == 0 &&
        b.binWidth() == withData.binWidth());
}

TEST(cache_text_is_written_byte_exact_and_refuses_a_nan_amax) {
  std::uint32_t const bits = 0x3c010a14;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  CHECK(trtc::formatScaleHex(scale) == "3c010a14");
  CHECK(trtc::formatScaleHex(0.0F) == "0");
  std::string const text = trtc::formatCacheText(
      "8601", "EntropyCalibration2",
      {{"input", static_cast<double>(scale) * 127.0}, {"(Unnamed Layer* 4) [Constant]_output", 0.0}});
  CHECK(text == "TRT-8601-EntropyCalibration2\ninput: 3c010a14\n(Unnamed Layer* 4) [Constant]_output: 0\n");
  bool threw = false;
  try {
    trtc::formatCacheText("8601", "EntropyCalibration2", {{"x", std::nan("")}});
  } catch (std::invalid_argument const&) {
    threw = true;
  }
  CHECK(threw);
}
