// The address table: a segment's map from record number to entry (docs/format.md, "Address
// table").
//
// A radix tree reached from SegmentRoot::address_root, of SegmentRoot::height levels (1: the
// root is a leaf; 0: no tree). Both kinds of page are filled exactly by their arrays:
//
//   leaf   PageType::kAddressLeaf   kLeafEntries entries of 16 bytes:
//                                     [u64 page][u16 slot][u16 flags][u32 version]
//   inner  PageType::kAddressInner  kInnerChildren child page ids (u64, 0 = none)
//
// Record number n is entry n % 254 of leaf n / 254; in an inner page at level l (leaves are
// level 1) its child index is (n / 254 / 508^(l-2)) % 508. An entry names where the record's
// bytes are (a data page and slot, or with kEntryOverflow the first page of an overflow chain)
// and its version. An unused entry is all zero; number 0 never has a used entry.
//
// The tree grows a taller root when a number is past its reach and allocates missing pages on
// the way down (AddEntry); a page left with no entry or child is freed, up to the root
// (ClearEntry). So every address page holds at least one record, and NextEntry skips absent
// subtrees by their zero links alone.
//
// Every page read is checked for its type and every entry decoded is checked: damage gives
// kDataLoss naming the page. Errors of the PageDelta and Allocator pass through. After any error
// the delta may be partly changed: the caller discards the transaction.
//
// Thread-safety: plain values and pure functions over caller-owned objects. Calls that change a
// tree need the engine's commit lock; reads of committed data use a PageDelta of their own.

#ifndef ENGINE_INTERNAL_ADDRESS_TABLE_H_
#define ENGINE_INTERNAL_ADDRESS_TABLE_H_

#include <array>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/internal/allocator.h"
#include "engine/internal/page.h"
#include "engine/internal/page_delta.h"
#include "engine/internal/segment_page.h"

namespace persy::internal {

// Address table geometry: both fill the page body exactly.
inline constexpr uint64_t kLeafEntries = kPageBodySize / 16;    // 254
inline constexpr uint64_t kInnerChildren = kPageBodySize / 8;  // 508

// Entry flags.
inline constexpr uint16_t kEntryUsed = 1;
inline constexpr uint16_t kEntryOverflow = 2;

struct AddressEntry {
  PageId page = 0;
  uint16_t slot = 0;
  uint16_t flags = 0;
  uint32_t version = 0;

  bool used() const { return (flags & kEntryUsed) != 0; }
  bool overflow() const { return (flags & kEntryOverflow) != 0; }
};

// The pages from the root to the leaf of a record number: ids[0] is the root, ids[depth-1] the
// leaf; index[d] is the child (or, in the leaf, entry) index taken in ids[d].
struct AddressPath {
  std::array<PageId, kMaxAddressHeight> ids{};
  std::array<uint64_t, kMaxAddressHeight> index{};
  uint32_t depth = 0;
  PageId leaf() const { return ids[depth - 1]; }
  uint64_t entry() const { return index[depth - 1]; }
};

struct FoundEntry {
  AddressPath path;
  AddressEntry entry;
};

// kDataLoss unless root.address_root and root.height agree (both zero or both not) and the
// height is at most kMaxAddressHeight.
[[nodiscard]] absl::Status CheckAddressRoot(const SegmentRoot& root);

// The entry of `number` and the path to it, if the entry is used (number 0 never is).
[[nodiscard]] absl::StatusOr<std::optional<FoundEntry>> LookupEntry(PageDelta& delta,
                                                                    const SegmentRoot& root,
                                                                    uint64_t number);

// Stores `entry` for `number`, first creating its leaf (and the pages above it, and a taller
// root) if needed. May change root.address_root and root.height.
// REQUIRES: number >= 1, LookupEntry(number) found no used entry.
[[nodiscard]] absl::Status AddEntry(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                                    uint64_t number, const AddressEntry& entry);

// Rewrites the entry at the end of `path` (from LookupEntry, with no change to the tree since).
[[nodiscard]] absl::Status WriteEntry(PageDelta& delta, const AddressPath& path,
                                      const AddressEntry& entry);

// Clears the entry at the end of `path` (as for WriteEntry), then frees the address pages left
// empty, bottom up; when the root goes, root.address_root and root.height become 0.
[[nodiscard]] absl::Status ClearEntry(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                                      const AddressPath& path);

// The smallest number >= from (and >= 1) with a used entry, or nullopt.
[[nodiscard]] absl::StatusOr<std::optional<uint64_t>> NextEntry(PageDelta& delta,
                                                                const SegmentRoot& root,
                                                                uint64_t from);

// What WalkAddressTable reports, in tree order (children and entries in number order). An error
// returned from a call ends the walk with that error.
class AddressTableVisitor {
 public:
  virtual ~AddressTableVisitor() = default;
  // Address page `id`, once its link is checked and before it is read.
  virtual absl::Status OnAddressPage(PageId id) = 0;
  // A used entry of leaf `leaf` (for a number other than 0). The leaf stays readable.
  virtual absl::Status OnEntry(PageId leaf, const AddressEntry& entry) = 0;
  // The entries of the last leaf are all reported and the walk has let go of the leaf
  // (PageDelta::ForgetCommitted).
  virtual void OnLeafDone() = 0;
};

// Walks the whole tree, checking it: every page of its type and not empty, every entry well
// formed, number 0 unused, no child past the largest record number. Lets go of each page's
// committed image once done with it, so that memory follows the path, not the tree.
[[nodiscard]] absl::Status WalkAddressTable(PageDelta& delta, const SegmentRoot& root,
                                            AddressTableVisitor& visitor);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_ADDRESS_TABLE_H_
