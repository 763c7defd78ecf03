#include "engine/internal/address_table.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/internal/status_macros.h"

namespace persy::internal {
namespace {

// Address entry: [u64 page][u16 slot][u16 flags][u32 version].
constexpr size_t kEntrySize = 16;
constexpr uint16_t kEntryKnownFlags = kEntryUsed | kEntryOverflow;

static_assert(kLeafEntries * kEntrySize == kPageBodySize);
static_assert(kInnerChildren * 8 == kPageBodySize);

bool BodyIsZero(const PageBuf& page) {
  const char* body = page.body();
  return std::all_of(body, body + kPageBodySize, [](char c) { return c == 0; });
}

absl::StatusOr<AddressEntry> DecodeEntry(PageId leaf_id, const PageBuf& leaf, uint64_t index) {
  const char* p = leaf.body() + index * kEntrySize;
  AddressEntry e{GetU64(p), GetU16(p + 8), GetU16(p + 10), GetU32(p + 12)};
  auto bad = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("page ", leaf_id, ": address entry ", index, " ",
                                            what, " (page ", e.page, ", slot ", e.slot,
                                            ", flags ", e.flags, ", version ", e.version, ")"));
  };
  if ((e.flags & ~kEntryKnownFlags) != 0) return bad("has unknown flags");
  if (!e.used()) {
    if (e.page != 0 || e.slot != 0 || e.flags != 0 || e.version != 0) {
      return bad("is unused but not zero");
    }
    return e;
  }
  if (e.page == 0 || e.page > kMaxSegmentPage) return bad("points at no possible page");
  if (e.version == 0) return bad("has version 0");
  if (e.overflow() && e.slot != 0) return bad("is an overflow record with a slot");
  return e;
}

void EncodeEntry(PageBuf& leaf, uint64_t index, const AddressEntry& e) {
  char* p = leaf.body() + index * kEntrySize;
  PutU64(p, e.page);
  PutU16(p + 8, e.slot);
  PutU16(p + 10, e.flags);
  PutU32(p + 12, e.version);
}

// 508^k; 508^7 < 2^64.
uint64_t PowInner(uint32_t k) {
  uint64_t r = 1;
  for (uint32_t i = 0; i < k; ++i) r *= kInnerChildren;
  return r;
}

// Whether a tree of `height` (1..kMaxAddressHeight) has room for `number`.
bool Covers(uint32_t height, uint64_t number) {
  return number / kLeafEntries < PowInner(height - 1);
}

uint32_t HeightFor(uint64_t number) {
  uint32_t h = 1;
  while (!Covers(h, number)) ++h;
  return h;
}

// The child index of `number` in an inner page at `level` (2..height; leaves are level 1).
uint64_t ChildIndex(uint64_t number, uint32_t level) {
  return (number / kLeafEntries / PowInner(level - 2)) % kInnerChildren;
}

// How many record numbers a page at `level` covers: 254 * 508^(level-1), saturated at 2^64-1
// (a height-8 root covers more than there are).
uint64_t Span(uint32_t level) {
  const uint64_t p = PowInner(level - 1);
  if (p > UINT64_MAX / kLeafEntries) return UINT64_MAX;
  return p * kLeafEntries;
}

// The leaf that holds `number`, creating it (and the pages above it, and a taller root) if
// needed.
absl::StatusOr<PageId> EnsureLeaf(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                                  uint64_t number) {
  PERSY_RETURN_IF_ERROR(CheckAddressRoot(root));
  if (root.height == 0) {
    const uint32_t height = HeightFor(number);
    PERSY_ASSIGN_OR_RETURN(
        NewPage page,
        AllocatePage(delta, alloc, height == 1 ? PageType::kAddressLeaf : PageType::kAddressInner));
    root.address_root = page.id;
    root.height = height;
  }
  while (!Covers(root.height, number)) {
    // Unreachable past kMaxAddressHeight: a tree of that height covers every number.
    PERSY_ASSIGN_OR_RETURN(NewPage page, AllocatePage(delta, alloc, PageType::kAddressInner));
    PutU64(page.page->body(), root.address_root);
    root.address_root = page.id;
    ++root.height;
  }
  PageId id = root.address_root;
  PageId from = 0;
  for (uint32_t level = root.height; level >= 2; --level) {
    PERSY_ASSIGN_OR_RETURN(const PageBuf* page,
                           ReadTyped(delta, id, PageType::kAddressInner, from));
    const uint64_t i = ChildIndex(number, level);
    PageId child = GetU64(page->body() + i * 8);
    if (child == 0) {
      PERSY_ASSIGN_OR_RETURN(NewPage fresh,
                             AllocatePage(delta, alloc,
                                          level == 2 ? PageType::kAddressLeaf
                                                     : PageType::kAddressInner));
      PERSY_ASSIGN_OR_RETURN(PageBuf* parent, delta.Write(id));
      PutU64(parent->body() + i * 8, fresh.id);
      child = fresh.id;
    }
    from = id;
    id = child;
  }
  PERSY_RETURN_IF_ERROR(ReadTyped(delta, id, PageType::kAddressLeaf, from).status());
  return id;
}

