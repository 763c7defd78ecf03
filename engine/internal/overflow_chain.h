// Overflow chains: a segment's big records (docs/format.md, "Overflow pages").
//
// A record of more than kMaxInlineSize bytes is a chain of PageType::kOverflow pages, named by
// its address entry (the first page) and linked from page to page:
//
//   body: [u64 next page (0 = end)][u32 bytes in this page][bytes]
//
// Every page of a chain but the last is full (kPageBodySize - 12 = 4052 bytes). A chain holds
// more than kMaxInlineSize and at most kMaxRecordBytes bytes, and visits no page twice.
//
// Every page of a chain is checked as it is walked: damage (a wrong type, a bad count, a loop,
// a chain too long or too short) gives kDataLoss naming the page, never bytes from outside the
// record. Errors of the PageDelta and Allocator pass through; after any error the delta may be
// partly changed.
//
// Thread-safety: pure functions over caller-owned objects. Calls that change a chain need the
// engine's commit lock; reads of committed data use a PageDelta of their own.

#ifndef ENGINE_INTERNAL_OVERFLOW_CHAIN_H_
#define ENGINE_INTERNAL_OVERFLOW_CHAIN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/internal/allocator.h"
#include "engine/internal/page.h"
#include "engine/internal/page_delta.h"

namespace persy::internal {

// The bytes of the chain from `first`, linked from page `from` (an address leaf).
[[nodiscard]] absl::StatusOr<std::string> ReadChain(PageDelta& delta, PageId first,
                                                    PageId from);

// The pages of the chain from `first`, linked from page `from`, in chain order, checked as
// ReadChain checks them.
[[nodiscard]] absl::StatusOr<std::vector<PageId>> ChainPages(PageDelta& delta, PageId first,
                                                             PageId from);

// Writes `bytes` as an overflow chain over the pages of `reuse` (an old chain, from
// ChainPages), allocating more or freeing the rest. Returns the first page.
// REQUIRES: kMaxInlineSize < bytes.size() <= kMaxRecordBytes.
[[nodiscard]] absl::StatusOr<PageId> WriteChain(PageDelta& delta, Allocator& alloc,
                                                absl::string_view bytes,
                                                const std::vector<PageId>& reuse);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_OVERFLOW_CHAIN_H_
