// The reference model of persy.h: what every public call must return, in plain containers.
//
// Method. The model keeps the committed state (segments by name, each with its id, records by
// number with bytes and version, indexes by name with their definition and each key's set of
// values, and the persisted id counters) and, for each transaction, the segments and indexes it
// created and dropped, the records it wrote, its puts and removes of index keys in order, and
// the versions and value sets it saw. Every call is
// checked against this state in the order the rules below give, with no cleverness: lookups are
// linear where that is simpler, and nothing is shared with engine/. The executor runs the same
// calls on the engine and compares every result; the fuzzers and the crash simulator do too.
//
// Rules (they bind the engine as much as the model; persy.h is the source):
//   - Segment ids come from one counter starting at 1, taken by every successful CreateSegment
//     (also in transactions later rolled back). Record numbers come from a counter per segment
//     starting at 1, taken by every successful Insert into it.
//   - Persisted counters: a successful commit sets persisted_next_segment_id to
//     max(persisted, highest id the tx created + 1), and each segment's persisted_next_number to
//     max(persisted, highest number the tx inserted into it + 1) (inserts the tx deleted again
//     count too); a segment the tx created starts from 1. A crash or reopen restarts the counters
//     from the persisted ones, so numbers handed to uncommitted transactions may come again.
//   - A record committed by an insert has version 1; a commit that updates it adds 1.
//   - Each call checks, in the order persy.h lists its errors: TransactionFinished first, then
//     e.g. for Update: SegmentNotFound, InvalidId, RecordNotFound, RecordTooBig. A name that is
//     empty or too long is InvalidArgument for CreateSegment only; elsewhere it names no segment.
//   - DropSegment of a committed segment also discards what the tx did in it: its writes there
//     (so checks 3 and 4 below do not look at them) and the versions it read there; check 2
//     still requires the segment to be committed at commit time.
//   - Visibility in a transaction (read committed): the segment `name` is the one the tx created
//     under that name if any; else the one committed now under that name, unless the tx dropped
//     that very segment (by id: a segment another tx committed under the name meanwhile is
//     another segment, visible). A record is the tx's own write if it wrote it (nothing if it
//     deleted it); else the record committed now under that id.
//   - Commit checks, in order, against the committed state at commit time:
//       1 SegmentAlreadyExists: a name the tx creates is committed, other than by the segment
//         the tx itself drops under that name;
//       2 SegmentNotFound: a committed segment the tx inserted into, updated or deleted in, or
//         dropped, is no longer committed under that name and id;
//       3 RecordNotFound: a committed record the tx updated or deleted is gone;
//       4 VersionConflict: kVersionOnWrite and kVersionOnRead: a committed record the tx updated
//         or deleted has another version than when the tx first wrote it; kVersionOnRead also: a
//         committed record the tx read (Read returned it, or Scan visited it) is gone or has
//         another version than when the tx first read it. kLastWriterWins: no version check.
//     A failed commit applies nothing; either way the transaction is finished.
//   - Crash (and clean reopen): every open transaction is finished; committed state stays.
//
// Index rules (a second namespace beside segments: an index and a segment may share a name;
// index_model.h has the order of keys and values, and their sizes):
//   - Index ids come from their own counter starting at 1, taken by every successful
//     CreateIndex (also in transactions later rolled back). A successful commit sets
//     persisted_next_index_id to max(persisted, highest index id the tx created + 1); a crash
//     restarts the counter from it.
//   - Errors, in order after TransactionFinished: CreateIndex: InvalidArgument (name empty or
//     over 255 bytes), IndexAlreadyExists. DropIndex: IndexNotFound, CannotDropIndexCreatedInTx.
//     Put: IndexNotFound, IndexTypeMismatch (the key's type, then the value's), KeyTooBig,
//     ValueTooBig, then for an exclusive index IndexDuplicateKey if the key's values as the tx
//     sees them are neither empty nor exactly {value} (nothing is recorded). Remove: as Put
//     without the last check (the value's checks only with a value; removing what is absent is
//     no error, and counts as a remove). Get: IndexNotFound, IndexTypeMismatch (key; the typed
//     Get then the value type), KeyTooBig. Range: IndexNotFound, IndexTypeMismatch (the typed
//     Range's key type, then its value type, then from's key if bounded, then to's), KeyTooBig
//     (from's, then to's).
//   - Visibility of an index: as for segments (the one the tx created under that name, else
//     the one committed now under it unless the tx dropped that very id). The values of a key
//     as the tx sees them: the committed values now of that index id (none for an index the tx
//     created), with the tx's own puts and removes of the key replayed in order: Put(v) gives
//     {v} in replace and exclusive mode, adds v in cluster mode (a set); Remove() empties,
//     Remove(v) erases v. An empty set is an absent key: Range skips it.
//   - DropIndex of a committed index discards the tx's puts and removes there and the value
//     sets it recorded there; commit check 4 still requires the index to be committed.
//   - Range visits the keys within both bounds, ascending (kForward) or descending
//     (kBackward); `from` is the lower bound in both directions, so nothing if from > to.
//   - Recorded value sets: at the first successful Put or Remove of a key of a committed index,
//     the committed values of that key then; at the first Get of a key of a committed index,
//     likewise (Range records nothing). A key of an index that is no longer committed has no
//     committed values.
//   - Commit checks, in order, with the segment and record checks above in their places:
//       1 SegmentAlreadyExists, 2 SegmentNotFound (as above);
//       3 IndexAlreadyExists: a name the tx creates an index under is committed, other than by
//         the index the tx itself drops under that name;
//       4 IndexNotFound: a committed index the tx put into, removed from, or dropped is no
//         longer committed under that name and id;
//       5 RecordNotFound, 6 VersionConflict for records (checks 3 and 4 above);
//       7 IndexDuplicateKey: replaying, for each key of an exclusive index it changed, its ops
//         in order on the values committed now, a put meets values other than exactly {v};
//       8 VersionConflict for index keys: kVersionOnWrite and kVersionOnRead: a key of a
//         committed index the tx put or removed whose committed values now differ from those
//         recorded at its first put or remove; kVersionOnRead also: a key it read with Get
//         whose committed values differ from those recorded at its first Get.
//     Apply: index drops, creates, then each changed key's values = the replay of the tx's ops
//     on the values committed now.
//
// Two-phase commit, recovery and snapshots (two_phase_model.cc, snapshot_model.cc):
//   - Prepare: TransactionFinished, then LockTimeout if the transaction needs a lock that a
//     prepared, undecided transaction holds (below), then commit checks 1 to 8. On success the
//     transaction is prepared: finished, nothing applied, undecided until its handle decides
//     it. Commit has the same lock check, after TransactionFinished and before check 1.
//   - Locks (engine/internal/tx_locks.cc restated): T needs a lock prepared P holds if
//       T creates a segment (an index) under a name P creates one under;
//       T drops a segment (an index) that P drops or writes to (inserts into, updates or
//         deletes in; puts into or removes from);
//       T writes to a segment (an index) that P drops;
//       T updates or deletes a record P updates or deletes; T puts or removes a key P puts or
//         removes (in the same index).
//     Inserting into a segment P writes to, putting another key, and every read need none.
//   - CommitPrepared applies P to the committed state now, as Commit applies (counters too),
//     with no check: its locks kept its checks true. RollbackPrepared discards it. Once the
//     handle decided it, both return TransactionFinished.
//   - The durable state is the committed state and the prepared, undecided transactions in
//     prepare order: after a crash or a close they are in doubt. Opening the file: the id
//     counters are the persisted ones raised past every segment and index id an in-doubt
//     transaction created and every record number it inserted (also when it is then rolled
//     back: the raise is in memory only). Persy::Open commits every in-doubt transaction, in
//     prepare order; OpenWithRecover asks for each, in prepare order; Recovery lists them
//     (transaction id, status), Commit or Rollback(id) decides each still in doubt with that
//     transaction id, in order (TransactionNotFound if none), Finish commits the rest. Every
//     decision is durable when made: a crash in the middle of recovery keeps the decided ones
//     and leaves the rest in doubt for the next open.
//   - Snapshots: TakeSnapshot keeps a copy of the committed state, and the snapshot's reads are
//     the committed reads of that copy, whatever commits later. A crash or close ends them.
//
// Uncertainty. A commit, prepare or decision whose outcome is unknown (a crash or an I/O error
// inside it) goes through CommitUncertain, PrepareUncertain or DecidePreparedUncertain: the
// model then holds two candidate durable states, and only Crash() may follow. From Crash() until
// the file is open again the model holds every durable state the file may hold: each step of
// recovery is applied to each candidate (a step cut short by a crash gives one candidate per
// number of its decisions that may have become durable), what the engine shows keeps those
// that agree with it (ObserveInDoubtIds, ObserveRecoveryList), and Resolve, once the file is
// open, keeps one that matches its full dump and counters.
//
// Thread-safety: only accessed by one thread at a time.

