// Core tests of derived tensors (derived.h) and chunked histogram adds (HistogramSet::addChunked): the
// histograms equal add() of the materialized values, whatever the chunking, the data (NaN, infinities, only
// zeros) or the growth between adds; malformed plans are refused.
#include "builtin/derived.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "builtin/histogram.h"
#include "test_framework.h"

using namespace trtc;

namespace {

using Input = DerivationPlan::Input;
Input tensor(char const* name) { return Input{name, 0.0F, false}; }
Input constant(float value) { return Input{"", value, true}; }

// A plan with every op and operand kind, from root "r".
DerivationPlan everyOp() {
  DerivationPlan plan;
  plan.addFetched("r");
  plan.addDerived("m", "r", "Mul", {tensor("r"), constant(0.75F)});
  plan.addDerived("a", "r", "Add", {tensor("m"), constant(-0.5F)});
  plan.addDerived("s", "r", "Sub", {constant(2.5F), tensor("a")});
  plan.addDerived("d", "r", "Div", {constant(1.0F), tensor("r")});
  plan.addDerived("c", "r", "Clip", {tensor("a"), constant(0.0F), constant(6.0F)});
  plan.addDerived("relu", "r", "Relu", {tensor("s")});
  plan.addDerived("hs", "r", "Mul", {tensor("r"), tensor("c")});
  plan.addDerived("big", "r", "Mul", {tensor("r"), constant(1e30F)});
  return plan;
}

// The same values, one scalar operation at a time.
std::vector<std::vector<float>> materialize(std::vector<float> const& r) {
  std::vector<std::vector<float>> out(8);
  for (float x : r) {
    float const m = x * 0.75F;
    float const a = m + -0.5F;
    float const s = 2.5F - a;
    float const d = 1.0F / x;
    float const c0 = a < 0.0F ? 0.0F : a;
    float const c = c0 > 6.0F ? 6.0F : c0;
    float const relu = s < 0.0F ? 0.0F : s;
    float const values[] = {m, a, s, d, c, relu, x * c, x * 1e30F};
    for (int k = 0; k < 8; ++k) out[k].push_back(values[k]);
  }
  return out;
}

std::vector<float> values(std::size_t n, unsigned seed, float scale) {
  std::vector<float> v(n);
  std::uint32_t state = seed * 2654435761U + 1;
  for (float& x : v) {
    state = state * 1664525U + 1013904223U;
    x = (static_cast<float>(state >> 8) / 16777216.0F - 0.5F) * scale;
  }
  return v;
}

}  // namespace

TEST(derived_tensors_histogram_like_their_materialized_values) {
  DerivationPlan const plan = everyOp();
  DerivedGroup const* group = plan.group("r");
  REQUIRE(group != nullptr);
  CHECK_EQ(group->steps.size(), std::size_t{8});
  float const inf = std::numeric_limits<float>::infinity();
  float const nan = std::numeric_limits<float>::quiet_NaN();
  // Sizes around the vector width and the chunk; growth (scale 4 -> 40); NaN/Inf/zeros; all zeros.
  std::vector<std::vector<float>> batches = {
      values(3, 1, 4.0F),   values(kDERIVED_CHUNK + 13, 2, 4.0F), values(2 * kDERIVED_CHUNK, 3, 40.0F),
      values(100, 4, 1.0F), std::vector<float>(50, 0.0F),         values(kDERIVED_CHUNK * 3 + 1, 5, 400.0F)};
  float const special[] = {nan, -nan, inf, -inf, 0.0F, -0.0F, 1e-45F, 3e38F, -3e38F, 6.0F, -6.0F};
  for (std::size_t i = 0; i < 11; ++i) batches[3][i * 9] = special[i];
  HistogramSet viaPlan;
  HistogramSet expected;
  for (std::vector<float> const& r : batches) {
    addWithDerived(viaPlan, "r", r.data(), r.size(), group);
    std::vector<std::vector<float>> const m = materialize(r);
    expected.add("r", r.data(), r.size());
    for (std::size_t k = 0; k < 8; ++k) expected.add(plan.order()[k + 1], m[k].data(), m[k].size());
  }
  CHECK(viaPlan.names() == expected.names());
  for (std::string const& name : expected.names()) {
    if (viaPlan.get(name).serialize() != expected.get(name).serialize())
      trtc_test::fail(__FILE__, __LINE__, "histogram of " + name + " differs");
  }
  CHECK(expected.get("d").posInfCount() + expected.get("d").negInfCount() > 0);
  CHECK(expected.get("big").posInfCount() > 0);
  CHECK(expected.get("relu").nanCount() > 0);
}

