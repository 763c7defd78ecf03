// The index half of the model: the order of keys and values (index_model.h) and the Model's
// index calls (model.h), kept apart from model.cc so that each file has one job.

#include "model/index_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "model/model.h"
#include "model/require.h"

namespace persy::model {
namespace {

int CompareInts(bool less, bool greater) { return less ? -1 : greater ? 1 : 0; }

// Numeric order made total: every NaN is one value, after +infinity; -0.0 just before +0.0.
template <typename F>
int CompareFloats(F a, F b) {
  const bool a_nan = std::isnan(a);
  const bool b_nan = std::isnan(b);
  if (a_nan || b_nan) return static_cast<int>(a_nan) - static_cast<int>(b_nan);
  if (a < b) return -1;
  if (b < a) return 1;
  // Numerically equal: only zeros of opposite signs differ.
  return static_cast<int>(std::signbit(b)) - static_cast<int>(std::signbit(a));
}

// Bytewise as unsigned bytes, a prefix first: spelled out rather than trusting char's sign.
int CompareBytes(const std::string& a, const std::string& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return CompareInts(a.size() < b.size(), a.size() > b.size());
}

std::string ShortBytes(const std::string& bytes) {
  if (bytes.size() <= 24) return absl::StrCat("\"", absl::CHexEscape(bytes), "\"");
  return absl::StrCat(bytes.size(), "B \"", absl::CHexEscape(bytes.substr(0, 12)), "...\"");
}

}  // namespace

// ---- Order, sizes, replay ----

int CompareIndexValues(const IndexValue& a, const IndexValue& b) {
  if (a.index() != b.index()) return CompareInts(a.index() < b.index(), a.index() > b.index());
  return std::visit(
      [&b](const auto& x) -> int {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_floating_point_v<T>) {
          return CompareFloats(x, y);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return CompareBytes(x, y);
        } else if constexpr (std::is_same_v<T, ByteString>) {
          return CompareBytes(x.bytes, y.bytes);
        } else if constexpr (std::is_same_v<T, RecordId>) {
          if (x.segment() != y.segment()) return x.segment() < y.segment() ? -1 : 1;
          return CompareInts(x.number() < y.number(), x.number() > y.number());
        } else {  // integers of 8 to 128 bits, compared as themselves
          return CompareInts(x < y, x > y);
        }
      },
      a);
}

bool SameIndexValue(const IndexValue& a, const IndexValue& b) {
  return CompareIndexValues(a, b) == 0;
}

bool SameIndexValues(const std::vector<IndexValue>& a, const std::vector<IndexValue>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!SameIndexValue(a[i], b[i])) return false;
  }
  return true;
}

bool SameValueSet(const ValueSet& a, const ValueSet& b) {
  return SameIndexValues(ToVector(a), ToVector(b));
}

std::vector<IndexValue> ToVector(const ValueSet& values) {
  return std::vector<IndexValue>(values.begin(), values.end());
}

size_t IndexValueSize(const IndexValue& value) {
  switch (static_cast<IndexType>(value.index())) {
    case IndexType::kU8:
    case IndexType::kI8: return 1;
    case IndexType::kU16:
    case IndexType::kI16: return 2;
    case IndexType::kU32:
    case IndexType::kI32:
    case IndexType::kF32: return 4;
    case IndexType::kU64:
    case IndexType::kI64:
    case IndexType::kF64: return 8;
    case IndexType::kU128:
    case IndexType::kI128: return 16;
    case IndexType::kString: return std::get<std::string>(value).size();
    case IndexType::kBytes: return std::get<ByteString>(value).bytes.size();
    case IndexType::kRecordId: return 12;
  }
  std::abort();
}

bool IsDuplicate(ValueMode mode, const ValueSet& values, const IndexValue& value) {
  if (mode != ValueMode::kExclusive || values.empty()) return false;
  return values.size() != 1 || !SameIndexValue(*values.begin(), value);
}

