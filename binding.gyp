# node-gyp fallback build (cmake-js and CMakeLists.txt are the build of record). Builds the same sources as
# CMakeLists.txt's TRTC_SOURCES, with CUDA when a toolkit is found; never the TensorRT adapter. With the
# environment variable TRTC_TEST_HOOKS=1 at build time it is the test build: it adds TRTC_TEST_HOOK_SOURCES
# (native/testing/) and defines TRTC_TEST_HOOKS=1, as cmake-js does with --CDTRTC_TEST_HOOKS=ON.
{
  "variables": {
    "cuda_root%": "<!(node scripts/gyp-config.js cuda)",
    "test_hooks%": "<!(node scripts/gyp-config.js test-hooks)"
  },
  "targets": [
    {
      "target_name": "trt_calibrator",
      "sources": [
        "native/core/buffers.cc",
        "native/core/cache_text.cc",
        "native/core/calibrator_core.cc",
        "native/core/cuda_api.cc",
        "native/builtin/builtin_builder.cc",
        "native/builtin/derived.cc",
        "native/builtin/histogram.cc",
        "native/builtin/ort_session.cc",
        "native/builtin/thresholds.cc",
        "native/tensorrt/engine_builder_unavailable.cc",
        "native/tensorrt/tensorrt_builder.cc",
        "native/bridge/addon.cc",
        "native/bridge/capabilities.cc",
        "native/bridge/histogram_binding.cc",
        "native/bridge/js_bridge.cc",
        "native/bridge/js_errors.cc",
        "native/bridge/ort_binding.cc",
        "native/bridge/run.cc",
        "native/bridge/run_options.cc"
      ],
      "include_dirs": [
        "<!(node scripts/gyp-config.js napi)",
        "native"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "TRTC_WITH_TENSORRT=0"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden", "-ffp-contract=off"],
      "conditions": [
        ["OS=='linux'", {
          "libraries": ["-ldl"]
        }],
        ["cuda_root!=''", {
          "defines": ["TRTC_WITH_CUDA=1"],
          "include_dirs": ["<(cuda_root)/include"],
          "libraries": ["<(cuda_root)/lib64/libcudart_static.a", "-ldl", "-lrt", "-lpthread"]
        }, {
          "defines": ["TRTC_WITH_CUDA=0"]
        }],
        ["test_hooks==1", {
          "sources": [
            "native/testing/test_bindings.cc",
            "native/testing/test_cuda.cc",
            "native/testing/test_driver.cc"
          ],
          "defines": ["TRTC_TEST_HOOKS=1"]
        }, {
          "defines": ["TRTC_TEST_HOOKS=0"]
        }]
      ]
    }
  ]
}
