// The double-buffered file header: where recovery starts (docs/format.md, "File header").
//
// Pages 0 and 1 each hold one copy in their first sector (512 bytes; the rest of the page is
// zero). Every header write increments the counter and goes to page counter % 2, so it only
// ever overwrites the older copy: a crash that tears it leaves the newer of the two intact.
// Reading takes the valid copy with the higher counter. Layout (little-endian):
//
//   [0, 8)      magic "PERSYCPP"
//   [8, 12)     format version (kFileFormatVersion)
//   [12, 16)    page size (kPageSize)
//   [16, 24)    counter
//   [24, 32)    next lsn
//   [32, 40)    journal head page
//   [40, 48)    journal head page sequence number
//   [48, 52)    journal head offset in that page
//   [52, 56)    zero
//   [56, 64)    catalog root page (kNoPage: none)
//   [64, 504)   zero
//   [504, 512)  XXH3-64 of bytes [0, 504)
//
// A copy is valid when it has the magic, its checksum matches, it sits in the page its counter
// names (otherwise it is a misplaced write), and its page size is kPageSize.
//
// Thread-safety: the functions are safe for concurrent use as far as PageFile is, but two
// concurrent header writers would defeat the protocol; the engine writes headers under its
// commit lock.

#ifndef ENGINE_INTERNAL_FILE_HEADER_H_
#define ENGINE_INTERNAL_FILE_HEADER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/internal/page.h"
#include "engine/internal/page_file.h"

namespace persy::internal {

inline constexpr char kFileMagic[8] = {'P', 'E', 'R', 'S', 'Y', 'C', 'P', 'P'};
inline constexpr uint32_t kFileFormatVersion = 1;
// One sector: the unit a device writes atomically unless it tears.
inline constexpr size_t kFileHeaderSize = 512;

struct FileHeader {
  uint64_t counter = 0;  // +1 at every header write; the copy goes to page counter % 2
  uint64_t next_lsn = 1;
  PageId journal_head_page = kNoPage;
  uint64_t journal_head_seq = 0;
  uint32_t journal_head_offset = 0;  // a multiple of 512
  PageId catalog_root = kNoPage;

  friend bool operator==(const FileHeader&, const FileHeader&) = default;
};

// Reads both copies and returns the valid one with the higher counter. Errors:
//   kFailedPrecondition "not a persy file ..."  neither copy has the magic (also an empty or
//                                               short file);
//   kFailedPrecondition "unsupported format version N ..."  the chosen copy (a good checksum,
//                                               the higher counter) has another version;
//   kDataLoss naming pages 0 and 1 and what is wrong with each  a copy has the magic but
//                                               neither is valid;
//   any read error of the file.
[[nodiscard]] absl::StatusOr<FileHeader> ReadFileHeader(PageFile& file);

// Writes `header` as copy header.counter % 2: the whole page, the header in its first sector and
// zeros after. Does not sync. The caller increments the counter, so that this overwrites the
// older copy (docs/format.md, "Principles" 4).
[[nodiscard]] absl::Status WriteFileHeader(PageFile& file, const FileHeader& header);

// The fields of `header` on one line, for error messages and debugging.
std::string DescribeHeader(const FileHeader& header);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_FILE_HEADER_H_
