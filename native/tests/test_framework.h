// A tiny header-only test framework for core_tests.
//
//   TEST(calibrator_returns_false_after_abort) { ...; CHECK(cond); CHECK_EQ(a, b); }
//
// Tests register themselves at static-initialization time; main.cc runs them in name order (optionally only
// those whose name contains argv[1]) and exits non-zero when any check failed. A failed CHECK records the
// failure and continues; REQUIRE stops the test.
//
// Threading / lifetime: tests run one after another on the main thread; the registry is a function-local
// static vector, alive for the whole program.
#pragma once

#include <functional>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace trtc_test {

struct TestCase {
  std::string name;
  std::function<void()> run;
};

inline std::vector<TestCase>& registry() {
  static std::vector<TestCase> tests;
  return tests;
}

inline int& failures() {
  static int count = 0;
  return count;
}

struct Registrar {
  Registrar(char const* name, std::function<void()> run) { registry().push_back({name, std::move(run)}); }
};

struct RequireFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void fail(char const* file, int line, std::string const& what) {
  ++failures();
  std::cerr << "  FAILED " << file << ":" << line << ": " << what << "\n";
}

template <typename A, typename B>
std::string describePair(A const& a, B const& b) {
  std::ostringstream out;
  out << "\n    left:  " << a << "\n    right: " << b;
  return out.str();
}

}  // namespace trtc_test

#define TRTC_TEST_CONCAT2(a, b) a##b
#define TRTC_TEST_CONCAT(a, b) TRTC_TEST_CONCAT2(a, b)

#define TEST(name)                                                                \
  static void name();                                                             \
  static ::trtc_test::Registrar TRTC_TEST_CONCAT(registrar_, name)(#name, &name); \
  static void name()

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) ::trtc_test::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_EQ(a, b)                                                                         \
  do {                                                                                         \
    auto const& trtcA = (a);                                                                   \
    auto const& trtcB = (b);                                                                   \
    if (!(trtcA == trtcB))                                                                     \
      ::trtc_test::fail(__FILE__, __LINE__,                                                    \
                        "CHECK_EQ(" #a ", " #b ")" + ::trtc_test::describePair(trtcA, trtcB)); \
  } while (0)

#define REQUIRE(cond)                                              \
  do {                                                             \
    if (!(cond)) {                                                 \
      ::trtc_test::fail(__FILE__, __LINE__, "REQUIRE(" #cond ")"); \
      throw ::trtc_test::RequireFailed("REQUIRE(" #cond ")");      \
    }                                                              \
  } while (0)
