// The executor: runs each operation of the vocabulary (ops.h) on the reference model and on a
// real persy::Persy over a simulated disk, and compares every result.
//
// Method. Each call goes to the engine first and then to the model; the executor compares
// error codes exactly (persy::ErrorOf against the model's), values (bytes read, scans, segment
// and index lists, the values of index keys and whole ranges, with the model's total order for
// equality: NaN is NaN, -0.0 is not +0.0) and record ids: the id map from model ids to engine
// ids, set up at each Insert, must be a bijection, and by the numbering rule (model.h) the two
// ids must even be equal. After every commit the engine's committed state (ListSegments and Scan,
// ListIndexes and Range forward and backward, outside any transaction) must equal the model's.
//
// Index ops (executor_indexes.cc) take their keys and values of the types the index has as the
// model sees it (ops.h), so both sides get the same IndexValue; a Get or Range asking for it
// goes through the typed Get<K, V> or Range<K, V> (typed_reads.h).
//
// Transactions live in kTxSlots slots. Begin on a busy slot first drops the old transaction (its
// destructor rolls it back). A transaction op on an empty slot first begins one there, with the
// Config's strategy and no transaction id, so that every op does something. After Commit or
// Rollback the finished transaction stays for one more op on its slot, which checks that the
// call returns TransactionFinished, and then leaves (a crash or reopen empties every slot).
//
// Two-phase commit. Prepare moves the slot's transaction into a prepared handle of the same
// slot (destroying the handle there before, which rolls back an undecided one); CommitPrepared,
// RollbackPrepared and DropPrepared act on that handle (nothing if there is none). A decided
// handle answers one more call (TransactionFinished), then leaves. Commits and prepares that
// need a lock a prepared transaction holds fail with LockTimeout after Config::lock_timeout:
// the options' Config has 1 ms (TestConfig), as nothing else can decide it meanwhile.
//
// Snapshots live in kSnapshotSlots slots; every read of one is compared with the model's copy
// of the committed state when it was taken. A crash or reopen destroys them first.
//
// Crashes and I/O errors. Crash: SimVfs::Crash() with the disk's harsh default damage (the
// process dies: its files stop working before any destructor runs), then the file is opened
// again. Reopen: Close(), which must succeed, then open; the prepared handles are destroyed
// after Close, so that their transactions stay in doubt. CrashInNextCommit: the disk goes off
// `arg` I/O events into the next Commit, Prepare, decision or Reopen's Close (PowerOffAfter),
// then Crash and open (after Close, nothing is uncertain: Close changes no committed state).
// InjectIoError: the Nth next write or sync fails; the call that hits it may return Io,
// DataLoss or Failed, and then the executor crashes the disk and opens again. A Commit,
// Prepare or decision that returned such an error (or a handle destroyed undecided when it
// fired) has an unknown outcome: Model::CommitUncertain, PrepareUncertain or
// DecidePreparedUncertain, and recovery tells which it was.
//
// Opening after a crash or reopen decides the transactions left in doubt as the last
// ArmRecovery asked (before any: Persy::Open): Persy::Open; OpenWithRecover, comparing the
// transaction ids it asks about with the model's in-doubt list; or Persy::Recover, comparing
// List() before and after each Commit or Rollback of an entry's transaction id, then Finish
// (and a second Finish and a Commit after it, both Failed). With a power-off in the plan the
// disk goes off in the middle: the executor crashes, and opens again the same way without it;
// decisions cut short are uncertain (Model::DecideInDoubtUncertain, DecideAllUncertain,
// bounded by what List() or the questions show was decided).
//
// After every open the executor runs Persy::CheckIntegrity and checks the full committed state
// and the id counters: it reads the engine's dump, and finds its counters with a probe
// transaction (it creates a segment and an index and inserts one record into every segment,
// notes the ids handed out, and rolls back), then runs the same probe on the model.
//
// Thread-safety: only accessed by one thread at a time.

#ifndef MODEL_EXECUTOR_H_
#define MODEL_EXECUTOR_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/persy.h"
#include "model/model.h"
#include "model/ops.h"
#include "vfs/sim_vfs.h"

// Returns the status of `expr` if it is not OK (Debian's Abseil has no such macro).
#define MODEL_RETURN_IF_ERROR(expr)    \
  do {                                 \
    absl::Status status_ = (expr);     \
    if (!status_.ok()) return status_; \
  } while (false)

