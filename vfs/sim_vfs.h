// SimVfs: an in-memory disk that crashes, tears, loses and fails writes, reproducibly.
//
// Method. Every file keeps a current image (what reads return: the page cache) and a durable
// image (what survives a crash: the device), and the writes and truncates in between (see
// sim_damage.h for the fault model). The namespace likewise has a current and a durable
// directory; SyncDir makes entries durable. Crash() turns the disk off and on again: each file's
// durable image becomes what the damage model lets through, unsynced creates, removes and
// renames may be undone, name by name (so half of a rename may be), and every File opened before
// the crash stops working. All choices come from one generator seeded at construction, so a seed
// and a sequence of calls replay the same faults.
//
// On top of crashes, a harness can:
//   - fail the Nth call of a kind (read, write, sync, ...) with an errno such as EIO or ENOSPC,
//     once (transient) or from then on (persistent), as SQLite's I/O error tests do; a failed
//     sync persists an arbitrary subset of the pending writes and drops the rest, while reads
//     keep returning them (the fsyncgate trap), and poisons the File (see vfs.h);
//   - set a capacity, past which growing a file fails with ENOSPC;
//   - power the disk off after the next k events, so that a crash lands at a chosen point inside
//     an operation: from then on every call fails until Crash();
//   - read the sequence of I/O events and per-kind counters (e.g. to count syncs per commit).
//
// Thread-safety: safe for concurrent use by multiple threads (one internal mutex).
// The SimVfs must outlive every File it returns.

#ifndef VFS_SIM_VFS_H_
#define VFS_SIM_VFS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vfs/internal/random.h"
#include "vfs/sim_damage.h"
#include "vfs/vfs.h"

namespace persy::vfs {

// The kinds of call a SimVfs counts, logs and can fail.
enum class IoKind {
  kCreate,
  kOpen,
  kExists,
  kRemove,
  kRename,
  kSyncDir,
  kRead,
  kWrite,
  kSync,
  kSize,
  kTruncate,
  kLock,
};
inline constexpr size_t kIoKindCount = 12;
const char* IoKindName(IoKind kind);

// One call that reached the disk, in the order they happened.
struct IoEvent {
  uint64_t index = 0;  // 0-based position in the sequence of events
  IoKind kind = IoKind::kRead;
  std::string path;
  uint64_t offset = 0;  // of a read or write; the new size of a truncate
  uint64_t length = 0;  // of a read or write
  absl::StatusCode result = absl::StatusCode::kOk;
};

class SimVfs final : public Vfs {
 public:
  // REQUIRES: damage.Validate().ok()
  explicit SimVfs(uint64_t seed, SimDamage damage = SimDamage());
  ~SimVfs() override;

  absl::StatusOr<std::unique_ptr<File>> Create(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path) override;
  absl::StatusOr<bool> Exists(const std::string& path) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status RenameNoReplace(const std::string& from, const std::string& to) override;
  absl::StatusOr<bool> IsFileAt(File& file, const std::string& path) override;
  absl::Status SyncDir(const std::string& path) override;

  // Power loss and restart. Every file's durable image becomes what the damage model lets
  // through of its pending changes, reads then return it, every File opened before is dead
  // (its calls fail with kUnavailable) and its locks are released. A scheduled power-off
  // is cancelled; injected faults and the capacity stay.
  void Crash();

  // Fails the `nth` call of `kind` from now (1 = the next one) with errno `err`; with
  // `persistent`, every later call of that kind fails too. Faults of different kinds coexist.
  void InjectFault(IoKind kind, uint64_t nth, int err, bool persistent);
  void ClearFaults();

  // Growing the total size of all files past `bytes` fails with ENOSPC. nullopt: no limit.
  void SetCapacity(std::optional<uint64_t> bytes);

  // After `k` more events have completed (k >= 1), the disk is off: every later call fails with
  // kUnavailable until Crash(). nullopt cancels it.
  void PowerOffAfter(std::optional<uint64_t> k);
  bool powered_off() const;

  // Flips bit `bit` (counted from the start of the file) of the durable image of the file now
  // at `path`: bit rot, visible to reads after the next Crash(). kNotFound if there is no such
  // file, kInvalidArgument if the bit is past the durable end.
  absl::Status FlipDurableBit(const std::string& path, uint64_t bit);

  // The durable image of the file now at `path`: what a crash that loses every pending change
  // would leave of its contents. kNotFound if there is no such file.
  absl::StatusOr<std::string> DurableImage(const std::string& path) const;

  // The events so far (recorded unless set_record_events(false)) and per-kind counts (always).
  std::vector<IoEvent> events() const;
  uint64_t event_count() const;
  uint64_t count(IoKind kind) const;
  void set_record_events(bool record);

  uint64_t seed() const { return seed_; }
  const SimDamage& damage() const { return damage_; }

 private:
  class SimFile;
  struct Inode;
  struct Fault {
    IoKind kind;
    uint64_t fires_at;  // the count of `kind` calls at which it fires
    int err;
    bool persistent;
  };

  // All below REQUIRE mu_ held.
  // Fails every call while the disk is off.
  absl::Status PowerCheck(IoKind kind, const std::string& path) const;
  // Counts an attempted call of `kind`; returns the injected error if a fault fires.
  absl::Status Begin(IoKind kind, const std::string& path, int64_t offset);
  // Records a completed call as an event; may power the disk off.
  void Finish(IoKind kind, const std::string& path, uint64_t offset, uint64_t length,
              const absl::Status& result);
  uint64_t TotalSize() const;
  absl::Status CheckCapacity(uint64_t old_size, uint64_t new_size, const std::string& path,
                             uint64_t offset) const;
  void RecordSectors(Inode& inode, uint64_t begin, uint64_t end);

  // Constant after construction.
  const uint64_t seed_;
  const SimDamage damage_;

  mutable std::mutex mu_;
  // State below is protected by mu_.
  Random rng_;
  std::map<std::string, std::shared_ptr<Inode>> dir_;          // what calls see
  std::map<std::string, std::shared_ptr<Inode>> durable_dir_;  // what a crash leaves
  uint64_t generation_ = 0;  // incremented by Crash(); Files of older generations are dead
  std::vector<Fault> faults_;
  std::optional<uint64_t> capacity_;
  std::optional<uint64_t> power_off_at_;  // event_count_ at which the disk goes off
  bool powered_off_ = false;
  bool record_events_ = true;
  uint64_t event_count_ = 0;
  std::array<uint64_t, kIoKindCount> counts_{};   // completed calls per kind
  std::array<uint64_t, kIoKindCount> attempts_{};  // attempted calls per kind (for faults)
  std::vector<IoEvent> events_;
};

}  // namespace persy::vfs

#endif  // VFS_SIM_VFS_H_
