#include "engine/internal/index_tree.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/internal/index_node.h"
#include "engine/internal/key_codec.h"
#include "engine/internal/status_macros.h"

namespace persy::internal {
namespace {

constexpr PageId kMaxIndexPage = (uint64_t{INT64_MAX} / kPageSize) - 1;

std::string LinkedFrom(PageId from) {
  return from == 0 ? std::string("the index root") : absl::StrCat("page ", from);
}

absl::Status CheckLink(PageId id, PageId from) {
  if (id == 0 || id > kMaxIndexPage) {
    return absl::DataLossError(absl::StrCat(LinkedFrom(from), ": links to page ", id,
                                            ", which cannot be an index node"));
  }
  return absl::OkStatus();
}

// The node in `page` (page `id`, linked from page `from`), which must be a leaf exactly when
// `leaf`.
absl::StatusOr<NodeView> ViewOf(PageId id, const PageBuf* page, bool leaf, PageId from) {
  PERSY_ASSIGN_OR_RETURN(NodeView view, NodeView::Open(id, page));
  if (view.leaf() != leaf) {
    return absl::DataLossError(absl::StrCat("page ", id, ": an index ",
                                            view.leaf() ? "leaf" : "inner node", " where ",
                                            LinkedFrom(from), " needs ",
                                            leaf ? "a leaf" : "an inner node"));
  }
  return view;
}

// The node of page `id`, as ViewOf.
absl::StatusOr<NodeView> ReadView(PageDelta& delta, PageId id, bool leaf, PageId from) {
  PERSY_RETURN_IF_ERROR(CheckLink(id, from));
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page, delta.Read(id));
  return ViewOf(id, page, leaf, from);
}

absl::StatusOr<Node> ReadNodeAt(PageDelta& delta, PageId id, bool leaf, PageId from) {
  PERSY_ASSIGN_OR_RETURN(NodeView view, ReadView(delta, id, leaf, from));
  return DecodeNode(view);
}

absl::Status CheckHeight(const IndexRoot& root) {
  if (root.height > kMaxIndexHeight || (root.height == 0) != (root.root == 0)) {
    return absl::DataLossError(absl::StrCat("index root page ", root.root, " of height ",
                                            root.height, " is impossible"));
  }
  return absl::OkStatus();
}

int CompareToProbe(std::string_view key, std::string_view value, const Probe& p) {
  if (int c = CompareBytes(key, p.key); c != 0) return c;
  switch (p.kind) {
    case Probe::Kind::kBeforeKey: return 1;
    case Probe::Kind::kAfterKey: return -1;
    case Probe::Kind::kAt: return CompareBytes(value, p.value);
  }
  return 0;
}

// The number of entries of `view` below `p` (or at it, when `or_equal`).
int CountBelow(const NodeView& view, const Probe& p, bool or_equal) {
  int lo = 0;
  int hi = view.count();
  while (lo < hi) {
    const int mid = lo + (hi - lo) / 2;
    const int c = CompareToProbe(view.key(mid), view.value(mid), p);
    if (or_equal ? c <= 0 : c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

Probe At(std::string_view key, std::string_view value) {
  return Probe{std::string(key), std::string(value), Probe::Kind::kAt};
}

PageId ChildOf(const Node& node, size_t i) {
  return i == 0 ? node.child0 : node.entries[i - 1].child;
}

// What a node tells its parent after a change below it.
struct Split {
  std::string key;
  std::string value;
  PageId right = 0;
};
struct Change {
  bool underflow = false;
  std::optional<Split> split;
};

// `node`, too big for one page, as two nodes and the separator between them. A leaf's separator
// is the right half's first entry; an inner node's middle separator moves up. The halves are
// balanced by bytes, except after an insert at the node's end (`append`: keys arriving in
// ascending order), where the right one gets just kNodeMinFill bytes, so that such loads leave
// nodes about four fifths full rather than half. Either way both keep at least kNodeMinFill.
struct Halves {
  Node left;
  Node right;
  NodeEntry separator;
};
Halves Halve(Node node, bool append) {
  const size_t n = node.entries.size();
  std::vector<size_t> prefix(n + 1, 0);  // bytes of entries [0, i)
  for (size_t i = 0; i < n; ++i) {
    const NodeEntry& e = node.entries[i];
    prefix[i + 1] = prefix[i] + EntrySize(node.leaf, e.key.size(), e.value.size());
  }
  // Leaf: split before entry m (1 <= m < n). Inner: entry m moves up (1 <= m < n - 1).
  const size_t last = node.leaf ? n - 1 : n - 2;
  size_t best = 1;
  size_t best_gap = SIZE_MAX;
  for (size_t m = 1; m <= last; ++m) {
    const size_t left = prefix[m];
    const size_t right = prefix[n] - prefix[node.leaf ? m : m + 1];
    if (append) {
      if (right >= kNodeMinFill) best = m;  // the last such m: the smallest right half
      continue;
    }
    const size_t gap = left > right ? left - right : right - left;
    if (gap < best_gap) {
      best_gap = gap;
      best = m;
    }
  }
  Halves h;
  h.left.leaf = h.right.leaf = node.leaf;
  h.left.child0 = node.child0;
  h.left.entries.assign(std::make_move_iterator(node.entries.begin()),
                        std::make_move_iterator(node.entries.begin() + best));
  if (node.leaf) {
    h.right.entries.assign(std::make_move_iterator(node.entries.begin() + best),
                           std::make_move_iterator(node.entries.end()));
    h.separator = NodeEntry{h.right.entries[0].key, h.right.entries[0].value, 0};
  } else {
    h.separator = std::move(node.entries[best]);
    h.right.child0 = h.separator.child;
    h.right.entries.assign(std::make_move_iterator(node.entries.begin() + best + 1),
                           std::make_move_iterator(node.entries.end()));
  }
  return h;
}

absl::StatusOr<PageId> NewNode(PageDelta& delta, Allocator& alloc, const Node& node) {
  PERSY_ASSIGN_OR_RETURN(PageId id, alloc.Allocate(delta));
  WriteNode(node, delta.Fresh(id));
  return id;
}

// Writes `node` to page `id`, splitting it into a new right page if it does not fit (`append`:
// as Halve).
absl::StatusOr<Change> Store(PageDelta& delta, Allocator& alloc, PageId id, Node node,
                             bool append = false) {
  if (node.Used() <= kNodeCapacity) {
    const bool underflow = node.Used() < kNodeMinFill;
    PERSY_ASSIGN_OR_RETURN(PageBuf* page, delta.Write(id));
    WriteNode(node, page);
    return Change{underflow, std::nullopt};
  }
  Halves h = Halve(std::move(node), append);
  PERSY_ASSIGN_OR_RETURN(PageBuf* page, delta.Write(id));
  WriteNode(h.left, page);
  PERSY_ASSIGN_OR_RETURN(PageId right, NewNode(delta, alloc, h.right));
  return Change{false, Split{std::move(h.separator.key), std::move(h.separator.value), right}};
}

absl::StatusOr<Change> InsertRec(PageDelta& delta, Allocator& alloc, PageId id, uint32_t level,
                                 PageId from, std::string_view key, std::string_view value,
                                 bool* inserted) {
  PERSY_ASSIGN_OR_RETURN(NodeView view, ReadView(delta, id, level == 1, from));
  const Probe probe = At(key, value);
  int pos;
  if (level == 1) {
    pos = CountBelow(view, probe, /*or_equal=*/false);
    if (pos < view.count() && view.key(pos) == key && view.value(pos) == value) {
      *inserted = false;
      return Change{};
    }
    *inserted = true;
    PERSY_ASSIGN_OR_RETURN(PageBuf* page, delta.Write(id));
    if (InsertInPlace(page, pos, key, value, 0)) return Change{};
  } else {
    pos = CountBelow(view, probe, /*or_equal=*/true);
    PERSY_ASSIGN_OR_RETURN(Change below, InsertRec(delta, alloc, view.child(pos), level - 1, id,
                                                   key, value, inserted));
    if (!below.split.has_value()) return Change{};
    PERSY_ASSIGN_OR_RETURN(PageBuf* page, delta.Write(id));
    if (InsertInPlace(page, pos, below.split->key, below.split->value, below.split->right)) {
      return Change{};
    }
    key = below.split->key;
    value = below.split->value;
    PERSY_ASSIGN_OR_RETURN(Node node, ReadNodeAt(delta, id, false, from));
    node.entries.insert(node.entries.begin() + pos,
                        NodeEntry{std::string(key), std::string(value), below.split->right});
    const bool append = pos + 1 == static_cast<int>(node.entries.size());
    return Store(delta, alloc, id, std::move(node), append);
  }
  // The leaf as read above: InsertInPlace changed nothing, and nothing else wrote it since.
  Node node = DecodeNode(view);
  node.entries.insert(node.entries.begin() + pos,
                      NodeEntry{std::string(key), std::string(value), 0});
  const bool append = pos + 1 == static_cast<int>(node.entries.size());
  return Store(delta, alloc, id, std::move(node), append);
}

// Child `i` of `parent` (page `parent_id`) is below kNodeMinFill: merges it with a neighbour,
// again while the merged node is still below and has a neighbour, or moves entries over from a
// neighbour too big to merge with (both then keep at least kNodeMinFill; see index_node.h).
absl::Status Rebalance(PageDelta& delta, Allocator& alloc, PageId parent_id, Node& parent,
                       size_t i, bool leaf) {
  while (!parent.entries.empty()) {
    const size_t l = i < parent.entries.size() ? i : i - 1;  // merge children l and l + 1
    const PageId left_id = ChildOf(parent, l);
    const PageId right_id = ChildOf(parent, l + 1);
    PERSY_ASSIGN_OR_RETURN(Node left, ReadNodeAt(delta, left_id, leaf, parent_id));
    PERSY_ASSIGN_OR_RETURN(Node right, ReadNodeAt(delta, right_id, leaf, parent_id));
    Node combined = std::move(left);
    if (!leaf) {
      combined.entries.push_back(
          NodeEntry{parent.entries[l].key, parent.entries[l].value, right.child0});
    }
    for (NodeEntry& e : right.entries) combined.entries.push_back(std::move(e));
    if (combined.Used() <= kNodeCapacity) {
      PERSY_ASSIGN_OR_RETURN(PageBuf* page, delta.Write(left_id));
      WriteNode(combined, page);
      PERSY_RETURN_IF_ERROR(alloc.Free(delta, right_id));
      parent.entries.erase(parent.entries.begin() + l);
      i = l;
      if (combined.Used() >= kNodeMinFill) return absl::OkStatus();
      continue;
    }
    Halves h = Halve(std::move(combined), /*append=*/false);
    PERSY_ASSIGN_OR_RETURN(PageBuf* left_page, delta.Write(left_id));
    WriteNode(h.left, left_page);
    PERSY_ASSIGN_OR_RETURN(PageBuf* right_page, delta.Write(right_id));
    WriteNode(h.right, right_page);
    parent.entries[l].key = std::move(h.separator.key);
    parent.entries[l].value = std::move(h.separator.value);
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::StatusOr<Change> RemoveRec(PageDelta& delta, Allocator& alloc, PageId id, uint32_t level,
                                 PageId from, std::string_view key, std::string_view value,
                                 bool* removed) {
  PERSY_ASSIGN_OR_RETURN(NodeView view, ReadView(delta, id, level == 1, from));
  const Probe probe = At(key, value);
  if (level == 1) {
    const int pos = CountBelow(view, probe, /*or_equal=*/false);
    if (pos >= view.count() || view.key(pos) != key || view.value(pos) != value) {
      *removed = false;
      return Change{};
    }
    *removed = true;
    const size_t used = view.used() - EntrySize(true, key.size(), value.size());
    PERSY_ASSIGN_OR_RETURN(PageBuf* page, delta.Write(id));
    EraseInPlace(page, pos);
    return Change{used < kNodeMinFill, std::nullopt};
  }
  const int pos = CountBelow(view, probe, /*or_equal=*/true);
  PERSY_ASSIGN_OR_RETURN(Change below, RemoveRec(delta, alloc, view.child(pos), level - 1, id,
                                                 key, value, removed));
  if (!below.underflow && !below.split.has_value()) return Change{};
  PERSY_ASSIGN_OR_RETURN(Node node, ReadNodeAt(delta, id, false, from));
  if (below.split.has_value()) {
    node.entries.insert(node.entries.begin() + pos,
                        NodeEntry{std::move(below.split->key), std::move(below.split->value),
                                  below.split->right});
  } else {
    PERSY_RETURN_IF_ERROR(Rebalance(delta, alloc, id, node, pos, level - 1 == 1));
  }
  return Store(delta, alloc, id, std::move(node));
}

// A split root gets a new root above it.
absl::Status Grow(PageDelta& delta, Allocator& alloc, IndexRoot& root, Split split) {
  Node top;
  top.leaf = false;
  top.child0 = root.root;
  top.entries.push_back(NodeEntry{std::move(split.key), std::move(split.value), split.right});
  PERSY_ASSIGN_OR_RETURN(PageId id, NewNode(delta, alloc, top));
  root = IndexRoot{id, root.height + 1};
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<bool> InsertEntry(PageDelta& delta, Allocator& alloc, IndexRoot& root,
                                 std::string_view key, std::string_view value) {
  PERSY_RETURN_IF_ERROR(CheckHeight(root));
  if (root.height == 0) {
    Node leaf;
    leaf.entries.push_back(NodeEntry{std::string(key), std::string(value), 0});
    PERSY_ASSIGN_OR_RETURN(PageId id, NewNode(delta, alloc, leaf));
    root = IndexRoot{id, 1};
    return true;
  }
  bool inserted = false;
  PERSY_ASSIGN_OR_RETURN(Change change,
                         InsertRec(delta, alloc, root.root, root.height, 0, key, value, &inserted));
  if (change.split.has_value()) {
    PERSY_RETURN_IF_ERROR(Grow(delta, alloc, root, std::move(*change.split)));
  }
  return inserted;
}

absl::StatusOr<bool> RemoveEntry(PageDelta& delta, Allocator& alloc, IndexRoot& root,
                                 std::string_view key, std::string_view value) {
  PERSY_RETURN_IF_ERROR(CheckHeight(root));
  if (root.height == 0) return false;
  bool removed = false;
  PERSY_ASSIGN_OR_RETURN(Change change,
                         RemoveRec(delta, alloc, root.root, root.height, 0, key, value, &removed));
  if (change.split.has_value()) {
    PERSY_RETURN_IF_ERROR(Grow(delta, alloc, root, std::move(*change.split)));
  }
  // An empty root goes: an inner root with one child hands over to it, an empty leaf root
  // leaves the index without pages.
  while (root.height > 0) {
    PERSY_ASSIGN_OR_RETURN(NodeView view, ReadView(delta, root.root, root.height == 1, 0));
    if (view.count() > 0) break;
    const PageId child = view.leaf() ? 0 : view.child(0);
    PERSY_RETURN_IF_ERROR(alloc.Free(delta, root.root));
    root = child == 0 ? IndexRoot{} : IndexRoot{child, root.height - 1};
  }
  return removed;
}

absl::StatusOr<std::vector<IndexEntry>> ReadEntries(PageDelta& delta, const IndexRoot& root,
                                                    const Probe& from, bool inclusive,
                                                    Direction direction, size_t max) {
  PERSY_RETURN_IF_ERROR(CheckHeight(root));
  std::vector<IndexEntry> out;
  if (root.height == 0) return out;
  const bool forward = direction == Direction::kForward;
  Probe probe = from;
  while (true) {
    // Descend to the leaf that holds the nearest entries, noting the nearest separator beyond
    // it: where to go on if that leaf has none.
    std::optional<Probe> fence;
    PageId id = root.root;
    PageId parent = 0;
    for (uint32_t level = root.height; level > 1; --level) {
      PERSY_ASSIGN_OR_RETURN(NodeView view, ReadView(delta, id, false, parent));
      const int i = CountBelow(view, probe, forward ? true : inclusive);
      if (forward && i < view.count()) fence = At(view.key(i), view.value(i));
      if (!forward && i > 0) fence = At(view.key(i - 1), view.value(i - 1));
      parent = id;
      id = view.child(i);
    }
    PERSY_ASSIGN_OR_RETURN(NodeView leaf, ReadView(delta, id, true, parent));
    if (forward) {
      for (int i = CountBelow(leaf, probe, !inclusive); i < leaf.count() && out.size() < max;
           ++i) {
        out.push_back(IndexEntry{std::string(leaf.key(i)), std::string(leaf.value(i))});
      }
    } else {
      for (int i = CountBelow(leaf, probe, inclusive) - 1; i >= 0 && out.size() < max; --i) {
        out.push_back(IndexEntry{std::string(leaf.key(i)), std::string(leaf.value(i))});
      }
    }
    if (!out.empty() || !fence.has_value()) return out;
    // Entries from a separator on (forward) are at or after it; backward, before it.
    probe = std::move(*fence);
    inclusive = forward;
  }
}

absl::StatusOr<std::vector<std::string>> ValuesOf(PageDelta& delta, const IndexRoot& root,
                                                  std::string_view key) {
  std::vector<std::string> values;
  Probe probe{std::string(key), "", Probe::Kind::kBeforeKey};
  constexpr size_t kBatch = 64;
  while (true) {
    PERSY_ASSIGN_OR_RETURN(std::vector<IndexEntry> batch,
                           ReadEntries(delta, root, probe, false, Direction::kForward, kBatch));
    // A batch ends at its leaf's end: only an entry of another key, or none, ends the values.
    if (batch.empty()) return values;
    for (IndexEntry& e : batch) {
      if (e.key != key) return values;
      values.push_back(std::move(e.value));
    }
    probe = At(key, values.back());
  }
}

absl::StatusOr<std::optional<KeyValues>> NextKey(PageDelta& delta, const IndexRoot& root,
                                                 const Probe& from, Direction direction) {
  constexpr size_t kBatch = 64;
  PERSY_ASSIGN_OR_RETURN(std::vector<IndexEntry> batch,
                         ReadEntries(delta, root, from, false, direction, kBatch));
  if (batch.empty()) return std::optional<KeyValues>();
  KeyValues out{batch[0].key, {}};
  for (IndexEntry& e : batch) {
    if (e.key != out.key) {
      // The batch went past the key: it holds all of its values.
      if (direction == Direction::kBackward) std::reverse(out.values.begin(), out.values.end());
      return std::optional<KeyValues>(std::move(out));
    }
    out.values.push_back(std::move(e.value));
  }
  // The key's values may go on in the next leaf.
  PERSY_ASSIGN_OR_RETURN(out.values, ValuesOf(delta, root, out.key));
  return std::optional<KeyValues>(std::move(out));
}

namespace {

struct Checker {
  PageDelta& delta;
  std::vector<PageId>* pages;
  std::set<PageId> seen;
  IndexTreeStats stats;

  absl::Status Bad(PageId id, const std::string& what) {
    return absl::DataLossError(absl::StrCat("index page ", id, ": ", what));
  }

  // Checks the subtree at `id`, whose entries must lie in [lo, hi) (nullopt: unbounded).
  absl::Status Check(PageId id, uint32_t level, PageId from, const std::optional<IndexEntry>& lo,
                     const std::optional<IndexEntry>& hi, bool is_root) {
    if (!seen.insert(id).second) return Bad(id, "reached twice");
    // A copy of the page, not the delta's: the walk must not hold the whole tree in memory.
    PERSY_RETURN_IF_ERROR(CheckLink(id, from));
    auto page = std::make_unique<PageBuf>();
    PERSY_RETURN_IF_ERROR(delta.ReadInto(id, page.get()));
    PERSY_ASSIGN_OR_RETURN(NodeView view, ViewOf(id, page.get(), level == 1, from));
    if (pages != nullptr) pages->push_back(id);
    (view.leaf() ? stats.leaves : stats.inner_nodes) += 1;
    stats.used_bytes += view.used();
    if (is_root ? view.count() == 0 : view.used() < kNodeMinFill) {
      return Bad(id, absl::StrCat(is_root ? "an empty root" : "under-full: ", view.used(),
                                  " bytes used"));
    }
    for (int i = 0; i < view.count(); ++i) {
      if (view.key(i).size() > kMaxIndexKeySize || view.value(i).size() > kMaxIndexValueSize) {
        return Bad(id, absl::StrCat("entry ", i, " is over the size limits"));
      }
      if (i > 0 && CompareEntries(view.key(i - 1), view.value(i - 1), view.key(i),
                                  view.value(i)) >= 0) {
        return Bad(id, absl::StrCat("entries ", i - 1, " and ", i, " are out of order"));
      }
      if ((lo.has_value() &&
           CompareEntries(view.key(i), view.value(i), lo->key, lo->value) < 0) ||
          (hi.has_value() &&
           CompareEntries(view.key(i), view.value(i), hi->key, hi->value) >= 0)) {
        return Bad(id, absl::StrCat("entry ", i, " lies outside its parent's separators"));
      }
    }
    if (view.leaf()) {
      stats.entries += view.count();
      return absl::OkStatus();
    }
    for (int i = 0; i <= view.count(); ++i) {
      std::optional<IndexEntry> child_lo = lo;
      std::optional<IndexEntry> child_hi = hi;
      if (i > 0) child_lo = IndexEntry{std::string(view.key(i - 1)), std::string(view.value(i - 1))};
      if (i < view.count()) child_hi = IndexEntry{std::string(view.key(i)), std::string(view.value(i))};
      PERSY_RETURN_IF_ERROR(Check(view.child(i), level - 1, id, child_lo, child_hi, false));
    }
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<IndexTreeStats> CheckIndexTree(PageDelta& delta, const IndexRoot& root,
                                              std::vector<PageId>* pages) {
  PERSY_RETURN_IF_ERROR(CheckHeight(root));
  Checker checker{delta, pages, {}, {}};
  if (root.height == 0) return checker.stats;
  PERSY_RETURN_IF_ERROR(checker.Check(root.root, root.height, 0, std::nullopt, std::nullopt, true));
  return checker.stats;
}

absl::Status DropIndexPages(PageDelta& delta, Allocator& alloc, const IndexRoot& root) {
  std::vector<PageId> pages;
  PERSY_RETURN_IF_ERROR(CheckIndexTree(delta, root, &pages).status());
  for (PageId id : pages) PERSY_RETURN_IF_ERROR(alloc.Free(delta, id));
  return absl::OkStatus();
}

}  // namespace persy::internal