namespace persy::model {

// Config() with a lock timeout of 1 ms: in one thread a lock of a prepared transaction is never
// released while a commit waits, so the wait only costs time.
persy::Config TestConfig();

struct ExecutorOptions {
  // Seeds the simulated disk: its damage at crashes and the prefixes of failed writes.
  uint64_t seed = 1;
  // Used for Create and every Open.
  persy::Config config = TestConfig();
  std::string path = "model.persy";
};

// What a run reached, counted, so that a test can show that its sequences get where they
// should (prepared transactions meeting others, transactions in doubt at opens, ...).
struct Coverage {
  int commits = 0;                 // Commit and PreparedTransaction::Commit that returned OK
  int prepared = 0;                // Prepare that returned OK
  int decided = 0;                 // prepared handles committed or rolled back
  int lock_timeouts = 0;           // commits and prepares that met a prepared one's lock
  int uncertain = 0;               // commits, prepares and decisions of unknown outcome
  int in_doubt_opens[3] = {0, 0, 0};  // opens finding transactions in doubt, by RecoveryWay
  int recoveries_cut_short = 0;    // opens the disk went off in
  int closes_cut = 0;              // Reopen's Close calls the disk went off in or just after
  int older_snapshot_reads = 0;    // snapshot reads after a later commit
  void Add(const Coverage& other);
};

class Executor {
 public:
  // Creates the database on a new simulated disk. Errors: the engine's, if Create fails.
  static absl::StatusOr<std::unique_ptr<Executor>> Create(const ExecutorOptions& options);
  ~Executor();

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs `op` on both sides. Returns kInternal describing the first difference, if any (the
  // executor should not be used after that).
  absl::Status Apply(const Op& op);

  // Compares the committed state through the engine's reads outside transactions.
  absl::Status CheckCommitted();
  // Persy::CheckIntegrity (no leaked or doubly used page), which must hold at all times.
  absl::Status CheckIntegrity();

  const Model& model() const { return model_; }
  const Coverage& coverage() const { return coverage_; }
  // The I/O events of each Commit, Prepare, decision and Close call so far (the calls a
  // CrashInNextCommit can cut short: a decision or a drop of a handle already decided is none),
  // in order; a call cut short counts the events before the disk went off. For crash
  // exploration (crashsim/), which cuts each call at each of its events.
  const std::vector<uint64_t>& commit_call_events() const { return commit_call_events_; }
  vfs::SimVfs& sim_vfs() { return vfs_; }

 private:
  struct Slot {
    std::optional<Model::TxId> model_tx;  // nullopt: the slot is empty
    std::unique_ptr<persy::Transaction> tx;
    std::string transaction_id;
  };
  struct PreparedSlot {
    std::optional<Model::TxId> model_tx;  // nullopt: the slot is empty
    std::unique_ptr<persy::PreparedTransaction> handle;
  };
  struct SnapshotSlot {
    std::optional<Model::SnapshotId> model;  // nullopt: the slot is empty
    std::unique_ptr<persy::Snapshot> snapshot;
    int taken_at = 0;  // coverage_.commits when taken
  };
  // Where a committed read reads: the database now, or a snapshot.
  struct ReadSource {
    persy::Snapshot* snapshot = nullptr;
    std::optional<Model::SnapshotId> model;
  };

  explicit Executor(const ExecutorOptions& options);

  Slot& SlotAt(int tx);
  PreparedSlot& PreparedAt(int tx);
  // Drops the slot's transaction, if any, and begins one there (unless Begin fails).
  absl::Status BeginIn(Slot& slot, std::optional<Strategy> strategy,
                       const std::string& transaction_id);
  void DropSlot(Slot& slot);
  // What a crash or close destroys, before the handle: snapshots, transactions (rolled back)
  // and prepared handles (rolled back, unless the disk or the handle is gone).
  void DropAllSlots();

  absl::Status ApplyTxOp(const Op& op, Slot& slot);
  absl::Status ApplyCommit(Slot& slot);
  // `op` is a committed read (kReadCommitted...), of `source`; `limit` for kScanCommitted.
  absl::Status ApplyCommittedRead(const Op& op, const ReadSource& source, size_t limit);
  // Index ops (executor_indexes.cc).
  absl::Status ApplyIndexTxOp(const Op& op, Slot& slot);
  absl::Status ApplyIndexCommittedRead(const Op& op, const ReadSource& source);
  // Two-phase commit and recovery (executor_recovery.cc).
  absl::Status ApplyPrepare(const Op& op, Slot& slot);
  absl::Status ApplyPreparedOp(const Op& op);
  // Destroys the handle; an undecided one rolls back.
  absl::Status DropPrepared(PreparedSlot& prepared);
  // Before a Commit, Prepare, decision or Close call: arms the power-off CrashInNextCommit
  // asked for (returns whether it did) and starts counting the call's I/O events;
  // EndCommitCall, after the call, records them.
  bool ArmCrashInNextCommit();
  void EndCommitCall();
  // Opens the file as `plan` says, deciding the in-doubt transactions on both sides; sets
  // *crashed if the disk went off meanwhile (the caller crashes and opens again).
  absl::Status OpenWith(const RecoveryPlan& plan, bool* crashed);
  absl::Status OpenRecovering(const RecoveryPlan& plan, bool* crashed);
  // Model::BeginOpen, counting an open that finds transactions in doubt.
  void BeginOpen(RecoveryWay way);
  absl::Status CheckRecoveryList(const std::string& when);
  // Snapshots (executor_snapshots.cc).
  absl::Status ApplySnapshotOp(const Op& op);
  absl::Status TakeSnapshotInto(SnapshotSlot& slot);

  // Whether an armed I/O error fired, or the disk went off, since they were armed.
  bool IoHit() const;
  // Compares an error, accepting Io, DataLoss and Failed when `io_hit`.
  absl::Status ExpectError(const std::string& what, Error model, const absl::Status& engine,
                           bool io_hit) const;
  absl::Status MapId(const Id& model_id, const persy::RecordId& engine_id);
  // The record `op` names (RecordFor), with `name` its segment's name.
  Id RecordOf(const Op& op, const std::string& name) const;

  // Kills the process (Crash), then reopens and checks recovery.
  absl::Status CrashAndRecover();
  // Opens the file (OpenWith the armed plan), and checks the dump and counters against the
  // model.
  absl::Status Recover();
  absl::Status EngineDump(Dump* dump);
  absl::Status EngineIndexDump(Dump* dump);
  absl::Status EngineCounters(const Dump& dump, Counters* counters);
  absl::Status ModelProbe(const Counters& engine_counters);

  // Constant after construction.
  const ExecutorOptions options_;

  // Declared in this order so that transactions go before the handle, and it before the disk.
  vfs::SimVfs vfs_;
  std::unique_ptr<persy::Persy> db_;
  std::unique_ptr<persy::Recovery> recovery_;  // while OpenWith recovers
  std::array<PreparedSlot, kTxSlots> prepared_;
  std::array<Slot, kTxSlots> slots_;
  std::array<SnapshotSlot, kSnapshotSlots> snapshots_;

  Model model_;
  std::vector<Id> seen_ids_;  // ids Insert returned, in order (ops pick from them)
  std::map<Id, persy::RecordId> to_engine_;
  std::map<persy::RecordId, Id> to_model_;

  // Armed by CrashInNextCommit: the number of I/O events into the next Commit, Prepare,
  // decision or Close.
  std::optional<uint64_t> crash_in_next_commit_;
  std::optional<uint64_t> call_start_;  // the disk's event count when the call began
  std::vector<uint64_t> commit_call_events_;
  // Set by ArmRecovery: how the opens decide the transactions in doubt (its power-off is
  // for the next open only).
  std::optional<RecoveryPlan> recovery_plan_;
  uint64_t crashes_ = 0;  // CrashAndRecover calls, to tell whether a call crashed
  Coverage coverage_;
  // Armed by InjectIoError: the kind of call, and the count of that kind at which it fires.
  struct ArmedFault {
    vfs::IoKind kind;
    uint64_t fires_at;
  };
  std::optional<ArmedFault> fault_;
};

// Runs `ops` on a new database, then compares the committed state, checks integrity, reopens
// and checks again. Returns the first difference, naming the op's index and ToString. Adds
// what the run reached to `*coverage`, if given.
absl::Status RunOps(const ExecutorOptions& options, const std::vector<Op>& ops,
                    Coverage* coverage = nullptr);

}  // namespace persy::model

#endif  // MODEL_EXECUTOR_H_