TEST(add_chunked_equals_add_for_any_chunk_size) {
  std::vector<float> const a = values(1000, 7, 3.0F);
  std::vector<float> const b = values(1000, 8, 30.0F);
  for (std::size_t chunk :
       {std::size_t{1}, std::size_t{7}, std::size_t{64}, std::size_t{999}, std::size_t{5000}}) {
    HistogramSet chunked;
    HistogramSet whole;
    for (int pass = 0; pass < 2; ++pass) {
      std::vector<float> const& second = pass == 0 ? b : a;
      chunked.addChunked({"a", "b"}, a.size(), chunk,
                         [&](std::size_t offset, std::size_t count, float const** out, HistogramScan* scans) {
                           out[0] = a.data() + offset;
                           out[1] = second.data() + offset;
                           if (scans != nullptr) {
                             scans[0].add(out[0], count);
                             scans[1].add(out[1], count);
                           }
                         });
      whole.add("a", a.data(), a.size());
      whole.add("b", second.data(), second.size());
    }
    CHECK(chunked.get("a").serialize() == whole.get("a").serialize());
    CHECK(chunked.get("b").serialize() == whole.get("b").serialize());
  }
  HistogramSet set;
  bool threw = false;
  try {
    set.addChunked({"a", "a"}, 1, 1, [](std::size_t, std::size_t, float const**, HistogramScan*) {});
  } catch (std::invalid_argument const&) {
    threw = true;
  }
  CHECK(threw);
}

TEST(derivation_plans_refuse_inconsistent_tensors) {
  auto refuses = [](auto build) {
    DerivationPlan plan;
    plan.addFetched("r");
    try {
      build(plan);
    } catch (std::invalid_argument const&) {
      return true;
    }
    return false;
  };
  CHECK(refuses([](DerivationPlan& p) { p.addFetched("r"); }));
  CHECK(refuses([](DerivationPlan& p) { p.addDerived("y", "q", "Mul", {tensor("q"), constant(2)}); }));
  CHECK(refuses([](DerivationPlan& p) { p.addDerived("y", "r", "Pow", {tensor("r"), constant(2)}); }));
  CHECK(refuses([](DerivationPlan& p) { p.addDerived("y", "r", "Add", {tensor("r")}); }));
  CHECK(refuses([](DerivationPlan& p) { p.addDerived("y", "r", "Add", {constant(1), constant(2)}); }));
  CHECK(refuses([](DerivationPlan& p) {
    p.addDerived("y", "r", "Clip", {tensor("r"), tensor("r"), constant(1)});
  }));
  CHECK(refuses([](DerivationPlan& p) { p.addDerived("y", "r", "Relu", {tensor("z")}); }));
  CHECK(refuses([](DerivationPlan& p) {
    p.addDerived("y", "r", "Relu", {tensor("r")});
    p.addDerived("y", "r", "Relu", {tensor("r")});
  }));
  // A derived tensor is not a root.
  CHECK(refuses([](DerivationPlan& p) {
    p.addDerived("y", "r", "Relu", {tensor("r")});
    p.addDerived("z", "y", "Relu", {tensor("y")});
  }));
  DerivationPlan ok;
  ok.addFetched("r");
  ok.addDerived("y", "r", "Relu", {tensor("r")});
  ok.addFetched("q");
  CHECK(ok.order() == (std::vector<std::string>{"r", "y", "q"}));
  CHECK(ok.fetched() == (std::vector<std::string>{"r", "q"}));
  CHECK_EQ(ok.derivedCount(), std::size_t{1});
  CHECK(ok.group("q") == nullptr);
  CHECK(ok.derives("y"));
  CHECK(!ok.derives("r"));
  CHECK(!ok.derives("unknown"));
}
