// Engine: one open database file: the page cache, allocator, journal and catalog, the commit,
// two-phase commit and checkpoint protocols, snapshots, and recovery on open (docs/format.md).
//
// Thread-safety: safe for concurrent use by multiple threads.
// Locks, always taken in this order (a thread holding one only ever waits for a later one):
//   commit_mu_   serializes commits, checkpoints and close (timed: Config::lock_timeout)
//   queue_mu_    the queue of requests waiting to be taken into a group, who leads, and the
//                count of decisions; never held while waiting for another lock or doing I/O
//   state_mu_    shared by readers of committed state; exclusive while a commit installs its
//                pages and catalog, so a reader sees a commit entirely or not at all, and while
//                a snapshot is taken or released
//   counter_mu_  the in-memory id counters
// The page cache's own mutex comes after all of them. Waits are bounded: a request waits for
// the lead, for commit_mu_ and for a prepared transaction's lock until Config::lock_timeout
// from its start, then fails with LockTimeout (a request a leader already took waits for its
// group, which does not wait for anything but the disk). A leader's gathering wait (Gather)
// lasts at most Config::group_commit_wait, and ends at its deadline too.

#ifndef ENGINE_INTERNAL_ENGINE_H_
#define ENGINE_INTERNAL_ENGINE_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/config.h"
#include "engine/internal/allocator.h"
#include "engine/internal/catalog.h"
#include "engine/internal/commit_record.h"
#include "engine/internal/committed_state.h"
#include "engine/internal/file_header.h"
#include "engine/internal/index_tree.h"
#include "engine/internal/journal.h"
#include "engine/internal/page_cache.h"
#include "engine/internal/page_file.h"
#include "engine/internal/record_store.h"
#include "engine/internal/timed_mutex.h"
#include "engine/persy.h"
#include "vfs/vfs.h"

namespace persy::internal {

class SnapshotState;
class TxState;

class Engine : public CommittedState {
 public:
  // Creates a new file, built at CreationPath(path) and given the name `path` only by
  // Publish(), so that a crash before leaves no file at `path`. A creation file left by a
  // creator that crashed (nobody holds its lock) is removed and built anew. `owned_vfs`, if
  // given, is the Vfs `vfs` points to and lives as long as the engine (in-memory mode).
  // Errors: FileAlreadyExists (`path` exists), AlreadyInUse (another creator is building it),
  // FileNotFound (no such directory), Io.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(vfs::Vfs* vfs, const std::string& path,
                                                        const Config& config,
                                                        std::unique_ptr<vfs::Vfs> owned_vfs = {});
  // Where Create builds the file for `path`.
  static std::string CreationPath(const std::string& path) { return path + ".creating"; }
  // Renames the created file to its path, never replacing one, and makes the name durable.
  // On FileAlreadyExists (another creator was first) or a failed rename the engine is
  // discarded (Discard); on a failed directory sync the file is in place, but its name may not
  // survive a crash. Errors: FileAlreadyExists, Io. REQUIRES: called once, after Create.
  absl::Status Publish();
  // Removes a created file not yet published, and closes without a checkpoint. Called by the
  // destructor of an engine never published.
  void Discard();
  // Opens and recovers an existing file (FileNotFound, NotPersyFile, AlreadyInUse, DataLoss).
  static absl::StatusOr<std::unique_ptr<Engine>> Open(vfs::Vfs* vfs, const std::string& path,
                                                      const Config& config);
  ~Engine();

  // Checkpoints and releases the file. Later calls fail with Failed.
  absl::Status Close();

  const Config& config() const { return config_; }

  // For transactions: id counters (never reissued while open; see docs/format.md).
  uint32_t AllocateSegmentId();
  uint64_t AllocateRecordNumber(uint32_t segment_id);
  uint32_t AllocateIndexId();

  // The current committed state (committed_state.h), for transactions' and Persy's reads.
  std::shared_lock<std::shared_mutex> SharedLock() const override;
  const Catalog& catalog() const override { return catalog_; }

  // Validates and commits `tx` (Transaction::Commit's contract). Commits waiting at the same
  // time are made durable together, with one sync (group commit).
  absl::Status Commit(const TxState& tx);

  // Two-phase commit (Transaction::Prepare's contract). Validates `tx` as Commit does and makes
  // it durable as prepared, holding its locks (tx_locks.h); returns its prepare id.
  absl::StatusOr<uint64_t> Prepare(std::unique_ptr<TxState> tx);
  // Commits or rolls back a prepared transaction, durably. On error it stays prepared.
  absl::Status DecidePrepared(uint64_t prepare_id, bool commit);
  // The transactions prepared and not decided, by prepare id: after Open, those a crash (or a
  // Close) left in doubt.
  struct PreparedInfo {
    uint64_t prepare_id = 0;
    std::string transaction_id;
  };
  std::vector<PreparedInfo> Prepared();

