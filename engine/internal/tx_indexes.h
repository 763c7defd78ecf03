// TxIndexes: a transaction's view of the indexes and its changes to them, kept in memory until
// commit (the index half of TxState; persy.h gives the contract of each call).
//
// Changes are kept per index and per encoded key as the list of the transaction's puts and
// removes of that key, in order. What the transaction sees for a key is the committed values
// (read at each call: read committed) with that list replayed on them (ReplayOps); the commit
// replays the same list on the values committed by then, so that a put into an exclusive index
// meets the values other transactions committed meanwhile (index_commit.h).
//
// For the version strategies it remembers the committed values of each key when it first
// changed it (and, under kVersionOnRead, first read it with Get), for the commit to compare.
//
// Without changes, a TxIndexes is a view of the committed indexes: Persy's and Snapshot's Get,
// Range, ExistsIndex and ListIndexes use one.
//
// Thread-safety: only accessed by one thread at a time.

#ifndef ENGINE_INTERNAL_TX_INDEXES_H_
#define ENGINE_INTERNAL_TX_INDEXES_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/config.h"
#include "engine/index.h"

namespace persy::internal {

class CommittedState;
class Engine;
class TxState;
struct IndexMeta;

// One put or remove of a key; values encoded (key_codec.h).
struct IndexOp {
  bool put = false;
  std::optional<std::string> value;  // a remove without a value removes them all
};

// Replays `ops` on `values` (encoded, ordered, no duplicates) as `mode` says. Returns false,
// with `values` as it was before that op, at the first put into an exclusive index that finds
// another value there.
bool ReplayOps(ValueMode mode, const std::vector<IndexOp>& ops, std::vector<std::string>& values);

class TxIndexes {
 public:
  // An index as the transaction knows it: its declaration, and its changes.
  struct Declared {
    uint32_t id = 0;
    IndexType key_type = IndexType::kU64;
    IndexType value_type = IndexType::kU64;
    ValueMode mode = ValueMode::kReplace;
  };
  struct Changes {
    Declared index;
    std::map<std::string, std::vector<IndexOp>> ops;             // by encoded key
    std::map<std::string, std::vector<std::string>> write_seen;  // committed values at 1st change
    std::map<std::string, std::vector<std::string>> read_seen;   // committed values at 1st Get
  };

  TxIndexes(Engine* engine, TxStrategy strategy);
  // A view of `view`'s indexes, for reads only (Create is not allowed).
  explicit TxIndexes(CommittedState* view);

  absl::Status Create(std::string_view name, IndexType key_type, IndexType value_type,
                      ValueMode mode);
  absl::Status Drop(std::string_view name);
  absl::StatusOr<bool> Exists(std::string_view name);
  absl::StatusOr<std::vector<IndexInfo>> List();
  absl::Status Put(std::string_view index, const IndexValue& key, const IndexValue& value);
  absl::Status Remove(std::string_view index, const IndexValue& key,
                      const std::optional<IndexValue>& value);
  absl::StatusOr<std::vector<IndexValue>> Get(std::string_view index, const IndexValue& key,
                                              std::optional<IndexType> value_type);
  absl::Status Range(std::string_view index, const IndexBound& from, const IndexBound& to,
                     Direction direction, std::optional<IndexType> key_type,
                     std::optional<IndexType> value_type, const RangeFn& fn);

  // For the commit.
  // Whether the transaction creates, drops, puts or removes anything (reads alone do not count).
  bool has_writes() const;
  const std::map<std::string, Declared>& created() const { return created_; }
  const std::map<uint32_t, std::string>& dropped() const { return dropped_; }
  const std::map<uint32_t, Changes>& changes() const { return changes_; }  // by index id

 private:
  friend absl::StatusOr<std::unique_ptr<TxState>> DecodeWriteSet(Engine* engine,
                                                                  std::string_view bytes);

  // The index `name` as the transaction sees it; `committed` is its committed metadata, or
  // nullptr for one this transaction created. REQUIRES: the engine's shared lock.
  struct Resolved {
    std::string name;
    Declared index;
    const IndexMeta* committed;
  };
  absl::StatusOr<Resolved> Resolve(std::string_view name) const;
  // The committed values of `key` (none for an index created here). REQUIRES: shared lock.
  absl::StatusOr<std::vector<std::string>> Committed(const Resolved& index,
                                                     const std::string& key) const;
  // Turns the committed `values` of `key` into the values the transaction sees.
  void OverlayOwn(const Resolved& index, const std::string& key,
                  std::vector<std::string>& values) const;
  // Records a change of `key`, noting its committed values first under the version strategies
  // (`committed`: if the caller has them already). REQUIRES: shared lock.
  absl::Status Record(const Resolved& index, const std::string& key, IndexOp op,
                      const std::vector<std::string>* committed = nullptr);
  absl::StatusOr<std::vector<IndexValue>> Decode(const Resolved& index,
                                                 const std::vector<std::string>& values) const;

  Engine* const engine_;          // nullptr for a view
  CommittedState* const state_;  // what committed: the engine's current state or a snapshot
  const TxStrategy strategy_;
  std::map<std::string, Declared> created_;  // by name
  std::map<uint32_t, std::string> dropped_;  // committed indexes dropped here, by id
  std::map<uint32_t, Changes> changes_;      // by index id
};

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_TX_INDEXES_H_
