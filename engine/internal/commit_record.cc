#include "engine/internal/commit_record.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/internal/bytes.h"

namespace persy::internal {
namespace {

constexpr uint8_t kWholeImage = 0;
constexpr uint8_t kDifference = 1;
// Unchanged runs shorter than this are sent as changed: a range costs 4 bytes of header.
constexpr size_t kMinGap = 8;
// A difference this big or bigger is sent as the whole image instead.
constexpr size_t kMaxDifference = kPageSize / 2;

// The ranges in which `page` differs from `base`, encoded; nullopt if they are too big. Equal
// words are skipped eight bytes at a time: most of a page is unchanged by a commit.
std::optional<std::string> Difference(const PageBuf& base, const PageBuf& page) {
  const char* a = base.data();
  const char* b = page.data();
  std::string ranges;
  uint16_t count = 0;
  size_t start = 0;
  size_t end = 0;  // the open range [start, end); empty while end == 0
  auto emit = [&] {
    char header[4];
    PutU16(header, static_cast<uint16_t>(start));
    PutU16(header + 2, static_cast<uint16_t>(end - start));
    ranges.append(header, 4);
    ranges.append(b + start, end - start);
    ++count;
  };
  for (size_t i = 0; i < kPageSize;) {
    if (i % 8 == 0 && std::memcmp(a + i, b + i, 8) == 0) {
      i += 8;
      continue;
    }
    if (a[i] != b[i]) {
      if (end != 0 && i - end < kMinGap) {
        end = i + 1;
      } else {
        if (end != 0) emit();
        start = i;
        end = i + 1;
      }
      if (ranges.size() + (end - start) >= kMaxDifference) return std::nullopt;
    }
    ++i;
  }
  if (end != 0) emit();
  std::string out(2, '\0');
  PutU16(out.data(), count);
  return out + ranges;
}

}  // namespace

size_t EncodedLogSize(const CommitLog& log) {
  size_t size = 1 + 3 * 4;  // the type and three counts
  for (const std::string& id : log.transaction_ids) size += 4 + id.size();
  for (const PrepareEntry& p : log.prepares) size += 12 + p.write_set.size();
  return size + 9 * log.decisions.size();
}

std::string EncodeCommitRecord(const CommitLog& log, const std::map<PageId, PageBuf>& pages,
                               const BaseFn& base) {
  std::string out;
  out.reserve(EncodedLogSize(log) + 4 + pages.size() * 256);
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
    const PageBuf* from = base ? base(id) : nullptr;
    std::optional<std::string> difference;
    if (from != nullptr) difference = Difference(*from, page);
    if (difference.has_value()) {
      AppendU8(out, kDifference);
      out.append(*difference);
    } else {
      AppendU8(out, kWholeImage);
      out.append(page.data(), kPageSize);
    }
  }
  return out;
}

absl::StatusOr<CommitRecord> DecodeCommitRecord(absl::string_view payload) {
  auto bad = [](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("journal commit record: ", what));
  };
  ByteReader r(std::string_view(payload.data(), payload.size()));
  uint8_t type = 0;
  if (!r.U8(type) || type < kSingleCommitRecordType || type > kCommitRecordType) {
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
  if (type >= kWholePagesCommitRecordType) {
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
  const bool forms = type == kCommitRecordType;
  // Each change takes at least 9 bytes (11 with a form): a count past that is damage.
  if (count > r.remaining() / 9) return bad(absl::StrCat("expected ", count, " page changes"));
  record.pages.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    PageChange change;
    uint8_t form = kWholeImage;
    if (!r.U64(change.id) || (forms && !r.U8(form)) || form > kDifference) {
      return bad(absl::StrCat("bad page change ", i));
    }
    if (form == kWholeImage) {
      std::string_view image;
      if (!r.View(kPageSize, image)) return bad(absl::StrCat("truncated page ", change.id));
      change.image.emplace();
      std::memcpy(change.image->data(), image.data(), kPageSize);
      if (absl::Status s = VerifyPage(change.id, *change.image); !s.ok()) return s;
    } else {
      uint16_t ranges = 0;
      if (!r.U16(ranges)) return bad(absl::StrCat("truncated difference of page ", change.id));
      size_t end = 0;
      for (uint16_t k = 0; k < ranges; ++k) {
        uint16_t offset = 0;
        uint16_t length = 0;
        std::string bytes;
        if (!r.U16(offset) || !r.U16(length) || offset < end || length == 0 ||
            size_t{offset} + length > kPageSize || !r.Bytes(length, bytes)) {
          return bad(absl::StrCat("bad difference of page ", change.id));
        }
        end = size_t{offset} + length;
        change.ranges.emplace_back(offset, std::move(bytes));
      }
    }
    record.pages.push_back(std::move(change));
  }
  if (!r.done()) return bad("trailing bytes");
  return record;
}

absl::StatusOr<PageBuf> ApplyPageChange(const PageChange& change, const PageBuf* base) {
  if (change.image.has_value()) return *change.image;
  if (base == nullptr) {
    return absl::DataLossError(absl::StrCat("journal: a difference of page ", change.id,
                                            " without its whole image before it"));
  }
  PageBuf page = *base;
  for (const auto& [offset, bytes] : change.ranges) {
    std::memcpy(page.data() + offset, bytes.data(), bytes.size());
  }
  if (absl::Status s = VerifyPage(change.id, page); !s.ok()) return s;
  return page;
}

}  // namespace persy::internal
