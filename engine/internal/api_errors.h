// The errors the public calls return about their arguments, worded once for every caller
// (committed reads in Engine, transaction calls in TxState).
// Thread-safety: pure functions.

#ifndef ENGINE_INTERNAL_API_ERRORS_H_
#define ENGINE_INTERNAL_API_ERRORS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/error.h"
#include "engine/record_id.h"

namespace persy::internal {

inline absl::Status SegmentNotFound(std::string_view name) {
  return MakeError(Error::kSegmentNotFound,
                   absl::StrCat("segment \"", std::string(name), "\" not found"));
}

// InvalidId unless `id` is a record id of the segment `segment_id`, named `name`.
inline absl::Status CheckIdOf(uint32_t segment_id, std::string_view name, RecordId id) {
  if (id.segment() == segment_id) return absl::OkStatus();
  return MakeError(Error::kInvalidId, absl::StrCat("record id ", id.ToString(),
                                                   " is not of segment \"", std::string(name),
                                                   "\""));
}

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_API_ERRORS_H_
