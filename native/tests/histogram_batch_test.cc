// C++ core tests of batches given in parts (builtin/histogram.h, "Batches in parts"): a batch added as any
// number of parts, through HistogramSet::beginBatch / endPass, gives byte for byte the histograms of one
// add() of the whole batch: the first batch's width from the max over all its parts, values on a bin edge at
// a part's top (the spill) with and without later growth or coarsening in the same batch, tensors that are
// all zeros until a later batch, non-finite values, continued histograms, and the set's guards while a batch
// is open.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "builtin/histogram.h"
#include "test_framework.h"

using namespace trtc;

namespace {

using Values = std::vector<float>;
// One batch cut into parts; an empty part list adds nothing.
using Parts = std::vector<Values>;

Values joined(Parts const& parts) {
  Values all;
  for (Values const& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

// Adds the batch to `name` as parts (a second pass when endPass asks for it); returns the passes made.
int addInParts(HistogramSet& set, std::string const& name, Parts const& parts) {
  set.beginBatch({name});
  int passes = 0;
  do {
    ++passes;
    for (Values const& p : parts) set.add(name, p.data(), p.size());
  } while (set.endPass());
  return passes;
}

// The histogram of `batches` each added whole, and each added as its parts, serialized.
std::vector<std::uint8_t> wholeBytes(std::vector<Parts> const& batches) {
  HistogramSet set;
  for (Parts const& b : batches) {
    Values const all = joined(b);
    set.add("t", all.data(), all.size());
  }
  return set.get("t").serialize();
}

std::vector<std::uint8_t> partsBytes(std::vector<Parts> const& batches) {
  HistogramSet set;
  for (Parts const& b : batches) addInParts(set, "t", b);
  return set.get("t").serialize();
}

}  // namespace

TEST(a_batch_in_random_parts_gives_the_whole_batch_histogram) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0F, 1.0F);
  float const inf = std::numeric_limits<float>::infinity();
  float const nan = std::numeric_limits<float>::quiet_NaN();
  for (int trial = 0; trial < 40; ++trial) {
    // Five batches whose scales grow and shrink (up to 100x: coarsening), some with NaN/Inf, zeros, and
    // values snapped to multiples of the scale (many on bin edges).
    std::vector<Parts> batches;
    for (int b = 0; b < 5; ++b) {
      float const scale = std::pow(10.0F, std::uniform_real_distribution<float>(-1.0F, 2.0F)(rng));
      std::size_t const n = 1 + rng() % 3000;
      Values v(n);
      for (float& x : v) x = normal(rng) * scale;
      if (rng() % 3 == 0)
        for (std::size_t i = 0; i < n; i += 7) v[i] = std::round(v[i] / scale * 4.0F) * scale / 4.0F;
      if (rng() % 4 == 0) v[rng() % n] = rng() % 2 ? nan : -inf;
      if (rng() % 5 == 0) std::fill(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n / 2), 0.0F);
      // Cut into 1-6 parts at random points (empty parts included).
      std::vector<std::size_t> cuts = {0, n};
      for (std::size_t k = rng() % 6; k > 0; --k) cuts.push_back(rng() % (n + 1));
      std::sort(cuts.begin(), cuts.end());
      Parts parts;
      for (std::size_t k = 0; k + 1 < cuts.size(); ++k)
        parts.emplace_back(v.begin() + static_cast<std::ptrdiff_t>(cuts[k]),
                           v.begin() + static_cast<std::ptrdiff_t>(cuts[k + 1]));
      batches.push_back(parts);
    }
    if (partsBytes(batches) != wholeBytes(batches))
      trtc_test::fail(__FILE__, __LINE__, "trial " + std::to_string(trial) + ": parts differ from whole");
  }
}

TEST(the_first_batch_sets_the_width_from_all_its_parts_in_a_second_pass) {
  HistogramSet set;
  Parts const first = {{0.5F, -1.0F}, {4.0F, 2.0F}, {-3.0F}};
  CHECK_EQ(addInParts(set, "t", first), 2);
  CHECK_EQ(set.get("t").binWidth(), 4.0 / 2048.0);  // the batch's max, not the first part's (1.0)
  CHECK(set.get("t").serialize() == wholeBytes({first}));
  // A later batch with a width already: one pass, growth at the same width.
  Parts const second = {{1.0F}, {8.0F, -7.5F}};
  CHECK_EQ(addInParts(set, "t", second), 1);
  CHECK_EQ(set.get("t").binWidth(), 4.0 / 2048.0);
  CHECK(set.get("t").serialize() == wholeBytes({first, second}));
}

