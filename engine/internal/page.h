// The page: the unit of the file, and the format every sealed page shares.
//
// The file is an array of kPageSize-byte pages; page `id` lives at byte id * kPageSize. Every
// page except the file header copies (file_header.h) and journal pages (journal_format.h)
// starts with this 32-byte header:
//
//   [0, 8)    checksum: XXH3-64 of bytes [8, kPageSize), little-endian
//   [8, 16)   page id: where the page belongs; a mismatch is a misdirected or misplaced write
//   [16, 18)  page type (PageType)
//   [18, 20)  page format version (kPageFormatVersion)
//   [20, 24)  reserved, zero
//   [24, 32)  lsn: the journal sequence number of the commit that last wrote the page
//
// A page that fails any check is damage: kDataLoss naming the page, never a crash, never data
// taken from it. All integers on disk are little-endian.
//
// Thread-safety: pure functions over caller-owned buffers.

#ifndef ENGINE_INTERNAL_PAGE_H_
#define ENGINE_INTERNAL_PAGE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"

namespace persy::internal {

using PageId = uint64_t;

inline constexpr size_t kPageSize = 4096;
inline constexpr size_t kPageHeaderSize = 32;
inline constexpr size_t kPageBodySize = kPageSize - kPageHeaderSize;
inline constexpr uint16_t kPageFormatVersion = 1;
// No page has this id; used for "none" in links.
inline constexpr PageId kNoPage = ~PageId{0};

enum class PageType : uint16_t {
  kFree = 0,  // a zero page reads as this; written only to grow the file ahead of the journal
  kFileHeader = 1,
  kBitmap = 2,
  kJournal = 3,
  kCatalog = 4,
  kData = 5,
  kOverflow = 6,
  kIndexLeaf = 7,     // an index B+-tree leaf (index_node.h)
  kAddressLeaf = 8,   // a record store address-table leaf (record_store.h)
  kAddressInner = 9,  // a record store address-table inner page
  kIndexInner = 10,   // an index B+-tree inner node (index_node.h)
};

// A page's bytes. Aligned so that the buffer can be handed to O_DIRECT I/O one day.
struct alignas(64) PageBuf {
  std::array<char, kPageSize> bytes{};

  char* data() { return bytes.data(); }
  const char* data() const { return bytes.data(); }
  char* body() { return bytes.data() + kPageHeaderSize; }
  const char* body() const { return bytes.data() + kPageHeaderSize; }
};

// Little-endian fixed-width encoding, for every on-disk integer.
inline void PutU16(char* p, uint16_t v) {
  for (int i = 0; i < 2; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void PutU64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline uint16_t GetU16(const char* p) {
  uint16_t v = 0;
  for (int i = 1; i >= 0; --i) v = static_cast<uint16_t>((v << 8) | static_cast<uint8_t>(p[i]));
  return v;
}
inline uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
inline uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// XXH3-64 of `n` bytes: the checksum of every on-disk structure.
uint64_t Checksum(const char* data, size_t n);

// Fills in the header of `page` (id, type, version, lsn) and its checksum. Call it last, after
// the body is complete.
void SealPage(PageId id, PageType type, uint64_t lsn, PageBuf& page);

// Checks that `page`, read from the place of page `id`, is a sealed page of that id with a good
// checksum and a known version. Returns kDataLoss naming the page and what is wrong otherwise.
absl::Status VerifyPage(PageId id, const PageBuf& page);

// The header fields of a page that passed VerifyPage.
inline PageType TypeOf(const PageBuf& page) {
  return static_cast<PageType>(GetU16(page.data() + 16));
}
inline uint64_t LsnOf(const PageBuf& page) { return GetU64(page.data() + 24); }

// Like VerifyPage, and also checks the page type.
absl::Status VerifyPageOfType(PageId id, PageType type, const PageBuf& page);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_PAGE_H_