#ifndef MODEL_MODEL_H_
#define MODEL_MODEL_H_

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "engine/index.h"
#include "model/index_model.h"

namespace persy::model {

// The limits of persy.h, restated (the executor checks that they agree).
inline constexpr size_t kMaxRecordSize = size_t{256} << 20;
inline constexpr size_t kMaxSegmentNameSize = 255;
inline constexpr size_t kMaxTransactionIdSize = 512;

// The persy errors the model can return; same names as persy::Error (engine/error.h).
enum class Error {
  kNone,
  kSegmentNotFound,
  kSegmentAlreadyExists,
  kRecordNotFound,
  kInvalidId,
  kInvalidArgument,
  kCannotDropSegmentCreatedInTx,
  kVersionConflict,
  kRecordTooBig,
  kTransactionFinished,
  kIndexNotFound,
  kIndexAlreadyExists,
  kCannotDropIndexCreatedInTx,
  kIndexTypeMismatch,
  kIndexDuplicateKey,
  kKeyTooBig,
  kValueTooBig,
  kLockTimeout,
  kTransactionNotFound,
};
const char* ErrorName(Error error);

// Same as persy::TxStrategy (engine/config.h).
enum class Strategy { kLastWriterWins, kVersionOnWrite, kVersionOnRead };
const char* StrategyName(Strategy strategy);

// A record id, as persy::RecordId: (segment id, record number).
struct Id {
  uint32_t segment = 0;
  uint64_t number = 0;
  friend auto operator<=>(const Id&, const Id&) = default;
  std::string ToString() const;  // "<segment>.<number>"
};

// A value or an error.
template <typename T>
struct Result {
  Result(Error e) : error(e) {}  // NOLINT: implicit on purpose
  Result(T v) : value(std::move(v)) {}  // NOLINT
  bool ok() const { return error == Error::kNone; }
  Error error = Error::kNone;
  T value{};
};

struct SegmentInfo {
  std::string name;
  uint32_t id = 0;
  friend bool operator==(const SegmentInfo&, const SegmentInfo&) = default;
};

// One record visited by a scan.
struct ScanEntry {
  Id id;
  std::string bytes;
  friend bool operator==(const ScanEntry&, const ScanEntry&) = default;
};

// The committed data, as a full dump shows it: segment name -> id and records, and index name
// -> definition and entries.
struct DumpSegment {
  uint32_t id = 0;
  std::map<uint64_t, std::string> records;
  friend bool operator==(const DumpSegment&, const DumpSegment&) = default;
};
struct Dump {
  std::map<std::string, DumpSegment> segments;
  std::map<std::string, DumpIndex> indexes;
  friend bool operator==(const Dump&, const Dump&) = default;
};
std::string DumpToString(const Dump& dump);

// The id counters: the next segment id, the next record number of each committed segment (by
// name), and the next index id. Right after a crash they are the persisted ones.
struct Counters {
  uint32_t next_segment_id = 1;
  std::map<std::string, uint64_t> next_number;
  uint32_t next_index_id = 1;
  friend bool operator==(const Counters&, const Counters&) = default;
};
std::string CountersToString(const Counters& counters);

// What recovery tells of an in-doubt transaction; as persy::RecoverStatus and RecoverEntry.
enum class RecoverStatus { kInDoubt, kCommitted, kRolledBack };
struct RecoverEntry {
  std::string transaction_id;
  RecoverStatus status = RecoverStatus::kInDoubt;
  friend bool operator==(const RecoverEntry&, const RecoverEntry&) = default;
};
std::string RecoverEntriesToString(const std::vector<RecoverEntry>& entries);

class Model {
 public:
  // A transaction handle: stays valid (and finished) after Commit, Rollback and Crash.
  using TxId = int;

