// The commit record: the journal payload of one group commit (docs/format.md), holding what the
// group made durable at once: transactions committed in one call, transactions prepared, the
// decisions on earlier prepared ones, and the page images of every change applied.
//
//   [u8 type = 3]
//   [u32 n] then n transaction ids committed:          [u32 length][id]
//   [u32 n] then n prepares:      [u64 prepare id][u32 length][write set (write_set.h)]
//   [u32 n] then n decisions:     [u64 prepare id][u8 1 = committed, 0 = rolled back]
//   [u32 page count] then per page: [u64 page id][4096-byte sealed page image]
//
// Older types are still read: type 2 (group commit before two-phase commit) has the ids and the
// pages only; type 1 (before group commit) has one id, [u32 length][id], then the pages.
//
// Recovery applies the images in order; each image must verify as the page it claims to be.
// Thread-safety: pure functions.

#ifndef ENGINE_INTERNAL_COMMIT_RECORD_H_
#define ENGINE_INTERNAL_COMMIT_RECORD_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/internal/page.h"

namespace persy::internal {

inline constexpr uint8_t kSingleCommitRecordType = 1;
inline constexpr uint8_t kGroupCommitRecordType = 2;
inline constexpr uint8_t kCommitRecordType = 3;

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

struct CommitRecord {
  CommitLog log;
  std::vector<std::pair<PageId, PageBuf>> pages;
};

std::string EncodeCommitRecord(const CommitLog& log, const std::map<PageId, PageBuf>& pages);

// kDataLoss if the payload is malformed or an image does not verify as its page.
absl::StatusOr<CommitRecord> DecodeCommitRecord(absl::string_view payload);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_COMMIT_RECORD_H_
