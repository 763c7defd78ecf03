// Data pages: slotted pages holding a segment's small records (docs/format.md, "Data pages").
//
// A record of at most kMaxInlineSize bytes lives in a slot of a PageType::kData page:
//
//   body: [u16 slot count][u16 data start][u32 zero]
//         [u16 offset][u16 length] * slot count: the slot directory, offset 0 = free slot
//         free space
//         records, packed towards the end of the body
//
// Offsets are from the start of the body. The last slot is always used (free slots at the end
// are dropped); bytes outside the records and the directory are zero. A record keeps its slot
// while it stays in its page; compaction repacks the records at the end of the page.
//
// Inserts go to the segment's tail page (SegmentRoot::tail_page), or to a new tail page when
// they do not fit there. A data page left empty is freed, the tail too (the segment then has
// none until the next small insert): an empty page kept would pin the end of the file against
// truncation.
//
// Every page read is checked for its type and every offset, length and count taken from it is
// bounds-checked before use: damage gives kDataLoss naming the page, never bytes from outside
// the record. A page is checked whole before it is changed. Errors of the PageDelta and
// Allocator pass through; after any error the delta may be partly changed.
//
// Thread-safety: plain values and pure functions over caller-owned objects. Calls that change a
// page need the engine's commit lock; reads of committed data use a PageDelta of their own.

#ifndef ENGINE_INTERNAL_DATA_PAGE_H_
#define ENGINE_INTERNAL_DATA_PAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/internal/allocator.h"
#include "engine/internal/page.h"
#include "engine/internal/page_delta.h"

namespace persy::internal {

// Where a small record is.
struct DataSlot {
  PageId page;
  uint16_t slot;
};

// Stores a small record in the tail page `tail_page` (0: none), or in a new data page that
// becomes the tail if it does not fit. REQUIRES: bytes.size() <= kMaxInlineSize.
[[nodiscard]] absl::StatusOr<DataSlot> PlaceSmall(PageDelta& delta, Allocator& alloc,
                                                  PageId& tail_page, absl::string_view bytes);

// The bytes of the record in `slot` of data page `id`, linked from page `from`. Only the page
// header and this slot are checked: a read needs no more to stay inside the page.
[[nodiscard]] absl::StatusOr<std::string> ReadSmall(PageDelta& delta, PageId id, uint16_t slot,
                                                    PageId from);

// Replaces the record in `slot` of data page `id` (linked from `from`) with `bytes` if they fit
// in that page, and returns true. Otherwise removes the record and returns false: the page may
// be left empty, and the caller frees it (FreeDataPageIfEmpty) once the record is elsewhere.
// REQUIRES: bytes.size() <= kMaxInlineSize.
[[nodiscard]] absl::StatusOr<bool> ReplaceSmall(PageDelta& delta, PageId id, uint16_t slot,
                                                PageId from, absl::string_view bytes);

// Removes the record in `slot` of data page `id` (linked from `from`), freeing the page
// (unwritten) if it empties; if it was the tail, `tail_page` becomes 0.
[[nodiscard]] absl::Status RemoveSmall(PageDelta& delta, Allocator& alloc, PageId& tail_page,
                                       PageId id, uint16_t slot, PageId from);

// Frees data page `id` if it holds no record; if it was the tail, `tail_page` becomes 0.
// REQUIRES: `id` passed ReplaceSmall in this delta (it is a well-formed data page).
[[nodiscard]] absl::Status FreeDataPageIfEmpty(PageDelta& delta, Allocator& alloc,
                                               PageId& tail_page, PageId id);

// For whole-segment checks. Reads data page `id` (linked from `from`) and checks all of it:
// header, every slot in bounds, no two records overlapping, the last slot in use, not empty.
// Returns its slot count.
[[nodiscard]] absl::StatusOr<size_t> CheckWholeDataPage(PageDelta& delta, PageId id,
                                                        PageId from);

// kDataLoss unless `slot` of data page `id` holds a record (an entry of leaf `from` points at
// it). REQUIRES: CheckWholeDataPage(id) passed.
[[nodiscard]] absl::Status CheckLiveSlot(PageDelta& delta, PageId id, uint16_t slot,
                                         PageId from);

// kDataLoss if a slot of data page `id` holds a record that no entry claims: claims[s] is how
// many entries point at slot s, for every slot of the page. REQUIRES: CheckWholeDataPage(id)
// passed.
[[nodiscard]] absl::Status CheckSlotsClaimed(PageDelta& delta, PageId id,
                                             const std::vector<uint32_t>& claims);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_DATA_PAGE_H_
