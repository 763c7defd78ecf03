// Index vocabulary: the types an index maps, how it keeps values, and the bounds of a range.
//
// An index maps a key to one value or a set of values, both of the types declared when the
// index is created (IndexType). The value of a key or value travels as an IndexValue, a variant
// whose alternative is its type; the typed calls of persy.h (Put<K, V>, Get<K, V>, ...) build
// and unpack it, and refuse other C++ types at compile time (IndexPrimitive).
//
// Order. Keys, and the values of one key, are kept and returned in this order:
//   integers    numeric order (signed and unsigned, 8 to 128 bits)
//   f32, f64    numeric order, made total: -0.0 sorts just before +0.0 and is another key;
//               every NaN is the same key, sorting after +infinity (a NaN stored is read back
//               as the quiet NaN with no payload, std::numeric_limits<T>::quiet_NaN())
//   string      bytewise (UTF-8 byte order), a prefix before the longer string
//   bytes       as string
//   record id   by segment id, then record number
//
// Limits: an encoded key is at most kMaxIndexKeySize bytes and a value at most
// kMaxIndexValueSize (a string or byte string: its length; a number: its width; a record id:
// 12), else KeyTooBig / ValueTooBig. Index names are 1 to kMaxIndexNameSize bytes.
//
// Thread-safety: plain values and pure functions.

#ifndef ENGINE_INDEX_H_
#define ENGINE_INDEX_H_

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "engine/record_id.h"

namespace persy {

using u128 = unsigned __int128;
using i128 = __int128;

// A byte string key or value, as opposed to a text string (std::string). Both order bytewise;
// they are different types so that an index declares which one it holds.
struct ByteString {
  std::string bytes;
  friend auto operator<=>(const ByteString&, const ByteString&) = default;
};

// The type of an index's keys or values. The numbering is the file format's (docs/format.md)
// and IndexValue's alternative index.
enum class IndexType : uint8_t {
  kU8 = 0,
  kU16,
  kU32,
  kU64,
  kU128,
  kI8,
  kI16,
  kI32,
  kI64,
  kI128,
  kF32,
  kF64,
  kString,
  kBytes,
  kRecordId,
};
inline constexpr int kIndexTypeCount = 15;

// A key or a value: the alternative is its IndexType.
using IndexValue = std::variant<uint8_t, uint16_t, uint32_t, uint64_t, u128, int8_t, int16_t,
                                int32_t, int64_t, i128, float, double, std::string, ByteString,
                                RecordId>;

inline IndexType TypeOf(const IndexValue& value) {
  return static_cast<IndexType>(value.index());
}

namespace index_internal {
template <typename T, typename Variant>
struct AlternativeOf;
template <typename T, typename... Ts>
struct AlternativeOf<T, std::variant<Ts...>> {
  static constexpr bool kIs = (std::is_same_v<T, Ts> || ...);
  static constexpr size_t Index() {
    size_t i = 0;
    ((std::is_same_v<T, Ts> ? false : (++i, true)) && ...);
    return i;
  }
};
}  // namespace index_internal

// The C++ types an index can hold: exactly IndexValue's alternatives.
template <typename T>
concept IndexPrimitive = index_internal::AlternativeOf<T, IndexValue>::kIs;

template <IndexPrimitive T>
inline constexpr IndexType kIndexTypeOf =
    static_cast<IndexType>(index_internal::AlternativeOf<T, IndexValue>::Index());

// How an index keeps the values of a key.
enum class ValueMode : uint8_t {
  kReplace = 0,  // one value per key; a put replaces it
  kExclusive,    // one value per key; a put of another value fails with IndexDuplicateKey
  kCluster,      // a set of values per key; putting a value already there changes nothing
};

struct IndexInfo {
  std::string name;
  uint32_t id = 0;
  IndexType key_type = IndexType::kU64;
  IndexType value_type = IndexType::kU64;
  ValueMode mode = ValueMode::kReplace;
  friend bool operator==(const IndexInfo&, const IndexInfo&) = default;
};

// One end of a key range.
struct IndexBound {
  enum class Kind : uint8_t { kUnbounded, kIncluded, kExcluded };
  Kind kind = Kind::kUnbounded;
  IndexValue key;  // ignored when unbounded

  static IndexBound Unbounded() { return IndexBound{}; }
  static IndexBound Included(IndexValue key) { return IndexBound{Kind::kIncluded, std::move(key)}; }
  static IndexBound Excluded(IndexValue key) { return IndexBound{Kind::kExcluded, std::move(key)}; }
};

// The order in which a range visits its keys.
enum class Direction : uint8_t { kForward, kBackward };

// Called for each key of a range with its values (in order, never empty); return false to stop.
using RangeFn = std::function<bool(const IndexValue& key, const std::vector<IndexValue>& values)>;

inline constexpr size_t kMaxIndexNameSize = 255;
inline constexpr size_t kMaxIndexKeySize = 512;
inline constexpr size_t kMaxIndexValueSize = 512;

// "u8", "i128", "f64", "string", "bytes", "record_id", ...
std::string_view IndexTypeName(IndexType type);
// "replace", "exclusive", "cluster".
std::string_view ValueModeName(ValueMode mode);
// The value for messages, e.g. `42`, `-0`, `"abc"`, `b"61 62"`, `3.17`.
std::string IndexValueToString(const IndexValue& value);

}  // namespace persy

#endif  // ENGINE_INDEX_H_
