// persy-cpp: an embeddable, single-file, transactional storage engine.
//
//   auto db = persy::Persy::OpenOrCreate("data.persy", {}, [](persy::Transaction& tx) {
//     return tx.CreateSegment("users");
//   });
//   auto tx = (*db)->Begin();
//   absl::StatusOr<persy::RecordId> id = (*tx)->Insert("users", "alice");
//   absl::Status committed = (*tx)->Commit();            // durable when it returns
//   auto bytes = (*db)->Read("users", *id);              // "alice"
//
// Data: segments (named collections) of records (arbitrary bytes) addressed by RecordId, and
// indexes (named, typed maps from a key to one value or a set of values; engine/index.h).
//
// Transactions and isolation: a Transaction sees the committed state as of each of its reads
// (read committed) plus its own uncommitted changes; nobody else sees those until Commit
// returns. Commit is atomic and durable: after a crash, a transaction whose Commit returned OK is
// entirely there and one that did not return is entirely there or entirely absent. Commits are
// validated against what committed meanwhile (see Transaction::Commit and TxStrategy).
//
// Two-phase commit: Transaction::Prepare makes a transaction durable with every check done, for
// a coordinator to decide later (PreparedTransaction::Commit or Rollback), even after a crash:
// opening the file then decides what was left in doubt (Persy::Open commits it,
// OpenWithRecover asks, Recover lists it for the caller). Snapshots (Persy::TakeSnapshot) read
// the committed state of one moment while commits go on.
//
// Thread-safety: a Persy handle is safe for concurrent use by multiple threads, each running its
// own transactions. A Transaction is only accessed by one thread at a time. Commits from many
// threads at once are made durable together, with one sync per group (group commit); a group's
// leader may wait up to Config::group_commit_wait for the threads of the last group to join.
//
// One process at a time: opening a file that is open elsewhere (another handle, in this process
// or another) fails with AlreadyInUse.
//
// Errors: every call returns absl::Status or absl::StatusOr; persy::ErrorOf(status) names the
// persy error (engine/error.h). Each call lists the errors it returns besides these, which any
// call that reads or writes the file can return:
//   DataLoss  the file is damaged where the call needed it (the message names the page)
//   Io        the file layer failed (the status keeps its code: kResourceExhausted for ENOSPC...)
//   Failed    an earlier write or sync of this handle failed; nothing more is written (the data
//             already committed is safe: close and reopen to recover)
//
// Restrictions and caveats:
//   - A transaction's changes are held in memory until it commits.
//   - Index reads in a transaction see the committed state as of each call merged with the
//     transaction's own puts and removes. A Range visits the committed keys as of the moment it
//     reaches each one: a commit that lands during a range is seen by the keys visited after it.
//   - Segment names are 1 to 255 bytes; a transaction id is at most 512 bytes; a record is at
//     most kMaxRecordSize bytes.
//   - Opening a file replays its journal; a file whose journal holds much is slower to open.
//   - A prepared transaction holds its locks until decided; every commit checks them, so many
//     undecided prepared transactions slow commits down.
//   - A snapshot keeps in memory the old images of the pages later commits change, and keeps
//     the pages they free from being reused, until it is destroyed.

#ifndef ENGINE_PERSY_H_
#define ENGINE_PERSY_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/config.h"
#include "engine/error.h"
#include "engine/index.h"
#include "engine/record_id.h"
#include "vfs/vfs.h"

namespace persy {

namespace internal {
class CommittedState;
class Engine;
class SnapshotState;
class TxState;
}  // namespace internal

class Persy;
class PreparedTransaction;
class Recovery;

inline constexpr size_t kMaxRecordSize = size_t{256} << 20;
inline constexpr size_t kMaxSegmentNameSize = 255;
inline constexpr size_t kMaxTransactionIdSize = 512;

struct SegmentInfo {
  std::string name;
  uint32_t id = 0;
  friend bool operator==(const SegmentInfo&, const SegmentInfo&) = default;
};

struct TxOptions {
  // Caller metadata kept with the transaction in the journal (at most kMaxTransactionIdSize).
  std::string transaction_id;
  // Overrides Config::strategy for this transaction.
  std::optional<TxStrategy> strategy;
};

// Called for each record of a scan, in RecordId order; return false to stop.
using ScanFn = std::function<bool(RecordId id, std::string_view bytes)>;

class Transaction {
 public:
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  // Rolls back if neither Commit nor Rollback was called.
  ~Transaction();