  // Snapshots (snapshot_state.h): the committed state as of now, kept until released.
  std::unique_ptr<SnapshotState> TakeSnapshot();
  // REQUIRES: called once for each TakeSnapshot, with its version.
  void ReleaseSnapshot(uint64_t version);
  // The committed image of page `id` as of `version` (a count of installs: a snapshot's).
  // REQUIRES: SharedLock() held, and a snapshot of `version` live.
  absl::StatusOr<std::shared_ptr<const PageBuf>> PageAsOf(uint64_t version, PageId id);

  // Persy::CheckIntegrity's contract.
  absl::Status CheckIntegrity();

  // OK while writes are allowed; Failed after a failed write or sync, or after Close.
  absl::Status WriteState() const;

 protected:
  PageSource* pages() override { return &cache_; }

 private:
  Engine(const Config& config, std::unique_ptr<vfs::Vfs> owned_vfs,
         std::unique_ptr<PageFile> file);

  // A commit, prepare or decision waiting in the queue; its owner's stack holds it until
  // `done`.
  struct CommitRequest {
    enum class Kind { kCommit, kPrepare, kCommitPrepared, kRollbackPrepared };
    Kind kind = Kind::kCommit;
    const TxState* tx = nullptr;               // kCommit, kPrepare
    std::unique_ptr<TxState>* owned = nullptr;  // kPrepare: handed to prepared_ on success
    uint64_t prepare_id = 0;  // the decisions' input; a prepare's output
    bool taken = false;  // a leader took it into a group (guarded by queue_mu_)
    bool done = false;   // `result` is final (guarded by queue_mu_)
    bool lead = false;   // its thread leads the next group (guarded by queue_mu_)
    size_t slot = 0;     // its thread waits on wake_[slot] (guarded by queue_mu_)
    absl::Status result;  // written by the leader before `done`
    // Written by the leader before `done`: the request needs a lock a prepared transaction
    // holds (`result` says which); its owner waits for a decision after `decisions_seen`.
    bool lock_wait = false;
    uint64_t decisions_seen = 0;
  };
  // A transaction prepared and not decided.
  struct PreparedTx {
    std::unique_ptr<TxState> tx;
  };

  // Queues `request` until a group decides it, retrying while it waits for a lock.
  absl::Status Submit(CommitRequest& request);
  // Passes the lead to the first request queued, if any, and returns the condition variable to
  // notify (after letting go of queue_mu_). REQUIRES: queue_mu_ held.
  std::condition_variable* HandOff();
  // Before a leader takes its group: waits, as Config::group_commit_wait says, for the queue to
  // hold as many requests as the last group suggests will come, polling for a while (without
  // queue_mu_), then sleeping. REQUIRES: queue_mu_ held, as on return.
  void Gather(std::unique_lock<std::mutex>& queue,
              std::chrono::steady_clock::time_point deadline);
  // One pass of Submit: queues `request` and waits for its group, leading it if no one does.
  absl::Status SubmitOnce(CommitRequest& request,
                          std::chrono::steady_clock::time_point deadline);
  // Replays the journal: the committed pages into the cache, the transactions left in doubt
  // into prepared_. REQUIRES: called once, from Open, which then checkpoints.
  absl::Status Recover();
  // The prepared transactions that hold a lock `tx` needs, among prepared_ and `also`.
  // REQUIRES: commit_mu_ held.
  std::optional<std::string> LockedBy(const TxState& tx,
                                      const std::vector<const TxState*>& also) const;
  // REQUIRES: commit_mu_ held, for all below.
  absl::Status Checkpoint();
  // Commits `group` (every request's result set); returns how many prepared transactions it
  // decided. REQUIRES: commit_mu_ held, for all below.
  uint64_t CommitGroup(const std::vector<CommitRequest*>& group);
  // Checks `tx` against `catalog` and the pages as `delta` sees them (the committed state with
  // the group's earlier members applied).
  absl::Status Validate(const TxState& tx, const Catalog& catalog, PageDelta& delta) const;
  absl::Status Apply(const TxState& tx, PageDelta& delta, Catalog& catalog);
  absl::Status AppendAndSync(const CommitLog& log, PageDelta& delta);
  // Makes sure the journal can take `pages` more pages, starting groups if needed.
  absl::Status EnsureJournalRoom(uint64_t pages);
  // Makes `delta` (and `catalog`, if given) the committed state, for readers too, keeping the
  // images it replaces that a snapshot still needs; returns the new version.
  uint64_t Install(const PageDelta& delta, Catalog* catalog);
  // The pages freed by the commit of `version` (reserved by the allocator's deferred frees):
  // kept reserved while a snapshot older than it is live (it may read them), else given back.
  void KeepFreed(uint64_t version);
  // Gives back the kept pages that no live snapshot can read any more.
  void ReleaseKept();
  // Gives back the pages freed in a delta that will not commit.
  void DiscardFreed();
  // Lets go of a page that is free now, or about to hold the journal: its cached image and its
  // place in journaled_.
  void ForgetPage(PageId id);
  absl::StatusOr<PageId> ReserveJournalPage(PageDelta& delta);
  // Grows the file past journal page `id` if it lies beyond the end.
  absl::Status GrowForJournal(PageId id);
  // Turns a failure of the file into the sticky state and the status to return.
  absl::Status Fail(const absl::Status& status);

