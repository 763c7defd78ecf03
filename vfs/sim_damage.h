// The simulated disk's one fault model: what survives of unsynced writes at a crash.
//
// Method. A real file lives in two places: the page cache, which reads see at once, and the
// device, which keeps only what reached it. SimVfs keeps both for every file: the current image
// (what reads return) and the durable image (what a crash leaves), plus the list of writes and
// truncates since the last successful sync. Each pending operation records, for every sector it
// changed, a snapshot of that whole sector as it stood right after the operation.
//
// A successful sync applies every snapshot, in order, to the durable image, which then equals
// the current image. A crash, or a failed sync, applies only some of them, as chosen here:
//   - each pending operation is kept (all its sectors reach the device), dropped (none do) or
//     torn (each of its sectors independently reaches the device, does not, or is filled with
//     garbage);
//   - with `reorder`, the operations reach the device in a random order, so an older snapshot
//     of a sector may land after a newer one;
//   - the file size after the crash is the current size, or, with probability
//     `lose_size_change`, the durable size or the size right after one of the operations that
//     reached the device (so a crash that drops every operation leaves the durable size);
//   - with probability `misdirect`, a sector on its way to the device lands on another sector
//     of the file instead, leaving its own sector unchanged (TigerBeetle's misdirected write);
//   - with probability `bit_rot`, one bit of the durable image flips at a crash.
// Because whole-sector snapshots are applied, after a crash every sector holds its durable
// value or a value it held since the last sync, unless it is garbage from a torn write or the
// victim of misdirection or bit rot. The property test checks exactly this.
//
// Thread-safety: plain values and pure functions; a Random must not be shared between threads.

#ifndef VFS_SIM_DAMAGE_H_
#define VFS_SIM_DAMAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "vfs/internal/random.h"
#include "vfs/vfs.h"

namespace persy::vfs {

// How harsh a crash is. The defaults are harsh on purpose: every kind of loss that a disk and
// kernel may inflict on unsynced data, and no damage to synced data.
struct SimDamage {
  // The device writes sectors of this size atomically unless a write is torn.
  size_t sector_size = kDefaultSectorSize;

  // Fate of each pending write or truncate at a crash; the rest (1 - keep - drop) is torn.
  double keep = 0.4;
  double drop = 0.3;
  // In a torn operation, the chance that a sector holds garbage rather than its old or new value.
  double torn_garbage = 0.2;
  // Pending operations reach the device in any order.
  bool reorder = true;
  // The chance that the size after a crash is an older one than the current size.
  double lose_size_change = 0.5;
  // The chance that each create or remove not made durable by SyncDir is undone at a crash.
  double lose_unsynced_dir_op = 0.5;

  // Faults that damage synced data too, and that only checksums can detect. Off by default.
  double misdirect = 0.0;  // per sector reaching the device
  double bit_rot = 0.0;    // per file per crash

  // A crash loses every unsynced change and damages nothing: RocksDB's classic model.
  static SimDamage LoseUnsynced();
  // A crash keeps every unsynced change, in order: as if the machine had synced just before.
  static SimDamage KeepUnsynced();

  // Returns kInvalidArgument unless every probability is in [0, 1], keep + drop <= 1 and the
  // sector size is a positive power of two.
  absl::Status Validate() const;
};

// A write or truncate since the last successful sync of a file.
struct PendingOp {
  // Every sector the operation changed, as (sector index, whole sector after the operation).
  // A sector past the end of the file after the operation is recorded as zeros.
  std::vector<std::pair<uint64_t, std::string>> sectors;
  // The file size right after the operation.
  uint64_t size_after = 0;
};

// Applies every pending operation, in order and undamaged, to `durable`, then sets its size to
// `size`: what a successful sync does. Misdirection still applies with `damage.misdirect`.
void ApplyAll(const std::vector<PendingOp>& pending, uint64_t size, const SimDamage& damage,
              Random& rng, std::string& durable);

// Applies what survives of `pending` to `durable` under `damage`: what a crash or a failed sync
// does. `current_size` is the file size the page cache shows.
void ApplyDamaged(const std::vector<PendingOp>& pending, uint64_t current_size,
                  const SimDamage& damage, Random& rng, std::string& durable);

// Flips one random bit of `durable`, if it is not empty.
void FlipRandomBit(Random& rng, std::string& durable);

}  // namespace persy::vfs

#endif  // VFS_SIM_DAMAGE_H_