// The first used entry >= from in the subtree of page `id` at `level`, whose first number is
// `base` (from >= base).
absl::StatusOr<std::optional<uint64_t>> FindFrom(PageDelta& delta, PageId id, PageId parent,
                                                 uint32_t level, uint64_t base,
                                                 uint64_t from) {
  if (level == 1) {
    PERSY_ASSIGN_OR_RETURN(const PageBuf* leaf,
                           ReadTyped(delta, id, PageType::kAddressLeaf, parent));
    for (uint64_t i = from - base; i < kLeafEntries; ++i) {
      PERSY_ASSIGN_OR_RETURN(AddressEntry e, DecodeEntry(id, *leaf, i));
      if (e.used() && base + i != 0) return base + i;
    }
    return std::nullopt;
  }
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page,
                         ReadTyped(delta, id, PageType::kAddressInner, parent));
  const uint64_t span = Span(level - 1);
  for (uint64_t i = (from - base) / span; i < kInnerChildren; ++i) {
    if (i > (UINT64_MAX - base) / span) break;  // numbers past 2^64-1
    const PageId child = GetU64(page->body() + i * 8);
    if (child == 0) continue;
    const uint64_t child_base = base + i * span;
    PERSY_ASSIGN_OR_RETURN(std::optional<uint64_t> r,
                           FindFrom(delta, child, id, level - 1, child_base,
                                    std::max(from, child_base)));
    if (r.has_value()) return r;
  }
  return std::nullopt;
}

