#include "engine/internal/tx_indexes.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/error.h"
#include "engine/internal/engine.h"
#include "engine/internal/key_codec.h"
#include "engine/internal/status_macros.h"

namespace persy::internal {
namespace {

absl::Status IndexNotFound(std::string_view name) {
  return MakeError(Error::kIndexNotFound,
                   absl::StrCat("index \"", std::string(name), "\" not found"));
}

// IndexTypeMismatch unless `got` is `want`.
absl::Status CheckType(std::string_view index, const char* what, IndexType want, IndexType got) {
  if (want == got) return absl::OkStatus();
  return MakeError(Error::kIndexTypeMismatch,
                   absl::StrCat("index \"", std::string(index), "\" has ", what, "s of type ",
                                std::string(IndexTypeName(want)), ", not ",
                                std::string(IndexTypeName(got))));
}

// The encoded key, or KeyTooBig.
absl::StatusOr<std::string> EncodeKey(const IndexValue& key) {
  std::string encoded = EncodeIndexValue(key);
  if (encoded.size() > kMaxIndexKeySize) {
    return MakeError(Error::kKeyTooBig, absl::StrCat("index key of ", encoded.size(),
                                                     " bytes exceeds the limit of ",
                                                     kMaxIndexKeySize));
  }
  return encoded;
}

absl::StatusOr<std::string> EncodeValue(const IndexValue& value) {
  std::string encoded = EncodeIndexValue(value);
  if (encoded.size() > kMaxIndexValueSize) {
    return MakeError(Error::kValueTooBig, absl::StrCat("index value of ", encoded.size(),
                                                       " bytes exceeds the limit of ",
                                                       kMaxIndexValueSize));
  }
  return encoded;
}

// Where a range starts, and where the search goes on after key `k`.
Probe StartProbe(const IndexBound& bound, const std::string& encoded, bool forward) {
  switch (bound.kind) {
    case IndexBound::Kind::kUnbounded:
      // Every key is at most kMaxIndexKeySize bytes: this one is after them all.
      return forward ? Probe{"", "", Probe::Kind::kBeforeKey}
                     : Probe{std::string(kMaxIndexKeySize + 1, '\xff'), "", Probe::Kind::kAfterKey};
    case IndexBound::Kind::kIncluded:
      return Probe{encoded, "", forward ? Probe::Kind::kBeforeKey : Probe::Kind::kAfterKey};
    case IndexBound::Kind::kExcluded:
      return Probe{encoded, "", forward ? Probe::Kind::kAfterKey : Probe::Kind::kBeforeKey};
  }
  return Probe{};
}

// Whether `key` lies beyond the far end `bound` of a range read in `forward` direction.
bool Beyond(const std::string& key, const IndexBound& bound, const std::string& encoded,
            bool forward) {
  if (bound.kind == IndexBound::Kind::kUnbounded) return false;
  const int c = CompareBytes(key, encoded) * (forward ? 1 : -1);
  return bound.kind == IndexBound::Kind::kIncluded ? c > 0 : c >= 0;
}

// The transaction's nearest changed key from `probe` on in the direction, if any.
std::optional<std::string> NextChanged(const std::map<std::string, std::vector<IndexOp>>& ops,
                                       const Probe& probe, bool forward) {
  const bool before = probe.kind == Probe::Kind::kBeforeKey;
  if (forward) {
    auto it = before ? ops.lower_bound(probe.key) : ops.upper_bound(probe.key);
    if (it == ops.end()) return std::nullopt;
    return it->first;
  }
  auto it = before ? ops.lower_bound(probe.key) : ops.upper_bound(probe.key);
  if (it == ops.begin()) return std::nullopt;
  return std::prev(it)->first;
}

// The transaction's own ops over `values`, as it sees them: it sees its own put into an
// exclusive index even where a commit meanwhile put another value there (its commit will then
// fail with IndexDuplicateKey).
void Overlay(ValueMode mode, const std::vector<IndexOp>& ops, std::vector<std::string>& values) {
  ReplayOps(mode == ValueMode::kExclusive ? ValueMode::kReplace : mode, ops, values);
}

}  // namespace

bool ReplayOps(ValueMode mode, const std::vector<IndexOp>& ops, std::vector<std::string>& values) {
  for (const IndexOp& op : ops) {
    if (!op.put) {
      if (!op.value.has_value()) {
        values.clear();
      } else {
        auto it = std::lower_bound(values.begin(), values.end(), *op.value);
        if (it != values.end() && *it == *op.value) values.erase(it);
      }
      continue;
    }
    switch (mode) {
      case ValueMode::kExclusive:
        if (!values.empty() && !(values.size() == 1 && values[0] == *op.value)) return false;
        [[fallthrough]];
      case ValueMode::kReplace:
        values.assign(1, *op.value);
        break;
      case ValueMode::kCluster: {
        auto it = std::lower_bound(values.begin(), values.end(), *op.value);
        if (it == values.end() || *it != *op.value) values.insert(it, *op.value);
        break;
      }
    }
  }
  return true;
}

TxIndexes::TxIndexes(Engine* engine, TxStrategy strategy)
    : engine_(engine), state_(engine), strategy_(strategy) {}

TxIndexes::TxIndexes(CommittedState* view)
    : engine_(nullptr), state_(view), strategy_(TxStrategy::kLastWriterWins) {}

bool TxIndexes::has_writes() const {
  if (!created_.empty() || !dropped_.empty()) return true;
  for (const auto& [id, changes] : changes_) {
    if (!changes.ops.empty()) return true;
  }
  return false;
}

absl::StatusOr<TxIndexes::Resolved> TxIndexes::Resolve(std::string_view name) const {
  if (auto it = created_.find(std::string(name)); it != created_.end()) {
    return Resolved{it->first, it->second, nullptr};
  }
  const auto& indexes = state_->catalog().indexes;
  auto it = indexes.find(std::string(name));
  if (it == indexes.end() || dropped_.count(it->second.id) != 0) return IndexNotFound(name);
  const IndexMeta& meta = it->second;
  return Resolved{it->first, Declared{meta.id, meta.key_type, meta.value_type, meta.mode}, &meta};
}

absl::StatusOr<std::vector<std::string>> TxIndexes::Committed(const Resolved& index,
                                                             const std::string& key) const {
  if (index.committed == nullptr) return std::vector<std::string>();
  return state_->CommittedIndexValues(*index.committed, key);
}

void TxIndexes::OverlayOwn(const Resolved& index, const std::string& key,
                           std::vector<std::string>& values) const {
  if (auto c = changes_.find(index.index.id); c != changes_.end()) {
    if (auto ops = c->second.ops.find(key); ops != c->second.ops.end()) {
      Overlay(index.index.mode, ops->second, values);
    }
  }
}

absl::Status TxIndexes::Record(const Resolved& index, const std::string& key, IndexOp op,
                               const std::vector<std::string>* committed) {
  Changes& changes = changes_[index.index.id];
  changes.index = index.index;
  if (strategy_ != TxStrategy::kLastWriterWins && index.committed != nullptr &&
      changes.write_seen.count(key) == 0) {
    if (committed != nullptr) {
      changes.write_seen.emplace(key, *committed);
    } else {
      PERSY_ASSIGN_OR_RETURN(std::vector<std::string> seen, Committed(index, key));
      changes.write_seen.emplace(key, std::move(seen));
    }
  }
  std::vector<IndexOp>& ops = changes.ops[key];
  // A remove of every value, or a put that replaces them, makes the earlier ops moot, except in
  // an exclusive index: the commit replays every put there, and an earlier put may meet
  // another value committed meanwhile (persy.h, Commit's IndexDuplicateKey).
  if (index.index.mode != ValueMode::kExclusive &&
      ((!op.put && !op.value.has_value()) || (op.put && index.index.mode == ValueMode::kReplace))) {
    ops.clear();
  }
  ops.push_back(std::move(op));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<IndexValue>> TxIndexes::Decode(
    const Resolved& index, const std::vector<std::string>& values) const {
  std::vector<IndexValue> out;
  out.reserve(values.size());
  for (const std::string& v : values) {
    absl::StatusOr<IndexValue> decoded = DecodeIndexValue(index.index.value_type, v);
    if (!decoded.ok()) return IoErrorFrom(decoded.status());
    out.push_back(std::move(*decoded));
  }
  return out;
}

absl::Status TxIndexes::Create(std::string_view name, IndexType key_type, IndexType value_type,
                               ValueMode mode) {
  if (name.empty() || name.size() > kMaxIndexNameSize) {
    return MakeError(Error::kInvalidArgument,
                     absl::StrCat("index name must be 1 to ", kMaxIndexNameSize, " bytes, not ",
                                  name.size()));
  }
  if (static_cast<int>(key_type) >= kIndexTypeCount ||
      static_cast<int>(value_type) >= kIndexTypeCount ||
      static_cast<int>(mode) > static_cast<int>(ValueMode::kCluster)) {
    return MakeError(Error::kInvalidArgument, "unknown index type or value mode");
  }
  auto lock = state_->SharedLock();
  if (Resolve(name).ok()) {
    return MakeError(Error::kIndexAlreadyExists,
                     absl::StrCat("index \"", std::string(name), "\" already exists"));
  }
  created_[std::string(name)] = Declared{engine_->AllocateIndexId(), key_type, value_type, mode};
  return absl::OkStatus();
}

absl::Status TxIndexes::Drop(std::string_view name) {
  auto lock = state_->SharedLock();
  PERSY_ASSIGN_OR_RETURN(Resolved index, Resolve(name));
  if (index.committed == nullptr) {
    return MakeError(Error::kCannotDropIndexCreatedInTx,
                     absl::StrCat("index \"", std::string(name),
                                  "\" was created in this transaction"));
  }
  dropped_[index.index.id] = std::string(name);
  changes_.erase(index.index.id);
  return absl::OkStatus();
}

absl::StatusOr<bool> TxIndexes::Exists(std::string_view name) {
  auto lock = state_->SharedLock();
  return Resolve(name).ok();
}

absl::StatusOr<std::vector<IndexInfo>> TxIndexes::List() {
  auto lock = state_->SharedLock();
  std::map<std::string, Declared> visible(created_.begin(), created_.end());
  for (const auto& [name, meta] : state_->catalog().indexes) {
    if (dropped_.count(meta.id) == 0) {
      visible.emplace(name, Declared{meta.id, meta.key_type, meta.value_type, meta.mode});
    }
  }
  std::vector<IndexInfo> out;
  for (const auto& [name, d] : visible) {
    out.push_back(IndexInfo{name, d.id, d.key_type, d.value_type, d.mode});
  }
  return out;
}

absl::Status TxIndexes::Put(std::string_view name, const IndexValue& key,
                            const IndexValue& value) {
  auto lock = state_->SharedLock();
  PERSY_ASSIGN_OR_RETURN(Resolved index, Resolve(name));
  PERSY_RETURN_IF_ERROR(CheckType(name, "key", index.index.key_type, persy::TypeOf(key)));
  PERSY_RETURN_IF_ERROR(CheckType(name, "value", index.index.value_type, persy::TypeOf(value)));
  PERSY_ASSIGN_OR_RETURN(std::string k, EncodeKey(key));
  PERSY_ASSIGN_OR_RETURN(std::string v, EncodeValue(value));
  if (index.index.mode != ValueMode::kExclusive) return Record(index, k, IndexOp{true, v});
  PERSY_ASSIGN_OR_RETURN(const std::vector<std::string> committed, Committed(index, k));
  std::vector<std::string> values = committed;
  OverlayOwn(index, k, values);
  if (!values.empty() && !(values.size() == 1 && values[0] == v)) {
    return MakeError(Error::kIndexDuplicateKey,
                     absl::StrCat("index \"", std::string(name), "\": key ",
                                  IndexValueToString(key), " already has another value"));
  }
  return Record(index, k, IndexOp{true, std::move(v)}, &committed);
}

absl::Status TxIndexes::Remove(std::string_view name, const IndexValue& key,
                               const std::optional<IndexValue>& value) {
  auto lock = state_->SharedLock();
  PERSY_ASSIGN_OR_RETURN(Resolved index, Resolve(name));
  PERSY_RETURN_IF_ERROR(CheckType(name, "key", index.index.key_type, persy::TypeOf(key)));
  if (value.has_value()) {
    PERSY_RETURN_IF_ERROR(
        CheckType(name, "value", index.index.value_type, persy::TypeOf(*value)));
  }
  PERSY_ASSIGN_OR_RETURN(std::string k, EncodeKey(key));
  IndexOp op;
  if (value.has_value()) {
    PERSY_ASSIGN_OR_RETURN(std::string v, EncodeValue(*value));
    op.value = std::move(v);
  }
  return Record(index, k, std::move(op));
}

absl::StatusOr<std::vector<IndexValue>> TxIndexes::Get(std::string_view name,
                                                       const IndexValue& key,
                                                       std::optional<IndexType> value_type) {
  auto lock = state_->SharedLock();
  PERSY_ASSIGN_OR_RETURN(Resolved index, Resolve(name));
  PERSY_RETURN_IF_ERROR(CheckType(name, "key", index.index.key_type, persy::TypeOf(key)));
  if (value_type.has_value()) {
    PERSY_RETURN_IF_ERROR(CheckType(name, "value", index.index.value_type, *value_type));
  }
  PERSY_ASSIGN_OR_RETURN(std::string k, EncodeKey(key));
  PERSY_ASSIGN_OR_RETURN(std::vector<std::string> values, Committed(index, k));
  if (strategy_ == TxStrategy::kVersionOnRead && index.committed != nullptr) {
    Changes& changes = changes_[index.index.id];
    changes.index = index.index;
    changes.read_seen.try_emplace(k, values);  // the first Get's values stay
  }
  OverlayOwn(index, k, values);
  return Decode(index, values);
}

absl::Status TxIndexes::Range(std::string_view name, const IndexBound& from, const IndexBound& to,
                              Direction direction, std::optional<IndexType> key_type,
                              std::optional<IndexType> value_type, const RangeFn& fn) {
  const bool forward = direction == Direction::kForward;
  std::string from_key;
  std::string to_key;
  uint32_t id = 0;
  {
    auto lock = state_->SharedLock();
    PERSY_ASSIGN_OR_RETURN(Resolved index, Resolve(name));
    id = index.index.id;
    if (key_type.has_value()) {
      PERSY_RETURN_IF_ERROR(CheckType(name, "key", index.index.key_type, *key_type));
    }
    if (value_type.has_value()) {
      PERSY_RETURN_IF_ERROR(CheckType(name, "value", index.index.value_type, *value_type));
    }
    for (const IndexBound* b : {&from, &to}) {
      if (b->kind == IndexBound::Kind::kUnbounded) continue;
      PERSY_RETURN_IF_ERROR(CheckType(name, "key", index.index.key_type, persy::TypeOf(b->key)));
    }
    if (from.kind != IndexBound::Kind::kUnbounded) {
      PERSY_ASSIGN_OR_RETURN(from_key, EncodeKey(from.key));
    }
    if (to.kind != IndexBound::Kind::kUnbounded) {
      PERSY_ASSIGN_OR_RETURN(to_key, EncodeKey(to.key));
    }
  }
  const IndexBound& start = forward ? from : to;
  const IndexBound& end = forward ? to : from;
  const std::string& start_key = forward ? from_key : to_key;
  const std::string& end_key = forward ? to_key : from_key;
  Probe probe = StartProbe(start, start_key, forward);
  while (true) {
    IndexValue key;
    std::vector<IndexValue> values;
    {
      auto lock = state_->SharedLock();
      absl::StatusOr<Resolved> index = Resolve(name);
      // Dropped (and perhaps recreated) by a commit during the range: the index ranged is gone.
      if (!index.ok() || index->index.id != id) return absl::OkStatus();
      // The nearest committed key, with its values, and the nearest key this transaction
      // changed: the nearer of the two comes next.
      std::optional<KeyValues> committed;
      if (index->committed != nullptr) {
        PERSY_ASSIGN_OR_RETURN(committed,
                               state_->CommittedIndexKey(*index->committed, probe, direction));
      }
      std::optional<std::string> next;
      if (committed.has_value()) next = committed->key;
      const std::map<std::string, std::vector<IndexOp>>* ops = nullptr;
      if (auto c = changes_.find(id); c != changes_.end()) ops = &c->second.ops;
      if (ops != nullptr) {
        std::optional<std::string> changed = NextChanged(*ops, probe, forward);
        if (changed.has_value() &&
            (!next.has_value() || (CompareBytes(*changed, *next) < 0) == forward)) {
          next = std::move(changed);
        }
      }
      if (!next.has_value() || Beyond(*next, end, end_key, forward)) return absl::OkStatus();
      std::vector<std::string> encoded;
      if (committed.has_value() && committed->key == *next) encoded = std::move(committed->values);
      OverlayOwn(*index, *next, encoded);
      absl::StatusOr<IndexValue> decoded_key = DecodeIndexValue(index->index.key_type, *next);
      if (!decoded_key.ok()) return IoErrorFrom(decoded_key.status());
      key = std::move(*decoded_key);
      PERSY_ASSIGN_OR_RETURN(values, Decode(*index, encoded));
      probe = Probe{std::move(*next), "", forward ? Probe::Kind::kAfterKey : Probe::Kind::kBeforeKey};
    }
    if (!values.empty() && !fn(key, values)) return absl::OkStatus();
  }
}

}  // namespace persy::internal
