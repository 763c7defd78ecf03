// Segment pages: what the record store's three kinds of page share (docs/format.md, "Records").
//
// A segment's records live in address pages (address_table.h), data pages (data_page.h) and
// overflow chains (overflow_chain.h), all reached from a SegmentRoot. This header holds the
// root, the record size limits the pieces agree on, and the page helpers each of them uses:
// a link check, a read checked for the page's type, and allocation of a typed page.
//
// Every failed check is kDataLoss naming the page and the page that links to it ("linked from
// page 7", or "the segment root" for a link held by the root), never a read of a page that
// cannot be the segment's.
//
// Thread-safety: plain values and pure functions over caller-owned objects.

#ifndef ENGINE_INTERNAL_SEGMENT_PAGE_H_
#define ENGINE_INTERNAL_SEGMENT_PAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/internal/allocator.h"
#include "engine/internal/page.h"
#include "engine/internal/page_delta.h"

namespace persy::internal {

// The tallest address table: 254 * 508^7 > 2^64, so a tree of height 8 covers every record
// number (address_table.h).
inline constexpr uint32_t kMaxAddressHeight = 8;
// Records up to this size live in data pages; bigger ones in overflow chains.
inline constexpr size_t kMaxInlineSize = 2000;
// The largest record (the engine's kMaxRecordSize, persy.h).
inline constexpr size_t kMaxRecordBytes = size_t{256} << 20;

// No segment page lies past the largest file offset (page_file.h's kMaxPageId); a link past it
// is damage, and is caught before the page source is asked for it.
inline constexpr PageId kMaxSegmentPage = (uint64_t{INT64_MAX} / kPageSize) - 1;

// Where a segment's records live; kept by the caller in the catalog. For page ids here, 0 means
// "none" (page 0 is the file header, never part of a segment). A default SegmentRoot is an
// empty segment. address_root == 0 exactly when height == 0; height <= kMaxAddressHeight.
struct SegmentRoot {
  PageId address_root = 0;
  uint32_t height = 0;
  PageId tail_page = 0;

  friend bool operator==(const SegmentRoot&, const SegmentRoot&) = default;
};

// "the segment root" for `from` == 0, else "page <from>": the holder of a link, for messages.
std::string LinkedFrom(PageId from);

// kDataLoss unless `id`, linked from page `from` (0: the segment root), can be a segment page.
[[nodiscard]] absl::Status CheckLink(PageId id, PageId from);

// Page `id`, linked from page `from` (0: the segment root), which must be of type `want`.
// The pointer is the delta's (page_delta.h says how long it stays valid).
[[nodiscard]] absl::StatusOr<const PageBuf*> ReadTyped(PageDelta& delta, PageId id,
                                                       PageType want, PageId from);

struct NewPage {
  PageId id;
  PageBuf* page;  // the delta's fresh, all-zero copy, with its type set
};

// Allocates a page and starts it, all zero, as a page of `type`.
[[nodiscard]] absl::StatusOr<NewPage> AllocatePage(PageDelta& delta, Allocator& alloc,
                                                   PageType type);

// Frees `pages`, in order.
[[nodiscard]] absl::Status FreePages(PageDelta& delta, Allocator& alloc,
                                     const std::vector<PageId>& pages);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_SEGMENT_PAGE_H_
