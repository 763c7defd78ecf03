#include "engine/internal/commit_record.h"

#include "absl/strings/str_cat.h"

namespace persy::internal {

std::string EncodeCommitRecord(absl::string_view transaction_id,
                               const std::map<PageId, PageBuf>& pages) {
  std::string out;
  out.reserve(1 + 4 + transaction_id.size() + 4 + pages.size() * (8 + kPageSize));
  char buf[8];
  out.push_back(static_cast<char>(kCommitRecordType));
  PutU32(buf, static_cast<uint32_t>(transaction_id.size()));
  out.append(buf, 4);
  out.append(transaction_id.data(), transaction_id.size());
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
  if (payload.size() < 5 || static_cast<uint8_t>(payload[0]) != kCommitRecordType) {
    return bad("unknown record type");
  }
  CommitRecord record;
  size_t pos = 1;
  const uint32_t id_size = GetU32(payload.data() + pos);
  pos += 4;
  if (payload.size() - pos < size_t{id_size} + 4) return bad("truncated transaction id");
  record.transaction_id.assign(payload.data() + pos, id_size);
  pos += id_size;
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