  // Constant after construction.
  const Config config_;
  const std::unique_ptr<vfs::Vfs> owned_vfs_;  // in-memory mode only
  const std::unique_ptr<PageFile> file_;
  PageCache cache_;

  // From Create until Publish or Discard, which the creating thread calls before the engine
  // is shared: where the file is to go.
  struct Creation {
    vfs::Vfs* vfs = nullptr;
    std::string path;
  };
  std::optional<Creation> creation_;

  mutable TimedMutex commit_mu_;
  // State below is protected by commit_mu_.
  Allocator allocator_;
  FileHeader header_;
  std::unique_ptr<JournalWriter> journal_;
  std::set<PageId> journal_pages_;  // reserved for the journal
  // Pages whose whole image the current journal holds, with every later change of them: a
  // commit may journal only their difference from the committed image.
  std::set<PageId> journaled_;
  uint64_t journal_bytes_ = 0;      // appended since the last checkpoint
  // The file holds at least this many pages (0: not known), so that GrowForJournal need not
  // ask the file for its size (GrowForJournal says why). Writes only add pages, so it stays a
  // lower bound until the file is truncated, which resets it.
  uint64_t pages_at_least_ = 0;
  bool closed_ = false;
  std::map<uint64_t, PreparedTx> prepared_;  // by prepare id
  uint64_t next_prepare_id_ = 1;

  std::mutex queue_mu_;
  std::condition_variable decided_;     // signalled when decisions_ grows
  // Signalled when a request waiting on it is done or leads; wake_[0] for the first request
  // queued, the others for the requests queued after each take, round robin (SubmitOnce).
  std::array<std::condition_variable, 32> wake_;
  uint64_t takes_ = 0;                  // groups taken from the queue (guarded by queue_mu_)
  std::deque<CommitRequest*> queue_;    // guarded by queue_mu_
  bool leader_active_ = false;  // a thread leads, or was handed the lead (guarded by queue_mu_)
  // Gathering (Gather), guarded by queue_mu_: the requests the next group is expected to hold
  // (those of the last group, whose threads are likely to commit again at once, and those
  // queued when it finished), and the queue length a gathering leader waits for (0: none).
  size_t expected_group_ = 1;
  size_t gather_until_ = 0;
  std::condition_variable gathered_;  // signalled when the queue reaches gather_until_
  // Set with gathered_'s signal, for a gathering leader to poll without queue_mu_ (written
  // with it held).
  std::atomic<bool> gathered_flag_{false};
  // How long the last commit's sync took, in nanoseconds (a bound of the gathering wait).
  std::atomic<int64_t> last_sync_ns_{0};
  // Decisions on prepared transactions so far: written by a leader with queue_mu_ held; read
  // with queue_mu_ held, or by the leader (which took the lead under queue_mu_ after the last
  // write).
  uint64_t decisions_ = 0;

  // Pages freed by the commit of each version, kept (reserved) for the snapshots older than it.
  std::map<uint64_t, std::vector<PageId>> kept_;

  mutable std::shared_mutex state_mu_;
  // State below is written with commit_mu_ and state_mu_ (exclusive) held; read with either.
  Catalog catalog_;
  uint64_t version_ = 0;  // installs so far
  // State below is written with state_mu_ exclusive, read with it shared.
  std::multiset<uint64_t> snapshots_;  // the versions of the live snapshots
  // Replaced images that live snapshots read: by page, by the version that replaced them, so
  // that the image a snapshot of version v reads is the first whose key is above v (or the
  // current one if none is).
  std::map<PageId, std::map<uint64_t, std::shared_ptr<const PageBuf>>> old_images_;

  mutable std::mutex counter_mu_;
  // State below is protected by counter_mu_.
  uint32_t next_segment_id_ = 1;
  uint32_t next_index_id_ = 1;
  std::map<uint32_t, uint64_t> next_number_;  // by segment id; absent: from the catalog or 1
  absl::Status failed_;                         // the first write failure, or Close
};

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_ENGINE_H_