  // Every call below also returns TransactionFinished once Commit or Rollback was called.

  // Creates a segment, visible to this transaction at once and to others after Commit.
  // Errors: InvalidArgument (name empty or too long), SegmentAlreadyExists.
  absl::Status CreateSegment(std::string_view name);
  // Drops a segment and its records. Errors: SegmentNotFound, CannotDropSegmentCreatedInTx.
  absl::Status DropSegment(std::string_view name);
  // Whether the segment exists as this transaction sees it.
  absl::StatusOr<bool> ExistsSegment(std::string_view name);
  // The segments as this transaction sees them, by name.
  absl::StatusOr<std::vector<SegmentInfo>> ListSegments();

  // Inserts a record and returns its id. Errors: SegmentNotFound, RecordTooBig.
  absl::StatusOr<RecordId> Insert(std::string_view segment, std::string_view bytes);
  // Replaces a record's bytes.
  // Errors: SegmentNotFound, InvalidId (an id of another segment), RecordNotFound, RecordTooBig.
  absl::Status Update(std::string_view segment, RecordId id, std::string_view bytes);
  // Deletes a record. Errors: SegmentNotFound, InvalidId, RecordNotFound.
  absl::Status Delete(std::string_view segment, RecordId id);
  // Reads a record as this transaction sees it; nullopt if there is none.
  // Errors: SegmentNotFound, InvalidId.
  absl::StatusOr<std::optional<std::string>> Read(std::string_view segment, RecordId id);
  // Visits the records of a segment as this transaction sees them. Errors: SegmentNotFound.
  absl::Status Scan(std::string_view segment, const ScanFn& fn);

  // Indexes (engine/index.h). Creates an index, visible to this transaction at once and to
  // others after Commit. Errors: InvalidArgument (name empty or too long), IndexAlreadyExists.
  absl::Status CreateIndex(std::string_view name, IndexType key_type, IndexType value_type,
                           ValueMode mode);
  template <IndexPrimitive K, IndexPrimitive V>
  absl::Status CreateIndex(std::string_view name, ValueMode mode) {
    return CreateIndex(name, kIndexTypeOf<K>, kIndexTypeOf<V>, mode);
  }
  // Drops an index and its entries. Errors: IndexNotFound, CannotDropIndexCreatedInTx.
  absl::Status DropIndex(std::string_view name);
  // Whether the index exists as this transaction sees it.
  absl::StatusOr<bool> ExistsIndex(std::string_view name);
  // The indexes as this transaction sees them, by name.
  absl::StatusOr<std::vector<IndexInfo>> ListIndexes();

  // Puts `value` under `key`, as the index's ValueMode says. Errors: IndexNotFound,
  // IndexTypeMismatch (key, then value), KeyTooBig, ValueTooBig, IndexDuplicateKey (an exclusive
  // index whose key has another value as this transaction sees it; nothing is put).
  absl::Status Put(std::string_view index, const IndexValue& key, const IndexValue& value);
  template <IndexPrimitive K, IndexPrimitive V>
  absl::Status Put(std::string_view index, const K& key, const V& value) {
    return Put(index, IndexValue(std::in_place_type<K>, key),
               IndexValue(std::in_place_type<V>, value));
  }
  // Removes one value of `key`, or with nullopt all of them; removing what is not there is no
  // error. Errors: IndexNotFound, IndexTypeMismatch, KeyTooBig, ValueTooBig.
  absl::Status Remove(std::string_view index, const IndexValue& key,
                      const std::optional<IndexValue>& value = std::nullopt);
  // The values of `key` as this transaction sees them, in order (empty if none).
  // Errors: IndexNotFound, IndexTypeMismatch, KeyTooBig.
  absl::StatusOr<std::vector<IndexValue>> Get(std::string_view index, const IndexValue& key);
  template <IndexPrimitive K, IndexPrimitive V>
  absl::StatusOr<std::vector<V>> Get(std::string_view index, const K& key);
  // Visits the keys between `from` and `to` (both ends as the bounds say) with their values, in
  // `direction`, as this transaction sees them; nothing if `from` is after `to`.
  // Errors: IndexNotFound, IndexTypeMismatch (a bound's key), KeyTooBig (a bound's key).
  absl::Status Range(std::string_view index, const IndexBound& from, const IndexBound& to,
                     Direction direction, const RangeFn& fn);
  template <IndexPrimitive K, IndexPrimitive V>
  absl::Status Range(std::string_view index, const IndexBound& from, const IndexBound& to,
                     Direction direction,
                     const std::function<bool(const K&, const std::vector<V>&)>& fn);

