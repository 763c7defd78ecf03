#include "engine/internal/page.h"

#include <xxhash.h>

#include "absl/strings/str_cat.h"

namespace persy::internal {

uint64_t Checksum(const char* data, size_t n) { return XXH3_64bits(data, n); }

void SealPage(PageId id, PageType type, uint64_t lsn, PageBuf& page) {
  char* p = page.data();
  PutU64(p + 8, id);
  PutU16(p + 16, static_cast<uint16_t>(type));
  PutU16(p + 18, kPageFormatVersion);
  PutU32(p + 20, 0);
  PutU64(p + 24, lsn);
  PutU64(p, Checksum(p + 8, kPageSize - 8));
}

absl::Status VerifyPage(PageId id, const PageBuf& page) {
  const char* p = page.data();
  const uint64_t stored = GetU64(p);
  const uint64_t actual = Checksum(p + 8, kPageSize - 8);
  if (stored != actual) {
    return absl::DataLossError(absl::StrCat("page ", id, ": checksum mismatch (stored ",
                                            absl::Hex(stored), ", computed ", absl::Hex(actual),
                                            ")"));
  }
  const PageId written_as = GetU64(p + 8);
  if (written_as != id) {
    return absl::DataLossError(absl::StrCat("page ", id, ": holds page ", written_as,
                                            " (a misdirected or misplaced write)"));
  }
  const uint16_t version = GetU16(p + 18);
  if (version != kPageFormatVersion) {
    return absl::DataLossError(
        absl::StrCat("page ", id, ": unknown page format version ", version));
  }
  return absl::OkStatus();
}

absl::Status VerifyPageOfType(PageId id, PageType type, const PageBuf& page) {
  if (absl::Status s = VerifyPage(id, page); !s.ok()) return s;
  if (TypeOf(page) != type) {
    return absl::DataLossError(absl::StrCat("page ", id, ": is of type ",
                                            static_cast<int>(TypeOf(page)), ", expected ",
                                            static_cast<int>(type)));
  }
  return absl::OkStatus();
}

}  // namespace persy::internal