void ReplayOp(ValueMode mode, const IndexOp& op, ValueSet& values) {
  if (op.put) {
    if (mode != ValueMode::kCluster) values.clear();
    values.insert(*op.value);  // a value already there (by the order) stays as it is
  } else if (op.value.has_value()) {
    values.erase(*op.value);
  } else {
    values.clear();
  }
}

bool InRange(const IndexValue& key, const IndexBound& from, const IndexBound& to) {
  using Kind = IndexBound::Kind;
  if (from.kind != Kind::kUnbounded) {
    const int c = CompareIndexValues(key, from.key);
    if (c < 0 || (c == 0 && from.kind == Kind::kExcluded)) return false;
  }
  if (to.kind != Kind::kUnbounded) {
    const int c = CompareIndexValues(key, to.key);
    if (c > 0 || (c == 0 && to.kind == Kind::kExcluded)) return false;
  }
  return true;
}

std::string IndexValueText(const IndexValue& value) {
  if (const auto* s = std::get_if<std::string>(&value)) return ShortBytes(*s);
  if (const auto* b = std::get_if<ByteString>(&value)) return "b" + ShortBytes(b->bytes);
  return IndexValueToString(value);
}

std::string IndexValuesText(const std::vector<IndexValue>& values) {
  std::string out = "[";
  for (const IndexValue& v : values) {
    absl::StrAppend(&out, out.size() > 1 ? ", " : "", IndexValueText(v));
  }
  return out + "]";
}

std::string IndexEntriesText(const std::vector<IndexEntry>& entries) {
  std::string out = "{";
  for (const IndexEntry& e : entries) {
    absl::StrAppend(&out, out.size() > 1 ? ", " : "", IndexValueText(e.key), "=",
                    IndexValuesText(e.values));
  }
  return out + "}";
}

std::string IndexInfosText(const std::vector<IndexInfo>& infos) {
  std::string out = "[";
  for (const IndexInfo& i : infos) {
    absl::StrAppend(&out, out.size() > 1 ? ", " : "", ShortBytes(i.name), "#", i.id, " ",
                    IndexDefText(i.key_type, i.value_type, i.mode));
  }
  return out + "]";
}

std::string IndexDefText(IndexType key_type, IndexType value_type, ValueMode mode) {
  // Debian's Abseil has its own string_view, not std::string_view.
  return std::string(IndexTypeName(key_type)) + "->" + std::string(IndexTypeName(value_type)) +
         " " + std::string(ValueModeName(mode));
}

// ---- Lookups ----

const Model::Tx& Model::AnyTx(TxId tx) const {
  Require(tx >= 0 && static_cast<size_t>(tx) < txs_.size(), "unknown transaction handle");
  return txs_[static_cast<size_t>(tx)];
}

IndexInfo Model::InfoOf(const std::string& name, const IndexDef& def) {
  return IndexInfo{name, def.id, def.key_type, def.value_type, def.mode};
}

std::optional<Model::IndexDef> Model::VisibleIndex(const Tx& tx, std::string_view name) const {
  const std::string key(name);
  if (auto it = tx.created_indexes.find(key); it != tx.created_indexes.end()) return it->second;
  auto it = committed_.indexes.find(key);
  if (it == committed_.indexes.end() || tx.dropped_indexes.count({key, it->second.def.id}) != 0) {
    return std::nullopt;
  }
  return it->second.def;
}

const Model::Index* Model::IndexById(const Committed& committed, uint32_t id) {
  for (const auto& [name, index] : committed.indexes) {
    if (index.def.id == id) return &index;
  }
  return nullptr;
}

Model::Index* Model::IndexById(Committed& committed, uint32_t id) {
  for (auto& [name, index] : committed.indexes) {
    if (index.def.id == id) return &index;
  }
  return nullptr;
}

