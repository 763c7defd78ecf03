#include "engine/record_id.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/error.h"

namespace persy {

std::string RecordId::ToString() const { return absl::StrCat(segment_, ".", number_); }

absl::StatusOr<RecordId> RecordId::Parse(std::string_view text) {
  const size_t dot = text.find('.');
  uint32_t segment = 0;
  uint64_t number = 0;
  // SimpleAtoi accepts a leading '+' and surrounding spaces; ToString() never makes them.
  auto digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (dot == std::string_view::npos || !digits(text.substr(0, dot)) ||
      !digits(text.substr(dot + 1)) || !absl::SimpleAtoi(std::string(text.substr(0, dot)), &segment) ||
      !absl::SimpleAtoi(std::string(text.substr(dot + 1)), &number)) {
    return MakeError(Error::kInvalidId, absl::StrCat("not a record id: \"", std::string(text), "\""));
  }
  return RecordId(segment, number);
}

std::ostream& operator<<(std::ostream& os, const RecordId& id) { return os << id.ToString(); }

}  // namespace persy
