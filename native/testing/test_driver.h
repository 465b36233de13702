// The test build's stand-ins for TensorRT (compiled only with TRTC_TEST_HOOKS): builders that drive the
// calibrator in TensorRT's call order and record what they did, for test/native, test/gpu, bench/bridge and
// core_tests.
//   "test"  read cache -> getBatchSize -> getBatch until false -> write cache, with the binding names in the
//           order the options give (not the declaration order); with `capture` it copies each binding
//           (device -> host where needed) into the record. Cache text: "TRT-0-TestDriver\nbatches: <n>\n".
//   "sum"   like "test", but after each batch it calls the JS `process` callback and reads the Float32Arrays
//           it returns in place (the pattern the builtin builder uses without its own ONNX Runtime session);
//           cache text "TRT-0-SumCalibration" with one line per returned tensor: "<name>: <sum as %.9g>".
//
// Threading / lifetime: the builders run on the run's builder thread and write the TestRecord there; the run
// reads it on the JS thread after joining that thread. The record outlives the builder.
//
// Pure C++ (no Node-API).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/builder.h"

namespace trtc {

// What a test builder did: the contract calls in order, and the captured bindings.
struct TestRecord {
  struct Capture {
    int64_t batch{0};
    std::string name;
    std::vector<uint8_t> bytes;
    bool device{false};  // the binding was a device pointer
  };
  // "readCalibrationCache", "getBatchSize", "getBatch", ..., "writeCalibrationCache".
  std::vector<std::string> trace;
  // One entry per getBatch and binding name, with `capture`.
  std::vector<Capture> captures;
};

std::unique_ptr<Builder> makeTestDriver(TestRecord& record, bool capture);
std::unique_ptr<Builder> makeSumBuilder(TestRecord& record);

}  // namespace trtc