  // Validates the transaction against what committed since it began and makes it durable; the
  // transaction is finished either way (on failure, nothing of it is applied). Checks, in order:
  //   SegmentAlreadyExists  a segment it creates was created meanwhile under the same name
  //   SegmentNotFound       a segment it writes to or drops was dropped meanwhile
  //   IndexAlreadyExists    an index it creates was created meanwhile under the same name
  //   IndexNotFound         an index it puts in, removes from or drops was dropped meanwhile
  //   RecordNotFound        a record it updates or deletes was deleted meanwhile
  //   VersionConflict       per the strategy (kVersionOnWrite, kVersionOnRead), for records
  //   IndexDuplicateKey     a put into an exclusive index meets another value committed
  //                         meanwhile (its puts and removes are replayed, in order, on the
  //                         values committed now)
  //   VersionConflict       per the strategy, for index keys: under kVersionOnWrite and
  //                         kVersionOnRead, a key it put or removed whose committed values
  //                         changed since its first put or remove of that key; under
  //                         kVersionOnRead also a key it read with Get (Range is not checked)
  //   LockTimeout           the commit lock was not had within Config::lock_timeout, or a
  //                         prepared transaction (Prepare) held a record, index key, segment
  //                         or index it changes, or a name it creates, for that long
  absl::Status Commit();
  // Discards the transaction. Errors: none besides TransactionFinished.
  absl::Status Rollback();

  // The first phase of a two-phase commit: runs every check of Commit, with the same errors,
  // and makes the transaction durable as prepared, but does not apply it. The transaction is
  // finished either way; on success, the returned handle commits or rolls it back. Until then
  // it holds locks: the records it updates or deletes, the index keys it puts or removes, the
  // names it creates, and the segments and indexes it writes to or drops (shared) or drops
  // (exclusive). A commit or prepare that needs one waits for the decision, at most
  // Config::lock_timeout (then LockTimeout), so the prepared transaction's checks still hold
  // when it commits. A prepared transaction survives a crash or Close undecided: opening the
  // file then decides it (Persy::Open, Persy::OpenWithRecover, Persy::Recover).
  absl::StatusOr<std::unique_ptr<PreparedTransaction>> Prepare();

 private:
  friend class Persy;
  explicit Transaction(std::unique_ptr<internal::TxState> state);
  // Get and Range that also check the index's key and value types (the typed calls).
  absl::StatusOr<std::vector<IndexValue>> GetAs(std::string_view index, const IndexValue& key,
                                                std::optional<IndexType> value_type);
  absl::Status RangeAs(std::string_view index, const IndexBound& from, const IndexBound& to,
                       Direction direction, std::optional<IndexType> key_type,
                       std::optional<IndexType> value_type, const RangeFn& fn);
  std::unique_ptr<internal::TxState> state_;
};

// A transaction prepared and not yet decided (Transaction::Prepare). Decide it with Commit or
// Rollback; destroying it undecided rolls it back. REQUIRES: destroyed before its Persy handle.
// Thread-safety: only accessed by one thread at a time.
class PreparedTransaction {
 public:
  PreparedTransaction(const PreparedTransaction&) = delete;
  PreparedTransaction& operator=(const PreparedTransaction&) = delete;
  // Rolls back if neither Commit nor Rollback succeeded (ignoring errors: a transaction that
  // cannot be rolled back now stays in doubt in the file, for the next open to decide).
  ~PreparedTransaction();

