// Allocator: page allocation over the allocation bitmaps of docs/format.md.
//
// The file is divided into groups of kGroupPages pages. Bit i of body byte j of group g's bitmap
// page (page g * kGroupPages + 2, type kBitmap) says whether page g * kGroupPages + 8j + i is in
// use. Pages 0 and 1 (the file header copies) and every bitmap page are always marked used. A
// group exists once its bitmap page does: a bitmap page that reads as the all-zero page (past
// the end of the file) and is not in the delta means that the group has not been started. The
// commit that first allocates in a group writes its bitmap page; groups are started in order, so
// the existing groups are always 0 .. n-1.
//
// Every bitmap change goes through the caller's PageDelta and so is journaled with its commit; a
// discarded delta leaves no trace. The allocator's own state is the set of journal reservations
// (never marked in the bitmaps, docs/format.md "Principles" 5) and a search hint that is only
// ever conservative: groups below it have no page that is free in the committed bitmaps and not
// reserved. It never assumes that a delta committed.
//
// Journal pages are written before the commit that picks them is durable, so ReserveForJournal
// only hands out a page that recovery can never need and that leaves no hole where a bitmap page
// belongs (see there). Grow the file for the journal with StartGroupsForJournal.
//
// REQUIRES: the committed bitmaps change only through commits of deltas that this allocator
// worked on, or before its first Allocate, ReserveForJournal, JournalRoom or
// StartGroupsForJournal (recovery replays the journal first).
//
// Thread-safety: Only accessed by one thread at a time (the engine's commit lock).

#ifndef ENGINE_INTERNAL_ALLOCATOR_H_
#define ENGINE_INTERNAL_ALLOCATOR_H_

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/internal/page.h"
#include "engine/internal/page_delta.h"

namespace persy::internal {

// Pages per bitmap group: one bit per page in a bitmap page's body.
inline constexpr uint64_t kGroupPages = 8 * kPageBodySize;

// The bitmap page of group `group`.
inline constexpr PageId BitmapPageOf(uint64_t group) { return group * kGroupPages + 2; }
inline constexpr bool IsBitmapPage(PageId id) { return id % kGroupPages == 2; }

class Allocator {
 public:
  Allocator() = default;

  // Writes a new file's group 0 bitmap into `delta` (pages 0, 1 and 2 used). For file creation:
  // kFailedPrecondition if page 2 already exists.
  [[nodiscard]] static absl::Status Format(PageDelta& delta);

  // Allocates the lowest-numbered page that is free in the bitmaps as `delta` sees them and not
  // reserved, and marks it used in `delta`. When every existing group is full, starts the next
  // one (a Fresh bitmap page in `delta`). The page may be past the end of the file: fill it with
  // delta.Fresh(id). kFailedPrecondition if the file has no group 0 bitmap (never formatted);
  // kDataLoss if a bitmap page is damaged.
  [[nodiscard]] absl::StatusOr<PageId> Allocate(PageDelta& delta);

  // Marks `id` free in `delta`. kInvalidArgument for pages 0 and 1 and bitmap pages; kDataLoss
  // if `id` is already free (a double free is damage or a bug, never silently ignored).
  // With deferred frees, the page is also reserved and listed for TakeDeferred.
  [[nodiscard]] absl::Status Free(PageDelta& delta, PageId id);

  // Deferred frees: a freed page is reserved, so that no later Allocate or ReserveForJournal
  // hands it out, until its owner unreserves it (the engine keeps freed pages for snapshots).
  void set_defer_frees(bool defer) { defer_frees_ = defer; }
  // The pages freed (and reserved) since the last call.
  std::vector<PageId> TakeDeferred() { return std::exchange(deferred_, {}); }

