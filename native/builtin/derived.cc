// Derived tensors (see derived.h).
#include "builtin/derived.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "builtin/simd.h"

namespace trtc {
namespace {

bool parseOp(std::string const& op, ElementwiseOp& out, std::size_t& arity) {
  static std::pair<char const*, std::pair<ElementwiseOp, std::size_t>> const kOPS[] = {
      {"Add", {ElementwiseOp::kADD, 2}},   {"Sub", {ElementwiseOp::kSUB, 2}},
      {"Mul", {ElementwiseOp::kMUL, 2}},   {"Div", {ElementwiseOp::kDIV, 2}},
      {"Clip", {ElementwiseOp::kCLIP, 3}}, {"Relu", {ElementwiseOp::kRELU, 1}},
  };
  for (auto const& [name, spec] : kOPS) {
    if (op == name) {
      out = spec.first;
      arity = spec.second;
      return true;
    }
  }
  return false;
}

// Operand kinds of a step's loop: two tensors, tensor and constant, constant and tensor.
enum class Kinds { kTT, kTC, kCT };

// out[i] = op(a[i], b[i]) (a constant operand broadcast) for i < n; with kScan, also the MinMaxNan of the
// results, as HistogramScan needs them. `op(r, x, y)` sets r from x and y, 8-float vectors by reference
// (simd.h: never by value).
template <Kinds K, bool kScan, typename Op>
TRTC_ALWAYS_INLINE void stepLoop(float const* a, float ca, float const* b, float cb, float* out,
                                 std::size_t n, Op const& op, MinMaxNan& stats) {
  std::size_t i = 0;
#if TRTC_HAVE_VECTORS
  F8 x{};
  F8 y{};
  F8 r{};
  if (K == Kinds::kCT) splat8(x, ca);
  if (K == Kinds::kTC) splat8(y, cb);
  MinMaxNan8 acc;
  for (; i + 8 <= n; i += 8) {
    if (K != Kinds::kCT) load8(x, a + i);
    if (K != Kinds::kTC) load8(y, b + i);
    op(r, x, y);
    store8(out + i, r);
    if (kScan) accumulate8(acc, r);
  }
  if (kScan) reduce8(acc, stats);
  if (i < n) {
    // The tail through the same vector op (zero-padded operands; only the first n - i results are used).
    float ta[8] = {};
    float tb[8] = {};
    float tr[8];
    for (std::size_t j = 0; i + j < n; ++j) {
      ta[j] = K == Kinds::kCT ? ca : a[i + j];
      tb[j] = K == Kinds::kTC ? cb : b[i + j];
    }
    load8(x, ta);
    load8(y, tb);
    op(r, x, y);
    store8(tr, r);
    for (std::size_t j = 0; i + j < n; ++j) {
      out[i + j] = tr[j];
      if (kScan) accumulate1(stats, tr[j]);
    }
  }
#else
  for (; i < n; ++i) {
    float r = 0.0F;
    op(r, K == Kinds::kCT ? ca : a[i], K == Kinds::kTC ? cb : b[i]);
    out[i] = r;
    if (kScan) accumulate1(stats, r);
  }
#endif
}

template <bool kScan, typename Op>
TRTC_ALWAYS_INLINE void step(float const* a, float ca, float const* b, float cb, float* out, std::size_t n,
                             Op const& op, MinMaxNan& stats) {
  if (a != nullptr && b != nullptr) {
    stepLoop<Kinds::kTT, kScan>(a, ca, b, cb, out, n, op, stats);
  } else if (a != nullptr) {
    stepLoop<Kinds::kTC, kScan>(a, ca, b, cb, out, n, op, stats);
  } else {
    stepLoop<Kinds::kCT, kScan>(a, ca, b, cb, out, n, op, stats);
  }
}

// computeDerived's body; kScan: also the statistics of every step's values into scans[k].
template <bool kScan>
TRTC_ALWAYS_INLINE void computeSteps(DerivedGroup const& group, float const* root, std::size_t count,
                                     float* const* outputs, HistogramScan* scans) {
  auto source = [&](StepOperand const& o) -> float const* {
    if (o.ref == StepOperand::kCONSTANT) return nullptr;
    return o.ref == StepOperand::kROOT ? root : outputs[o.ref];
  };
  for (std::size_t k = 0; k < group.steps.size(); ++k) {
    DerivedStep const& s = group.steps[k];
    float* out = outputs[k];
    float const* a = source(s.a);
    float const* b = source(s.b);
    MinMaxNan stats;
    // One float32 operation per value, each rounded (never fused: -ffp-contract=off), as ONNX Runtime's
    // kernels.
    switch (s.op) {
      case ElementwiseOp::kADD:
        step<kScan>(
            a, s.a.constant, b, s.b.constant, out, count,
            [](auto& r, auto const& x, auto const& y) { r = x + y; }, stats);
        break;
      case ElementwiseOp::kSUB:
        step<kScan>(
            a, s.a.constant, b, s.b.constant, out, count,
            [](auto& r, auto const& x, auto const& y) { r = x - y; }, stats);
        break;
      case ElementwiseOp::kMUL:
        step<kScan>(
            a, s.a.constant, b, s.b.constant, out, count,
            [](auto& r, auto const& x, auto const& y) { r = x * y; }, stats);
        break;
      case ElementwiseOp::kDIV:
        step<kScan>(
            a, s.a.constant, b, s.b.constant, out, count,
            [](auto& r, auto const& x, auto const& y) { r = x / y; }, stats);
        break;
      case ElementwiseOp::kCLIP: {
        // As ONNX Runtime: NaN stays NaN, -0 stays -0 (x < lo is false for both).
#if TRTC_HAVE_VECTORS
        F8 lo{};
        F8 hi{};
        splat8(lo, s.lo);
        splat8(hi, s.hi);
#else
        float const lo = s.lo;
        float const hi = s.hi;
#endif
        auto clip = [&lo, &hi](auto& r, auto const& x, auto const&) {
          r = x < lo ? lo : x;
          r = r > hi ? hi : r;
        };
        step<kScan>(a, 0.0F, nullptr, 0.0F, out, count, clip, stats);
        break;
      }
      case ElementwiseOp::kRELU: {
        // As ONNX Runtime: NaN stays NaN, -0 stays -0.
#if TRTC_HAVE_VECTORS
        F8 zero{};
        splat8(zero, 0.0F);
#else
        float const zero = 0.0F;
#endif
        step<kScan>(
            a, 0.0F, nullptr, 0.0F, out, count,
            [&zero](auto& r, auto const& x, auto const&) { r = x < zero ? zero : x; }, stats);
        break;
      }
    }
    if (kScan) scans[k].addSummary(out, count, stats.min, stats.max, stats.nan);
  }
}

}  // namespace

void DerivationPlan::addFetched(std::string name) {
  if (mRootOf.count(name) != 0) throw std::invalid_argument("tensor \"" + name + "\" is listed twice");
  mRootOf.emplace(name, name);
  mOrder.push_back(name);
  mFetched.push_back(std::move(name));
}

void DerivationPlan::addDerived(std::string name, std::string const& root, std::string const& op,
                                std::vector<Input> const& inputs) {
  std::string const what = "derived tensor \"" + name + "\"";
  if (mRootOf.count(name) != 0) throw std::invalid_argument("tensor \"" + name + "\" is listed twice");
  auto rootIt = mRootOf.find(root);
  if (rootIt == mRootOf.end() || rootIt->second != root) {
    throw std::invalid_argument(what + ": its root \"" + root +
                                "\" is not a fetched tensor listed before it");
  }
  DerivedStep step;
  step.name = name;
  std::size_t arity = 0;
  if (!parseOp(op, step.op, arity)) throw std::invalid_argument(what + ": unsupported op \"" + op + "\"");
  if (inputs.size() != arity) {
    throw std::invalid_argument(what + ": " + op + " takes " + std::to_string(arity) + " inputs, got " +
                                std::to_string(inputs.size()));
  }
  DerivedGroup& group = mGroups[root];
  auto operand = [&](Input const& in) {
    StepOperand o;
    if (in.isConstant) {
      o.ref = StepOperand::kCONSTANT;
      o.constant = in.constant;
      return o;
    }
    if (in.tensor == root) {
      o.ref = StepOperand::kROOT;
      return o;
    }
    for (std::size_t k = 0; k < group.steps.size(); ++k) {
      if (group.steps[k].name == in.tensor) {
        o.ref = static_cast<std::int32_t>(k);
        return o;
      }
    }
    throw std::invalid_argument(what + ": input \"" + in.tensor + "\" is neither its root \"" + root +
                                "\" nor a tensor derived from it before");
  };
  std::vector<StepOperand> operands;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    // Clip's bounds must be constants; every op reads at least one tensor.
    if (step.op == ElementwiseOp::kCLIP && i > 0 && !inputs[i].isConstant) {
      throw std::invalid_argument(what + ": Clip bounds must be constants");
    }
    operands.push_back(operand(inputs[i]));
  }
  bool const readsTensor = std::any_of(operands.begin(), operands.end(),
                                       [](StepOperand const& o) { return o.ref != StepOperand::kCONSTANT; });
  if (!readsTensor) throw std::invalid_argument(what + ": every input is a constant");
  step.a = operands[0];
  if (step.op == ElementwiseOp::kCLIP) {
    step.lo = operands[1].constant;
    step.hi = operands[2].constant;
  } else if (arity == 2) {
    step.b = operands[1];
  }
  group.steps.push_back(std::move(step));
  mRootOf.emplace(name, root);
  mOrder.push_back(std::move(name));
}

