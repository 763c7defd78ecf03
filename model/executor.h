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
// model sees it (ops.h), so both sides get the same IndexValue; a kGet asking for it goes
// through the typed Get<K, V>.
//
// Transactions live in kTxSlots slots. Begin on a busy slot first drops the old transaction (its
// destructor rolls it back). A transaction op on an empty slot first begins one there, with the
// Config's strategy and no transaction id, so that every op does something. After Commit or
// Rollback the finished transaction stays for one more op on its slot, which checks that the
// call returns TransactionFinished, and then leaves (a crash or reopen empties every slot).
//
// Crashes and I/O errors. Crash: SimVfs::Crash() with the disk's harsh default damage (the
// process dies: its files stop working before any destructor runs), then Persy::Open. Reopen:
// Close(), which must succeed, then Open. CrashInNextCommit: the disk goes off `arg` I/O events
// into the next Commit (PowerOffAfter), then Crash and Open. InjectIoError: the Nth next write
// or sync fails; the call that hits it may return Io, DataLoss or Failed, and then the executor
// crashes the disk and reopens. A Commit that returned such an error has an unknown outcome:
// Model::CommitUncertain, then Model::Resolve against what recovery shows.
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

struct ExecutorOptions {
  // Seeds the simulated disk: its damage at crashes and the prefixes of failed writes.
  uint64_t seed = 1;
  // Used for Create and every Open.
  persy::Config config;
  std::string path = "model.persy";
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
  vfs::SimVfs& sim_vfs() { return vfs_; }

 private:
  struct Slot {
    std::optional<Model::TxId> model_tx;  // nullopt: the slot is empty
    std::unique_ptr<persy::Transaction> tx;
  };

  explicit Executor(const ExecutorOptions& options);

  Slot& SlotAt(int tx);
  // Drops the slot's transaction, if any, and begins one there (unless Begin fails).
  absl::Status BeginIn(Slot& slot, std::optional<Strategy> strategy,
                       const std::string& transaction_id);
  void DropSlot(Slot& slot);
  void DropAllSlots();

  absl::Status ApplyTxOp(const Op& op, Slot& slot);
  absl::Status ApplyCommit(Slot& slot);
  absl::Status ApplyCommittedRead(const Op& op);
  // Index ops (executor_indexes.cc).
  absl::Status ApplyIndexTxOp(const Op& op, Slot& slot);
  absl::Status ApplyIndexCommittedRead(const Op& op);

  // Whether an armed I/O error fired, or the disk went off, since they were armed.
  bool IoHit() const;
  // Compares an error, accepting Io, DataLoss and Failed when `io_hit`.
  absl::Status ExpectError(const std::string& what, Error model, const absl::Status& engine,
                           bool io_hit) const;
  absl::Status MapId(const Id& model_id, const persy::RecordId& engine_id);

  // Kills the process (Crash), then reopens and checks recovery.
  absl::Status CrashAndRecover();
  // Opens the file and checks the dump and counters against the model.
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
  std::array<Slot, kTxSlots> slots_;

  Model model_;
  std::vector<Id> seen_ids_;  // ids Insert returned, in order (ops pick from them)
  std::map<Id, persy::RecordId> to_engine_;
  std::map<persy::RecordId, Id> to_model_;

  // Armed by CrashInNextCommit: the number of I/O events into the next Commit.
  std::optional<uint64_t> crash_in_next_commit_;
  // Armed by InjectIoError: the kind of call, and the count of that kind at which it fires.
  struct ArmedFault {
    vfs::IoKind kind;
    uint64_t fires_at;
  };
  std::optional<ArmedFault> fault_;
};

// Runs `ops` on a new database, then compares the committed state, checks integrity, reopens
// and checks again.
// Returns the first difference, naming the op's index and ToString.
absl::Status RunOps(const ExecutorOptions& options, const std::vector<Op>& ops);

}  // namespace persy::model

#endif  // MODEL_EXECUTOR_H_
