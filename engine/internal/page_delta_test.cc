#include "engine/internal/page_delta.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>

namespace persy::internal {
namespace {

// A PageSource over a map: a missing page reads as all zero (past the end of the file); a page
// with an injected error returns it. Counts Get calls per page.
class FakeSource : public PageSource {
 public:
  absl::StatusOr<std::shared_ptr<const PageBuf>> Get(PageId id) override {
    ++gets_[id];
    if (auto it = errors_.find(id); it != errors_.end()) return it->second;
    if (auto it = pages_.find(id); it != pages_.end()) return it->second;
    return std::make_shared<const PageBuf>();
  }

  void Put(PageId id, PageType type, char fill) {
    auto page = std::make_shared<PageBuf>();
    std::memset(page->body(), fill, kPageBodySize);
    SealPage(id, type, 1, *page);
    pages_[id] = std::move(page);
  }
  void Drop(PageId id) { pages_.erase(id); }
  void Fail(PageId id, absl::Status s) { errors_[id] = std::move(s); }
  int gets(PageId id) const { return gets_.count(id) ? gets_.at(id) : 0; }

 private:
  std::map<PageId, std::shared_ptr<const PageBuf>> pages_;
  std::map<PageId, absl::Status> errors_;
  std::map<PageId, int> gets_;
};

TEST(PageDeltaTest, ReadReturnsTheCommittedImage) {
  FakeSource source;
  source.Put(5, PageType::kData, 'a');
  PageDelta delta(&source);
  absl::StatusOr<const PageBuf*> page = delta.Read(5);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ((*page)->body()[0], 'a');
  EXPECT_FALSE(delta.Contains(5));
  EXPECT_TRUE(delta.pages().empty());
}

TEST(PageDeltaTest, ReadImagesOutliveTheSource) {
  // The page cache may evict or replace an image while a transaction still looks at it.
  FakeSource source;
  source.Put(5, PageType::kData, 'a');
  PageDelta delta(&source);
  absl::StatusOr<const PageBuf*> page = delta.Read(5);
  ASSERT_TRUE(page.ok());
  source.Drop(5);
  source.Put(5, PageType::kData, 'b');
  EXPECT_EQ((*page)->body()[kPageBodySize - 1], 'a');  // ASan would catch a dangling image
  absl::StatusOr<const PageBuf*> again = delta.Read(5);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *page);  // one image per page for the delta's lifetime
  EXPECT_EQ(source.gets(5), 1);
}

TEST(PageDeltaTest, WriteCopiesOnWrite) {
  FakeSource source;
  source.Put(5, PageType::kData, 'a');
  PageDelta delta(&source);
  absl::StatusOr<const PageBuf*> before = delta.Read(5);
  ASSERT_TRUE(before.ok());
  absl::StatusOr<PageBuf*> copy = delta.Write(5);
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_NE(*copy, *before);
  EXPECT_EQ((*copy)->body()[0], 'a');
  (*copy)->body()[0] = 'z';
  EXPECT_EQ((*before)->body()[0], 'a');  // the committed image is untouched
  EXPECT_TRUE(delta.Contains(5));
  ASSERT_EQ(delta.pages().size(), 1u);
  EXPECT_EQ(delta.pages().at(5).body()[0], 'z');
}

TEST(PageDeltaTest, ReadSeesOwnWrites) {
  FakeSource source;
  source.Put(5, PageType::kData, 'a');
  PageDelta delta(&source);
  absl::StatusOr<PageBuf*> copy = delta.Write(5);
  ASSERT_TRUE(copy.ok());
  (*copy)->body()[7] = 'q';
  absl::StatusOr<const PageBuf*> page = delta.Read(5);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(*page, *copy);
  EXPECT_EQ((*page)->body()[7], 'q');
  absl::StatusOr<PageBuf*> again = delta.Write(5);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *copy);  // a second Write does not copy again
  EXPECT_EQ(source.gets(5), 1);
}

// ReadInto gives what Read would, but holds nothing: reading again goes to the source.
TEST(PageDeltaTest, ReadIntoCopiesWithoutHolding) {
  FakeSource source;
  source.Put(5, PageType::kData, 'a');
  source.Put(6, PageType::kData, 'b');
  PageDelta delta(&source);
  PageBuf out;
  ASSERT_TRUE(delta.ReadInto(5, &out).ok());
  EXPECT_EQ(out.body()[0], 'a');
  ASSERT_TRUE(delta.ReadInto(5, &out).ok());
  EXPECT_EQ(source.gets(5), 2) << "the image was not held";
  absl::StatusOr<PageBuf*> copy = delta.Write(6);
  ASSERT_TRUE(copy.ok());
  (*copy)->body()[0] = 'q';
  ASSERT_TRUE(delta.ReadInto(6, &out).ok());
  EXPECT_EQ(out.body()[0], 'q') << "the private copy wins";
  source.Fail(7, absl::DataLossError("bad"));
  EXPECT_EQ(delta.ReadInto(7, &out).code(), absl::StatusCode::kDataLoss);
}

