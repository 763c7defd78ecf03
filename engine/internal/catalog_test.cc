#include "engine/internal/catalog.h"

#include <algorithm>
#include <random>
#include <map>
#include <memory>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "engine/internal/commit_record.h"

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

PageBuf SealedDataPage(PageId id, char fill, uint64_t lsn) {
  PageBuf page;
  page.body()[0] = fill;
  PutU16(page.data() + 16, static_cast<uint16_t>(PageType::kData));
  SealPage(id, PageType::kData, lsn, page);
  return page;
}

std::map<PageId, std::string> Bytes(const std::map<PageId, PageBuf>& pages) {
  std::map<PageId, std::string> out;
  for (const auto& [id, page] : pages) out[id] = std::string(page.data(), kPageSize);
  return out;
}

// The record's pages as images, from `bases` for the differences.
std::map<PageId, PageBuf> Apply(const CommitRecord& record,
                                const std::map<PageId, PageBuf>& bases) {
  std::map<PageId, PageBuf> out;
  for (const PageChange& change : record.pages) {
    auto base = bases.find(change.id);
    absl::StatusOr<PageBuf> page =
        ApplyPageChange(change, base == bases.end() ? nullptr : &base->second);
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) out[change.id] = *page;
  }
  return out;
}

TEST(CommitRecordTest, RoundTripAndDamage) {
  std::map<PageId, PageBuf> pages;
  for (PageId id : {7, 3, 12}) pages[id] = SealedDataPage(id, static_cast<char>(id), 9);
  CommitLog log;
  log.transaction_ids = {"tx-42", "", "tx-7"};
  log.prepares = {{5, "write set five"}, {9, ""}};
  log.decisions = {{3, true}, {4, false}};
  const std::string payload = EncodeCommitRecord(log, pages);
  absl::StatusOr<CommitRecord> record = DecodeCommitRecord(payload);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->log.transaction_ids, log.transaction_ids);
  EXPECT_EQ(record->log.prepares, log.prepares);
  EXPECT_EQ(record->log.decisions, log.decisions);
  ASSERT_EQ(record->pages.size(), 3u);
  EXPECT_EQ(record->pages[0].id, 3u);  // in id order
  std::map<PageId, PageBuf> applied = Apply(*record, {});
  EXPECT_EQ(applied[12].body()[0], 12);
  for (size_t cut = 0; cut < 90; ++cut) {
    EXPECT_EQ(DecodeCommitRecord(payload.substr(0, cut)).status().code(),
              absl::StatusCode::kDataLoss) << cut;
  }
  EXPECT_EQ(DecodeCommitRecord(payload.substr(0, payload.size() - 1)).status().code(),
            absl::StatusCode::kDataLoss);
  std::string damaged = payload;
  damaged[payload.size() - 100] ^= 1;  // inside the last image
  EXPECT_EQ(DecodeCommitRecord(damaged).status().code(), absl::StatusCode::kDataLoss);
  // A decision is 1 or 0.
  const size_t decision = payload.size() - 4 - 3 * (9 + kPageSize) - 1;
  damaged = payload;
  damaged[decision] = 2;
  EXPECT_EQ(DecodeCommitRecord(damaged).status().code(), absl::StatusCode::kDataLoss);

  // The older types still read: 3 (whole images, no form byte), 2 (ids and images), 1 (one id).
  std::string images;
  char buf[8];
  PutU32(buf, 3);
  images.append(buf, 4);
  for (const auto& [id, page] : pages) {
    PutU64(buf, id);
    images.append(buf, 8);
    images.append(page.data(), kPageSize);
  }
  std::string whole(1, static_cast<char>(kWholePagesCommitRecordType));
  PutU32(buf, 0);
  whole.append(buf, 4);  // no ids
  whole.append(buf, 4);  // no prepares
  whole.append(buf, 4);  // no decisions
  record = DecodeCommitRecord(whole + images);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(Bytes(Apply(*record, {})), Bytes(pages));
  std::string group(1, static_cast<char>(kGroupCommitRecordType));
  PutU32(buf, 1);
  group.append(buf, 4);
  PutU32(buf, 4);
  group.append(buf, 4);
  group.append("tx-8");
  record = DecodeCommitRecord(group + images);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->log.transaction_ids, std::vector<std::string>{"tx-8"});
  EXPECT_TRUE(record->log.prepares.empty());
  EXPECT_EQ(Bytes(Apply(*record, {})), Bytes(pages));
  std::string single(1, static_cast<char>(kSingleCommitRecordType));
  PutU32(buf, 5);
  single.append(buf, 4);
  single.append("tx-99");
  record = DecodeCommitRecord(single + images);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->log.transaction_ids, std::vector<std::string>{"tx-99"});
  EXPECT_EQ(Bytes(Apply(*record, {})), Bytes(pages));
}

// A page whose base is given is sent as its difference: small for a small change, whole for a
// big one; applied to the right base it gives the page, to a wrong one DataLoss.
TEST(CommitRecordTest, DifferencesFromTheBase) {
  std::mt19937_64 rng(11);
  std::map<PageId, PageBuf> bases;
  std::map<PageId, PageBuf> pages;
  for (PageId id = 3; id < 40; ++id) {
    PageBuf base;
    for (size_t i = kPageHeaderSize; i < kPageSize; ++i) base.data()[i] = static_cast<char>(rng());
    PutU16(base.data() + 16, static_cast<uint16_t>(PageType::kData));
    SealPage(id, PageType::kData, 5, base);
    PageBuf page = base;
    // From one byte changed to most of the page.
    const size_t changes = (id - 3) * (id - 3) * 3;
    for (size_t c = 0; c < changes; ++c) {
      page.data()[kPageHeaderSize + rng() % (kPageSize - kPageHeaderSize)] ^= 0x5a;
    }
    SealPage(id, PageType::kData, 6, page);
    bases[id] = base;
    pages[id] = page;
  }
  const std::string payload =
      EncodeCommitRecord(CommitLog(), pages, [&](PageId id) { return &bases.at(id); });
  EXPECT_LT(payload.size(), pages.size() * kPageSize * 3 / 4);
  absl::StatusOr<CommitRecord> record = DecodeCommitRecord(payload);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_TRUE(record->pages.front().ranges.size() <= 3 && !record->pages.front().image);
  EXPECT_TRUE(record->pages.back().image.has_value());  // too changed: whole
  EXPECT_EQ(Bytes(Apply(*record, bases)), Bytes(pages));
  // Without its base, or on another base, a difference is damage.
  EXPECT_EQ(ApplyPageChange(record->pages.front(), nullptr).status().code(),
            absl::StatusCode::kDataLoss);
  PageBuf other = bases.at(3);
  other.data()[kPageSize - 1] ^= 1;
  EXPECT_EQ(ApplyPageChange(record->pages.front(), &other).status().code(),
            absl::StatusCode::kDataLoss);
  for (size_t cut = 1; cut < payload.size(); cut += 97) {
    EXPECT_EQ(DecodeCommitRecord(payload.substr(0, cut)).status().code(),
              absl::StatusCode::kDataLoss) << cut;
  }
}

}  // namespace
}  // namespace persy::internal
