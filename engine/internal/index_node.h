// Index nodes: the page layout of the index B+-tree (docs/format.md, "Indexes").
//
// An entry is a (key, value) pair of encoded bytes (key_codec.h); entries order by key, then
// value, bytewise. A leaf (PageType::kIndexLeaf) holds entries; an inner node
// (PageType::kIndexInner) holds separators, each an entry with the page of the child to its
// right, and the page of its leftmost child in the header:
//
//   body: [u16 count][u16 data start][u16 live bytes][u16 zero][u64 leftmost child (inner)]
//         [u16 slot offset] * count, in entry order
//         free space
//         entries, packed towards the end of the body, in any order:
//           [u16 key length][u16 value length][key][value]([u64 child], inner only)
//
// Offsets are from the start of the body. "Live bytes" sums the entries' sizes; deleting an
// entry leaves a hole that the next insert that lacks room compacts away.
//
// NodeView reads a page in place after checking every offset and length in it, so that damage
// gives kDataLoss naming the page, never a read outside it. Node is the decoded form used for
// the rare structural changes (splits, merges, redistribution); the common insert and erase
// edit the page in place.
//
// Thread-safety: plain values and functions over caller-owned pages.

#ifndef ENGINE_INTERNAL_INDEX_NODE_H_
#define ENGINE_INTERNAL_INDEX_NODE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/internal/page.h"

namespace persy::internal {

inline constexpr size_t kNodeHeaderSize = 16;
// Bytes for entries and their slots.
inline constexpr size_t kNodeCapacity = kPageBodySize - kNodeHeaderSize;
// Every node but the root uses at least this many bytes (entries and slots). With keys and
// values at most 512 bytes, an entry and its slot take at most 1038 bytes, so the halves of any
// split (capacity + 1 bytes or more, less the separator that moves up) keep at least this much.
inline constexpr size_t kNodeMinFill = 800;

// The bytes an entry and its slot take in a node.
inline size_t EntrySize(bool leaf, size_t key_size, size_t value_size) {
  return 2 + 4 + key_size + value_size + (leaf ? 0 : 8);
}

// Entries order by key, then value, bytewise.
int CompareEntries(std::string_view key_a, std::string_view value_a, std::string_view key_b,
                   std::string_view value_b);

struct NodeEntry {
  std::string key;
  std::string value;
  PageId child = 0;  // inner nodes: the child holding entries from this one on
};

// A node decoded.
struct Node {
  bool leaf = true;
  PageId child0 = 0;  // inner nodes: the child holding entries before the first separator
  std::vector<NodeEntry> entries;

  // Bytes the entries and slots take.
  size_t Used() const;
};

class NodeView {
 public:
  // Checks that `page` (page `id`, already verified) is a well-formed node: a leaf or inner
  // node by its type, every slot inside the body and pointing at an entry that fits in it,
  // live bytes matching. kDataLoss naming the page otherwise.
  static absl::StatusOr<NodeView> Open(PageId id, const PageBuf* page);

  bool leaf() const { return leaf_; }
  int count() const { return count_; }
  std::string_view key(int i) const;
  std::string_view value(int i) const;
  // Child `i` of an inner node, 0 <= i <= count(): the leftmost child, then each separator's.
  PageId child(int i) const;
  // Bytes the entries and slots take.
  size_t used() const;

 private:
  NodeView(const PageBuf* page, bool leaf, int count) : page_(page), leaf_(leaf), count_(count) {}
  const char* entry(int i) const;

  const PageBuf* page_;
  bool leaf_;
  int count_;
};

// The node `view` shows, decoded.
Node DecodeNode(const NodeView& view);

// Opens and decodes a node. Errors as NodeView::Open.
absl::StatusOr<Node> ReadNode(PageId id, const PageBuf* page);

// Writes `node` over `page` (body and page type). REQUIRES: node.Used() <= kNodeCapacity.
void WriteNode(const Node& node, PageBuf* page);

// Inserts an entry at position `pos` of the node in `page` (compacting it if needed); returns
// false, changing nothing, if it does not fit. `child` is for inner nodes. REQUIRES: `page` is
// a node NodeView::Open accepted, 0 <= pos <= count.
bool InsertInPlace(PageBuf* page, int pos, std::string_view key, std::string_view value,
                   PageId child);

// Erases entry `pos` of the node in `page`. REQUIRES: as InsertInPlace, pos < count.
void EraseInPlace(PageBuf* page, int pos);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_INDEX_NODE_H_
