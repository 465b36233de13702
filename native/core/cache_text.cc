// TensorRT calibration cache text writer (format in cache_text.h).
#include "core/cache_text.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace trtc {

float scaleFromAmax(double amax) noexcept { return static_cast<float>(amax / 127.0); }

std::string formatScaleHex(float scale) {
  std::uint32_t bits;
  std::memcpy(&bits, &scale, sizeof bits);
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%x", static_cast<unsigned>(bits));
  return buffer;
}

std::string formatCacheText(std::string const& version, std::string const& algorithm,
                            std::vector<CacheEntry> const& entries) {
  auto headerPart = [](std::string const& value, char const* what) {
    if (value.empty() || value.find_first_of("-\r\n") != std::string::npos) {
      throw std::invalid_argument(std::string("cache ") + what +
                                  " must be non-empty without '-' or line breaks");
    }
  };
  headerPart(version, "version");
  headerPart(algorithm, "algorithm");
  std::string out = "TRT-" + version + "-" + algorithm + "\n";
  for (CacheEntry const& e : entries) {
    if (e.name.empty() || e.name.find_first_of("\r\n") != std::string::npos) {
      throw std::invalid_argument("cache tensor names must be non-empty without line breaks");
    }
    if (!(std::isfinite(e.amax) && e.amax >= 0.0)) {
      throw std::invalid_argument("amax of \"" + e.name + "\" must be finite and >= 0");
    }
    out += e.name;
    out += ": ";
    out += formatScaleHex(scaleFromAmax(e.amax));
    out += '\n';
  }
  return out;
}

}  // namespace trtc
