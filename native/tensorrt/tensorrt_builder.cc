// The "tensorrt" builder (tensorrt_builder.h): hands the run's calibrator to TensorRT's builder
// (engine_builder.h). Pure C++: the TensorRT headers stay inside engine_builder.cc and calibrator_adapter.h;
// without TensorRT, buildEngine() fails with kTENSORRT_UNAVAILABLE and this builder reports that.
#include "tensorrt/tensorrt_builder.h"

#include <string>
#include <utility>
#include <vector>

#include "core/run_options.h"
#include "tensorrt/engine_builder.h"

namespace trtc {
namespace {

char const* severityName(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kINTERNAL_ERROR:
      return "internal error";
    case LogSeverity::kERROR:
      return "error";
    case LogSeverity::kWARNING:
      return "warning";
    case LogSeverity::kINFO:
      return "info";
    case LogSeverity::kVERBOSE:
      return "verbose";
  }
  return "log";
}

class TensorrtBuilder final : public Builder {
 public:
  void build(BuilderHost& host) noexcept override {
    try {
      EngineBuildCallbacks callbacks;
      callbacks.log = [&host](LogSeverity severity, std::string const& message) {
        host.addLog(std::string(severityName(severity)) + ": " + message);
      };
      callbacks.abort = &host.abortFlag();
      std::optional<EngineBuildOptions> const& options = host.options().engine;
      if (!options) {
        host.fail(RunErrorCode::kINTERNAL, "the tensorrt builder needs engine options");
        return;
      }
      EngineBuildResult result;
      RunError error;
      if (!buildEngine(*options, host.calibrator(), callbacks, result, error)) {
        if (host.stopped()) return;  // the calibrator's own error, or the abort, is what the run reports
        host.fail(error.code == RunErrorCode::kNONE ? RunErrorCode::kINTERNAL : error.code,
                  std::move(error.message));
        return;
      }
      host.setResultBytes("plan", std::move(result.plan));
      // IEngineInspector's JSON (options.inspectLayers): result.bytes.layers, UTF-8.
      if (!result.layerInformation.empty()) {
        host.setResultBytes(
            "layers", std::vector<uint8_t>(result.layerInformation.begin(), result.layerInformation.end()));
      }
    } catch (std::exception const& e) {
      host.fail(RunErrorCode::kINTERNAL, std::string("tensorrt builder: ") + e.what());
    }
  }
};

}  // namespace

std::unique_ptr<Builder> makeTensorrtBuilder() { return std::make_unique<TensorrtBuilder>(); }

}  // namespace trtc
