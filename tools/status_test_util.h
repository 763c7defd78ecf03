// Status assertions for the project's tests: ASSERT_OK / EXPECT_OK on an absl::Status or
// absl::StatusOr, streamable like every gtest assertion, and variadic, so that an expression
// whose template arguments hold commas needs no extra parentheses; ASSERT_OK_AND_ASSIGN to
// take the value of an absl::StatusOr that must be ok; MessageHas for the text of an error.
//
//   ASSERT_OK(tx->Put<uint64_t, std::string>("i", 1, "a")) << "while loading";
//   ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> file, vfs.Open(path, OpenMode::kCreate));

#ifndef TOOLS_STATUS_TEST_UTIL_H_
#define TOOLS_STATUS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace persy::testing {

inline absl::Status StatusOf(const absl::Status& s) { return s; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Whether `s`'s message holds `text`.
inline bool MessageHas(const absl::Status& s, absl::string_view text) {
  return s.message().find(text) != absl::string_view::npos;
}

inline ::testing::AssertionResult IsOk(const char* text, const absl::Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << text << ": " << s;
}

}  // namespace persy::testing

#define ASSERT_OK(...) \
  ASSERT_PRED_FORMAT1(::persy::testing::IsOk, ::persy::testing::StatusOf(__VA_ARGS__))
#define EXPECT_OK(...) \
  EXPECT_PRED_FORMAT1(::persy::testing::IsOk, ::persy::testing::StatusOf(__VA_ARGS__))

// Declares or assigns `lhs` from `rexpr`, an absl::StatusOr, failing the test (and returning
// from it) if it is not ok. One per line: the temporary's name takes the line number.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  PERSY_TEST_ASSIGN_IMPL_(PERSY_TEST_CONCAT_(status_or_, __LINE__), lhs, rexpr)
#define PERSY_TEST_ASSIGN_IMPL_(so, lhs, rexpr) \
  auto so = (rexpr);                            \
  ASSERT_TRUE(so.ok()) << so.status();          \
  lhs = std::move(so).value()
#define PERSY_TEST_CONCAT_INNER_(a, b) a##b
#define PERSY_TEST_CONCAT_(a, b) PERSY_TEST_CONCAT_INNER_(a, b)

#endif  // TOOLS_STATUS_TEST_UTIL_H_