  Model();

  // Begins a transaction. Errors: InvalidArgument (transaction id longer than 512 bytes).
  Result<TxId> Begin(Strategy strategy, std::string_view transaction_id = {});

  // The Transaction calls of persy.h, with the same errors (plus TransactionFinished).
  Error CreateSegment(TxId tx, std::string_view name);
  Error DropSegment(TxId tx, std::string_view name);
  Result<bool> ExistsSegment(TxId tx, std::string_view name);
  Result<std::vector<SegmentInfo>> ListSegments(TxId tx);
  // `bytes` is only copied once every check passed (a too big record is never copied).
  Result<Id> Insert(TxId tx, std::string_view segment, std::string_view bytes);
  Error Update(TxId tx, std::string_view segment, Id id, std::string_view bytes);
  Error Delete(TxId tx, std::string_view segment, Id id);
  Result<std::optional<std::string>> Read(TxId tx, std::string_view segment, Id id);
  // Visits the records in number order; with `limit` > 0 stops after visiting that many (the
  // scan function returned false at the last one).
  Result<std::vector<ScanEntry>> Scan(TxId tx, std::string_view segment, size_t limit = 0);
  Error Commit(TxId tx);
  Error Rollback(TxId tx);
  bool finished(TxId tx) const;

  // The index calls of Transaction (index_model.cc).
  Error CreateIndex(TxId tx, std::string_view name, IndexType key_type, IndexType value_type,
                    ValueMode mode);
  Error DropIndex(TxId tx, std::string_view name);
  Result<bool> ExistsIndex(TxId tx, std::string_view name);
  Result<std::vector<IndexInfo>> ListIndexes(TxId tx);
  Error Put(TxId tx, std::string_view index, const IndexValue& key, const IndexValue& value);
  Error Remove(TxId tx, std::string_view index, const IndexValue& key,
               const std::optional<IndexValue>& value);
  // With `value_type`, as the typed Get<K, V>: also IndexTypeMismatch for the value type.
  Result<std::vector<IndexValue>> Get(TxId tx, std::string_view index, const IndexValue& key,
                                      std::optional<IndexType> value_type = std::nullopt);
  // With `limit` > 0 stops after visiting that many keys; with `typed`, as the typed
  // Range<K, V>: also IndexTypeMismatch for K, then V, before the bounds.
  Result<std::vector<IndexEntry>> Range(TxId tx, std::string_view index, const IndexBound& from,
                                        const IndexBound& to, Direction direction,
                                        size_t limit = 0,
                                        std::optional<RangeTypes> typed = std::nullopt);

