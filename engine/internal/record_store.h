// The record store: a segment's records in pages (docs/format.md, "Records").
//
// A segment keeps its records in three kinds of pages, all reached from a SegmentRoot that the
// caller keeps in the catalog (segment_page.h, which also holds the record size limits):
//
//   address table  a radix tree mapping a record number to an entry (where the record's bytes
//                  are, and its version): address_table.h.
//   data pages     slotted pages holding records of at most kMaxInlineSize bytes. Inserts go to
//                  the segment's tail page; a data page left empty is freed (the tail too: the
//                  segment then has none until the next insert): data_page.h.
//   overflow       a chain of pages for each bigger record: overflow_chain.h.
//
// These are stateless functions over a PageDelta (the transaction's private page images) and
// the Allocator, built on those three pieces. Every page read is checked for its type and every
// offset, length and count taken from a page is bounds-checked: damage gives kDataLoss naming
// the page, never a crash, never bytes from outside the record.
//
// Errors: kDataLoss (damage), kInvalidArgument (record number 0, a record over kMaxRecordBytes),
// kNotFound / kFailedPrecondition (a REQUIRES below not met: the record is missing / already
// there), and whatever the PageDelta or Allocator return (I/O errors, disk full). After any
// error the delta may be partly changed: the caller discards the transaction.
//
// Thread-safety: pure functions over caller-owned objects. Calls that change a segment need the
// engine's commit lock; reads of committed data use a PageDelta of their own.

#ifndef ENGINE_INTERNAL_RECORD_STORE_H_
#define ENGINE_INTERNAL_RECORD_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/internal/allocator.h"
#include "engine/internal/page.h"
#include "engine/internal/page_delta.h"
#include "engine/internal/segment_page.h"

namespace persy::internal {

struct RecordInfo {
  std::string bytes;
  uint32_t version = 0;
};

// Reads record `number`; nullopt if there is none (number 0 never has one).
[[nodiscard]] absl::StatusOr<std::optional<RecordInfo>> ReadRecord(PageDelta& delta,
                                                                   const SegmentRoot& root,
                                                                   uint64_t number);

// The version of record `number` without reading its bytes (address pages only); nullopt if
// there is none.
[[nodiscard]] absl::StatusOr<std::optional<uint32_t>> RecordVersion(PageDelta& delta,
                                                                    const SegmentRoot& root,
                                                                    uint64_t number);

// Stores record `number` with version 1. May change `root` (tree growth, a new tail page).
// REQUIRES: number >= 1, no record `number` yet (kFailedPrecondition otherwise),
//           bytes.size() <= kMaxRecordBytes (kInvalidArgument otherwise).
[[nodiscard]] absl::Status InsertRecord(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                                        uint64_t number, absl::string_view bytes);

// Replaces the bytes of record `number`; its version goes up by one. The bytes may move to
// another page (the number stays). May change `root`.
// REQUIRES: the record exists (kNotFound otherwise), bytes.size() <= kMaxRecordBytes.
// A record already at version 2^32-1 gives kResourceExhausted, unchanged.
[[nodiscard]] absl::Status UpdateRecord(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                                        uint64_t number, absl::string_view bytes);

// Removes record `number`. Frees the pages that become empty: its overflow chain, its data page
// (if that was the tail, root.tail_page becomes 0), address pages with no entry left (an empty
// tree resets root.address_root and root.height to 0). A segment emptied by deletes holds no
// page at all.
// REQUIRES: the record exists (kNotFound otherwise).
[[nodiscard]] absl::Status DeleteRecord(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                                        uint64_t number);

// Frees every page of the segment: address, data and overflow pages. The caller
// then forgets `root`. A damaged segment gives kDataLoss and frees nothing.
[[nodiscard]] absl::Status DropSegmentPages(PageDelta& delta, Allocator& alloc,
                                            const SegmentRoot& root);

// The smallest record number >= from that has a record, or nullopt. Absent subtrees are
// skipped without reading them.
[[nodiscard]] absl::StatusOr<std::optional<uint64_t>> NextRecord(PageDelta& delta,
                                                                 const SegmentRoot& root,
                                                                 uint64_t from);

// Appends every page the segment uses to `pages`, each once, and checks the segment whole:
// every page of its type and well-formed, every entry pointing at a live slot, no slot or page
// claimed twice, no live slot without an entry, no empty data or address page. For integrity
// checks and leak tests. REQUIRES: pages != nullptr.
[[nodiscard]] absl::Status CollectSegmentPages(PageDelta& delta, const SegmentRoot& root,
                                               std::vector<PageId>* pages);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_RECORD_STORE_H_
