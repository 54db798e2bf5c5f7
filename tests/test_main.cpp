// The doctest main of every test program. CTest runs each test case by name
// (doctest_discover_tests); a name the filter does not match, such as one CMake cut at a ';', would
// otherwise "pass" without running anything, so a --test-case filter that selects no test case
// fails the run.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

namespace {

unsigned g_selected = 0;  // test cases that passed the filters in the last run

struct SelectionCounter : doctest::IReporter {
  explicit SelectionCounter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override { g_selected = stats.numTestCasesPassingFilters; }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

REGISTER_LISTENER("selection_counter", 1, SelectionCounter);

}  // namespace

int main(int argc, char** argv) {
  bool by_name = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    by_name = by_name || a.rfind("--test-case=", 0) == 0 || a.rfind("-tc=", 0) == 0;
  }
  doctest::Context context(argc, argv);
  const int status = context.run();
  if (context.shouldExit()) return status;
  if (status == 0 && by_name && g_selected == 0) {
    std::fprintf(stderr, "no test case matches the --test-case filter\n");
    return 1;
  }
  return status;
}
