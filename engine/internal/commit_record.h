// The commit record: the journal payload of one committed transaction (docs/format.md).
//
//   [u8 type = 1][u32 transaction id length][transaction id]
//   [u32 page count] then per page: [u64 page id][4096-byte sealed page image]
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

inline constexpr uint8_t kCommitRecordType = 1;

struct CommitRecord {
  std::string transaction_id;
  std::vector<std::pair<PageId, PageBuf>> pages;
};

std::string EncodeCommitRecord(absl::string_view transaction_id,
                               const std::map<PageId, PageBuf>& pages);

// kDataLoss if the payload is malformed or an image does not verify as its page.
absl::StatusOr<CommitRecord> DecodeCommitRecord(absl::string_view payload);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_COMMIT_RECORD_H_
