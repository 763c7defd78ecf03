#include "engine/record_id.h"

#include <gtest/gtest.h>

#include "engine/error.h"

namespace persy {
namespace {

TEST(RecordIdTest, PrintsAndParsesBack) {
  for (RecordId id : {RecordId(1, 1), RecordId(3, 1042), RecordId(UINT32_MAX, UINT64_MAX)}) {
    absl::StatusOr<RecordId> parsed = RecordId::Parse(id.ToString());
    ASSERT_TRUE(parsed.ok()) << id;
    EXPECT_EQ(*parsed, id);
  }
  EXPECT_EQ(RecordId(3, 1042).ToString(), "3.1042");
}

TEST(RecordIdTest, RejectsMalformed) {
  for (const char* text : {"", "3", "3.", ".5", "a.b", "3.5.6", "+3.5", " 3.5", "3.-5",
                           "4294967296.1", "1.18446744073709551616"}) {
    absl::StatusOr<RecordId> parsed = RecordId::Parse(text);
    EXPECT_EQ(ErrorOf(parsed.status()), Error::kInvalidId) << text;
  }
}

TEST(RecordIdTest, OrderedBySegmentThenNumber) {
  EXPECT_LT(RecordId(1, 9), RecordId(2, 1));
  EXPECT_LT(RecordId(2, 1), RecordId(2, 2));
  EXPECT_EQ(RecordId(2, 2), RecordId(2, 2));
}

}  // namespace
}  // namespace persy