  // Picks the lowest page that no one can need, reserves it for the journal and returns it.
  // Reads `delta` but never changes it (the commit being journaled may already be sealed). The
  // page is:
  //  - free in the bitmaps both as `delta` sees them and as committed: not a page this delta
  //    allocates (it will hold data), nor one it frees (were the commit to fail, it would still
  //    be live, and the journal would have overwritten it);
  //  - not reserved;
  //  - in a group whose bitmap page is committed, or one of the two pages below the bitmap page
  //    of the first group that is not. A journal page past a bitmap page that is not yet durable
  //    would, after a crash, leave a zero hole inside the file where the bitmap page belongs,
  //    which every later open reads as damage. (While the file is being created, nothing is
  //    durable before its header: the groups in `delta` count.)
  // kResourceExhausted if there is no such page: a commit must start a group first, see
  // StartGroupsForJournal.
  [[nodiscard]] absl::StatusOr<PageId> ReserveForJournal(PageDelta& delta);

  // How many pages ReserveForJournal(delta) could hand out, counted up to `at_most`. Reads
  // `delta` but never changes it.
  [[nodiscard]] absl::StatusOr<uint64_t> JournalRoom(PageDelta& delta, uint64_t at_most);

  // Starts groups in `delta` (all free but their bitmap page) until, once `delta` commits, at
  // least `pages` pages are free for the journal. Call it after the delta's last Allocate and
  // before sealing it. It cannot help the delta's own record: its new groups are durable only
  // when it commits.
  [[nodiscard]] absl::Status StartGroupsForJournal(PageDelta& delta, uint64_t pages);

  // Journal reservations, in memory only. REQUIRES for Reserve: `id` is free in the bitmaps
  // (recovery reserves the journal pages it finds).
  void Reserve(PageId id);
  void Unreserve(PageId id);
  bool IsReserved(PageId id) const;

  // Whether `id` is marked used in the bitmaps as `delta` sees them (false in a group that does
  // not exist).
  [[nodiscard]] absl::StatusOr<bool> IsUsed(PageDelta& delta, PageId id);

  // Drops from `delta` the pages it changed that its bitmaps now mark free (a data page emptied
  // by deletes): a commit need not write them.
  [[nodiscard]] absl::Status DropFreedPages(PageDelta& delta);

  // One past the highest page that is used (as `delta` sees the bitmaps) or reserved: the file
  // may be truncated to this many pages. `file_pages` is the file's page count; it says which
  // groups exist (those whose bitmap page lies within it, and any later ones that `delta` or
  // the committed pages already hold). Every existing group's bitmap page counts as used, so a
  // group, once started, is never truncated away.
  [[nodiscard]] absl::StatusOr<uint64_t> UsedPageCount(PageDelta& delta, uint64_t file_pages);

 private:
  // Which image of a bitmap page: the delta's view, or the committed image beneath it.
  enum class Image { kView, kCommitted };
  // What a scan for journal pages looks for (how many, which rule) and what it found.
  struct JournalScan;

  // Group g's bitmap page as `image`, checked; nullptr if the group does not exist.
  absl::StatusOr<const PageBuf*> LoadBitmap(PageDelta& delta, uint64_t group, Image image);
  // The first group worth searching: the hint, checked against the bitmaps.
  absl::StatusOr<uint64_t> FirstGroup(PageDelta& delta);
  // Visits the pages of ReserveForJournal's rule in increasing order, until `scan` is done.
  absl::Status ScanForJournal(PageDelta& delta, JournalScan& scan);
  // Visits, in increasing order, the pages of group `group` at offsets below `end` that are free
  // in `a` and `b` (nullptr: a group that does not exist), are not the bitmap page and are not
  // reserved, until `visit` returns true. Returns whether it did.
  template <typename Visit>
  bool ForEachFree(uint64_t group, const PageBuf* a, const PageBuf* b, uint64_t end,
                   Visit visit) const;
  // Lowers the hint to cover a page that may have become free.
  void Freed(PageId id);

  // State below is guarded by the caller's commit lock.
  // Journal reservations as bit masks, one word per 64 pages of a group (only groups that have
  // some), so that a scan skips reserved pages a word at a time: the journal holds thousands of
  // pages between checkpoints, and a walk over them per reservation would make every commit
  // pay for all the journal written since the last checkpoint.
  std::map<uint64_t, std::vector<uint64_t>> reserved_words_;
  // Groups below it have no page that is free in the committed bitmaps and not reserved.
  uint64_t hint_ = 0;
  bool defer_frees_ = false;
  std::vector<PageId> deferred_;
};

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_ALLOCATOR_H_