ValueSet Model::CommittedValues(const Committed& committed, uint32_t index_id,
                                const IndexValue& key) {
  const Index* index = IndexById(committed, index_id);
  if (index == nullptr) return ValueSet();
  auto it = index->entries.find(key);
  return it == index->entries.end() ? ValueSet() : it->second;
}

ValueSet Model::VisibleValues(const Tx& tx, uint32_t index_id, ValueMode mode,
                              const IndexValue& key) const {
  ValueSet values = CommittedValues(committed_, index_id, key);
  auto index = tx.key_writes.find(index_id);
  if (index == tx.key_writes.end()) return values;
  auto writes = index->second.find(key);
  if (writes == index->second.end()) return values;
  // The duplicate check was made when each put was: replayed here, a put simply puts.
  for (const IndexOp& op : writes->second.ops) ReplayOp(mode, op, values);
  return values;
}

void Model::RecordWrite(Tx& tx, std::string_view name, const IndexDef& def,
                        const IndexValue& key, IndexOp op) {
  KeyMap<KeyWrites>& keys = tx.key_writes[def.id];
  auto it = keys.find(key);
  if (it == keys.end()) {
    it = keys.emplace(key, KeyWrites{{}, CommittedValues(committed_, def.id, key)}).first;
  }
  it->second.ops.push_back(std::move(op));
  if (tx.created_indexes.count(std::string(name)) == 0) tx.changed_indexes.emplace(name, def.id);
}

Error Model::CheckBounds(const IndexDef& def, const IndexBound& from, const IndexBound& to,
                         std::optional<RangeTypes> typed) {
  if (typed.has_value() && (typed->key != def.key_type || typed->value != def.value_type)) {
    return Error::kIndexTypeMismatch;
  }
  const bool has_from = from.kind != IndexBound::Kind::kUnbounded;
  const bool has_to = to.kind != IndexBound::Kind::kUnbounded;
  if (has_from && TypeOf(from.key) != def.key_type) return Error::kIndexTypeMismatch;
  if (has_to && TypeOf(to.key) != def.key_type) return Error::kIndexTypeMismatch;
  if (has_from && IndexValueSize(from.key) > kMaxIndexKeySize) return Error::kKeyTooBig;
  if (has_to && IndexValueSize(to.key) > kMaxIndexKeySize) return Error::kKeyTooBig;
  return Error::kNone;
}

std::vector<IndexEntry> Model::RangeOf(const KeyMap<ValueSet>& entries, const IndexBound& from,
                                       const IndexBound& to, Direction direction, size_t limit) {
  std::vector<IndexEntry> out;
  for (const auto& [key, values] : entries) {
    if (!values.empty() && InRange(key, from, to)) out.push_back(IndexEntry{key, ToVector(values)});
  }
  if (direction == Direction::kBackward) std::reverse(out.begin(), out.end());
  if (limit != 0 && out.size() > limit) out.resize(limit);
  return out;
}

std::optional<IndexInfo> Model::IndexSeenBy(TxId tx, std::string_view name) const {
  const std::optional<IndexDef> def = VisibleIndex(AnyTx(tx), name);
  if (!def.has_value()) return std::nullopt;
  return InfoOf(std::string(name), *def);
}

std::optional<IndexInfo> Model::CommittedIndex(std::string_view name) const {
  auto it = committed_.indexes.find(std::string(name));
  if (it == committed_.indexes.end()) return std::nullopt;
  return InfoOf(it->first, it->second.def);
}

// ---- Transactions ----

Error Model::CreateIndex(TxId id, std::string_view name, IndexType key_type,
                         IndexType value_type, ValueMode mode) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  if (name.empty() || name.size() > kMaxIndexNameSize) return Error::kInvalidArgument;
  if (VisibleIndex(tx, name).has_value()) return Error::kIndexAlreadyExists;
  const uint32_t index_id = next_index_id_++;
  tx.created_indexes[std::string(name)] = IndexDef{index_id, key_type, value_type, mode};
  tx.highest_index_created = std::max(tx.highest_index_created, index_id);
  return Error::kNone;
}

