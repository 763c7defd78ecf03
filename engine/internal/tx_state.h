// TxState: one transaction's view and changes, kept in memory until commit.
//
// A transaction reads the committed state at each call (read committed) merged with its own
// changes: segments created and dropped, and per segment the records it inserted, updated and
// deleted. It remembers the versions it saw, for the strategies that check them at commit.
// Transaction (engine/persy.h) is a thin wrapper over this class.
// Thread-safety: only accessed by one thread at a time.

#ifndef ENGINE_INTERNAL_TX_STATE_H_
#define ENGINE_INTERNAL_TX_STATE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/internal/tx_indexes.h"
#include "engine/persy.h"

namespace persy::internal {

class Engine;
struct SegmentMeta;

class TxState {
 public:
  // A change to one record.
  struct Write {
    std::optional<std::string> bytes;  // nullopt: deleted
    bool inserted = false;             // inserted by this transaction
  };

  TxState(Engine* engine, const TxOptions& options);

  absl::Status CreateSegment(std::string_view name);
  absl::Status DropSegment(std::string_view name);
  absl::StatusOr<bool> ExistsSegment(std::string_view name);
  absl::StatusOr<std::vector<SegmentInfo>> ListSegments();
  absl::StatusOr<RecordId> Insert(std::string_view segment, std::string_view bytes);
  absl::Status Update(std::string_view segment, RecordId id, std::string_view bytes);
  absl::Status Delete(std::string_view segment, RecordId id);
  absl::StatusOr<std::optional<std::string>> Read(std::string_view segment, RecordId id);
  absl::Status Scan(std::string_view segment, const ScanFn& fn);
  absl::Status Commit();
  absl::Status Rollback();
  // Finishes this transaction and returns its changes in a new finished TxState, for the
  // engine to prepare (Transaction::Prepare).
  absl::StatusOr<std::unique_ptr<TxState>> TakeForPrepare();

  // Indexes (tx_indexes.h), after the TransactionFinished check.
  absl::Status CreateIndex(std::string_view name, IndexType key_type, IndexType value_type,
                           ValueMode mode);
  absl::Status DropIndex(std::string_view name);
  absl::StatusOr<bool> ExistsIndex(std::string_view name);
  absl::StatusOr<std::vector<IndexInfo>> ListIndexes();
  absl::Status Put(std::string_view index, const IndexValue& key, const IndexValue& value);
  absl::Status Remove(std::string_view index, const IndexValue& key,
                      const std::optional<IndexValue>& value);
  absl::StatusOr<std::vector<IndexValue>> Get(std::string_view index, const IndexValue& key,
                                              std::optional<IndexType> value_type);
  absl::Status Range(std::string_view index, const IndexBound& from, const IndexBound& to,
                     Direction direction, std::optional<IndexType> key_type,
                     std::optional<IndexType> value_type, const RangeFn& fn);

  Engine* engine() const { return engine_; }
  // For Engine::Commit.
  const std::string& transaction_id() const { return transaction_id_; }
  TxStrategy strategy() const { return strategy_; }
  const std::map<std::string, uint32_t>& created() const { return created_; }
  const std::map<uint32_t, std::string>& dropped() const { return dropped_; }
  const std::map<uint32_t, std::map<uint64_t, Write>>& writes() const { return writes_; }
  const std::map<RecordId, uint32_t>& write_versions() const { return write_versions_; }
  const std::map<RecordId, uint32_t>& read_versions() const { return read_versions_; }
  // By segment id, the highest record number this transaction's inserts received, even if it
  // deleted the record again: a commit raises the segment's counter past it.
  const std::map<uint32_t, uint64_t>& highest_inserted() const { return highest_inserted_; }
  const TxIndexes& indexes() const { return indexes_; }

 private:
  friend absl::StatusOr<std::unique_ptr<TxState>> DecodeWriteSet(Engine* engine,
                                                                  std::string_view bytes);
  TxState(TxState&&) = default;

  // The segment `name` as this transaction sees it: its id, and its committed metadata if it
  // is a committed segment (nullptr if created by this transaction). REQUIRES: shared lock.
  struct Resolved {
    uint32_t id;
    const SegmentMeta* committed;
  };
  absl::StatusOr<Resolved> Resolve(std::string_view name) const;
  // The segment of record `id`, which must exist as this transaction sees it (SegmentNotFound,
  // InvalidId, RecordNotFound); its committed version in `*version` as Visible says.
  // REQUIRES: shared lock.
  absl::StatusOr<Resolved> ResolveRecord(std::string_view segment, RecordId id,
                                         std::optional<uint32_t>* version);
  // TransactionFinished once Commit or Rollback was called.
  absl::Status CheckLive() const;
  // Whether record `number` of segment `seg` exists as this transaction sees it; if it is the
  // committed record (not one this transaction wrote), its version in `*committed_version`.
  // REQUIRES: shared lock.
  absl::StatusOr<bool> Visible(const Resolved& seg, uint64_t number,
                               std::optional<uint32_t>* committed_version);

  Engine* const engine_;
  const TxStrategy strategy_;
  const std::string transaction_id_;
  bool finished_ = false;

  std::map<std::string, uint32_t> created_;   // name -> id, segments created here
  std::map<uint32_t, std::string> dropped_;   // id -> name, committed segments dropped here
  std::map<uint32_t, std::map<uint64_t, Write>> writes_;  // by segment id, by record number
  std::map<RecordId, uint32_t> write_versions_;  // committed version at the first write
  std::map<RecordId, uint32_t> read_versions_;   // committed version at the first read
  std::map<uint32_t, uint64_t> highest_inserted_;
  TxIndexes indexes_;
};

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_TX_STATE_H_
