// The locks a prepared transaction holds until it is committed or rolled back: what another
// transaction may not change meanwhile, so that the prepared one's checks, done at prepare,
// still hold when it commits (docs/format.md, "Two-phase commit").
//
// A prepared transaction locks the records it updates or deletes, the index keys it puts or
// removes, the names of the segments and indexes it creates, and the segments and indexes it
// writes to (shared: others may write to them too) or drops (exclusive). A commit or prepare
// that needs one of these waits until the prepared transaction is decided, or fails with
// LockTimeout.
//
// Thread-safety: a pure function; the caller holds the commit lock.

#ifndef ENGINE_INTERNAL_TX_LOCKS_H_
#define ENGINE_INTERNAL_TX_LOCKS_H_

#include <optional>
#include <string>

#include "engine/internal/tx_state.h"

namespace persy::internal {

// What `tx` needs that `prepared` holds, described for an error message; nullopt if nothing.
std::optional<std::string> LockConflict(const TxState& tx, const TxState& prepared);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_TX_LOCKS_H_
