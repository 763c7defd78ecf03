// Status assertions for the engine's tests: ASSERT_OK / EXPECT_OK on an absl::Status or
// absl::StatusOr, streamable like every gtest assertion, and variadic, so that an expression
// whose template arguments hold commas needs no extra parentheses; MessageHas for the text of
// an error.
//
//   ASSERT_OK(tx->Put<uint64_t, std::string>("i", 1, "a")) << "while loading";

#ifndef ENGINE_INTERNAL_STATUS_TEST_UTIL_H_
#define ENGINE_INTERNAL_STATUS_TEST_UTIL_H_

#include <gtest/gtest.h>

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

#endif  // ENGINE_INTERNAL_STATUS_TEST_UTIL_H_