  const std::string& transaction_id() const { return transaction_id_; }

  // Applies the transaction and makes that durable; it cannot fail a check any more. On error
  // the transaction stays prepared: call Commit or Rollback again, or let the next open decide.
  // Errors: TransactionFinished (already decided), LockTimeout (the commit lock).
  absl::Status Commit();
  // Discards the transaction and makes that durable, releasing its locks. On error as Commit.
  // Errors: TransactionFinished, LockTimeout.
  absl::Status Rollback();

 private:
  friend class Transaction;
  PreparedTransaction(internal::Engine* engine, uint64_t prepare_id, std::string transaction_id);
  absl::Status Decide(bool commit);
  internal::Engine* const engine_;
  const uint64_t prepare_id_;
  const std::string transaction_id_;
  bool decided_ = false;
};

// Reads of committed data, shared by Persy (the committed state as of each call) and Snapshot
// (the committed state as of the moment it was taken). Errors as for the Transaction calls of
// the same names (and the typed Get and Range: IndexTypeMismatch also for the value type).
// Thread-safety: safe for concurrent use by multiple threads.
class ReadView {
 public:
  ReadView(const ReadView&) = delete;
  ReadView& operator=(const ReadView&) = delete;

  absl::StatusOr<std::optional<std::string>> Read(std::string_view segment, RecordId id);
  absl::Status Scan(std::string_view segment, const ScanFn& fn);
  absl::StatusOr<bool> ExistsSegment(std::string_view name);
  absl::StatusOr<std::vector<SegmentInfo>> ListSegments();
  absl::StatusOr<std::vector<IndexValue>> Get(std::string_view index, const IndexValue& key);
  template <IndexPrimitive K, IndexPrimitive V>
  absl::StatusOr<std::vector<V>> Get(std::string_view index, const K& key);
  absl::Status Range(std::string_view index, const IndexBound& from, const IndexBound& to,
                     Direction direction, const RangeFn& fn);
  template <IndexPrimitive K, IndexPrimitive V>
  absl::Status Range(std::string_view index, const IndexBound& from, const IndexBound& to,
                     Direction direction,
                     const std::function<bool(const K&, const std::vector<V>&)>& fn);
  absl::StatusOr<bool> ExistsIndex(std::string_view name);
  absl::StatusOr<std::vector<IndexInfo>> ListIndexes();

 protected:
  explicit ReadView(internal::CommittedState* state) : state_(state) {}
  ~ReadView() = default;

 private:
  absl::StatusOr<std::vector<IndexValue>> GetAs(std::string_view index, const IndexValue& key,
                                                std::optional<IndexType> value_type);
  absl::Status RangeAs(std::string_view index, const IndexBound& from, const IndexBound& to,
                       Direction direction, std::optional<IndexType> key_type,
                       std::optional<IndexType> value_type, const RangeFn& fn);
  internal::CommittedState* const state_;
};

// A read-only view of the committed state as of the moment it was taken (Persy::TakeSnapshot):
// later commits do not change what it reads, while they go on. The old versions of what those
// commits change are kept while a snapshot needs them (in memory, and the pages they free are
// not reused: the file may grow meanwhile), and given back when the last such snapshot is
// destroyed. REQUIRES: destroyed before its Persy handle.
// Thread-safety: safe for concurrent use by multiple threads.
class Snapshot : public ReadView {
 public:
  // Releases the old versions it kept.
  ~Snapshot();

 private:
  friend class Persy;
  explicit Snapshot(std::unique_ptr<internal::SnapshotState> state);
  std::unique_ptr<internal::SnapshotState> state_;
};

// What recovery knows of a transaction that was prepared and not decided when the file was
// last open.
enum class RecoverStatus {
  kInDoubt,     // prepared, not decided yet
  kCommitted,   // committed through this Recovery
  kRolledBack,  // rolled back through this Recovery
};
struct RecoverEntry {
  std::string transaction_id;  // TxOptions::transaction_id at Begin
  RecoverStatus status = RecoverStatus::kInDoubt;
  friend bool operator==(const RecoverEntry&, const RecoverEntry&) = default;
};

// An opened file whose in-doubt transactions wait for a decision (Persy::Recover). The file's
// committed state is recovered already; each Commit or Rollback is durable when it returns, so
// a crash in the middle leaves the transactions not yet decided in doubt again, and recovering
// again with the same decisions gives the same result.
// Thread-safety: only accessed by one thread at a time.
class Recovery {
 public:
  Recovery(const Recovery&) = delete;
  Recovery& operator=(const Recovery&) = delete;
  // Closes the file, leaving the undecided transactions in doubt.
  ~Recovery();

