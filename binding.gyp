# node-gyp fallback build (cmake-js and CMakeLists.txt are the build of record). Builds the same sources as
# CMakeLists.txt's TRTC_SOURCES, with CUDA when a toolkit is found; never the TensorRT adapter.
{
  "variables": {
    "cuda_root%": "<!(node scripts/gyp-config.js cuda)"
  },
  "targets": [
    {
      "target_name": "trt_calibrator",
      "sources": [
        "native/addon.cc",
        "native/cache_text.cc",
        "native/histogram.cc",
        "native/derived.cc",
        "native/histogram_binding.cc",
        "native/thresholds.cc",
        "native/capabilities.cc",
        "native/cuda_api.cc",
        "native/engine_builder_unavailable.cc",
        "native/buffers.cc",
        "native/calibrator_core.cc",
        "native/js_bridge.cc",
        "native/run.cc",
        "native/test_driver.cc",
        "native/tensorrt_builder.cc",
        "native/builtin_builder.cc",
        "native/ort_session.cc",
        "native/ort_binding.cc"
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
        }]
      ]
    }
  ]
}
