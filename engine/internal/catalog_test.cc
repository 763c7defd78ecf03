#include "engine/internal/catalog.h"

#include <algorithm>
#include <map>
#include <memory>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace persy::internal {
namespace {

// Committed pages in memory; a delta is committed by sealing it and copying its pages in.
class MapSource : public PageSource {
 public:
  absl::StatusOr<std::shared_ptr<const PageBuf>> Get(PageId id) override {
    auto it = pages_.find(id);
    if (it == pages_.end()) return std::make_shared<const PageBuf>();
    return it->second;
  }
  void Commit(PageDelta& delta) {
    delta.SealAll(1);
    for (const auto& [id, page] : delta.pages()) pages_[id] = std::make_shared<PageBuf>(page);
  }
  std::map<PageId, std::shared_ptr<const PageBuf>> pages_;
};

Catalog CatalogOf(int segments, size_t name_size) {
  Catalog catalog;
  for (int i = 0; i < segments; ++i) {
    SegmentMeta meta;
    meta.id = static_cast<uint32_t>(i + 1);
    meta.next_number = 1000 + i;
    meta.root = SegmentRoot{static_cast<PageId>(100 + i), 2, static_cast<PageId>(200 + i)};
    catalog.segments[absl::StrCat(std::string(name_size, 'n'), i)] = meta;
  }
  catalog.next_segment_id = static_cast<uint32_t>(segments + 5);
  for (int i = 0; i < segments; ++i) {
    IndexMeta meta;
    meta.id = static_cast<uint32_t>(i + 2);
    meta.key_type = static_cast<IndexType>(i % kIndexTypeCount);
    meta.value_type = static_cast<IndexType>((i + 3) % kIndexTypeCount);
    meta.mode = static_cast<ValueMode>(i % 3);
    meta.root = i == 0 ? IndexRoot{} : IndexRoot{static_cast<PageId>(300 + i), 1u + i};
    catalog.indexes[absl::StrCat(std::string(name_size, 'i'), i)] = meta;
  }
  catalog.next_index_id = static_cast<uint32_t>(segments + 7);
  return catalog;
}

bool Same(const Catalog& a, const Catalog& b) {
  if (a.next_segment_id != b.next_segment_id || a.segments.size() != b.segments.size()) {
    return false;
  }
  for (const auto& [name, meta] : a.segments) {
    auto it = b.segments.find(name);
    if (it == b.segments.end() || it->second.id != meta.id ||
        it->second.next_number != meta.next_number || !(it->second.root == meta.root)) {
      return false;
    }
  }
  if (a.next_index_id != b.next_index_id || a.indexes.size() != b.indexes.size()) return false;
  for (const auto& [name, meta] : a.indexes) {
    auto it = b.indexes.find(name);
    if (it == b.indexes.end() || it->second.id != meta.id ||
        it->second.key_type != meta.key_type || it->second.value_type != meta.value_type ||
        it->second.mode != meta.mode || !(it->second.root == meta.root)) {
      return false;
    }
  }
  return true;
}

TEST(CatalogTest, EncodeDecodeRoundTrip) {
  const Catalog catalog = CatalogOf(5, 10);
  absl::StatusOr<Catalog> decoded = DecodeCatalog(EncodeCatalog(catalog), 3);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(Same(*decoded, catalog));
  EXPECT_EQ(decoded->FindById(3)->next_number, 1002u);
  EXPECT_EQ(decoded->FindById(99), nullptr);
}

TEST(CatalogTest, MalformedBlobsAreDataLoss) {
  const std::string blob = EncodeCatalog(CatalogOf(3, 4));
  for (size_t cut = 0; cut < blob.size(); ++cut) {
    EXPECT_EQ(DecodeCatalog(blob.substr(0, cut), 3).status().code(), absl::StatusCode::kDataLoss)
        << cut;
  }
  EXPECT_EQ(DecodeCatalog(blob + "x", 3).status().code(), absl::StatusCode::kDataLoss);
  Catalog bad = CatalogOf(2, 4);
  bad.next_segment_id = 1;  // ids must lie below the counter
  EXPECT_EQ(DecodeCatalog(EncodeCatalog(bad), 3).status().code(), absl::StatusCode::kDataLoss);
  bad = CatalogOf(2, 4);
  bad.next_index_id = 2;
  EXPECT_EQ(DecodeCatalog(EncodeCatalog(bad), 3).status().code(), absl::StatusCode::kDataLoss);
  bad = CatalogOf(2, 4);
  bad.indexes.begin()->second.key_type = static_cast<IndexType>(kIndexTypeCount);
  EXPECT_EQ(DecodeCatalog(EncodeCatalog(bad), 3).status().code(), absl::StatusCode::kDataLoss);
  bad = CatalogOf(2, 4);
  bad.indexes.begin()->second.mode = static_cast<ValueMode>(3);
  EXPECT_EQ(DecodeCatalog(EncodeCatalog(bad), 3).status().code(), absl::StatusCode::kDataLoss);
  bad = CatalogOf(2, 4);
  bad.indexes.begin()->second.root = IndexRoot{0, 2};
  EXPECT_EQ(DecodeCatalog(EncodeCatalog(bad), 3).status().code(), absl::StatusCode::kDataLoss);
}

// A version 1 catalog (written before indexes existed) reads as one without indexes.
TEST(CatalogTest, VersionOneHasNoIndexes) {
  Catalog catalog = CatalogOf(3, 4);
  catalog.indexes.clear();
  catalog.next_index_id = 1;
  std::string blob = EncodeCatalog(catalog);
  blob.resize(blob.size() - 8);  // the index counter and count
  PutU32(blob.data(), 1);
  absl::StatusOr<Catalog> decoded = DecodeCatalog(blob, 3);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(Same(*decoded, catalog));
  PutU32(blob.data(), 3);
  EXPECT_EQ(DecodeCatalog(blob, 3).status().code(), absl::StatusCode::kDataLoss);
}

// The chain grows and shrinks with the catalog, its first page never moves, and the pages it
// gives up are freed.
TEST(CatalogTest, ChainGrowsAndShrinks) {
  MapSource source;
  Allocator alloc;
  PageId root;
  {
    PageDelta delta(&source);
    ASSERT_TRUE(Allocator::Format(delta).ok());
    root = *alloc.Allocate(delta);
    FormatCatalog(delta, root);
    source.Commit(delta);
  }
  for (int segments : {0, 1, 40, 200, 3, 0}) {
    const Catalog catalog = CatalogOf(segments, 200);
    PageDelta delta(&source);
    ASSERT_TRUE(WriteCatalog(delta, alloc, root, catalog).ok());
    source.Commit(delta);
    PageDelta read(&source);
    absl::StatusOr<Catalog> back = ReadCatalog(read, root);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(Same(*back, catalog)) << segments;
    absl::StatusOr<std::vector<PageId>> pages = CatalogPages(read, root);
    ASSERT_TRUE(pages.ok());
    EXPECT_EQ(pages->front(), root);
    const size_t blob = EncodeCatalog(catalog).size();
    EXPECT_EQ(pages->size(), std::max<size_t>(1, (blob + kPageBodySize - 13) / (kPageBodySize - 12)));
    PageDelta check(&source);
    for (PageId id = 3; id < 3 + 60; ++id) {
      const bool in_chain = std::find(pages->begin(), pages->end(), id) != pages->end();
      EXPECT_EQ(*alloc.IsUsed(check, id), in_chain) << "page " << id << " with " << segments;
    }
  }
}

}  // namespace
}  // namespace persy::internal