  // Every transaction that was in doubt at open, in the order they were prepared.
  std::vector<RecoverEntry> List() const;
  // Commits, or rolls back, every in-doubt transaction with this transaction id.
  // Errors: TransactionNotFound (none in doubt has it), LockTimeout, Failed (after Finish).
  absl::Status Commit(std::string_view transaction_id);
  absl::Status Rollback(std::string_view transaction_id);
  // Commits the transactions still in doubt, as Persy::Open does, and hands over the open file.
  // Errors: Failed (called twice).
  absl::StatusOr<std::unique_ptr<Persy>> Finish();

 private:
  friend class Persy;
  struct Entry {
    uint64_t prepare_id = 0;
    RecoverEntry entry;
  };
  explicit Recovery(std::unique_ptr<internal::Engine> engine);
  absl::Status Decide(std::string_view transaction_id, bool commit);
  std::unique_ptr<internal::Engine> engine_;
  std::vector<Entry> entries_;
};

// An open database. Its reads of committed data (ReadView) see the committed state as of each
// call.
class Persy : public ReadView {
 public:
  // Creates a new file and opens it. The file is built under the name `<path>.creating` and
  // renamed to `path` once complete and durable, so a crash during Create leaves no file at
  // `path`; a `<path>.creating` left by a crash is taken over by the next Create. Errors:
  // FileAlreadyExists, AlreadyInUse (another process is creating `path`), FileNotFound (no
  // such directory), Io.
  static absl::StatusOr<std::unique_ptr<Persy>> Create(const std::string& path,
                                                       const Config& config = Config(),
                                                       vfs::Vfs* vfs = vfs::DefaultVfs());
  // Opens an existing file, recovering it after a crash. Transactions that were prepared and
  // not decided (Transaction::Prepare) are committed: they passed every check and hold their
  // changes, as Persy does. To choose, open with OpenWithRecover or Recover.
  // Errors: FileNotFound, NotPersyFile, AlreadyInUse, LockTimeout (deciding).
  static absl::StatusOr<std::unique_ptr<Persy>> Open(const std::string& path,
                                                     const Config& config = Config(),
                                                     vfs::Vfs* vfs = vfs::DefaultVfs());
  // Opens as Open does, and decides each transaction left in doubt by `commit`, called with
  // its transaction id: true commits it, false rolls it back. Errors: those of Open.
  static absl::StatusOr<std::unique_ptr<Persy>> OpenWithRecover(
      const std::string& path, const Config& config,
      const std::function<bool(std::string_view transaction_id)>& commit,
      vfs::Vfs* vfs = vfs::DefaultVfs());
  // Opens the file for recovery: the committed state is recovered, and the transactions left
  // in doubt wait for the caller's decisions (Recovery). Errors: FileNotFound, NotPersyFile,
  // AlreadyInUse.
  static absl::StatusOr<std::unique_ptr<Recovery>> Recover(const std::string& path,
                                                           const Config& config = Config(),
                                                           vfs::Vfs* vfs = vfs::DefaultVfs());
  // Opens the file, creating it first if it does not exist; `init` runs in a transaction
  // (committed after it returns OK) exactly once, when the file is created, and before the file
  // gets its name (Create), so a file at `path` has always been initialized, even after a crash
  // during OpenOrCreate. If `init` fails, the new file is removed and its status returned.
  // Errors: those of Create and Open.
  static absl::StatusOr<std::unique_ptr<Persy>> OpenOrCreate(
      const std::string& path, const Config& config,
      const std::function<absl::Status(Transaction&)>& init,
      vfs::Vfs* vfs = vfs::DefaultVfs());
  // A database in memory, gone when the handle is.
  static absl::StatusOr<std::unique_ptr<Persy>> OpenInMemory(const Config& config = Config());

