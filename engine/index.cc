#include "engine/index.h"

#include <cmath>
#include <string>
#include <type_traits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace persy {
namespace {

std::string U128ToString(u128 v) {
  if (v == 0) return "0";
  std::string out;
  while (v != 0) {
    out.insert(out.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return out;
}

std::string I128ToString(i128 v) {
  if (v >= 0) return U128ToString(static_cast<u128>(v));
  // -(v + 1) + 1 avoids overflow at the minimum.
  return "-" + U128ToString(static_cast<u128>(-(v + 1)) + 1);
}

template <typename F>
std::string FloatToString(F v) {
  if (std::isnan(v)) return "NaN";
  if (v == 0 && std::signbit(v)) return "-0";
  return absl::StrCat(v);
}

}  // namespace

std::string_view IndexTypeName(IndexType type) {
  switch (type) {
    case IndexType::kU8: return "u8";
    case IndexType::kU16: return "u16";
    case IndexType::kU32: return "u32";
    case IndexType::kU64: return "u64";
    case IndexType::kU128: return "u128";
    case IndexType::kI8: return "i8";
    case IndexType::kI16: return "i16";
    case IndexType::kI32: return "i32";
    case IndexType::kI64: return "i64";
    case IndexType::kI128: return "i128";
    case IndexType::kF32: return "f32";
    case IndexType::kF64: return "f64";
    case IndexType::kString: return "string";
    case IndexType::kBytes: return "bytes";
    case IndexType::kRecordId: return "record_id";
  }
  return "?";
}

std::string_view ValueModeName(ValueMode mode) {
  switch (mode) {
    case ValueMode::kReplace: return "replace";
    case ValueMode::kExclusive: return "exclusive";
    case ValueMode::kCluster: return "cluster";
  }
  return "?";
}

std::string IndexValueToString(const IndexValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return absl::StrCat("\"", absl::CHexEscape(v), "\"");
        } else if constexpr (std::is_same_v<T, ByteString>) {
          return absl::StrCat("b\"", absl::CHexEscape(v.bytes), "\"");
        } else if constexpr (std::is_same_v<T, RecordId>) {
          return v.ToString();
        } else if constexpr (std::is_same_v<T, u128>) {
          return U128ToString(v);
        } else if constexpr (std::is_same_v<T, i128>) {
          return I128ToString(v);
        } else if constexpr (std::is_floating_point_v<T>) {
          return FloatToString(v);
        } else if constexpr (std::is_signed_v<T>) {
          return absl::StrCat(static_cast<int64_t>(v));
        } else {
          return absl::StrCat(static_cast<uint64_t>(v));
        }
      },
      value);
}

}  // namespace persy
