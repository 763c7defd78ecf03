#include "engine/internal/commit_record.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/internal/bytes.h"

namespace persy::internal {

std::string EncodeCommitRecord(const CommitLog& log, const std::map<PageId, PageBuf>& pages) {
  size_t head = 1 + 4 * 4;
  for (const std::string& id : log.transaction_ids) head += 4 + id.size();
  for (const PrepareEntry& p : log.prepares) head += 12 + p.write_set.size();
  head += 9 * log.decisions.size();
  std::string out;
  out.reserve(head + pages.size() * (8 + kPageSize));
  AppendU8(out, kCommitRecordType);
  AppendU32(out, static_cast<uint32_t>(log.transaction_ids.size()));
  for (const std::string& id : log.transaction_ids) AppendString(out, id);
  AppendU32(out, static_cast<uint32_t>(log.prepares.size()));
  for (const PrepareEntry& p : log.prepares) {
    AppendU64(out, p.prepare_id);
    AppendString(out, p.write_set);
  }
  AppendU32(out, static_cast<uint32_t>(log.decisions.size()));
  for (const Decision& d : log.decisions) {
    AppendU64(out, d.prepare_id);
    AppendU8(out, d.commit ? 1 : 0);
  }
  AppendU32(out, static_cast<uint32_t>(pages.size()));
  for (const auto& [id, page] : pages) {
    AppendU64(out, id);
    out.append(page.data(), kPageSize);
  }
  return out;
}

absl::StatusOr<CommitRecord> DecodeCommitRecord(absl::string_view payload) {
  auto bad = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("journal commit record: ", what));
  };
  ByteReader r(std::string_view(payload.data(), payload.size()));
  uint8_t type = 0;
  if (!r.U8(type) || (type != kCommitRecordType && type != kGroupCommitRecordType &&
                      type != kSingleCommitRecordType)) {
    return bad("unknown record type");
  }
  CommitRecord record;
  uint32_t transactions = 1;
  if (type != kSingleCommitRecordType && !r.U32(transactions)) {
    return bad("truncated transaction count");
  }
  for (uint32_t t = 0; t < transactions; ++t) {
    std::string id;
    if (!r.String(id)) return bad("truncated transaction id");
    record.log.transaction_ids.push_back(std::move(id));
  }
  if (type == kCommitRecordType) {
    uint32_t prepares = 0;
    if (!r.U32(prepares)) return bad("truncated prepare count");
    for (uint32_t i = 0; i < prepares; ++i) {
      PrepareEntry p;
      if (!r.U64(p.prepare_id) || !r.String(p.write_set)) return bad("truncated prepare");
      record.log.prepares.push_back(std::move(p));
    }
    uint32_t decisions = 0;
    if (!r.U32(decisions)) return bad("truncated decision count");
    for (uint32_t i = 0; i < decisions; ++i) {
      Decision d;
      uint8_t commit = 0;
      if (!r.U64(d.prepare_id) || !r.U8(commit) || commit > 1) return bad("bad decision");
      d.commit = commit == 1;
      record.log.decisions.push_back(d);
    }
  }
  uint32_t count = 0;
  if (!r.U32(count)) return bad("truncated page count");
  if (r.remaining() / (8 + kPageSize) != count || r.remaining() % (8 + kPageSize) != 0) {
    return bad(absl::StrCat("expected ", count, " page images"));
  }
  record.pages.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    PageId id = 0;
    std::string_view image;
    r.U64(id);
    r.View(kPageSize, image);
    PageBuf page;
    std::memcpy(page.data(), image.data(), kPageSize);
    if (absl::Status s = VerifyPage(id, page); !s.ok()) return s;
    record.pages.emplace_back(id, page);
  }
  return record;
}

}  // namespace persy::internal
