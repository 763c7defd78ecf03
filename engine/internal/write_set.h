// The write set of a prepared transaction: what the commit applies, as the journal's prepare
// entry keeps it (commit_record.h), so that a transaction prepared before a crash can still be
// committed after it. It is logical (segments, records, index operations), not page images: the
// pages it changes are only known when it is applied.
//
//   [u8 version = 1][u8 strategy][u32 length][transaction id]
//   [u32 n] segments created:  [u32 length][name][u32 id]
//   [u32 n] segments dropped:  [u32 id][u32 length][name]
//   [u32 n] highest inserted:  [u32 segment id][u64 record number]
//   [u32 n] segments written:  [u32 id][u32 n] records: [u64 number]
//                              [u8 flags: 1 inserted, 2 has bytes][u32 length][bytes] if bytes
//   [u32 n] indexes created:   [u32 length][name][u32 id][u8 key type][u8 value type][u8 mode]
//   [u32 n] indexes dropped:   [u32 id][u32 length][name]
//   [u32 n] indexes changed:   [u32 id][u32 n] keys: [u32 length][encoded key][u32 n] ops:
//                              [u8 flags: 1 put, 2 has value][u32 length][value] if value
//
// What the transaction read (versions seen) is not kept: its checks were done at prepare.
// Thread-safety: pure functions.

#ifndef ENGINE_INTERNAL_WRITE_SET_H_
#define ENGINE_INTERNAL_WRITE_SET_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/internal/tx_state.h"

namespace persy::internal {

std::string EncodeWriteSet(const TxState& tx);

// A finished transaction of `engine` holding the decoded changes, for the commit to apply.
// kDataLoss if `bytes` is malformed.
absl::StatusOr<std::unique_ptr<TxState>> DecodeWriteSet(Engine* engine, std::string_view bytes);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_WRITE_SET_H_
