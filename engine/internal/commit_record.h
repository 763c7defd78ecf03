// The commit record: the journal payload of one commit (docs/format.md), which holds one
// transaction or, under group commit, several committed together.
//
//   [u8 type = 2][u32 transaction count] then per transaction: [u32 id length][id]
//   [u32 page count] then per page: [u64 page id][4096-byte sealed page image]
//
// Type 1 (before group commit) had one transaction: [u8 1][u32 id length][id], then the pages
// as above; it is still read.
//
// Recovery applies the images in order; each image must verify as the page it claims to be.
// Thread-safety: pure functions.

#ifndef ENGINE_INTERNAL_COMMIT_RECORD_H_
#define ENGINE_INTERNAL_COMMIT_RECORD_H_

#include <map>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/internal/page.h"

namespace persy::internal {

inline constexpr uint8_t kSingleCommitRecordType = 1;
inline constexpr uint8_t kCommitRecordType = 2;

struct CommitRecord {
  std::vector<std::string> transaction_ids;  // of the transactions committed, in commit order
  std::vector<std::pair<PageId, PageBuf>> pages;
};

std::string EncodeCommitRecord(const std::vector<std::string>& transaction_ids,
                               const std::map<PageId, PageBuf>& pages);

// kDataLoss if the payload is malformed or an image does not verify as its page.
absl::StatusOr<CommitRecord> DecodeCommitRecord(absl::string_view payload);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_COMMIT_RECORD_H_
