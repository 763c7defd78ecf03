// Key codec: index keys and values as byte strings whose bytewise order is the documented
// order of index.h (docs/format.md, "Indexes").
//
// Every type encodes to bytes that compare, as unsigned bytes and a prefix first, exactly as
// the values compare, so the B+-tree orders entries without knowing their types:
//   unsigned integers  big-endian, full width
//   signed integers    big-endian with the sign bit flipped
//   f32, f64           the IEEE bits big-endian: negative numbers with every bit flipped,
//                      others with the sign bit flipped; every NaN first becomes the positive
//                      quiet NaN (sorting after +infinity), so all NaNs are one key
//   string, bytes      the bytes themselves
//   record id          segment id (u32) then record number (u64), big-endian
//
// Thread-safety: pure functions.

#ifndef ENGINE_INTERNAL_KEY_CODEC_H_
#define ENGINE_INTERNAL_KEY_CODEC_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/index.h"

namespace persy::internal {

// The order-preserving bytes of `value`.
std::string EncodeIndexValue(const IndexValue& value);

// The value of `type` that `bytes` encode. kDataLoss if they cannot be one (wrong width).
absl::StatusOr<IndexValue> DecodeIndexValue(IndexType type, std::string_view bytes);

// Bytewise comparison of unsigned bytes, a prefix first: <0, 0, >0.
int CompareBytes(std::string_view a, std::string_view b);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_KEY_CODEC_H_