TEST(a_value_on_the_top_edge_of_a_part_lands_where_the_whole_batch_puts_it) {
  // Width 1 (max 2048 / 2048 bins); bins are [k, k+1), the last one closed at the batch's top.
  Parts const first = {{0.5F, 2048.0F}};
  // 3000 is the top edge of the first part's 3000 bins (bin 2999 if the part were a batch), but the batch
  // goes on to 3500.5: whole, 3000 is in bin 3000.
  Parts const grows = {{3000.0F, 10.0F}, {3500.5F}};
  // 3501 sits on the top edge of the 3501 bins; the next part needs 200000 / 65536 bins: the width doubles
  // twice (coarsening), and 3501 is then in bin 875 (floor(3501 / 4)); 200000 is the batch's top: last bin.
  Parts const coarsens = {{3501.0F}, {7.0F}, {200000.0F}};
  // 150000 on the top edge of its own part and of the batch (no later growth): the last bin, as whole.
  Parts const staysOnTop = {{150000.0F, 4.0F}, {100000.0F}};
  std::vector<Parts> const batches = {first, grows, coarsens, staysOnTop};
  HistogramSet set;
  for (Parts const& b : batches) addInParts(set, "t", b);
  Histogram const h = set.get("t");
  CHECK(h.serialize() == wholeBytes(batches));
  CHECK_EQ(h.binWidth(), 4.0);
  CHECK_EQ(h.nbins(), std::size_t{50000});
  // Bin by bin (width 4 now): 0.5 -> 0; 2048 -> 511 (its batch's last bin at width 1, 2047, / 4); 10 -> 2;
  // 3000 -> 750 (bin 3000 at width 1); 3500.5 -> 875 (its batch's last bin 3500 / 4); 3501 -> 875; 7 -> 1;
  // 200000 -> 49999; 4 -> 1; 100000 -> 25000; 150000 -> 37500.
  std::vector<std::uint64_t> expected(50000, 0);
  for (std::size_t bin : {0, 511, 2, 750, 875, 875, 1, 49999, 1, 25000, 37500}) expected[bin] += 1;
  CHECK(h.counts() == expected);
}

TEST(a_tensor_all_zero_until_a_later_batch_gets_its_width_from_that_whole_batch) {
  float const nan = std::numeric_limits<float>::quiet_NaN();
  float const inf = std::numeric_limits<float>::infinity();
  std::vector<Parts> const batches = {
      {{0.0F, 0.0F}, {nan, -0.0F}},             // only zeros and NaN: no width, one pass
      {{0.0F}, {1.0F, -0.5F}, {-3.0F}, {inf}},  // the first nonzero part is not the largest
      {{0.0F, 0.0F}, {2.0F}},                   // width known: one pass
      {{6.0F}, {0.0F}},
  };
  HistogramSet set;
  std::vector<int> passes;
  for (Parts const& b : batches) passes.push_back(addInParts(set, "t", b));
  CHECK(passes == (std::vector<int>{1, 2, 1, 1}));
  CHECK_EQ(set.get("t").binWidth(), 3.0 / 2048.0);
  CHECK(set.get("t").serialize() == wholeBytes(batches));
  CHECK_EQ(set.get("t").nanCount(), std::uint64_t{1});
  CHECK_EQ(set.get("t").posInfCount(), std::uint64_t{1});
}