  // The Persy calls that read committed data.
  Result<std::optional<std::string>> ReadCommitted(std::string_view segment, Id id) const;
  Result<std::vector<ScanEntry>> ScanCommitted(std::string_view segment, size_t limit = 0) const;
  bool ExistsCommitted(std::string_view name) const;
  std::vector<SegmentInfo> ListCommitted() const;
  Result<std::vector<IndexValue>> GetCommitted(
      std::string_view index, const IndexValue& key,
      std::optional<IndexType> value_type = std::nullopt) const;
  Result<std::vector<IndexEntry>> RangeCommitted(
      std::string_view index, const IndexBound& from, const IndexBound& to, Direction direction,
      size_t limit = 0, std::optional<RangeTypes> typed = std::nullopt) const;
  bool ExistsIndexCommitted(std::string_view name) const;
  std::vector<IndexInfo> ListIndexesCommitted() const;

  // For harnesses that pick keys of the right type: the index `name` as `tx` sees it (also a
  // finished tx: as it saw it last), or as committed. No call of persy.h; tracks nothing.
  std::optional<IndexInfo> IndexSeenBy(TxId tx, std::string_view name) const;
  std::optional<IndexInfo> CommittedIndex(std::string_view name) const;

  // A commit whose outcome is unknown. Returns what Commit would return. If that is an error,
  // nothing is applied, as by Commit. If it is kNone, the model keeps two candidate durable
  // states, without and with the commit, and only Crash() may follow.
  Error CommitUncertain(TxId tx);