Error Model::DropIndex(TxId id, std::string_view name) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  const std::optional<IndexDef> def = VisibleIndex(tx, name);
  if (!def.has_value()) return Error::kIndexNotFound;
  if (tx.created_indexes.count(std::string(name)) != 0) return Error::kCannotDropIndexCreatedInTx;
  tx.dropped_indexes.emplace(name, def->id);
  // As DropSegment: what the tx did in the index is superseded; check 4 still applies.
  tx.changed_indexes.erase({std::string(name), def->id});
  tx.key_writes.erase(def->id);
  tx.key_reads.erase(def->id);
  return Error::kNone;
}

Result<bool> Model::ExistsIndex(TxId id, std::string_view name) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  return VisibleIndex(tx, name).has_value();
}

Result<std::vector<IndexInfo>> Model::ListIndexes(TxId id) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  std::set<std::string> names;
  for (const auto& [name, index] : committed_.indexes) names.insert(name);
  for (const auto& [name, def] : tx.created_indexes) names.insert(name);
  std::vector<IndexInfo> out;
  for (const std::string& name : names) {
    if (std::optional<IndexDef> def = VisibleIndex(tx, name)) out.push_back(InfoOf(name, *def));
  }
  return out;
}

Error Model::Put(TxId id, std::string_view name, const IndexValue& key, const IndexValue& value) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  const std::optional<IndexDef> def = VisibleIndex(tx, name);
  if (!def.has_value()) return Error::kIndexNotFound;
  if (TypeOf(key) != def->key_type) return Error::kIndexTypeMismatch;
  if (TypeOf(value) != def->value_type) return Error::kIndexTypeMismatch;
  if (IndexValueSize(key) > kMaxIndexKeySize) return Error::kKeyTooBig;
  if (IndexValueSize(value) > kMaxIndexValueSize) return Error::kValueTooBig;
  if (IsDuplicate(def->mode, VisibleValues(tx, def->id, def->mode, key), value)) {
    return Error::kIndexDuplicateKey;
  }
  RecordWrite(tx, name, *def, key, IndexOp{true, value});
  return Error::kNone;
}

Error Model::Remove(TxId id, std::string_view name, const IndexValue& key,
                    const std::optional<IndexValue>& value) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  const std::optional<IndexDef> def = VisibleIndex(tx, name);
  if (!def.has_value()) return Error::kIndexNotFound;
  if (TypeOf(key) != def->key_type) return Error::kIndexTypeMismatch;
  if (value.has_value() && TypeOf(*value) != def->value_type) return Error::kIndexTypeMismatch;
  if (IndexValueSize(key) > kMaxIndexKeySize) return Error::kKeyTooBig;
  if (value.has_value() && IndexValueSize(*value) > kMaxIndexValueSize) {
    return Error::kValueTooBig;
  }
  RecordWrite(tx, name, *def, key, IndexOp{false, value});
  return Error::kNone;
}

Result<std::vector<IndexValue>> Model::Get(TxId id, std::string_view name, const IndexValue& key,
                                           std::optional<IndexType> value_type) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  const std::optional<IndexDef> def = VisibleIndex(tx, name);
  if (!def.has_value()) return Error::kIndexNotFound;
  if (TypeOf(key) != def->key_type) return Error::kIndexTypeMismatch;
  if (value_type.has_value() && *value_type != def->value_type) return Error::kIndexTypeMismatch;
  if (IndexValueSize(key) > kMaxIndexKeySize) return Error::kKeyTooBig;
  if (tx.created_indexes.count(std::string(name)) == 0) {
    // Keeps the first read (emplace does not replace).
    tx.key_reads[def->id].emplace(key, CommittedValues(committed_, def->id, key));
  }
  return ToVector(VisibleValues(tx, def->id, def->mode, key));
}

