#include "engine/internal/file_header.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace persy::internal {
namespace {

constexpr size_t kChecksumOffset = kFileHeaderSize - 8;  // 504

std::string PageIdText(PageId id) { return id == kNoPage ? "none" : absl::StrCat(id); }

void Encode(const FileHeader& h, char* p) {
  std::memset(p, 0, kFileHeaderSize);
  std::memcpy(p, kFileMagic, sizeof(kFileMagic));
  PutU32(p + 8, kFileFormatVersion);
  PutU32(p + 12, static_cast<uint32_t>(kPageSize));
  PutU64(p + 16, h.counter);
  PutU64(p + 24, h.next_lsn);
  PutU64(p + 32, h.journal_head_page);
  PutU64(p + 40, h.journal_head_seq);
  PutU32(p + 48, h.journal_head_offset);
  PutU64(p + 56, h.catalog_root);
  PutU64(p + kChecksumOffset, Checksum(p, kChecksumOffset));
}

// What one header copy turned out to be.
struct Copy {
  enum Kind {
    kNoMagic,      // never written, or not a persy file
    kInvalid,      // has the magic, but is damaged or misplaced
    kUnsupported,  // intact, of a format version this build does not read
    kValid,
  };
  Kind kind = kNoMagic;
  FileHeader header;  // kUnsupported and kValid: at least the counter
  uint32_t version = 0;
  std::string why;  // kNoMagic and kInvalid: what is wrong
};

Copy Decode(PageId page_id, const char* p) {
  Copy c;
  if (std::memcmp(p, kFileMagic, sizeof(kFileMagic)) != 0) {
    c.why = "no magic";
    return c;
  }
  c.kind = Copy::kInvalid;
  const uint64_t stored = GetU64(p + kChecksumOffset);
  const uint64_t actual = Checksum(p, kChecksumOffset);
  if (stored != actual) {
    c.why = absl::StrCat("checksum mismatch (stored ", absl::Hex(stored), ", computed ",
                         absl::Hex(actual), ")");
    return c;
  }
  c.header.counter = GetU64(p + 16);
  c.version = GetU32(p + 8);
  if (c.version != kFileFormatVersion) {
    // Checked before the rest: another version may lay the rest out differently. Its counter
    // still takes part in choosing the newer copy, so that a file upgraded by a newer build is
    // refused rather than read through its stale older copy.
    c.kind = Copy::kUnsupported;
    return c;
  }
  if (c.header.counter % 2 != page_id) {
    // A copy is only ever written to page counter % 2; elsewhere it is a misplaced write, and
    // trusting it could pick it over the real newer copy.
    c.why = absl::StrCat("holds counter ", c.header.counter,
                         ", which belongs in page ", c.header.counter % 2,
                         " (a misplaced write)");
    return c;
  }
  const uint32_t page_size = GetU32(p + 12);
  if (page_size != kPageSize) {
    c.why = absl::StrCat("page size ", page_size, ", expected ", kPageSize);
    return c;
  }
  c.header.next_lsn = GetU64(p + 24);
  c.header.journal_head_page = GetU64(p + 32);
  c.header.journal_head_seq = GetU64(p + 40);
  c.header.journal_head_offset = GetU32(p + 48);
  c.header.catalog_root = GetU64(p + 56);
  c.kind = Copy::kValid;
  return c;
}

}  // namespace

absl::StatusOr<FileHeader> ReadFileHeader(PageFile& file) {
  Copy copies[2];
  for (PageId id : {PageId{0}, PageId{1}}) {
    PageBuf page;
    // Raw: header pages are not sealed pages, and a short file reads as zeros (no magic).
    if (absl::Status s = file.ReadRaw(id, page); !s.ok()) return s;
    copies[id] = Decode(id, page.data());
  }

  if (copies[0].kind == Copy::kNoMagic && copies[1].kind == Copy::kNoMagic) {
    return absl::FailedPreconditionError(
        "not a persy file: neither header copy (pages 0 and 1) has the magic PERSYCPP");
  }

  const Copy* best = nullptr;
  for (const Copy& c : copies) {
    if (c.kind != Copy::kValid && c.kind != Copy::kUnsupported) continue;
    if (best == nullptr || c.header.counter > best->header.counter) best = &c;
  }
  if (best == nullptr) {
    return absl::DataLossError(absl::StrCat("file header: no valid copy: page 0: ",
                                            copies[0].why, "; page 1: ", copies[1].why));
  }
  if (best->kind == Copy::kUnsupported) {
    return absl::FailedPreconditionError(
        absl::StrCat("unsupported format version ", best->version, " (header page ",
                     best - copies, ", counter ", best->header.counter,
                     "); this build reads version ", kFileFormatVersion));
  }
  return best->header;
}

absl::Status WriteFileHeader(PageFile& file, const FileHeader& header) {
  PageBuf page;  // zero: the rest of the page past the header sector
  Encode(header, page.data());
  return file.Write(header.counter % 2, page);
}

std::string DescribeHeader(const FileHeader& h) {
  return absl::StrCat("counter ", h.counter, ", next lsn ", h.next_lsn, ", journal head page ",
                      PageIdText(h.journal_head_page), " seq ", h.journal_head_seq, " offset ",
                      h.journal_head_offset, ", catalog root ", PageIdText(h.catalog_root));
}

}  // namespace persy::internal
