// The index B+-tree: an index's entries in pages (docs/format.md, "Indexes").
//
// An index is a set of entries (key, value), both encoded bytes (key_codec.h), ordered by key
// then value; a key with several values (ValueMode::kCluster) has several entries. The tree
// keeps them in leaves (index_node.h) under inner nodes whose separators bound their children:
// child i holds the entries e with separator(i) <= e < separator(i + 1). All leaves are at the
// same depth (the height); every node but the root uses at least kNodeMinFill bytes, so space
// freed by removals is given back as nodes merge. There are no sibling links: a reader
// continues from the last entry it saw by descending again, so it never follows a link into a
// page that a commit has since rewritten.
//
// These are stateless functions over a PageDelta and the Allocator, like record_store.h: every
// page read is checked for its type and layout, and damage gives kDataLoss naming the page.
// After any error the delta may be partly changed: the caller discards the transaction.
//
// Thread-safety: pure functions over caller-owned objects. Calls that change an index need the
// engine's commit lock; reads of committed data use a PageDelta of their own.

#ifndef ENGINE_INTERNAL_INDEX_TREE_H_
#define ENGINE_INTERNAL_INDEX_TREE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/index.h"
#include "engine/internal/allocator.h"
#include "engine/internal/page.h"
#include "engine/internal/page_delta.h"

namespace persy::internal {

// Where an index's entries live; kept by the caller in the catalog. A default IndexRoot is an
// empty index (no page at all); height 1 means the root is a leaf.
struct IndexRoot {
  PageId root = 0;
  uint32_t height = 0;
  friend bool operator==(const IndexRoot&, const IndexRoot&) = default;
};

// A position among the entries, to search from: before every entry of `key`, at the entry
// (key, value), or after every entry of `key`.
struct Probe {
  enum class Kind { kBeforeKey, kAt, kAfterKey };
  std::string key;
  std::string value;  // kAt only
  Kind kind = Kind::kBeforeKey;
};

struct IndexEntry {
  std::string key;
  std::string value;
  friend bool operator==(const IndexEntry&, const IndexEntry&) = default;
};

// The deepest tree the functions accept: far more than any file can hold (a tree of height h
// has at least 2 * 3^(h-2) leaves), so that a damaged height cannot make them recurse deeply.
inline constexpr uint32_t kMaxIndexHeight = 40;

// Adds the entry (key, value); false if it was there already. May change `root`.
// REQUIRES: key.size() <= kMaxIndexKeySize, value.size() <= kMaxIndexValueSize.
[[nodiscard]] absl::StatusOr<bool> InsertEntry(PageDelta& delta, Allocator& alloc,
                                               IndexRoot& root, std::string_view key,
                                               std::string_view value);

// Removes the entry (key, value); false if it was not there. Merges or rebalances nodes left
// below kNodeMinFill and frees the pages that become unused; an index emptied holds no page.
[[nodiscard]] absl::StatusOr<bool> RemoveEntry(PageDelta& delta, Allocator& alloc,
                                               IndexRoot& root, std::string_view key,
                                               std::string_view value);

// The values of `key`, in order.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> ValuesOf(PageDelta& delta,
                                                               const IndexRoot& root,
                                                               std::string_view key);

// Up to `max` (>= 1) entries after `from` (forward) or before it (backward), nearest first,
// all from one leaf; `inclusive` also takes an entry equal to a kAt probe. Empty only if there
// is none.
[[nodiscard]] absl::StatusOr<std::vector<IndexEntry>> ReadEntries(PageDelta& delta,
                                                                 const IndexRoot& root,
                                                                 const Probe& from,
                                                                 bool inclusive,
                                                                 Direction direction, size_t max);

// The nearest key after `from` (forward) or before it (backward), with all its values in
// order; nullopt if there is none. `from` is never kAt: it names a whole key.
struct KeyValues {
  std::string key;
  std::vector<std::string> values;
};
[[nodiscard]] absl::StatusOr<std::optional<KeyValues>> NextKey(PageDelta& delta,
                                                              const IndexRoot& root,
                                                              const Probe& from,
                                                              Direction direction);

// Frees every page of the index. A damaged index gives kDataLoss and frees nothing.
[[nodiscard]] absl::Status DropIndexPages(PageDelta& delta, Allocator& alloc,
                                          const IndexRoot& root);

// What CheckIndexTree found.
struct IndexTreeStats {
  uint64_t entries = 0;
  uint64_t leaves = 0;
  uint64_t inner_nodes = 0;
  uint64_t used_bytes = 0;  // by entries and slots, in all nodes
};

// Checks the whole tree: every page of its type and well-formed, entries strictly ordered
// within and across nodes (each within its separators' bounds), keys and values within the
// limits, every leaf at depth `height`, every page reached once, every node but the root at
// least kNodeMinFill bytes full, the root not empty (a leaf with an entry, an inner node with
// a separator). Appends every page to `pages` (if not null). kDataLoss naming what is wrong.
[[nodiscard]] absl::StatusOr<IndexTreeStats> CheckIndexTree(PageDelta& delta,
                                                            const IndexRoot& root,
                                                            std::vector<PageId>* pages);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_INDEX_TREE_H_