Result<std::vector<IndexEntry>> Model::Range(TxId id, std::string_view name,
                                             const IndexBound& from, const IndexBound& to,
                                             Direction direction, size_t limit,
                                             std::optional<RangeTypes> typed) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  const std::optional<IndexDef> def = VisibleIndex(tx, name);
  if (!def.has_value()) return Error::kIndexNotFound;
  if (const Error error = CheckBounds(*def, from, to, typed); error != Error::kNone) {
    return error;
  }
  // Every key the tx may see: the committed ones of this index id and those it wrote.
  KeyMap<ValueSet> entries;
  if (const Index* committed = IndexById(committed_, def->id)) {
    for (const auto& [key, values] : committed->entries) entries[key];
  }
  if (auto writes = tx.key_writes.find(def->id); writes != tx.key_writes.end()) {
    for (const auto& [key, ops] : writes->second) entries[key];
  }
  for (auto& [key, values] : entries) values = VisibleValues(tx, def->id, def->mode, key);
  return RangeOf(entries, from, to, direction, limit);
}

// ---- Committed reads ----

Result<std::vector<IndexValue>> Model::GetIn(const Committed& state, std::string_view name,
                                             const IndexValue& key,
                                             std::optional<IndexType> value_type) {
  auto it = state.indexes.find(std::string(name));
  if (it == state.indexes.end()) return Error::kIndexNotFound;
  const IndexDef& def = it->second.def;
  if (TypeOf(key) != def.key_type) return Error::kIndexTypeMismatch;
  if (value_type.has_value() && *value_type != def.value_type) return Error::kIndexTypeMismatch;
  if (IndexValueSize(key) > kMaxIndexKeySize) return Error::kKeyTooBig;
  return ToVector(CommittedValues(state, def.id, key));
}

Result<std::vector<IndexEntry>> Model::RangeIn(const Committed& state, std::string_view name,
                                               const IndexBound& from, const IndexBound& to,
                                               Direction direction, size_t limit,
                                               std::optional<RangeTypes> typed) {
  auto it = state.indexes.find(std::string(name));
  if (it == state.indexes.end()) return Error::kIndexNotFound;
  if (const Error error = CheckBounds(it->second.def, from, to, typed); error != Error::kNone) {
    return error;
  }
  return RangeOf(it->second.entries, from, to, direction, limit);
}

std::vector<IndexInfo> Model::ListIndexesIn(const Committed& state) {
  std::vector<IndexInfo> out;
  for (const auto& [name, index] : state.indexes) out.push_back(InfoOf(name, index.def));
  return out;
}

Result<std::vector<IndexValue>> Model::GetCommitted(std::string_view name, const IndexValue& key,
                                                    std::optional<IndexType> value_type) const {
  RequireCertain();
  return GetIn(committed_, name, key, value_type);
}

Result<std::vector<IndexEntry>> Model::RangeCommitted(std::string_view name,
                                                      const IndexBound& from,
                                                      const IndexBound& to, Direction direction,
                                                      size_t limit,
                                                      std::optional<RangeTypes> typed) const {
  RequireCertain();
  return RangeIn(committed_, name, from, to, direction, limit, typed);
}

bool Model::ExistsIndexCommitted(std::string_view name) const {
  RequireCertain();
  return committed_.indexes.count(std::string(name)) != 0;
}

std::vector<IndexInfo> Model::ListIndexesCommitted() const {
  RequireCertain();
  return ListIndexesIn(committed_);
}

// ---- Commit ----