DerivedGroup const* DerivationPlan::group(std::string const& root) const {
  auto it = mGroups.find(root);
  return it == mGroups.end() ? nullptr : &it->second;
}

bool DerivationPlan::derives(std::string const& name) const {
  auto it = mRootOf.find(name);
  return it != mRootOf.end() && it->second != name;
}

TRTC_AVX2_CLONES void computeDerived(DerivedGroup const& group, float const* root, std::size_t count,
                                     float* const* outputs, HistogramScan* scans) {
  if (scans != nullptr) {
    computeSteps<true>(group, root, count, outputs, scans);
  } else {
    computeSteps<false>(group, root, count, outputs, nullptr);
  }
}

void createPlanEntries(HistogramSet& set, DerivationPlan const& plan) {
  for (std::string const& name : plan.order()) set.add(name, nullptr, 0);  // creates a missing entry only
}

void addWithDerived(HistogramSet& set, std::string const& rootName, float const* data, std::size_t n,
                    DerivedGroup const* group) {
  if (group == nullptr || group->steps.empty()) {
    set.add(rootName, data, n);
    return;
  }
  std::size_t const steps = group->steps.size();
  std::vector<std::string> names;
  names.reserve(steps + 1);
  names.push_back(rootName);
  for (DerivedStep const& s : group->steps) names.push_back(s.name);
  thread_local std::vector<float> buffer;
  buffer.resize(steps * kDERIVED_CHUNK);
  std::vector<float*> outputs(steps);
  for (std::size_t k = 0; k < steps; ++k) outputs[k] = buffer.data() + k * kDERIVED_CHUNK;
  set.addChunked(names, n, kDERIVED_CHUNK,
                 [&](std::size_t offset, std::size_t count, float const** out, HistogramScan* scans) {
                   out[0] = data + offset;
                   if (scans != nullptr) scans[0].add(data + offset, count);
                   computeDerived(*group, data + offset, count, outputs.data(),
                                  scans == nullptr ? nullptr : scans + 1);
                   for (std::size_t k = 0; k < steps; ++k) out[k + 1] = outputs[k];
                 });
}

}  // namespace trtc