// ForgetCommitted lets go of a committed image (the next Read fetches it again) and keeps a
// private copy.
TEST(PageDeltaTest, ForgetCommittedDropsOnlyTheCommittedImage) {
  FakeSource source;
  source.Put(5, PageType::kData, 'a');
  source.Put(6, PageType::kData, 'b');
  PageDelta delta(&source);
  ASSERT_TRUE(delta.Read(5).ok());
  delta.ForgetCommitted(5);
  ASSERT_TRUE(delta.Read(5).ok());
  EXPECT_EQ(source.gets(5), 2);
  absl::StatusOr<PageBuf*> copy = delta.Write(6);
  ASSERT_TRUE(copy.ok());
  (*copy)->body()[0] = 'q';
  delta.ForgetCommitted(6);
  absl::StatusOr<const PageBuf*> page = delta.Read(6);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ((*page)->body()[0], 'q');
}

TEST(PageDeltaTest, ReadCommittedIgnoresThePrivateCopy) {
  FakeSource source;
  source.Put(5, PageType::kData, 'a');
  PageDelta delta(&source);
  absl::StatusOr<PageBuf*> copy = delta.Write(5);
  ASSERT_TRUE(copy.ok());
  (*copy)->body()[0] = 'z';
  absl::StatusOr<const PageBuf*> committed = delta.ReadCommitted(5);
  ASSERT_TRUE(committed.ok());
  EXPECT_EQ((*committed)->body()[0], 'a');
}

TEST(PageDeltaTest, FreshNeverReadsTheSource) {
  FakeSource source;
  source.Put(5, PageType::kData, 'a');  // a freed page's old bytes
  source.Fail(9, absl::DataLossError("page 9: checksum mismatch"));
  PageDelta delta(&source);
  PageBuf* five = delta.Fresh(5);
  PageBuf* nine = delta.Fresh(9);
  EXPECT_EQ(source.gets(5), 0);
  EXPECT_EQ(source.gets(9), 0);
  const PageBuf zero{};
  EXPECT_EQ(five->bytes, zero.bytes);
  EXPECT_EQ(nine->bytes, zero.bytes);
  absl::StatusOr<const PageBuf*> read = delta.Read(9);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, nine);
}

TEST(PageDeltaTest, FreshZeroesAnExistingCopy) {
  FakeSource source;
  source.Put(5, PageType::kData, 'a');
  PageDelta delta(&source);
  absl::StatusOr<PageBuf*> copy = delta.Write(5);
  ASSERT_TRUE(copy.ok());
  PageBuf* fresh = delta.Fresh(5);
  EXPECT_EQ(fresh, *copy);  // the same entry: earlier pointers stay valid
  EXPECT_EQ(fresh->bytes, PageBuf{}.bytes);
}

TEST(PageDeltaTest, PastTheEndReadsAsZero) {
  FakeSource source;
  PageDelta delta(&source);
  absl::StatusOr<const PageBuf*> page = delta.Read(100);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(TypeOf(**page), PageType::kFree);
  absl::StatusOr<PageBuf*> copy = delta.Write(100);
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ((*copy)->bytes, PageBuf{}.bytes);
}

TEST(PageDeltaTest, SourceErrorsPropagate) {
  FakeSource source;
  source.Put(5, PageType::kData, 'a');
  source.Fail(5, absl::DataLossError("page 5: checksum mismatch"));
  PageDelta delta(&source);
  absl::StatusOr<const PageBuf*> read = delta.Read(5);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(read.status().message().find("page 5"), absl::string_view::npos);
  absl::StatusOr<PageBuf*> write = delta.Write(5);
  EXPECT_EQ(write.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(delta.ReadCommitted(5).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(delta.Contains(5));
  EXPECT_TRUE(delta.pages().empty());
  // A failure is not cached as a success: a later read asks the source again.
  EXPECT_EQ(delta.Read(5).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(source.gets(5), 4);
}

TEST(PageDeltaTest, SealAllMakesEveryPageVerify) {
  FakeSource source;
  source.Put(5, PageType::kData, 'a');
  PageDelta delta(&source);
  absl::StatusOr<PageBuf*> data = delta.Write(5);
  ASSERT_TRUE(data.ok());
  (*data)->body()[0] = 'z';
  PageBuf* fresh = delta.Fresh(8);
  PutU16(fresh->data() + 16, static_cast<uint16_t>(PageType::kOverflow));
  std::memcpy(fresh->body(), "new", 3);
  delta.SealAll(77);
  for (const auto& [id, page] : delta.pages()) {
    EXPECT_TRUE(VerifyPage(id, page).ok()) << id;
    EXPECT_EQ(LsnOf(page), 77u);
  }
  EXPECT_TRUE(VerifyPageOfType(5, PageType::kData, delta.pages().at(5)).ok());
  EXPECT_TRUE(VerifyPageOfType(8, PageType::kOverflow, delta.pages().at(8)).ok());
  EXPECT_EQ(delta.pages().at(5).body()[0], 'z');
}

TEST(PageDeltaTest, PagesAreInIdOrder) {
  FakeSource source;
  PageDelta delta(&source);
  for (PageId id : {PageId{9}, PageId{3}, PageId{7}, PageId{1}}) delta.Fresh(id);
  PageId last = 0;
  for (const auto& [id, page] : delta.pages()) {
    EXPECT_GT(id, last);
    last = id;
  }
  EXPECT_EQ(delta.pages().size(), 4u);
}

}  // namespace
}  // namespace persy::internal