Error Model::ValidateIndexNames(const Tx& tx, const Committed& committed) {
  // 3. A name it creates an index under is committed, by an index other than one it drops.
  for (const auto& [name, def] : tx.created_indexes) {
    auto it = committed.indexes.find(name);
    if (it != committed.indexes.end() &&
        tx.dropped_indexes.count({name, it->second.def.id}) == 0) {
      return Error::kIndexAlreadyExists;
    }
  }
  // 4. A committed index it changes or drops is no longer committed under that name and id.
  std::set<std::pair<std::string, uint32_t>> used = tx.changed_indexes;
  used.insert(tx.dropped_indexes.begin(), tx.dropped_indexes.end());
  for (const auto& [name, id] : used) {
    auto it = committed.indexes.find(name);
    if (it == committed.indexes.end() || it->second.def.id != id) return Error::kIndexNotFound;
  }
  return Error::kNone;
}

Error Model::ValidateIndexKeys(const Tx& tx, const Committed& committed) {
  // 7. Its puts into exclusive indexes, replayed on the values committed now. Every index it
  // wrote to is one it created or (check 4 passed) still committed.
  for (const auto& [index_id, keys] : tx.key_writes) {
    std::optional<ValueMode> mode;
    if (const Index* index = IndexById(committed, index_id)) mode = index->def.mode;
    for (const auto& [name, def] : tx.created_indexes) {
      if (def.id == index_id) mode = def.mode;
    }
    if (mode != ValueMode::kExclusive) continue;
    for (const auto& [key, writes] : keys) {
      ValueSet values = CommittedValues(committed, index_id, key);
      for (const IndexOp& op : writes.ops) {
        if (op.put && IsDuplicate(*mode, values, *op.value)) return Error::kIndexDuplicateKey;
        ReplayOp(*mode, op, values);
      }
    }
  }
  // 8. Value sets of keys of committed indexes, per the strategy.
  if (tx.strategy == Strategy::kLastWriterWins) return Error::kNone;
  for (const auto& [index_id, keys] : tx.key_writes) {
    if (IndexById(committed, index_id) == nullptr) continue;  // one it created
    for (const auto& [key, writes] : keys) {
      if (!SameValueSet(CommittedValues(committed, index_id, key), writes.first_committed)) {
        return Error::kVersionConflict;
      }
    }
  }
  if (tx.strategy == Strategy::kVersionOnRead) {
    for (const auto& [index_id, keys] : tx.key_reads) {
      for (const auto& [key, seen] : keys) {
        if (!SameValueSet(CommittedValues(committed, index_id, key), seen)) {
          return Error::kVersionConflict;
        }
      }
    }
  }
  return Error::kNone;
}

void Model::ApplyIndexes(const Tx& tx, Committed& committed) {
  for (const auto& [name, id] : tx.dropped_indexes) {
    auto it = committed.indexes.find(name);
    if (it != committed.indexes.end() && it->second.def.id == id) committed.indexes.erase(it);
  }
  for (const auto& [name, def] : tx.created_indexes) committed.indexes[name] = Index{def, {}};
  for (const auto& [index_id, keys] : tx.key_writes) {
    Index* index = IndexById(committed, index_id);
    if (index == nullptr) continue;  // cannot happen once validated; nothing to apply to
    for (const auto& [key, writes] : keys) {
      ValueSet values = CommittedValues(committed, index_id, key);
      for (const IndexOp& op : writes.ops) ReplayOp(index->def.mode, op, values);
      if (values.empty()) {
        index->entries.erase(key);
      } else {
        index->entries[key] = std::move(values);
      }
    }
  }
  if (tx.highest_index_created != 0) {
    committed.persisted_next_index_id =
        std::max(committed.persisted_next_index_id, tx.highest_index_created + 1);
  }
}

void Model::DumpIndexes(const Committed& committed, Dump& dump) {
  for (const auto& [name, index] : committed.indexes) {
    DumpIndex& out = dump.indexes[name];
    out.id = index.def.id;
    out.key_type = index.def.key_type;
    out.value_type = index.def.value_type;
    out.mode = index.def.mode;
    for (const auto& [key, values] : index.entries) {
      out.entries.push_back(IndexEntry{key, ToVector(values)});
    }
  }
}

}  // namespace persy::model