  // ---- Two-phase commit (two_phase_model.cc) ----

  // Transaction::Prepare: TransactionFinished, LockTimeout, then the checks of Commit.
  Error Prepare(TxId tx);
  // As CommitUncertain, for a prepare: on kNone, the candidates are without and with `tx` in
  // doubt.
  Error PrepareUncertain(TxId tx);
  // PreparedTransaction::Commit and Rollback. REQUIRES: Prepare(tx) returned kNone.
  Error CommitPrepared(TxId tx);
  Error RollbackPrepared(TxId tx);
  // A decision whose outcome is unknown (also the rollback of a handle destroyed undecided):
  // the candidates are `tx` still prepared and `tx` decided. Only Crash() may follow.
  // REQUIRES: `tx` prepared and not decided by its handle.
  void DecidePreparedUncertain(TxId tx, bool commit);
  // Whether `tx` was prepared and its handle has not decided it (nor died in a crash).
  bool undecided(TxId tx) const;

  // ---- Snapshots (snapshot_model.cc) ----

  using SnapshotId = int;
  // Persy::TakeSnapshot: the committed state now, kept until ReleaseSnapshot or Crash().
  SnapshotId TakeSnapshot();
  void ReleaseSnapshot(SnapshotId snapshot);
  // The Snapshot calls: the committed reads above, of the state kept.
  Result<std::optional<std::string>> SnapshotRead(SnapshotId snapshot, std::string_view segment,
                                                  Id id) const;
  Result<std::vector<ScanEntry>> SnapshotScan(SnapshotId snapshot, std::string_view segment,
                                              size_t limit = 0) const;
  bool SnapshotExists(SnapshotId snapshot, std::string_view name) const;
  std::vector<SegmentInfo> SnapshotList(SnapshotId snapshot) const;
  Result<std::vector<IndexValue>> SnapshotGet(
      SnapshotId snapshot, std::string_view index, const IndexValue& key,
      std::optional<IndexType> value_type = std::nullopt) const;
  Result<std::vector<IndexEntry>> SnapshotRange(
      SnapshotId snapshot, std::string_view index, const IndexBound& from, const IndexBound& to,
      Direction direction, size_t limit = 0,
      std::optional<RangeTypes> typed = std::nullopt) const;
  bool SnapshotExistsIndex(SnapshotId snapshot, std::string_view name) const;
  std::vector<IndexInfo> SnapshotListIndexes(SnapshotId snapshot) const;
  // The index `name` as the snapshot has it (for harnesses that pick keys of its type).
  std::optional<IndexInfo> SnapshotIndex(SnapshotId snapshot, std::string_view name) const;

  // ---- Crash and recovery (two_phase_model.cc) ----

