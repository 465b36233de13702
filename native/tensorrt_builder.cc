// The "tensorrt" builder: hands the run's calibrator to TensorRT's builder (engine_builder.h). Pure C++: the
// TensorRT headers stay inside native/tensorrt/; without TensorRT, buildEngine() fails with
// ERR_TENSORRT_UNAVAILABLE and this builder reports that.
#include <string>
#include <utility>
#include <vector>

#include "builder.h"
#include "engine_builder.h"

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
      std::vector<uint8_t> plan;
      std::string error;
      host.trace("buildEngine");
      if (!buildEngine(host.options().engine, host.calibrator(), callbacks, plan, error)) {
        if (host.stopped()) return;  // the calibrator's own error, or the abort, is what the run reports
        size_t const colon = error.find(": ");
        std::string const code = colon == std::string::npos ? std::string() : error.substr(0, colon);
        RunErrorCode const runCode = errorCodeFromName(code);
        host.fail(runCode, runCode == RunErrorCode::kINTERNAL ? error : error.substr(colon + 2));
        return;
      }
      host.setResultBytes("plan", std::move(plan));
    } catch (std::exception const& e) {
      host.fail(RunErrorCode::kINTERNAL, std::string("tensorrt builder: ") + e.what());
    }
  }
};

}  // namespace

std::unique_ptr<Builder> makeTensorrtBuilder() { return std::make_unique<TensorrtBuilder>(); }

}  // namespace trtc
