// CommittedState: a committed state of the database to read from: the current one (Engine) or
// the one a snapshot keeps (SnapshotState). Both are a catalog and the pages it reaches; the
// reads below walk those pages, and the record-level reads of Persy and Snapshot (read, scan,
// segments) are written once over this class.
//
// Thread-safety: safe for concurrent use by multiple threads. Callers hold SharedLock() across
// a read that must see one committed state (the catalog and pages of one commit).

#ifndef ENGINE_INTERNAL_COMMITTED_STATE_H_
#define ENGINE_INTERNAL_COMMITTED_STATE_H_

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/index.h"
#include "engine/internal/catalog.h"
#include "engine/internal/index_tree.h"
#include "engine/internal/page_source.h"
#include "engine/internal/record_store.h"
#include "engine/persy.h"

namespace persy::internal {

class CommittedState {
 public:
  virtual ~CommittedState() = default;

  virtual std::shared_lock<std::shared_mutex> SharedLock() const = 0;
  // REQUIRES for all below: the caller holds SharedLock().
  virtual const Catalog& catalog() const = 0;

  absl::StatusOr<std::optional<RecordInfo>> ReadCommitted(const SegmentMeta& segment,
                                                          uint64_t number);
  absl::StatusOr<std::optional<uint64_t>> NextCommitted(const SegmentMeta& segment,
                                                        uint64_t from);
  // The committed values of `key` (encoded) in `index`, in order.
  absl::StatusOr<std::vector<std::string>> CommittedIndexValues(const IndexMeta& index,
                                                                std::string_view key);
  // The nearest committed key after `from` (forward) or before it (backward) with its values.
  absl::StatusOr<std::optional<KeyValues>> CommittedIndexKey(const IndexMeta& index,
                                                             const Probe& from,
                                                             Direction direction);

 protected:
  // Where the pages of this state come from.
  virtual PageSource* pages() = 0;
};

// Persy's and Snapshot's reads of the same names; each takes the shared lock.
absl::StatusOr<std::optional<std::string>> ReadRecordIn(CommittedState& state,
                                                        std::string_view segment, RecordId id);
absl::Status ScanIn(CommittedState& state, std::string_view segment, const ScanFn& fn);
absl::StatusOr<bool> ExistsSegmentIn(CommittedState& state, std::string_view name);
absl::StatusOr<std::vector<SegmentInfo>> ListSegmentsIn(CommittedState& state);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_COMMITTED_STATE_H_