  // The process died (or the handle was closed): every transaction is finished, every
  // prepared handle and snapshot is gone, and the durable state stays (every candidate, if
  // uncertain). If that is one state with nothing in doubt, the model goes on at once, with the
  // counters restarted from the persisted ones (Resolve may still check it); otherwise the
  // next open goes through the calls below, then Resolve.
  void Crash();

  // The engine opened the file (Persy::Open, OpenWithRecover or Recover got past reading it):
  // recovery begins, with the in-doubt transactions of each candidate, all kInDoubt, and the
  // counters they raise. REQUIRES: after Crash(), no open begun since.
  void BeginOpen();
  // Keeps the candidates whose in-doubt transaction ids, in prepare order, are `observed` (the
  // ids OpenWithRecover asked for); kInternal showing both sides if none.
  absl::Status ObserveInDoubtIds(const std::vector<std::string>& observed);
  // Keeps the candidates whose recovery list is `observed` (Recovery::List); kInternal if none.
  absl::Status ObserveRecoveryList(const std::vector<RecoverEntry>& observed);
  // Recovery::Commit or Rollback: decides every in-doubt transaction with this id, in prepare
  // order; TransactionNotFound if there is none. REQUIRES: the candidates agree on the list.
  Error DecideInDoubt(std::string_view transaction_id, bool commit);
  // As DecideInDoubt, cut short by a crash: from `min` to `max` of its decisions were made.
  void DecideInDoubtUncertain(std::string_view transaction_id, bool commit, size_t min,
                              size_t max);
  // Decides every transaction still in doubt, in prepare order: commits the one at `position`
  // in the recovery list if `commit(position)` (Persy::Open, OpenWithRecover, Recovery::Finish).
  using DecisionFn = std::function<bool(size_t position)>;
  void DecideAll(const DecisionFn& commit);
  // As DecideAll, cut short by a crash: from `min` to `max` of its decisions were made.
  void DecideAllUncertain(const DecisionFn& commit, size_t min, size_t max);
  // The recovery list of the first candidate (for messages).
  std::vector<RecoverEntry> RecoveryList() const;

  // After the file is open again: checks what the engine shows, its full dump and the counters
  // it hands out next, against the candidate states, and keeps one that matches (candidates
  // that match both differ at most in record versions, which no later call can observe: every
  // transaction began after the crash). If no open was begun since Crash(), it is that of
  // Persy::Open (BeginOpen, then everything in doubt committed). Errors: kInternal showing
  // both sides if none matches. REQUIRES: nothing left in doubt in any candidate.
  absl::Status Resolve(const Dump& observed, const Counters& observed_counters);
  bool uncertain() const { return phase_ != Phase::kOpen; }

  // The committed state, and the counters as the next transaction would take them.
  // REQUIRES: !uncertain().
  Dump dump() const;
  Counters counters() const;

