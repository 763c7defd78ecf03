#include "engine/internal/key_codec.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace persy::internal {
namespace {

template <typename U>
void AppendBigEndian(U v, std::string& out) {
  for (int i = sizeof(U) - 1; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

template <typename U>
U ReadBigEndian(const char* p) {
  U v = 0;
  for (size_t i = 0; i < sizeof(U); ++i) v = static_cast<U>((v << 8) | static_cast<uint8_t>(p[i]));
  return v;
}

template <typename T>
struct Unsigned {
  using Type = std::make_unsigned_t<T>;
};
template <>
struct Unsigned<i128> {
  using Type = u128;
};
template <>
struct Unsigned<u128> {
  using Type = u128;
};

template <typename U>
constexpr U SignBit() {
  return static_cast<U>(U{1} << (8 * sizeof(U) - 1));
}

template <typename F, typename U>
U FloatKey(F v) {
  if (std::isnan(v)) v = std::numeric_limits<F>::quiet_NaN();
  const U bits = std::bit_cast<U>(v);
  return (bits & SignBit<U>()) != 0 ? static_cast<U>(~bits) : static_cast<U>(bits ^ SignBit<U>());
}

template <typename F, typename U>
F FloatFromKey(U key) {
  const U bits = (key & SignBit<U>()) != 0 ? static_cast<U>(key ^ SignBit<U>())
                                           : static_cast<U>(~key);
  return std::bit_cast<F>(bits);
}

}  // namespace

int CompareBytes(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  if (n != 0) {
    if (int c = std::memcmp(a.data(), b.data(), n); c != 0) return c;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

std::string EncodeIndexValue(const IndexValue& value) {
  std::string out;
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out = v;
        } else if constexpr (std::is_same_v<T, ByteString>) {
          out = v.bytes;
        } else if constexpr (std::is_same_v<T, RecordId>) {
          AppendBigEndian<uint32_t>(v.segment(), out);
          AppendBigEndian<uint64_t>(v.number(), out);
        } else if constexpr (std::is_same_v<T, float>) {
          AppendBigEndian<uint32_t>(FloatKey<float, uint32_t>(v), out);
        } else if constexpr (std::is_same_v<T, double>) {
          AppendBigEndian<uint64_t>(FloatKey<double, uint64_t>(v), out);
        } else {
          using U = typename Unsigned<T>::Type;
          U bits = static_cast<U>(v);
          if constexpr (!std::is_same_v<T, U>) bits ^= SignBit<U>();
          AppendBigEndian<U>(bits, out);
        }
      },
      value);
  return out;
}

namespace {

// Decodes alternative `I` of IndexValue.
template <size_t I>
absl::StatusOr<IndexValue> DecodeAs(std::string_view bytes) {
  using T = std::variant_alternative_t<I, IndexValue>;
  auto wrong = [&](size_t want) {
    return absl::DataLossError(absl::StrCat("an index ", std::string(IndexTypeName(static_cast<IndexType>(I))),
                                            " of ", bytes.size(), " bytes, expected ", want));
  };
  if constexpr (std::is_same_v<T, std::string>) {
    return IndexValue(std::in_place_index<I>, std::string(bytes));
  } else if constexpr (std::is_same_v<T, ByteString>) {
    return IndexValue(std::in_place_index<I>, ByteString{std::string(bytes)});
  } else if constexpr (std::is_same_v<T, RecordId>) {
    if (bytes.size() != 12) return wrong(12);
    return IndexValue(std::in_place_index<I>, RecordId(ReadBigEndian<uint32_t>(bytes.data()),
                                                       ReadBigEndian<uint64_t>(bytes.data() + 4)));
  } else if constexpr (std::is_same_v<T, float>) {
    if (bytes.size() != 4) return wrong(4);
    return IndexValue(std::in_place_index<I>,
                      FloatFromKey<float, uint32_t>(ReadBigEndian<uint32_t>(bytes.data())));
  } else if constexpr (std::is_same_v<T, double>) {
    if (bytes.size() != 8) return wrong(8);
    return IndexValue(std::in_place_index<I>,
                      FloatFromKey<double, uint64_t>(ReadBigEndian<uint64_t>(bytes.data())));
  } else {
    using U = typename Unsigned<T>::Type;
    if (bytes.size() != sizeof(U)) return wrong(sizeof(U));
    U bits = ReadBigEndian<U>(bytes.data());
    if constexpr (!std::is_same_v<T, U>) bits ^= SignBit<U>();
    return IndexValue(std::in_place_index<I>, static_cast<T>(bits));
  }
}

template <size_t... I>
absl::StatusOr<IndexValue> DecodeByIndex(size_t type, std::string_view bytes,
                                         std::index_sequence<I...>) {
  absl::StatusOr<IndexValue> out = absl::DataLossError(absl::StrCat("unknown index type ", type));
  ((type == I ? (out = DecodeAs<I>(bytes), true) : false) || ...);
  return out;
}

}  // namespace

absl::StatusOr<IndexValue> DecodeIndexValue(IndexType type, std::string_view bytes) {
  return DecodeByIndex(static_cast<size_t>(type), bytes,
                       std::make_index_sequence<std::variant_size_v<IndexValue>>());
}

}  // namespace persy::internal