absl::Status Walk(PageDelta& delta, AddressTableVisitor& visitor, PageId id, PageId parent,
                  uint32_t level, uint64_t base) {
  PERSY_RETURN_IF_ERROR(CheckLink(id, parent));
  PERSY_RETURN_IF_ERROR(visitor.OnAddressPage(id));
  if (level == 1) {
    PERSY_ASSIGN_OR_RETURN(const PageBuf* leaf,
                           ReadTyped(delta, id, PageType::kAddressLeaf, parent));
    if (BodyIsZero(*leaf)) {
      return absl::DataLossError(absl::StrCat("page ", id, ": empty address leaf"));
    }
    for (uint64_t i = 0; i < kLeafEntries; ++i) {
      PERSY_ASSIGN_OR_RETURN(AddressEntry e, DecodeEntry(id, *leaf, i));
      if (!e.used()) continue;
      if (base + i == 0) {
        return absl::DataLossError(absl::StrCat("page ", id, ": record number 0 is in use"));
      }
      PERSY_RETURN_IF_ERROR(visitor.OnEntry(id, e));
    }
    delta.ForgetCommitted(id);
    visitor.OnLeafDone();
    return absl::OkStatus();
  }
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page,
                         ReadTyped(delta, id, PageType::kAddressInner, parent));
  if (BodyIsZero(*page)) {
    return absl::DataLossError(absl::StrCat("page ", id, ": empty address page"));
  }
  const uint64_t span = Span(level - 1);
  for (uint64_t i = 0; i < kInnerChildren; ++i) {
    const PageId child = GetU64(page->body() + i * 8);
    if (child == 0) continue;
    if (i > (UINT64_MAX - base) / span) {
      return absl::DataLossError(
          absl::StrCat("page ", id, ": child ", i, " lies past the largest record number"));
    }
    PERSY_RETURN_IF_ERROR(Walk(delta, visitor, child, id, level - 1, base + i * span));
  }
  delta.ForgetCommitted(id);
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckAddressRoot(const SegmentRoot& root) {
  if ((root.address_root == 0) != (root.height == 0) || root.height > kMaxAddressHeight) {
    return absl::DataLossError(absl::StrCat("segment root: address root page ", root.address_root,
                                            " with height ", root.height));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<FoundEntry>> LookupEntry(PageDelta& delta, const SegmentRoot& root,
                                                      uint64_t number) {
  PERSY_RETURN_IF_ERROR(CheckAddressRoot(root));
  if (number == 0 || root.height == 0 || !Covers(root.height, number)) return std::nullopt;
  FoundEntry found;
  AddressPath& path = found.path;
  path.depth = root.height;
  PageId id = root.address_root;
  PageId from = 0;
  for (uint32_t level = root.height; level >= 2; --level) {
    PERSY_ASSIGN_OR_RETURN(const PageBuf* page,
                           ReadTyped(delta, id, PageType::kAddressInner, from));
    const uint64_t i = ChildIndex(number, level);
    path.ids[root.height - level] = id;
    path.index[root.height - level] = i;
    const PageId child = GetU64(page->body() + i * 8);
    if (child == 0) return std::nullopt;
    from = id;
    id = child;
  }
  PERSY_ASSIGN_OR_RETURN(const PageBuf* leaf, ReadTyped(delta, id, PageType::kAddressLeaf, from));
  path.ids[root.height - 1] = id;
  path.index[root.height - 1] = number % kLeafEntries;
  PERSY_ASSIGN_OR_RETURN(found.entry, DecodeEntry(id, *leaf, path.entry()));
  if (!found.entry.used()) return std::nullopt;
  return found;
}

absl::Status AddEntry(PageDelta& delta, Allocator& alloc, SegmentRoot& root, uint64_t number,
                      const AddressEntry& entry) {
  PERSY_ASSIGN_OR_RETURN(PageId leaf_id, EnsureLeaf(delta, alloc, root, number));
  PERSY_ASSIGN_OR_RETURN(PageBuf* leaf, delta.Write(leaf_id));
  EncodeEntry(*leaf, number % kLeafEntries, entry);
  return absl::OkStatus();
}

absl::Status WriteEntry(PageDelta& delta, const AddressPath& path, const AddressEntry& entry) {
  PERSY_ASSIGN_OR_RETURN(PageBuf* leaf, delta.Write(path.leaf()));
  EncodeEntry(*leaf, path.entry(), entry);
  return absl::OkStatus();
}

absl::Status ClearEntry(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                        const AddressPath& path) {
  for (uint32_t d = path.depth; d-- > 0;) {
    const PageId id = path.ids[d];
    const size_t width = d + 1 == path.depth ? kEntrySize : 8;
    const size_t at = path.index[d] * width;
    PERSY_ASSIGN_OR_RETURN(const PageBuf* page, delta.Read(id));
    // Empty once this entry or link is cleared?
    const char* body = page->body();
    const bool empty =
        std::all_of(body, body + at, [](char c) { return c == 0; }) &&
        std::all_of(body + at + width, body + kPageBodySize, [](char c) { return c == 0; });
    if (!empty) {
      PERSY_ASSIGN_OR_RETURN(PageBuf* w, delta.Write(id));
      std::memset(w->body() + at, 0, width);
      return absl::OkStatus();
    }
    PERSY_RETURN_IF_ERROR(alloc.Free(delta, id));
    if (d == 0) {
      root.address_root = 0;
      root.height = 0;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<uint64_t>> NextEntry(PageDelta& delta, const SegmentRoot& root,
                                                  uint64_t from) {
  PERSY_RETURN_IF_ERROR(CheckAddressRoot(root));
  if (from == 0) from = 1;
  if (root.height == 0 || !Covers(root.height, from)) return std::nullopt;
  return FindFrom(delta, root.address_root, 0, root.height, 0, from);
}

absl::Status WalkAddressTable(PageDelta& delta, const SegmentRoot& root,
                              AddressTableVisitor& visitor) {
  PERSY_RETURN_IF_ERROR(CheckAddressRoot(root));
  if (root.height == 0) return absl::OkStatus();
  return Walk(delta, visitor, root.address_root, 0, root.height, 0);
}

}  // namespace persy::internal
