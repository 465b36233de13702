// TensorRT calibration cache text, written byte-exact as TensorRT 8.6-10.x writes it:
//   TRT-<version>-<Algorithm>\n
//   <tensor name>: <hex>\n            one line per tensor, in the order given
// <hex> is the IEEE-754 float32 bit pattern of scale = amax / 127, printed like std::hex of the 32-bit
// integer: lowercase, no "0x", no zero padding (0.0078759 -> "3c010a14", 0 -> "0").
//
// Threading / lifetime: pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace trtc {

struct CacheEntry {
  std::string name;
  // Dynamic range of the tensor; must be finite and >= 0 (0 gives TensorRT's "0" line).
  double amax{0.0};
};

// scale = amax / 127, divided in double and rounded once to float32 (JS: Math.fround(amax / 127)).
float scaleFromAmax(double amax) noexcept;
// "3c010a14" for 0.0078759f, "0" for 0.0f.
std::string formatScaleHex(float scale);
// The whole cache. Throws std::invalid_argument for an empty version/algorithm, a version or algorithm
// holding '-' or a line break, a name holding a line break or empty, or an amax that is NaN, infinite or
// negative.
std::string formatCacheText(std::string const& version, std::string const& algorithm,
                            std::vector<CacheEntry> const& entries);

}  // namespace trtc
