#include "engine/internal/commit_record.h"

#include "absl/strings/str_cat.h"

namespace persy::internal {

std::string EncodeCommitRecord(const std::vector<std::string>& transaction_ids,
                               const std::map<PageId, PageBuf>& pages) {
  size_t ids = 0;
  for (const std::string& id : transaction_ids) ids += 4 + id.size();
  std::string out;
  out.reserve(1 + 4 + ids + 4 + pages.size() * (8 + kPageSize));
  char buf[8];
  out.push_back(static_cast<char>(kCommitRecordType));
  PutU32(buf, static_cast<uint32_t>(transaction_ids.size()));
  out.append(buf, 4);
  for (const std::string& id : transaction_ids) {
    PutU32(buf, static_cast<uint32_t>(id.size()));
    out.append(buf, 4);
    out.append(id);
  }
  PutU32(buf, static_cast<uint32_t>(pages.size()));
  out.append(buf, 4);
  for (const auto& [id, page] : pages) {
    PutU64(buf, id);
    out.append(buf, 8);
    out.append(page.data(), kPageSize);
  }
  return out;
}

absl::StatusOr<CommitRecord> DecodeCommitRecord(absl::string_view payload) {
  auto bad = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("journal commit record: ", what));
  };
  if (payload.empty() || (static_cast<uint8_t>(payload[0]) != kCommitRecordType &&
                          static_cast<uint8_t>(payload[0]) != kSingleCommitRecordType)) {
    return bad("unknown record type");
  }
  CommitRecord record;
  size_t pos = 1;
  uint32_t transactions = 1;
  if (static_cast<uint8_t>(payload[0]) == kCommitRecordType) {
    if (payload.size() - pos < 4) return bad("truncated transaction count");
    transactions = GetU32(payload.data() + pos);
    pos += 4;
  }
  for (uint32_t t = 0; t < transactions; ++t) {
    if (payload.size() - pos < 4) return bad("truncated transaction id");
    const uint32_t id_size = GetU32(payload.data() + pos);
    pos += 4;
    if (payload.size() - pos < size_t{id_size}) return bad("truncated transaction id");
    record.transaction_ids.emplace_back(payload.data() + pos, id_size);
    pos += id_size;
  }
  if (payload.size() - pos < 4) return bad("truncated page count");
  const uint32_t count = GetU32(payload.data() + pos);
  pos += 4;
  if ((payload.size() - pos) / (8 + kPageSize) != count ||
      (payload.size() - pos) % (8 + kPageSize) != 0) {
    return bad(absl::StrCat("expected ", count, " page images"));
  }
  record.pages.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const PageId id = GetU64(payload.data() + pos);
    PageBuf page;
    std::memcpy(page.data(), payload.data() + pos + 8, kPageSize);
    pos += 8 + kPageSize;
    if (absl::Status s = VerifyPage(id, page); !s.ok()) return s;
    record.pages.emplace_back(id, page);
  }
  return record;
}

}  // namespace persy::internal
