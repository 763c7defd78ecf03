// The index half of the reference model: the order of keys and values, value sets, their sizes
// and the replay of a transaction's puts and removes. The Model's index calls (model.h) are
// built on these, in index_model.cc.
//
// Order. The model compares keys and values with its own code, written from the order that
// engine/index.h documents, never from a byte encoding: integers numerically (8 to 128 bits),
// floats numerically made total (-0.0 just before +0.0, every NaN the same value, after
// +infinity), strings and byte strings bytewise with a prefix first, record ids by segment then
// number. Values of different types (which one index never holds together) order by type.
// Equality is this order's: IndexValue's operator== says NaN != NaN and -0.0 == +0.0, so
// nothing here uses it (and the engine may hand back another NaN than the one stored: the
// quiet one; the order cannot tell them apart, by design).
//
// Thread-safety: plain values and pure functions.

#ifndef MODEL_INDEX_MODEL_H_
#define MODEL_INDEX_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/index.h"

namespace persy::model {

// The limits of engine/index.h, restated (the executor checks that they agree).
inline constexpr size_t kMaxIndexNameSize = 255;
inline constexpr size_t kMaxIndexKeySize = 512;
inline constexpr size_t kMaxIndexValueSize = 512;

// < 0, 0 or > 0 as `a` sorts before, with or after `b` in the order above.
int CompareIndexValues(const IndexValue& a, const IndexValue& b);
bool SameIndexValue(const IndexValue& a, const IndexValue& b);
bool SameIndexValues(const std::vector<IndexValue>& a, const std::vector<IndexValue>& b);

struct IndexValueLess {
  bool operator()(const IndexValue& a, const IndexValue& b) const {
    return CompareIndexValues(a, b) < 0;
  }
};

// The values of one key; empty means the key is absent.
using ValueSet = std::set<IndexValue, IndexValueLess>;
std::vector<IndexValue> ToVector(const ValueSet& values);
bool SameValueSet(const ValueSet& a, const ValueSet& b);

// The size a key or value counts against the limits: the width of a number (u8 = 1 ... u128 =
// 16, f32 = 4, f64 = 8), the length of a string or byte string, 12 for a record id.
size_t IndexValueSize(const IndexValue& value);

// One put or remove of a key, as a transaction did it.
struct IndexOp {
  bool put = false;
  std::optional<IndexValue> value;  // the value put or removed; nullopt: remove every value
};

// Whether putting `value` into an index of `mode` whose key has `values` is IndexDuplicateKey:
// an exclusive index whose key has values other than exactly {value}.
bool IsDuplicate(ValueMode mode, const ValueSet& values, const IndexValue& value);

// Applies `op` to `values` as an index of `mode` does (a put into an exclusive index replaces,
// as in a replace index: whether it was allowed is IsDuplicate's question, asked before).
void ReplayOp(ValueMode mode, const IndexOp& op, ValueSet& values);

// Whether `key` lies within the bounds (`from` below, `to` above; kUnbounded: no bound).
bool InRange(const IndexValue& key, const IndexBound& from, const IndexBound& to);

// The key and value types a typed Range<K, V> names.
struct RangeTypes {
  IndexType key;
  IndexType value;
};

// A key and its values, as a range visits them (values in order, never empty).
struct IndexEntry {
  IndexValue key;
  std::vector<IndexValue> values;
  friend bool operator==(const IndexEntry& a, const IndexEntry& b) {
    return SameIndexValue(a.key, b.key) && SameIndexValues(a.values, b.values);
  }
};

// An index in a full dump: its definition and every key in order.
struct DumpIndex {
  uint32_t id = 0;
  IndexType key_type = IndexType::kU8;
  IndexType value_type = IndexType::kU8;
  ValueMode mode = ValueMode::kReplace;
  std::vector<IndexEntry> entries;
  friend bool operator==(const DumpIndex&, const DumpIndex&) = default;
};

// For messages: values as engine/index.h prints them, long strings cut short.
std::string IndexValueText(const IndexValue& value);
std::string IndexValuesText(const std::vector<IndexValue>& values);
std::string IndexEntriesText(const std::vector<IndexEntry>& entries);
std::string IndexInfosText(const std::vector<IndexInfo>& infos);
// "u64->string cluster".
std::string IndexDefText(IndexType key_type, IndexType value_type, ValueMode mode);

}  // namespace persy::model

#endif  // MODEL_INDEX_MODEL_H_
