// bench/histogram: the native histogram core (native/builtin/histogram.cc, thresholds.cc) on real activations
// dumped by dump_activations.py. Times Histogram::add for images 1..N-1 of every tensor (image 0 defines the
// bin widths first, as the first batch does in a calibration), best of 3, single-threaded; then the entropy
// threshold of every tensor. Prints one JSON line; the checksum of all counts lets a change to the hot loops
// be checked for identical histograms. With a plan (write_plan.js), also the calibration pass's way: only the
// fetched tensors are read, the derived ones computed from them (native/builtin/derived.h), timed the same
// way and checked to give the same histograms as adding every tensor.
//
// Build: g++ -O3 -std=c++17 -ffp-contract=off -Inative bench/histogram/histogram_bench.cc
//        native/builtin/histogram.cc native/builtin/derived.cc native/builtin/thresholds.cc
// Run:   histogram_bench DIR [TENSORS=330] [PLAN]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "builtin/derived.h"
#include "builtin/histogram.h"
#include "builtin/thresholds.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: histogram_bench DIR (with acts.bin and acts.idx from dump_activations.py)\n");
    return 2;
  }
  std::string const dir = argv[1];
  std::vector<std::size_t> sizes;
  {
    std::ifstream idx(dir + "/acts.idx");
    std::size_t n = 0;
    while (idx >> n) sizes.push_back(n);
  }
  std::vector<std::size_t> offset(sizes.size() + 1, 0);
  for (std::size_t i = 0; i < sizes.size(); ++i) offset[i + 1] = offset[i] + sizes[i];
  std::vector<float> values(offset.back());
  {
    std::ifstream data(dir + "/acts.bin", std::ios::binary);
    data.read(reinterpret_cast<char*>(values.data()),
              static_cast<std::streamsize>(values.size() * sizeof(float)));
    if (!data) {
      std::fprintf(stderr, "cannot read %s/acts.bin\n", dir.c_str());
      return 1;
    }
  }
  std::size_t const tensors = argc > 2 ? std::stoul(argv[2]) : 330;
  std::size_t const images = sizes.size() / tensors;
  if (images < 2 || sizes.size() % tensors != 0) {
    std::fprintf(stderr, "need at least 2 images of %zu tensors\n", tensors);
    return 1;
  }
  double bestAdd = 1e300;
  std::vector<trtc::Histogram> histograms;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<trtc::Histogram> hs(tensors);
    for (std::size_t t = 0; t < tensors; ++t) hs[t].add(values.data() + offset[t], sizes[t]);
    auto const t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 1; i < images; ++i) {
      for (std::size_t t = 0; t < tensors; ++t) {
        std::size_t const k = i * tensors + t;
        hs[t].add(values.data() + offset[k], sizes[k]);
      }
    }
    bestAdd = std::min(
        bestAdd, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    histograms = std::move(hs);
  }
  std::uint64_t checksum = 0;
  std::size_t bins = 0;
  for (trtc::Histogram const& h : histograms) {
    std::uint64_t k = 1;
    for (std::uint64_t c : h.counts()) {
      checksum += c * k;
      k = k * 31 + 7;
    }
    bins += h.nbins();
  }
  double bestEntropy = 1e300;
  std::uint64_t amaxSignature = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto const t0 = std::chrono::steady_clock::now();
    amaxSignature = 0;
    for (trtc::Histogram const& h : histograms) {
      trtc::AmaxResult const r = trtc::computeAmax(h, trtc::AmaxAlgorithm::kENTROPY);
      amaxSignature = amaxSignature * 1000003 + static_cast<std::uint64_t>(r.bin);
    }
    bestEntropy =
        std::min(bestEntropy,
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  // The calibration pass's way (derived tensors computed from the fetched ones), with a plan.
  std::string derivedJson;
  if (argc > 3) {
    trtc::DerivationPlan plan;
    std::ifstream planFile(argv[3]);
    std::string line;
    while (std::getline(planFile, line)) {
      std::istringstream fields(line);
      std::string kind;
      std::string name;
      fields >> kind >> name;
      if (kind == "F") {
        plan.addFetched(name);
        continue;
      }
      std::string root;
      std::string op;
      std::size_t k = 0;
      fields >> root >> op >> k;
      std::vector<trtc::DerivationPlan::Input> inputs(k);
      for (trtc::DerivationPlan::Input& in : inputs) {
        std::string token;
        fields >> token;
        in.isConstant = token.rfind("C:", 0) == 0;
        if (in.isConstant) {
          in.constant = static_cast<float>(std::strtod(token.c_str() + 2, nullptr));
        } else {
          in.tensor = token.substr(2);
        }
      }
      plan.addDerived(name, root, op, inputs);
    }
    std::vector<std::string> const& names = plan.order();
    if (names.size() != tensors) {
      std::fprintf(stderr, "the plan lists %zu tensors, the dump %zu\n", names.size(), tensors);
      return 1;
    }
    std::vector<bool> fetched(tensors);
    for (std::size_t t = 0; t < tensors; ++t) fetched[t] = !plan.derives(names[t]);
    double bestDerived = 1e300;
    bool identical = true;
    for (int rep = 0; rep < 3; ++rep) {
      trtc::HistogramSet set;
      auto addImage = [&](std::size_t i) {
        for (std::size_t t = 0; t < tensors; ++t) {
          std::size_t const k = i * tensors + t;
          if (fetched[t])
            trtc::addWithDerived(set, names[t], values.data() + offset[k], sizes[k], plan.group(names[t]));
        }
      };
      addImage(0);
      auto const t0 = std::chrono::steady_clock::now();
      for (std::size_t i = 1; i < images; ++i) addImage(i);
      bestDerived =
          std::min(bestDerived,
                   std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      for (std::size_t t = 0; t < tensors; ++t)
        identical = identical && set.get(names[t]).serialize() == histograms[t].serialize();
    }
    std::size_t fetchedCount = 0;
    for (bool f : fetched) fetchedCount += f ? 1 : 0;
    char buffer[160];
    std::snprintf(buffer, sizeof buffer,
                  ",\"fetched\":%zu,\"derived_add_ms_per_image\":%.2f,\"derived_identical\":%s", fetchedCount,
                  bestDerived / static_cast<double>(images - 1), identical ? "true" : "false");
    derivedJson = buffer;
  }
  std::size_t const added = offset[images * tensors] - offset[tensors];
  std::printf(
      "{\"images\":%zu,\"tensors\":%zu,\"add_ms_per_image\":%.2f,\"add_ns_per_value\":%.3f,\"entropy_ms_"
      "all\":%.1f,"
      "\"bins\":%zu,\"checksum\":\"%016llx\",\"amax_signature\":\"%016llx\"%s}\n",
      images, tensors, bestAdd / static_cast<double>(images - 1), bestAdd * 1e6 / static_cast<double>(added),
      bestEntropy, bins, static_cast<unsigned long long>(checksum),
      static_cast<unsigned long long>(amaxSignature), derivedJson.c_str());
  return 0;
}
