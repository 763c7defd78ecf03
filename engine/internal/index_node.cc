#include "engine/internal/index_node.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/internal/key_codec.h"

namespace persy::internal {
namespace {

// Header fields, from the start of the body.
constexpr size_t kCountAt = 0;
constexpr size_t kDataStartAt = 2;
constexpr size_t kLiveAt = 4;
constexpr size_t kChild0At = 8;

size_t EntryBytes(bool leaf, const char* p) {
  return 4 + GetU16(p) + GetU16(p + 2) + (leaf ? 0 : 8);
}

absl::Status Damaged(PageId id, const std::string& what) {
  return absl::DataLossError(absl::StrCat("page ", id, ": index node ", what));
}

}  // namespace

int CompareEntries(std::string_view key_a, std::string_view value_a, std::string_view key_b,
                   std::string_view value_b) {
  if (int c = CompareBytes(key_a, key_b); c != 0) return c;
  return CompareBytes(value_a, value_b);
}

size_t Node::Used() const {
  size_t used = 0;
  for (const NodeEntry& e : entries) used += EntrySize(leaf, e.key.size(), e.value.size());
  return used;
}

absl::StatusOr<NodeView> NodeView::Open(PageId id, const PageBuf* page) {
  const PageType type = TypeOf(*page);
  if (type != PageType::kIndexLeaf && type != PageType::kIndexInner) {
    return Damaged(id, absl::StrCat("expected, found page type ", static_cast<int>(type)));
  }
  const bool leaf = type == PageType::kIndexLeaf;
  const char* body = page->body();
  const size_t count = GetU16(body + kCountAt);
  const size_t data_start = GetU16(body + kDataStartAt);
  const size_t live = GetU16(body + kLiveAt);
  const size_t slots_end = kNodeHeaderSize + 2 * count;
  if (slots_end > kPageBodySize || data_start < slots_end || data_start > kPageBodySize) {
    return Damaged(id, absl::StrCat("with ", count, " slots and data from ", data_start));
  }
  // Every entry inside [data start, body end), and their sizes adding up to the live bytes.
  // Entries are not checked for overlap (that would mean sorting them on every read): an
  // overlap cannot make a read leave the page, writes only ever go below the data start, and
  // the garbage it would give is caught by the ordering checks (CheckIndexTree).
  size_t sum = 0;
  for (size_t i = 0; i < count; ++i) {
    const size_t offset = GetU16(body + kNodeHeaderSize + 2 * i);
    if (offset < data_start || offset + 4 > kPageBodySize) {
      return Damaged(id, absl::StrCat("slot ", i, " points at ", offset));
    }
    const size_t size = EntryBytes(leaf, body + offset);
    if (offset + size > kPageBodySize) {
      return Damaged(id, absl::StrCat("entry ", i, " of ", size, " bytes at ", offset,
                                      " overruns the page"));
    }
    sum += size;
  }
  if (sum != live) {
    return Damaged(id, absl::StrCat("entries of ", sum, " bytes, header says ", live));
  }
  return NodeView(page, leaf, static_cast<int>(count));
}

const char* NodeView::entry(int i) const {
  const char* body = page_->body();
  return body + GetU16(body + kNodeHeaderSize + 2 * i);
}

std::string_view NodeView::key(int i) const {
  const char* e = entry(i);
  return std::string_view(e + 4, GetU16(e));
}

std::string_view NodeView::value(int i) const {
  const char* e = entry(i);
  return std::string_view(e + 4 + GetU16(e), GetU16(e + 2));
}

PageId NodeView::child(int i) const {
  if (i == 0) return GetU64(page_->body() + kChild0At);
  const char* e = entry(i - 1);
  return GetU64(e + 4 + GetU16(e) + GetU16(e + 2));
}

size_t NodeView::used() const {
  return GetU16(page_->body() + kLiveAt) + 2 * static_cast<size_t>(count_);
}

Node DecodeNode(const NodeView& view) {
  Node node;
  node.leaf = view.leaf();
  node.child0 = node.leaf ? 0 : view.child(0);
  node.entries.reserve(view.count());
  for (int i = 0; i < view.count(); ++i) {
    node.entries.push_back(NodeEntry{std::string(view.key(i)), std::string(view.value(i)),
                                     node.leaf ? 0 : view.child(i + 1)});
  }
  return node;
}

absl::StatusOr<Node> ReadNode(PageId id, const PageBuf* page) {
  absl::StatusOr<NodeView> view = NodeView::Open(id, page);
  if (!view.ok()) return view.status();
  return DecodeNode(*view);
}

void WriteNode(const Node& node, PageBuf* page) {
  PutU16(page->data() + 16,
         static_cast<uint16_t>(node.leaf ? PageType::kIndexLeaf : PageType::kIndexInner));
  char* body = page->body();
  std::memset(body, 0, kPageBodySize);
  size_t pos = kPageBodySize;
  size_t live = 0;
  for (size_t i = 0; i < node.entries.size(); ++i) {
    const NodeEntry& e = node.entries[i];
    const size_t size = EntrySize(node.leaf, e.key.size(), e.value.size()) - 2;
    pos -= size;
    live += size;
    char* p = body + pos;
    PutU16(p, static_cast<uint16_t>(e.key.size()));
    PutU16(p + 2, static_cast<uint16_t>(e.value.size()));
    if (!e.key.empty()) std::memcpy(p + 4, e.key.data(), e.key.size());
    if (!e.value.empty()) std::memcpy(p + 4 + e.key.size(), e.value.data(), e.value.size());
    if (!node.leaf) PutU64(p + 4 + e.key.size() + e.value.size(), e.child);
    PutU16(body + kNodeHeaderSize + 2 * i, static_cast<uint16_t>(pos));
  }
  PutU16(body + kCountAt, static_cast<uint16_t>(node.entries.size()));
  PutU16(body + kDataStartAt, static_cast<uint16_t>(pos));
  PutU16(body + kLiveAt, static_cast<uint16_t>(live));
  PutU64(body + kChild0At, node.leaf ? 0 : node.child0);
}

bool InsertInPlace(PageBuf* page, int pos, std::string_view key, std::string_view value,
                   PageId child) {
  const bool leaf = TypeOf(*page) == PageType::kIndexLeaf;
  char* body = page->body();
  const size_t count = GetU16(body + kCountAt);
  const size_t size = EntrySize(leaf, key.size(), value.size()) - 2;
  const size_t live = GetU16(body + kLiveAt);
  if (live + 2 * count + size + 2 > kNodeCapacity) return false;
  size_t data_start = GetU16(body + kDataStartAt);
  if (data_start < kNodeHeaderSize + 2 * (count + 1) + size) {
    // Enough room, but in holes: rewrite the node packed.
    absl::StatusOr<Node> node = ReadNode(0, page);
    WriteNode(*node, page);
    data_start = GetU16(body + kDataStartAt);
  }
  data_start -= size;
  char* p = body + data_start;
  PutU16(p, static_cast<uint16_t>(key.size()));
  PutU16(p + 2, static_cast<uint16_t>(value.size()));
  if (!key.empty()) std::memcpy(p + 4, key.data(), key.size());
  if (!value.empty()) std::memcpy(p + 4 + key.size(), value.data(), value.size());
  if (!leaf) PutU64(p + 4 + key.size() + value.size(), child);
  char* slots = body + kNodeHeaderSize;
  std::memmove(slots + 2 * (pos + 1), slots + 2 * pos, 2 * (count - pos));
  PutU16(slots + 2 * pos, static_cast<uint16_t>(data_start));
  PutU16(body + kCountAt, static_cast<uint16_t>(count + 1));
  PutU16(body + kDataStartAt, static_cast<uint16_t>(data_start));
  PutU16(body + kLiveAt, static_cast<uint16_t>(live + size));
  return true;
}

void EraseInPlace(PageBuf* page, int pos) {
  const bool leaf = TypeOf(*page) == PageType::kIndexLeaf;
  char* body = page->body();
  const size_t count = GetU16(body + kCountAt);
  char* slots = body + kNodeHeaderSize;
  const size_t size = EntryBytes(leaf, body + GetU16(slots + 2 * pos));
  std::memmove(slots + 2 * pos, slots + 2 * (pos + 1), 2 * (count - pos - 1));
  PutU16(body + kCountAt, static_cast<uint16_t>(count - 1));
  PutU16(body + kLiveAt, static_cast<uint16_t>(GetU16(body + kLiveAt) - size));
  if (count == 1) PutU16(body + kDataStartAt, static_cast<uint16_t>(kPageBodySize));
}

}  // namespace persy::internal
