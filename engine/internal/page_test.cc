#include "engine/internal/page.h"

#include <gtest/gtest.h>

namespace persy::internal {
namespace {

TEST(PageTest, SealThenVerify) {
  PageBuf page;
  std::memcpy(page.body(), "hello", 5);
  SealPage(7, PageType::kData, 42, page);
  EXPECT_TRUE(VerifyPage(7, page).ok());
  EXPECT_TRUE(VerifyPageOfType(7, PageType::kData, page).ok());
  EXPECT_EQ(TypeOf(page), PageType::kData);
  EXPECT_EQ(LsnOf(page), 42u);
}

TEST(PageTest, EveryFlippedBitIsCaught) {
  PageBuf page;
  for (size_t i = 0; i < kPageBodySize; ++i) page.body()[i] = static_cast<char>(i * 7);
  SealPage(3, PageType::kData, 1, page);
  for (size_t bit = 0; bit < kPageSize * 8; bit += 61) {
    PageBuf copy = page;
    copy.bytes[bit / 8] = static_cast<char>(copy.bytes[bit / 8] ^ (1 << (bit % 8)));
    absl::Status s = VerifyPage(3, copy);
    ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << "bit " << bit;
    EXPECT_NE(s.message().find("page 3"), absl::string_view::npos) << s;
  }
}

TEST(PageTest, MisplacedPageIsCaught) {
  PageBuf page;
  SealPage(5, PageType::kData, 1, page);
  absl::Status s = VerifyPage(6, page);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("holds page 5"), absl::string_view::npos) << s;
}

TEST(PageTest, ZeroPageIsNotValid) {
  PageBuf page;
  EXPECT_EQ(VerifyPage(0, page).code(), absl::StatusCode::kDataLoss);
}

TEST(PageTest, WrongTypeIsCaught) {
  PageBuf page;
  SealPage(9, PageType::kBitmap, 1, page);
  EXPECT_EQ(VerifyPageOfType(9, PageType::kData, page).code(), absl::StatusCode::kDataLoss);
}

TEST(PageTest, LittleEndianCodec) {
  char buf[8];
  PutU64(buf, 0x0102030405060708ull);
  EXPECT_EQ(buf[0], 0x08);
  EXPECT_EQ(GetU64(buf), 0x0102030405060708ull);
  PutU32(buf, 0xdeadbeef);
  EXPECT_EQ(GetU32(buf), 0xdeadbeefu);
  PutU16(buf, 0xbeef);
  EXPECT_EQ(GetU16(buf), 0xbeefu);
}

}  // namespace
}  // namespace persy::internal