  Persy(const Persy&) = delete;
  Persy& operator=(const Persy&) = delete;
  // Closes, as Close() does, ignoring errors (committed data is safe regardless).
  ~Persy();

  // Checkpoints and closes the file; later calls fail with Failed. REQUIRES: no transaction of
  // this handle is in use.
  absl::Status Close();

  // Begins a transaction. Errors: InvalidArgument (transaction id too long).
  absl::StatusOr<std::unique_ptr<Transaction>> Begin(const TxOptions& options = TxOptions());

  // A snapshot of the committed state as of now (Snapshot). Errors: none.
  absl::StatusOr<std::unique_ptr<Snapshot>> TakeSnapshot();

  // Verifies the structure of the whole file: every page of every segment, the catalog and the
  // journal is reachable exactly once, and the allocation bitmaps mark exactly those pages (no
  // leaked and no doubly used page). Reads every structure page, so it takes time proportional
  // to the file. Errors: DataLoss naming what is wrong.
  absl::Status CheckIntegrity();

 private:
  friend class Recovery;
  // Create, running `init` (if not null) in a transaction before the file gets its name.
  static absl::StatusOr<std::unique_ptr<Persy>> CreateAndInit(
      const std::string& path, const Config& config,
      const std::function<absl::Status(Transaction&)>* init, vfs::Vfs* vfs);
  explicit Persy(std::unique_ptr<internal::Engine> engine);
  std::unique_ptr<internal::Engine> engine_;
};

// The typed calls: the index's key and value types must be K and V (IndexTypeMismatch).
namespace index_internal {
template <IndexPrimitive V>
absl::StatusOr<std::vector<V>> Unpack(absl::StatusOr<std::vector<IndexValue>> values) {
  if (!values.ok()) return values.status();
  std::vector<V> out;
  out.reserve(values->size());
  for (IndexValue& v : *values) out.push_back(std::get<V>(std::move(v)));
  return out;
}
template <IndexPrimitive K, IndexPrimitive V>
RangeFn Typed(const std::function<bool(const K&, const std::vector<V>&)>& fn) {
  return [&fn](const IndexValue& key, const std::vector<IndexValue>& values) {
    std::vector<V> typed;
    typed.reserve(values.size());
    for (const IndexValue& v : values) typed.push_back(std::get<V>(v));
    return fn(std::get<K>(key), typed);
  };
}
}  // namespace index_internal

template <IndexPrimitive K, IndexPrimitive V>
absl::StatusOr<std::vector<V>> Transaction::Get(std::string_view index, const K& key) {
  return index_internal::Unpack<V>(
      GetAs(index, IndexValue(std::in_place_type<K>, key), kIndexTypeOf<V>));
}
template <IndexPrimitive K, IndexPrimitive V>
absl::Status Transaction::Range(std::string_view index, const IndexBound& from,
                                const IndexBound& to, Direction direction,
                                const std::function<bool(const K&, const std::vector<V>&)>& fn) {
  return RangeAs(index, from, to, direction, kIndexTypeOf<K>, kIndexTypeOf<V>,
                 index_internal::Typed<K, V>(fn));
}
template <IndexPrimitive K, IndexPrimitive V>
absl::StatusOr<std::vector<V>> ReadView::Get(std::string_view index, const K& key) {
  return index_internal::Unpack<V>(
      GetAs(index, IndexValue(std::in_place_type<K>, key), kIndexTypeOf<V>));
}
template <IndexPrimitive K, IndexPrimitive V>
absl::Status ReadView::Range(std::string_view index, const IndexBound& from, const IndexBound& to,
                             Direction direction,
                             const std::function<bool(const K&, const std::vector<V>&)>& fn) {
  return RangeAs(index, from, to, direction, kIndexTypeOf<K>, kIndexTypeOf<V>,
                 index_internal::Typed<K, V>(fn));
}

}  // namespace persy

#endif  // ENGINE_PERSY_H_