 private:
  struct Record {
    std::string bytes;
    uint32_t version = 1;
  };
  struct Segment {
    uint32_t id = 0;
    std::map<uint64_t, Record> records;
    uint64_t persisted_next_number = 1;
  };
  struct IndexDef {
    uint32_t id = 0;
    IndexType key_type = IndexType::kU8;
    IndexType value_type = IndexType::kU8;
    ValueMode mode = ValueMode::kReplace;
  };
  template <typename T>
  using KeyMap = std::map<IndexValue, T, IndexValueLess>;
  struct Index {
    IndexDef def;
    KeyMap<ValueSet> entries;  // never an empty set
  };
  struct Committed {
    std::map<std::string, Segment> segments;
    uint32_t persisted_next_segment_id = 1;
    std::map<std::string, Index> indexes;
    uint32_t persisted_next_index_id = 1;
  };
  // The puts and removes of one key by a transaction, and (for a key of a committed index) its
  // committed values when the first of them happened.
  struct KeyWrites {
    std::vector<IndexOp> ops;
    ValueSet first_committed;
  };
  // A record a transaction wrote.
  struct Write {
    bool inserted = false;             // the tx inserted it (else: a committed record)
    std::optional<std::string> bytes;  // nullopt: the tx deleted it
    uint32_t first_version = 0;        // of a committed record: its version at the first write
  };
  struct Tx {
    Strategy strategy = Strategy::kLastWriterWins;
    std::string transaction_id;
    bool finished = false;
    bool prepared = false;  // Prepare succeeded (or may have: PrepareUncertain)
    bool decided = false;   // prepared, and its handle decided it or is gone
    std::map<std::string, uint32_t> created;  // name -> id, segments the tx created
    std::set<std::pair<std::string, uint32_t>> dropped;  // committed segments the tx dropped
    std::set<std::pair<std::string, uint32_t>> written_segments;  // committed, written to
    std::map<Id, Write> writes;
    std::map<Id, uint32_t> read_versions;  // committed records read: version at first read
    std::map<uint32_t, uint64_t> highest_inserted;  // segment id -> highest number inserted
    uint32_t highest_created = 0;                   // highest segment id created, 0 if none
    // Indexes.
    std::map<std::string, IndexDef> created_indexes;          // name -> the index created
    std::set<std::pair<std::string, uint32_t>> dropped_indexes;  // committed ones dropped
    std::set<std::pair<std::string, uint32_t>> changed_indexes;  // committed, put or removed in
    std::map<uint32_t, KeyMap<KeyWrites>> key_writes;  // index id -> key -> its ops
    std::map<uint32_t, KeyMap<ValueSet>> key_reads;    // committed index id -> key -> at 1st Get
    uint32_t highest_index_created = 0;                // 0 if none
  };

  // A state the file may hold, and the open in progress over it.
  struct Durable {
    Committed committed;
    std::vector<TxId> in_doubt;  // prepared and undecided, in prepare order
    std::string label;           // how it came about, for messages
    // Since BeginOpen: the in-doubt transactions at open with their status, and the counters
    // they raised (segment id, index id, record numbers by segment id).
    bool opened = false;
    std::vector<std::pair<TxId, RecoverStatus>> session;
    uint32_t raised_segment_id = 1;
    uint32_t raised_index_id = 1;
    std::map<uint32_t, uint64_t> raised_numbers;
  };
  // kOpen: committed_ and prepared_ are the state. kAwaitingCrash: after an uncertain call,
  // candidates_ holds the two states. kClosed: after Crash(), candidates_ holds every state.
  enum class Phase { kOpen, kAwaitingCrash, kClosed };

  // Aborts unless the state is certain (kOpen), and returns the transaction.
  Tx& LiveTx(TxId tx);
  void RequireCertain() const;
  // CommitPrepared and RollbackPrepared.
  Error DecidePrepared(TxId tx, bool commit);

  // The id of the segment `name` as `tx` sees it.
  std::optional<uint32_t> VisibleSegment(const Tx& tx, std::string_view name) const;
  // The bytes of record `id` as `tx` sees it; records the read version when `track_read`.
  std::optional<std::string> VisibleRecord(Tx& tx, Id id, bool track_read);
  uint64_t TakeNumber(uint32_t segment_id);

  static const Segment* SegmentById(const Committed& committed, uint32_t id);
  static Segment* SegmentById(Committed& committed, uint32_t id);
  static const Record* RecordById(const Committed& committed, Id id);
  static Error Validate(const Tx& tx, const Committed& committed);
  static void Apply(const Tx& tx, Committed& committed);
  // Commit's and Prepare's checks: the locks of the prepared transactions, then Validate.
  Error CheckCommit(const Tx& tx) const;
  // Whether `tx` needs a lock `prepared` holds (the rules above).
  static bool LockConflict(const Tx& tx, const Tx& prepared);

