// Runs every registered TEST (or those whose name contains argv[1]); exit status 1 when any check failed.
#include <algorithm>
#include <exception>
#include <iostream>

#include "test_framework.h"

int main(int argc, char** argv) {
  auto tests = trtc_test::registry();
  std::sort(tests.begin(), tests.end(), [](auto const& a, auto const& b) { return a.name < b.name; });
  std::string const filter = argc > 1 ? argv[1] : "";
  int ran = 0;
  int failedTests = 0;
  for (auto const& test : tests) {
    if (!filter.empty() && test.name.find(filter) == std::string::npos) continue;
    int const before = trtc_test::failures();
    try {
      test.run();
    } catch (trtc_test::RequireFailed const&) {
    } catch (std::exception const& e) {
      trtc_test::fail(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
    }
    ++ran;
    bool const ok = trtc_test::failures() == before;
    if (!ok) ++failedTests;
    std::cout << (ok ? "  ok   " : "  FAIL ") << test.name << "\n";
  }
  std::cout << ran << " tests, " << failedTests << " failed\n";
  return failedTests == 0 && ran > 0 ? 0 : 1;
}
