#pragma once
// A doctest listener that counts the test cases passing the filters of a run. CTest runs each test
// case by name (doctest_discover_tests); a name the filter does not match, such as one CMake cut at
// a ';', would otherwise "pass" without running anything, so a program's main fails a run whose
// --test-case filter selected nothing. Include it in the one file of a test program that defines
// main (the listener registers itself there).
#include <doctest/doctest.h>

namespace kat::test {

// Test cases that passed the filters in the last run.
inline unsigned selected_test_cases = 0;

struct SelectionCounter : doctest::IReporter {
  explicit SelectionCounter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    selected_test_cases = stats.numTestCasesPassingFilters;
  }
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

}  // namespace kat::test

REGISTER_LISTENER("selection_counter", 1, kat::test::SelectionCounter);
