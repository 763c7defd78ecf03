// The commit record: the journal payload of one group commit (docs/format.md), holding what the
// group made durable at once: transactions committed in one call, transactions prepared, the
// decisions on earlier prepared ones, and the change of every page the group changed.
//
//   [u8 type = 4]
//   [u32 n] then n transaction ids committed:          [u32 length][id]
//   [u32 n] then n prepares:      [u64 prepare id][u32 length][write set (write_set.h)]
//   [u32 n] then n decisions:     [u64 prepare id][u8 1 = committed, 0 = rolled back]
//   [u32 n] then n page changes:  [u64 page id][u8 form] and
//       form 0, a whole image:    [4096-byte sealed page image]
//       form 1, a difference:     [u16 n] then n ranges: [u16 offset][u16 length][bytes]
//
// A difference gives the bytes that changed from the page's previous image in the same journal
// (its base); the journal writer sends one only for a page whose whole image it wrote since the
// journal started (Engine, "journaled"), so recovery always replays the base first. Either way
// the result must verify as the page (its checksum covers the whole page).
//
// Older types are still read: type 3 is type 4 with whole images only and no form byte; type 2
// (group commit before two-phase commit) has the ids and the images only; type 1 (before group
// commit) has one id, [u32 length][id], then the images.
//
// Thread-safety: pure functions.

#ifndef ENGINE_INTERNAL_COMMIT_RECORD_H_
#define ENGINE_INTERNAL_COMMIT_RECORD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/internal/page.h"

namespace persy::internal {

inline constexpr uint8_t kSingleCommitRecordType = 1;
inline constexpr uint8_t kGroupCommitRecordType = 2;
inline constexpr uint8_t kWholePagesCommitRecordType = 3;
inline constexpr uint8_t kCommitRecordType = 4;

struct PrepareEntry {
  uint64_t prepare_id = 0;  // unique among the prepared transactions of the file
  std::string write_set;
  friend bool operator==(const PrepareEntry&, const PrepareEntry&) = default;
};

struct Decision {
  uint64_t prepare_id = 0;
  bool commit = false;
  friend bool operator==(const Decision&, const Decision&) = default;
};

// Everything of a commit record but its pages.
struct CommitLog {
  std::vector<std::string> transaction_ids;  // committed in one call, in commit order
  std::vector<PrepareEntry> prepares;
  std::vector<Decision> decisions;
};

// The change of one page: a whole image, or ranges of bytes changed from its base.
struct PageChange {
  PageId id = 0;
  std::optional<PageBuf> image;  // a whole image, verified
  std::vector<std::pair<uint16_t, std::string>> ranges;  // else: (offset, bytes), in order
};

struct CommitRecord {
  CommitLog log;
  std::vector<PageChange> pages;
};

// The base of page `id` for a difference, or nullptr to write its whole image.
using BaseFn = std::function<const PageBuf*(PageId id)>;

// The bytes of a commit record before its page changes: its type and `log`.
size_t EncodedLogSize(const CommitLog& log);

std::string EncodeCommitRecord(const CommitLog& log, const std::map<PageId, PageBuf>& pages,
                               const BaseFn& base = nullptr);

// kDataLoss if the payload is malformed or a whole image does not verify as its page.
absl::StatusOr<CommitRecord> DecodeCommitRecord(absl::string_view payload);

// The page `change` makes of `base` (ignored for a whole image), verified as the page.
// kDataLoss if it does not verify (a wrong base, or damage).
absl::StatusOr<PageBuf> ApplyPageChange(const PageChange& change, const PageBuf* base);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_COMMIT_RECORD_H_