TEST(tensors_of_one_batch_in_parts_take_their_own_passes_and_others_stay_whole) {
  // "a" has a width before the batch, "b" does not: the second pass (for "b") ignores the parts of "a".
  HistogramSet set;
  Values const a0 = {1.0F, 2.0F};
  set.add("a", a0.data(), a0.size());
  Parts const a1 = {{3.0F, 0.25F}, {5.0F}};
  Parts const b1 = {{0.5F}, {2.0F, -8.0F}};
  CHECK(set.beginBatch({"a", "b"}));
  int passes = 0;
  do {
    ++passes;
    for (std::size_t k = 0; k < a1.size(); ++k) {
      set.add("a", a1[k].data(), a1[k].size());
      set.add("b", b1[k].data(), b1[k].size());
      set.add("other", a1[k].data(), a1[k].size());  // not in the batch: each add is a batch of its own
    }
  } while (set.endPass());
  CHECK_EQ(passes, 2);
  HistogramSet whole;
  whole.add("a", a0.data(), a0.size());
  Values const a = joined(a1);
  Values const b = joined(b1);
  whole.add("a", a.data(), a.size());
  whole.add("b", b.data(), b.size());
  for (int pass = 0; pass < 2; ++pass)
    for (Values const& p : a1) whole.add("other", p.data(), p.size());
  for (std::string const name : {"a", "b", "other"}) {
    if (set.get(name).serialize() != whole.get(name).serialize())
      trtc_test::fail(__FILE__, __LINE__, name + " differs");
  }
  // Only tensors without a width can ask for a second pass.
  CHECK(!set.beginBatch({"a", "b"}));
  CHECK(!set.endPass());
}

TEST(continued_histograms_need_the_bin_count_as_well_as_the_width_to_merge_as_one) {
  // The set to continue: width 1, grown to 3000 bins. A new batch tops out at 2500 exactly (a bin edge).
  HistogramSet base;
  Values const earlier[] = {{2048.0F}, {2999.5F}};
  for (Values const& b : earlier) base.add("t", b.data(), b.size());
  REQUIRE(base.get("t").binWidth() == 1.0);
  REQUIRE(base.get("t").nbins() == 3000);
  Parts const next = {{2500.0F}, {1.0F, 2.0F}};
  Values const all = joined(next);
  HistogramSet direct;  // the batch added to the continued set itself
  for (Values const& b : earlier) direct.add("t", b.data(), b.size());
  direct.add("t", all.data(), all.size());
  // A shard with the width and the bin count, given the batch in parts, merges into the same histogram.
  HistogramSet shard;
  shard.setBinWidth("t", 1.0, 3000);
  addInParts(shard, "t", next);
  HistogramSet merged;
  for (Values const& b : earlier) merged.add("t", b.data(), b.size());
  merged.merge(shard);
  CHECK(merged.get("t").serialize() == direct.get("t").serialize());
  // With the width alone (2048 bins) the shard would put 2500 on its own top edge: bin 2499, not 2500.
  HistogramSet narrow;
  narrow.setBinWidth("t", 1.0);
  narrow.add("t", all.data(), all.size());
  Histogram const narrowed = narrow.get("t");
  Histogram const added = direct.get("t");
  CHECK_EQ(narrowed.counts()[2499], std::uint64_t{1});
  CHECK_EQ(added.counts()[2500], std::uint64_t{1});

  bool threw = false;
  try {
    Histogram bad(1.0, 0);
  } catch (HistogramError const&) {
    threw = true;
  }
  CHECK(threw);
}

TEST(a_set_with_an_open_batch_refuses_merge_serialize_and_widths_until_it_closes) {
  HistogramSet set;
  Values const v = {1.0F, -2.0F};
  set.add("t", v.data(), v.size());
  HistogramSet other;
  other.add("t", v.data(), v.size());
  set.beginBatch({"t"});
  set.add("t", v.data(), v.size());
  auto throwsHistogramError = [](auto&& f) {
    try {
      f();
    } catch (HistogramError const&) {
      return true;
    }
    return false;
  };
  CHECK(throwsHistogramError([&] { set.serialize(); }));
  CHECK(throwsHistogramError([&] { set.merge(other); }));
  CHECK(throwsHistogramError([&] { other.merge(set); }));
  CHECK(throwsHistogramError([&] { set.setBinWidth("u", 1.0); }));
  bool logic = false;
  try {
    set.beginBatch({"t"});
  } catch (std::logic_error const&) {
    logic = true;
  }
  CHECK(logic);
  // Abandoned (an aborted pass): what was binned stays, and the set is usable again.
  set.abandonBatch();
  CHECK_EQ(set.get("t").count(), std::uint64_t{4});
  CHECK(!set.serialize().empty());
  set.merge(other);
  CHECK_EQ(set.get("t").count(), std::uint64_t{6});
  CHECK(!set.endPass());
}