  // Committed reads of a state (the current one or a snapshot's).
  static Result<std::optional<std::string>> ReadIn(const Committed& state, std::string_view name,
                                                   Id id);
  static Result<std::vector<ScanEntry>> ScanIn(const Committed& state, std::string_view name,
                                               size_t limit);
  static std::vector<SegmentInfo> ListIn(const Committed& state);
  static Result<std::vector<IndexValue>> GetIn(const Committed& state, std::string_view name,
                                               const IndexValue& key,
                                               std::optional<IndexType> value_type);
  static Result<std::vector<IndexEntry>> RangeIn(const Committed& state, std::string_view name,
                                                 const IndexBound& from, const IndexBound& to,
                                                 Direction direction, size_t limit,
                                                 std::optional<RangeTypes> typed);
  static std::vector<IndexInfo> ListIndexesIn(const Committed& state);
  const Committed& SnapshotState(SnapshotId snapshot) const;

  // Recovery (two_phase_model.cc).
  Durable LiveDurable(std::string label) const;
  // kOpen right after a Crash() with nothing in doubt: back to kClosed with that one state.
  void EnsureClosed();
  // Decides, in `state`, the entries of its recovery list still in doubt whose transaction id
  // `match` accepts, in order, at most `max` of them; returns how many it decided.
  size_t DecideIn(Durable& state, const std::function<bool(const std::string&)>& match,
                  const DecisionFn& commit, size_t max) const;
  // Replaces every candidate by those with `min` to `max` of the decisions `decide` makes.
  void Branch(size_t min, size_t max, const std::function<size_t(Durable&, size_t)>& decide,
              const std::string& what);
  Counters ExpectedCounters(const Durable& state) const;
  std::vector<RecoverEntry> ListOf(const Durable& state) const;

  // Indexes (index_model.cc).
  const Tx& AnyTx(TxId tx) const;
  std::optional<IndexDef> VisibleIndex(const Tx& tx, std::string_view name) const;
  // The values of `key` in index `def` as `tx` sees them.
  ValueSet VisibleValues(const Tx& tx, uint32_t index_id, ValueMode mode,
                         const IndexValue& key) const;
  // Records the first put or remove of `key`, and the op.
  void RecordWrite(Tx& tx, std::string_view name, const IndexDef& def, const IndexValue& key,
                   IndexOp op);
  static const Index* IndexById(const Committed& committed, uint32_t id);
  static Index* IndexById(Committed& committed, uint32_t id);
  static ValueSet CommittedValues(const Committed& committed, uint32_t index_id,
                                  const IndexValue& key);
  static Error CheckBounds(const IndexDef& def, const IndexBound& from, const IndexBound& to,
                           std::optional<RangeTypes> typed);
  static std::vector<IndexEntry> RangeOf(const KeyMap<ValueSet>& entries, const IndexBound& from,
                                         const IndexBound& to, Direction direction,
                                         size_t limit);
  static IndexInfo InfoOf(const std::string& name, const IndexDef& def);
  static Error ValidateIndexNames(const Tx& tx, const Committed& committed);  // checks 3, 4
  static Error ValidateIndexKeys(const Tx& tx, const Committed& committed);   // checks 7, 8
  static void ApplyIndexes(const Tx& tx, Committed& committed);
  static void DumpIndexes(const Committed& committed, Dump& dump);
  static Dump DumpOf(const Committed& committed);
  static Counters PersistedCountersOf(const Committed& committed);
  static std::vector<ScanEntry> ScanOf(const std::map<uint64_t, std::string>& records,
                                       uint32_t segment_id, size_t limit);

  Phase phase_ = Phase::kOpen;
  Committed committed_;
  std::vector<TxId> prepared_;        // kOpen: prepared and undecided, in prepare order
  std::vector<Durable> candidates_;   // kAwaitingCrash, kClosed
  std::map<SnapshotId, Committed> snapshots_;
  SnapshotId next_snapshot_ = 0;
  uint32_t next_segment_id_ = 1;
  std::map<uint32_t, uint64_t> next_number_;  // segment id -> next number, once taken from
  uint32_t next_index_id_ = 1;
  std::vector<Tx> txs_;
};

}  // namespace persy::model

#endif  // MODEL_MODEL_H_
