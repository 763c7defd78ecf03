// The executor's index operations (executor.h): each op runs on the engine and on the model
// with the same keys and values, and every result is compared with the model's order for
// equality. Also the index half of the engine's dump.

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "model/executor.h"
#include "model/typed_reads.h"

namespace persy::model {
namespace {

absl::Status Mismatch(const std::string& what) { return absl::InternalError(what); }

std::string ShowName(const std::string& name) {
  if (name.size() > 24) return absl::StrCat("<", name.size(), "-byte name>");
  return absl::StrCat("\"", absl::CHexEscape(name), "\"");
}

// The key type an op uses: the index's as the model sees it (`info`), or for an index it does
// not see (IndexNotFound comes first, any type does) that of IndexSpecFor(op.index, 0); another
// type when the op asks for a wrong one.
IndexType KeyTypeOf(const Op& op, const std::optional<IndexInfo>& info, const IndexArgs& args) {
  const IndexType declared = info.has_value() ? info->key_type : IndexSpecFor(op.index, 0).key_type;
  return args.wrong_key_type ? OtherIndexType(declared, op.key + op.value) : declared;
}

IndexType ValueTypeOf(const Op& op, const std::optional<IndexInfo>& info, const IndexArgs& args) {
  const IndexType declared =
      info.has_value() ? info->value_type : IndexSpecFor(op.index, 0).value_type;
  return args.wrong_value_type ? OtherIndexType(declared, op.value) : declared;
}

IndexBound BoundOf(IndexBound::Kind kind, IndexType type, int pick) {
  IndexBound bound;
  bound.kind = kind;
  bound.key = IndexValueFor(type, pick);
  return bound;
}

// A range on the engine, collecting the keys visited and stopping after `limit` (0: all).
template <typename Db>
absl::Status EngineRange(Db& db, const std::string& index, const IndexBound& from,
                         const IndexBound& to, Direction direction, size_t limit,
                         std::vector<IndexEntry>* got) {
  return db.Range(index, from, to, direction,
                  [&](const IndexValue& key, const std::vector<IndexValue>& values) {
                    got->push_back(IndexEntry{key, values});
                    return limit == 0 || got->size() < limit;
                  });
}

// The range `args` asks for: typed or not.
template <typename Db>
absl::Status AnyRange(Db& db, const std::string& index, const IndexBound& from,
                      const IndexBound& to, const IndexArgs& args,
                      std::optional<RangeTypes> typed, std::vector<IndexEntry>* got) {
  const size_t limit = static_cast<size_t>(args.limit);
  return typed.has_value() ? TypedRange(db, index, from, to, args.direction, limit, *typed, got)
                           : EngineRange(db, index, from, to, args.direction, limit, got);
}

}  // namespace

absl::Status Executor::ApplyIndexTxOp(const Op& op, Slot& slot) {
  const std::string& name = IndexName(op.index);
  const Model::TxId tx = *slot.model_tx;
  const IndexArgs args = DecodeIndexArgs(op.arg);
  const std::optional<IndexInfo> info = model_.IndexSeenBy(tx, name);
  const IndexValue key = IndexValueFor(KeyTypeOf(op, info, args), op.key);
  const IndexType value_type = ValueTypeOf(op, info, args);
  const IndexValue value = IndexValueFor(value_type, op.value);
  const std::string what = absl::StrCat(OpKindName(op.kind), " [key ", IndexValueText(key),
                                        op.kind == OpKind::kPut || op.kind == OpKind::kRemove
                                            ? absl::StrCat(", value ", IndexValueText(value))
                                            : "",
                                        "]");

  switch (op.kind) {
    case OpKind::kCreateIndex: {
      const IndexSpec spec = IndexSpecFor(op.index, op.arg);
      const absl::Status engine =
          slot.tx->CreateIndex(name, spec.key_type, spec.value_type, spec.mode);
      const bool io = IoHit();
      return ExpectError(OpKindName(op.kind),
                         model_.CreateIndex(tx, name, spec.key_type, spec.value_type, spec.mode),
                         engine, io);
    }
    case OpKind::kDropIndex: {
      const absl::Status engine = slot.tx->DropIndex(name);
      const bool io = IoHit();
      return ExpectError(OpKindName(op.kind), model_.DropIndex(tx, name), engine, io);
    }
    case OpKind::kExistsIndex: {
      const absl::StatusOr<bool> engine = slot.tx->ExistsIndex(name);
      const bool io = IoHit();
      const Result<bool> model = model_.ExistsIndex(tx, name);
      MODEL_RETURN_IF_ERROR(ExpectError(OpKindName(op.kind), model.error, engine.status(), io));
      if (engine.ok() && model.ok() && *engine != model.value) {
        return Mismatch(absl::StrCat("ExistsIndex: the model says ", model.value, ", the engine ",
                                     *engine));
      }
      return absl::OkStatus();
    }
    case OpKind::kListIndexes: {
      const absl::StatusOr<std::vector<persy::IndexInfo>> engine = slot.tx->ListIndexes();
      const bool io = IoHit();
      const Result<std::vector<IndexInfo>> model = model_.ListIndexes(tx);
      MODEL_RETURN_IF_ERROR(ExpectError(OpKindName(op.kind), model.error, engine.status(), io));
      if (engine.ok() && model.ok() && *engine != model.value) {
        return Mismatch(absl::StrCat("ListIndexes: the model lists ", IndexInfosText(model.value),
                                     ", the engine ", IndexInfosText(*engine)));
      }
      return absl::OkStatus();
    }
    case OpKind::kPut: {
      const absl::Status engine = slot.tx->Put(name, key, value);
      const bool io = IoHit();
      return ExpectError(what, model_.Put(tx, name, key, value), engine, io);
    }
    case OpKind::kRemove: {
      const std::optional<IndexValue> removed =
          args.with_value ? std::optional<IndexValue>(value) : std::nullopt;
      const absl::Status engine = slot.tx->Remove(name, key, removed);
      const bool io = IoHit();
      return ExpectError(what, model_.Remove(tx, name, key, removed), engine, io);
    }
    case OpKind::kGet: {
      const absl::StatusOr<std::vector<IndexValue>> engine =
          args.typed ? TypedGet(*slot.tx, name, key, value_type) : slot.tx->Get(name, key);
      const bool io = IoHit();
      const Result<std::vector<IndexValue>> model =
          model_.Get(tx, name, key, args.typed ? std::optional(value_type) : std::nullopt);
      MODEL_RETURN_IF_ERROR(ExpectError(what, model.error, engine.status(), io));
      if (engine.ok() && model.ok() && !SameIndexValues(*engine, model.value)) {
        return Mismatch(absl::StrCat(what, ": the model gets ", IndexValuesText(model.value),
                                     ", the engine ", IndexValuesText(*engine)));
      }
      return absl::OkStatus();
    }
    case OpKind::kRange: {
      const IndexType key_type = KeyTypeOf(op, info, args);
      const IndexBound from = BoundOf(args.from, key_type, op.key);
      const IndexBound to = BoundOf(args.to, key_type, op.value);
      const std::optional<RangeTypes> typed =
          args.typed ? std::optional(RangeTypes{key_type, value_type}) : std::nullopt;
      std::vector<IndexEntry> got;
      const absl::Status engine = AnyRange(*slot.tx, name, from, to, args, typed, &got);
      const bool io = IoHit();
      const Result<std::vector<IndexEntry>> model = model_.Range(
          tx, name, from, to, args.direction, static_cast<size_t>(args.limit), typed);
      const std::string what_range = ToString(op);
      MODEL_RETURN_IF_ERROR(ExpectError(what_range, model.error, engine, io));
      if (engine.ok() && model.ok() && got != model.value) {
        return Mismatch(absl::StrCat(what_range, ": the model visits ",
                                     IndexEntriesText(model.value), ", the engine ",
                                     IndexEntriesText(got)));
      }
      return absl::OkStatus();
    }
    default:
      std::abort();  // not an index op of a transaction
  }
}

absl::Status Executor::ApplyIndexCommittedRead(const Op& op, const ReadSource& source) {
  const std::string& name = IndexName(op.index);
  const IndexArgs args = DecodeIndexArgs(op.arg);
  persy::Snapshot* const snapshot = source.snapshot;
  const std::optional<Model::SnapshotId> view = source.model;
  const std::optional<IndexInfo> info =
      view.has_value() ? model_.SnapshotIndex(*view, name) : model_.CommittedIndex(name);
  const std::string prefix = snapshot != nullptr ? "Snapshot " : "";
  const bool io = IoHit();
  switch (op.kind) {
    case OpKind::kGetCommitted: {
      const IndexValue key = IndexValueFor(KeyTypeOf(op, info, args), op.key);
      const IndexType value_type = ValueTypeOf(op, info, args);
      const std::optional<IndexType> typed =
          args.typed ? std::optional(value_type) : std::nullopt;
      const std::string what =
          absl::StrCat(prefix, "GetCommitted [key ", IndexValueText(key), "]");
      const absl::StatusOr<std::vector<IndexValue>> engine =
          snapshot != nullptr
              ? (args.typed ? TypedGet(*snapshot, name, key, value_type) : snapshot->Get(name, key))
              : (args.typed ? TypedGet(*db_, name, key, value_type) : db_->Get(name, key));
      const Result<std::vector<IndexValue>> model =
          view.has_value() ? model_.SnapshotGet(*view, name, key, typed)
                           : model_.GetCommitted(name, key, typed);
      MODEL_RETURN_IF_ERROR(ExpectError(what, model.error, engine.status(), io || IoHit()));
      if (engine.ok() && model.ok() && !SameIndexValues(*engine, model.value)) {
        return Mismatch(absl::StrCat(what, ": the model gets ", IndexValuesText(model.value),
                                     ", the engine ", IndexValuesText(*engine)));
      }
      return absl::OkStatus();
    }
    case OpKind::kRangeCommitted: {
      const IndexType key_type = KeyTypeOf(op, info, args);
      const IndexBound from = BoundOf(args.from, key_type, op.key);
      const IndexBound to = BoundOf(args.to, key_type, op.value);
      const size_t limit = static_cast<size_t>(args.limit);
      const std::optional<RangeTypes> typed =
          args.typed ? std::optional(RangeTypes{key_type, ValueTypeOf(op, info, args)})
                     : std::nullopt;
      std::vector<IndexEntry> got;
      const absl::Status engine =
          snapshot != nullptr ? AnyRange(*snapshot, name, from, to, args, typed, &got)
                              : AnyRange(*db_, name, from, to, args, typed, &got);
      const Result<std::vector<IndexEntry>> model =
          view.has_value()
              ? model_.SnapshotRange(*view, name, from, to, args.direction, limit, typed)
              : model_.RangeCommitted(name, from, to, args.direction, limit, typed);
      const std::string what = prefix + ToString(op);
      MODEL_RETURN_IF_ERROR(ExpectError(what, model.error, engine, io || IoHit()));
      if (engine.ok() && model.ok() && got != model.value) {
        return Mismatch(absl::StrCat(what, ": the model visits ", IndexEntriesText(model.value),
                                     ", the engine ", IndexEntriesText(got)));
      }
      return absl::OkStatus();
    }
    case OpKind::kExistsIndexCommitted: {
      const absl::StatusOr<bool> engine =
          snapshot != nullptr ? snapshot->ExistsIndex(name) : db_->ExistsIndex(name);
      const bool model = view.has_value() ? model_.SnapshotExistsIndex(*view, name)
                                          : model_.ExistsIndexCommitted(name);
      const std::string what = prefix + "ExistsIndexCommitted";
      MODEL_RETURN_IF_ERROR(ExpectError(what, Error::kNone, engine.status(), io || IoHit()));
      if (engine.ok() && *engine != model) {
        return Mismatch(absl::StrCat(what, ": the model says ", model, ", the engine ", *engine));
      }
      return absl::OkStatus();
    }
    case OpKind::kListIndexesCommitted: {
      const absl::StatusOr<std::vector<persy::IndexInfo>> engine =
          snapshot != nullptr ? snapshot->ListIndexes() : db_->ListIndexes();
      const std::vector<IndexInfo> model = view.has_value()
                                               ? model_.SnapshotListIndexes(*view)
                                               : model_.ListIndexesCommitted();
      const std::string what = prefix + "ListIndexesCommitted";
      MODEL_RETURN_IF_ERROR(ExpectError(what, Error::kNone, engine.status(), io || IoHit()));
      if (engine.ok() && *engine != model) {
        return Mismatch(absl::StrCat(what, ": the model lists ", IndexInfosText(model),
                                     ", the engine ", IndexInfosText(*engine)));
      }
      return absl::OkStatus();
    }
    default:
      std::abort();  // not a committed index read
  }
}

absl::Status Executor::EngineIndexDump(Dump* dump) {
  const absl::StatusOr<std::vector<persy::IndexInfo>> list = db_->ListIndexes();
  if (!list.ok()) return Mismatch(absl::StrCat("dump: ListIndexes: ", list.status().ToString()));
  const IndexBound all = IndexBound::Unbounded();
  for (const persy::IndexInfo& info : *list) {
    if (dump->indexes.count(info.name) != 0) {
      return Mismatch(absl::StrCat("dump: ListIndexes lists ", ShowName(info.name), " twice"));
    }
    DumpIndex& index = dump->indexes[info.name];
    index.id = info.id;
    index.key_type = info.key_type;
    index.value_type = info.value_type;
    index.mode = info.mode;
    const absl::Status forward =
        EngineRange(*db_, info.name, all, all, Direction::kForward, 0, &index.entries);
    if (!forward.ok()) {
      return Mismatch(absl::StrCat("dump: Range(", ShowName(info.name), "): ", forward.ToString()));
    }
    // The order is the model's to judge (the dumps are compared); here only that backward is
    // forward reversed.
    std::vector<IndexEntry> backward;
    const absl::Status back =
        EngineRange(*db_, info.name, all, all, Direction::kBackward, 0, &backward);
    if (!back.ok()) {
      return Mismatch(absl::StrCat("dump: Range(", ShowName(info.name), ", backward): ",
                                   back.ToString()));
    }
    if (std::vector<IndexEntry>(backward.rbegin(), backward.rend()) != index.entries) {
      return Mismatch(absl::StrCat("dump: Range(", ShowName(info.name), ") forward visits ",
                                   IndexEntriesText(index.entries), ", backward ",
                                   IndexEntriesText(backward)));
    }
  }
  return absl::OkStatus();
}

}  // namespace persy::model
