// Activations computed element-wise from another one (derived tensors), histogrammed without asking ONNX
// Runtime for them.
//
// Why: exposing an activation as a graph output costs ONNX Runtime its operator fusions and adds layout
// reorders, and the histogram pass then reads it from memory. Many activations are a few element-wise steps
// away from one node's output: PP-LCNetV3's learnable affine blocks (x·s + b with scalar s, b), hard-swish
// written as Add/Clip/Mul/Div, ReLU. In the PaddleOCR detector 213 of 330 activations (70 % of the values)
// are such steps from 117 others. The calibration pass fetches only those 117 ("roots") and computes the
// others chunk by chunk while it histograms the root (HistogramSet::addChunked), so their values never reach
// memory.
//
// Exactness: each step is one IEEE-754 float32 operation, rounded as ONNX Runtime rounds it (the addon is
// compiled with -ffp-contract=off: no fused multiply-add), so a derived tensor's histogram is the one of the
// values ONNX Runtime would have output (checked against ONNX Runtime on the PaddleOCR models by the tests).
// Not guaranteed for NaN inputs: Clip and Relu of NaN give NaN here, and ONNX Runtime's kernels do not
// promise a NaN result (a tensor with NaN is reported as not finite either way).
//
// Threading / lifetime: a DerivationPlan is immutable once built and may be shared between threads.
// addWithDerived may run on any thread, concurrently for different roots. Pure C++ (core tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "builtin/histogram.h"

namespace trtc {

enum class ElementwiseOp : std::uint8_t { kADD, kSUB, kMUL, kDIV, kCLIP, kRELU };

// An operand of a step: the root, an earlier step's output, or a float32 constant.
struct StepOperand {
  static constexpr std::int32_t kROOT = -1;
  static constexpr std::int32_t kCONSTANT = -2;
  std::int32_t ref{kCONSTANT};  // kROOT, kCONSTANT, or the index of an earlier step of the group
  float constant{0.0F};
};

// One derived tensor: `op` over operands a, b (kCLIP: a clamped to [lo, hi]; kRELU: a only).
struct DerivedStep {
  std::string name;
  ElementwiseOp op{ElementwiseOp::kADD};
  StepOperand a;
  StepOperand b;
  float lo{0.0F};
  float hi{0.0F};
};

// The tensors derived from one root, in an order where each step's operands come before it.
struct DerivedGroup {
  std::vector<DerivedStep> steps;
};

// What a calibration pass fetches from the model and what it derives, in the model's graph order.
class DerivationPlan {
 public:
  // One input of a derived tensor: a tensor name, or a constant when `isConstant`.
  struct Input {
    std::string tensor;
    float constant{0.0F};
    bool isConstant{false};
  };

  // Appends a tensor the model computes (a fetched output). Throws std::invalid_argument for a name already
  // in the plan.
  void addFetched(std::string name);
  // Appends a derived tensor: `op` ("Add", "Sub", "Mul", "Div": two inputs; "Clip": three, the value then
  // constant min and max; "Relu": one) over inputs that are constants, the fetched tensor `root`, or tensors
  // derived from `root` before. Throws std::invalid_argument naming the tensor otherwise.
  void addDerived(std::string name, std::string const& root, std::string const& op,
                  std::vector<Input> const& inputs);

  // Every tensor, in the order added (graph order).
  std::vector<std::string> const& order() const noexcept { return mOrder; }
  // The fetched tensors, in the order added.
  std::vector<std::string> const& fetched() const noexcept { return mFetched; }
  // The tensors derived from `root`, or nullptr when none.
  DerivedGroup const* group(std::string const& root) const;
  // Whether `name` is one of the plan's derived tensors.
  bool derives(std::string const& name) const;
  std::size_t derivedCount() const noexcept { return mOrder.size() - mFetched.size(); }

 private:
  std::vector<std::string> mOrder;
  std::vector<std::string> mFetched;
  std::unordered_map<std::string, DerivedGroup> mGroups;
  std::unordered_map<std::string, std::string> mRootOf;  // every name -> its root (a fetched name: itself)
};

// Values that `count` values of a fetched tensor stand for: its own and those of the tensors `group` derives
// from it (nullptr: none). Weights the parallel adds and sizes the sub-batch split (derived tensors count as
// if fetched).
inline std::size_t valuesWithDerived(std::size_t count, DerivedGroup const* group) {
  return count * (1 + (group == nullptr ? 0 : group->steps.size()));
}

// Creates the histograms of every tensor of `plan` missing from `set`, in the plan's (graph) order, so the
// set's order (and the cache's) does not depend on which thread adds first.
void createPlanEntries(HistogramSet& set, DerivationPlan const& plan);

// Values per chunk of addWithDerived (each derived tensor's chunk stays in the L1/L2 caches).
inline constexpr std::size_t kDERIVED_CHUNK = 4096;

// Computes `count` values of every step of `group` from `root`: outputs[k] receives step k's values; with
// `scans`, each step's values are also added to scans[k] (statistics gathered as the values are computed;
// count below 2^31, as addWithDerived's chunks are).
void computeDerived(DerivedGroup const& group, float const* root, std::size_t count, float* const* outputs,
                    HistogramScan* scans = nullptr);

// Adds n values of the tensor `rootName` to `set`, and the values of every tensor of `group` (nullptr: none)
// computed from them, chunk by chunk. The histograms equal set.add() of each tensor's whole values.
void addWithDerived(HistogramSet& set, std::string const& rootName, float const* data, std::size_t n,
                    DerivedGroup const* group);

}  // namespace trtc
