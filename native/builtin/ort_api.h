// ONNX Runtime's C API, declared here from its documented ABI (OrtApi in onnxruntime_c_api.h, MIT): the
// library is found at run time in the onnxruntime-node package (dlopen), so neither ONNX Runtime's headers
// nor a link-time dependency are needed. OrtApi is a table of function pointers that only ever grows at the
// end; this declares its first 131 members in their order (index in the comments), typed where we call them
// and as plain pointers where we do not. ort_session.cc checks the table with calls whose results it knows
// before using it (a wrong layout would fail that check, not crash later).
#pragma once

#include <cstddef>
#include <cstdint>

namespace trtc {
namespace ortc {

// The API version requested from OrtGetApiBase()->GetApi(): the table below is complete in it and in every
// later one (ONNX Runtime 1.13 and newer).
inline constexpr uint32_t kAPI_VERSION = 13;

struct Status;
struct Env;
struct MemoryInfo;
struct Session;
struct Value;
struct RunOptions;
struct TypeInfo;
struct TensorTypeAndShapeInfo;
struct SessionOptions;
struct Allocator;

enum ErrorCode : int { kOK = 0, kFAIL = 1 };
enum LoggingLevel : int { kLOG_VERBOSE = 0, kLOG_INFO = 1, kLOG_WARNING = 2, kLOG_ERROR = 3, kLOG_FATAL = 4 };
// ONNXTensorElementDataType (the values of TensorProto.DataType).
enum ElementType : int {
  kUNDEFINED = 0,
  kFLOAT = 1,
  kUINT8 = 2,
  kINT8 = 3,
  kUINT16 = 4,
  kINT16 = 5,
  kINT32 = 6,
  kINT64 = 7,
  kSTRING = 8,
  kBOOL = 9,
  kFLOAT16 = 10,
  kDOUBLE = 11,
};
// ONNXType.
enum ValueKind : int { kVALUE_UNKNOWN = 0, kVALUE_TENSOR = 1 };
enum OptimizationLevel : int { kOPT_DISABLE_ALL = 0, kOPT_BASIC = 1, kOPT_EXTENDED = 2, kOPT_ALL = 99 };
enum AllocatorType : int { kDEVICE_ALLOCATOR = 0, kARENA_ALLOCATOR = 1 };
enum MemType : int { kMEM_DEFAULT = 0 };

struct Api {
  Status* (*CreateStatus)(ErrorCode code, const char* msg) noexcept;                             // 0
  ErrorCode (*GetErrorCode)(const Status* status) noexcept;                                      // 1
  const char* (*GetErrorMessage)(const Status* status) noexcept;                                 // 2
  Status* (*CreateEnv)(LoggingLevel log_severity_level, const char* logid, Env** out) noexcept;  // 3
  void* CreateEnvWithCustomLogger;                                                               // 4
  void* EnableTelemetryEvents;                                                                   // 5
  void* DisableTelemetryEvents;                                                                  // 6
  void* CreateSession;                                                                           // 7
  Status* (*CreateSessionFromArray)(const Env* env, const void* model_data, size_t model_data_length,
                                    const SessionOptions* options, Session** out) noexcept;  // 8
  Status* (*Run)(Session* session, const RunOptions* run_options, const char* const* input_names,
                 const Value* const* inputs, size_t input_len, const char* const* output_names,
                 size_t output_names_len, Value** outputs) noexcept;   // 9
  Status* (*CreateSessionOptions)(SessionOptions** options) noexcept;  // 10
  void* SetOptimizedModelFilePath;                                     // 11
  void* CloneSessionOptions;                                           // 12
  void* SetSessionExecutionMode;                                       // 13
  void* EnableProfiling;                                               // 14
  void* DisableProfiling;                                              // 15
  void* EnableMemPattern;                                              // 16
  void* DisableMemPattern;                                             // 17
  void* EnableCpuMemArena;                                             // 18
  void* DisableCpuMemArena;                                            // 19
  void* SetSessionLogId;                                               // 20
  void* SetSessionLogVerbosityLevel;                                   // 21
  Status* (*SetSessionLogSeverityLevel)(SessionOptions* options,
                                        int session_log_severity_level) noexcept;  // 22
  Status* (*SetSessionGraphOptimizationLevel)(SessionOptions* options,
                                              OptimizationLevel graph_optimization_level) noexcept;  // 23
  Status* (*SetIntraOpNumThreads)(SessionOptions* options, int intra_op_num_threads) noexcept;       // 24
  void* SetInterOpNumThreads;                                                                        // 25
  void* CreateCustomOpDomain;                                                                        // 26
  void* CustomOpDomain_Add;                                                                          // 27
  void* AddCustomOpDomain;                                                                           // 28
  void* RegisterCustomOpsLibrary;                                                                    // 29
  Status* (*SessionGetInputCount)(const Session* session, size_t* out) noexcept;                     // 30
  Status* (*SessionGetOutputCount)(const Session* session, size_t* out) noexcept;                    // 31
  void* SessionGetOverridableInitializerCount;                                                       // 32
  void* SessionGetInputTypeInfo;                                                                     // 33
  Status* (*SessionGetOutputTypeInfo)(const Session* session, size_t index,
                                      TypeInfo** type_info) noexcept;  // 34
  void* SessionGetOverridableInitializerTypeInfo;                      // 35
  Status* (*SessionGetInputName)(const Session* session, size_t index, Allocator* allocator,
                                 char** value) noexcept;  // 36
  Status* (*SessionGetOutputName)(const Session* session, size_t index, Allocator* allocator,
                                  char** value) noexcept;           // 37
  void* SessionGetOverridableInitializerName;                       // 38
  Status* (*CreateRunOptions)(RunOptions** out) noexcept;           // 39
  void* RunOptionsSetRunLogVerbosityLevel;                          // 40
  void* RunOptionsSetRunLogSeverityLevel;                           // 41
  void* RunOptionsSetRunTag;                                        // 42
  void* RunOptionsGetRunLogVerbosityLevel;                          // 43
  void* RunOptionsGetRunLogSeverityLevel;                           // 44
  void* RunOptionsGetRunTag;                                        // 45
  Status* (*RunOptionsSetTerminate)(RunOptions* options) noexcept;  // 46
  void* RunOptionsUnsetTerminate;                                   // 47
  void* CreateTensorAsOrtValue;                                     // 48
  Status* (*CreateTensorWithDataAsOrtValue)(const MemoryInfo* info, void* p_data, size_t p_data_len,
                                            const int64_t* shape, size_t shape_len, ElementType type,
                                            Value** out) noexcept;     // 49
  void* IsTensor;                                                      // 50
  Status* (*GetTensorMutableData)(Value* value, void** out) noexcept;  // 51
  void* FillStringTensor;                                              // 52
  void* GetStringTensorDataLength;                                     // 53
  void* GetStringTensorContent;                                        // 54
  Status* (*CastTypeInfoToTensorInfo)(const TypeInfo* type_info,
                                      const TensorTypeAndShapeInfo** out) noexcept;                 // 55
  Status* (*GetOnnxTypeFromTypeInfo)(const TypeInfo* type_info, ValueKind* out) noexcept;           // 56
  void* CreateTensorTypeAndShapeInfo;                                                               // 57
  void* SetTensorElementType;                                                                       // 58
  void* SetDimensions;                                                                              // 59
  Status* (*GetTensorElementType)(const TensorTypeAndShapeInfo* info, ElementType* out) noexcept;   // 60
  void* GetDimensionsCount;                                                                         // 61
  void* GetDimensions;                                                                              // 62
  void* GetSymbolicDimensions;                                                                      // 63
  Status* (*GetTensorShapeElementCount)(const TensorTypeAndShapeInfo* info, size_t* out) noexcept;  // 64
  Status* (*GetTensorTypeAndShape)(const Value* value, TensorTypeAndShapeInfo** out) noexcept;      // 65
  void* GetTypeInfo;                                                                                // 66
  void* GetValueType;                                                                               // 67
  void* CreateMemoryInfo;                                                                           // 68
  Status* (*CreateCpuMemoryInfo)(AllocatorType type, MemType mem_type, MemoryInfo** out) noexcept;  // 69
  void* CompareMemoryInfo;                                                                          // 70
  Status* (*MemoryInfoGetName)(const MemoryInfo* ptr, const char** out) noexcept;                   // 71
  void* MemoryInfoGetId;                                                                            // 72
  void* MemoryInfoGetMemType;                                                                       // 73
  void* MemoryInfoGetType;                                                                          // 74
  void* AllocatorAlloc;                                                                             // 75
  Status* (*AllocatorFree)(Allocator* ort_allocator, void* p) noexcept;                             // 76
  void* AllocatorGetInfo;                                                                           // 77
  Status* (*GetAllocatorWithDefaultOptions)(Allocator** out) noexcept;                              // 78
  void* AddFreeDimensionOverride;                                                                   // 79
  void* GetValue;                                                                                   // 80
  void* GetValueCount;                                                                              // 81
  void* CreateValue;                                                                                // 82
  void* CreateOpaqueValue;                                                                          // 83
  void* GetOpaqueValue;                                                                             // 84
  void* KernelInfoGetAttribute_float;                                                               // 85
  void* KernelInfoGetAttribute_int64;                                                               // 86
  void* KernelInfoGetAttribute_string;                                                              // 87
  void* KernelContext_GetInputCount;                                                                // 88
  void* KernelContext_GetOutputCount;                                                               // 89
  void* KernelContext_GetInput;                                                                     // 90
  void* KernelContext_GetOutput;                                                                    // 91
  void* ReleaseEnv;                                                                                 // 92
  void (*ReleaseStatus)(Status* input) noexcept;                                                    // 93
  void (*ReleaseMemoryInfo)(MemoryInfo* input) noexcept;                                            // 94
  void (*ReleaseSession)(Session* input) noexcept;                                                  // 95
  void (*ReleaseValue)(Value* input) noexcept;                                                      // 96
  void (*ReleaseRunOptions)(RunOptions* input) noexcept;                                            // 97
  void (*ReleaseTypeInfo)(TypeInfo* input) noexcept;                                                // 98
  void (*ReleaseTensorTypeAndShapeInfo)(TensorTypeAndShapeInfo* input) noexcept;                    // 99
  void (*ReleaseSessionOptions)(SessionOptions* input) noexcept;                                    // 100
  void* ReleaseCustomOpDomain;                                                                      // 101
  void* GetDenotationFromTypeInfo;                                                                  // 102
  void* CastTypeInfoToMapTypeInfo;                                                                  // 103
  void* CastTypeInfoToSequenceTypeInfo;                                                             // 104
  void* GetMapKeyType;                                                                              // 105
  void* GetMapValueType;                                                                            // 106
  void* GetSequenceElementType;                                                                     // 107
  void* ReleaseMapTypeInfo;                                                                         // 108
  void* ReleaseSequenceTypeInfo;                                                                    // 109
  void* SessionEndProfiling;                                                                        // 110
  void* SessionGetModelMetadata;                                                                    // 111
  void* ModelMetadataGetProducerName;                                                               // 112
  void* ModelMetadataGetGraphName;                                                                  // 113
  void* ModelMetadataGetDomain;                                                                     // 114
  void* ModelMetadataGetDescription;                                                                // 115
  void* ModelMetadataLookupCustomMetadataMap;                                                       // 116
  void* ModelMetadataGetVersion;                                                                    // 117
  void* ReleaseModelMetadata;                                                                       // 118
  void* CreateEnvWithGlobalThreadPools;                                                             // 119
  void* DisablePerSessionThreads;                                                                   // 120
  void* CreateThreadingOptions;                                                                     // 121
  void* ReleaseThreadingOptions;                                                                    // 122
  void* ModelMetadataGetCustomMetadataMapKeys;                                                      // 123
  void* AddFreeDimensionOverrideByName;                                                             // 124
  void* GetAvailableProviders;                                                                      // 125
  void* ReleaseAvailableProviders;                                                                  // 126
  void* GetStringTensorElementLength;                                                               // 127
  void* GetStringTensorElement;                                                                     // 128
  void* FillStringTensorElement;                                                                    // 129
  Status* (*AddSessionConfigEntry)(SessionOptions* options, const char* config_key,
                                   const char* config_value) noexcept;  // 130
};

struct ApiBase {
  Api const* (*GetApi)(uint32_t version) noexcept;
  char const* (*GetVersionString)() noexcept;
};

// The library's one exported entry point.
using GetApiBaseFn = ApiBase const* (*)() noexcept;
inline constexpr char kGET_API_BASE_SYMBOL[] = "OrtGetApiBase";

}  // namespace ortc
}  // namespace trtc
