// The index part of a commit: the checks persy.h's Transaction::Commit lists for indexes, and
// the changes to the trees and the catalog.
//
// Checks run against the committed state at commit time (under the commit lock), in the order
// of persy.h: ValidateIndexNames is check IndexAlreadyExists then IndexNotFound (after the
// segment checks); ValidateIndexKeys is IndexDuplicateKey then the index VersionConflict (after
// the record checks).
//
// Thread-safety: pure functions over caller-owned objects; the caller holds the commit lock.

#ifndef ENGINE_INTERNAL_INDEX_COMMIT_H_
#define ENGINE_INTERNAL_INDEX_COMMIT_H_

#include "absl/status/status.h"
#include "engine/config.h"
#include "engine/internal/allocator.h"
#include "engine/internal/catalog.h"
#include "engine/internal/page_delta.h"
#include "engine/internal/tx_indexes.h"

namespace persy::internal {

absl::Status ValidateIndexNames(const TxIndexes& tx, const Catalog& catalog);

absl::Status ValidateIndexKeys(const TxIndexes& tx, TxStrategy strategy, const Catalog& catalog,
                               PageDelta& delta);

// Drops, creates, then puts and removes: each changed key's values become the committed ones
// with the transaction's ops replayed. Updates `catalog` (index roots, ids). REQUIRES: both
// validations passed against this committed state.
absl::Status ApplyIndexes(const TxIndexes& tx, PageDelta& delta, Allocator& alloc,
                          Catalog& catalog);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_INDEX_COMMIT_H_
