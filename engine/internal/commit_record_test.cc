#include "engine/internal/commit_record.h"

#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tools/test_seed.h"

namespace persy::internal {
namespace {

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

// The base of page `id` in `bases`, or nullptr.
const PageBuf* BaseIn(const std::map<PageId, PageBuf>& bases, PageId id) {
  auto it = bases.find(id);
  return it == bases.end() ? nullptr : &it->second;
}

// The record's pages as images, from `bases` for the differences.
std::map<PageId, PageBuf> Apply(const CommitRecord& record,
                                const std::map<PageId, PageBuf>& bases) {
  std::map<PageId, PageBuf> out;
  for (const PageChange& change : record.pages) {
    absl::StatusOr<PageBuf> page = ApplyPageChange(change, BaseIn(bases, change.id));
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

// Damage anywhere in a record (a byte changed, the record cut) is DataLoss or a record that
// decodes, never a crash or a read out of bounds (this runs under ASan and UBSan too). The
// journal frame's checksum catches what the record's own structure cannot.
TEST(CommitRecordTest, DamageNeverCrashes) {
  const uint64_t seed = persy::testing::TestSeed();
  std::mt19937_64 rng(seed);
  std::map<PageId, PageBuf> bases;
  std::map<PageId, PageBuf> pages;
  for (PageId id : {4, 9}) {
    bases[id] = SealedDataPage(id, 'b', 3);
    pages[id] = bases[id];
    pages[id].body()[100] = 'x';
    SealPage(id, PageType::kData, 4, pages[id]);
  }
  pages[20] = SealedDataPage(20, 'w', 4);  // no base: whole
  CommitLog log;
  log.transaction_ids = {"tx-1", "tx-2"};
  log.prepares = {{8, "a write set"}};
  log.decisions = {{2, true}};
  const std::string payload =
      EncodeCommitRecord(log, pages, [&](PageId id) { return BaseIn(bases, id); });
  ASSERT_TRUE(DecodeCommitRecord(payload).ok());
  int decoded = 0;
  int data_loss = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string damaged = payload;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) damaged[rng() % damaged.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0) damaged.resize(rng() % damaged.size());
    absl::StatusOr<CommitRecord> record = DecodeCommitRecord(damaged);
    if (record.ok()) {
      ++decoded;
      for (const PageChange& change : record->pages) {
        absl::StatusOr<PageBuf> page = ApplyPageChange(change, BaseIn(bases, change.id));
        EXPECT_TRUE(page.ok() || page.status().code() == absl::StatusCode::kDataLoss)
            << page.status();
      }
    } else {
      ++data_loss;
      EXPECT_EQ(record.status().code(), absl::StatusCode::kDataLoss) << record.status();
    }
  }
  std::printf("damaged records: %d decoded, %d DataLoss\n", decoded, data_loss);
  EXPECT_GT(data_loss, 0);
}

}  // namespace
}  // namespace persy::internal
