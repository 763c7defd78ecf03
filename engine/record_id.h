// RecordId: the address of a record, stable across updates and reopening.
//
// A record id is the pair (segment id, record number). Record numbers are handed out in
// increasing order within a segment as records are inserted, and a committed record's number is
// never reused, so an id kept after its record was deleted never finds another record, and ids
// of one segment never address records of another (the segment id is checked).
//
// Ids are totally ordered (by segment, then number) and print as "<segment>.<number>" in
// decimal, e.g. "3.1042", which Parse() reads back.
// Thread-safety: a plain value.

#ifndef ENGINE_RECORD_ID_H_
#define ENGINE_RECORD_ID_H_

#include <compare>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace persy {

class RecordId {
 public:
  constexpr RecordId() = default;
  constexpr RecordId(uint32_t segment, uint64_t number) : segment_(segment), number_(number) {}

  constexpr uint32_t segment() const { return segment_; }
  constexpr uint64_t number() const { return number_; }

  // "<segment>.<number>".
  std::string ToString() const;

  // Parses ToString()'s form. Errors: InvalidId.
  static absl::StatusOr<RecordId> Parse(std::string_view text);

  friend constexpr auto operator<=>(const RecordId&, const RecordId&) = default;

  template <typename H>
  friend H AbslHashValue(H h, const RecordId& id) {
    return H::combine(std::move(h), id.segment_, id.number_);
  }

 private:
  uint32_t segment_ = 0;
  uint64_t number_ = 0;
};

std::ostream& operator<<(std::ostream& os, const RecordId& id);

}  // namespace persy

#endif  // ENGINE_RECORD_ID_H_
