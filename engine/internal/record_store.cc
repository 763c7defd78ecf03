#include "engine/internal/record_store.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/internal/status_macros.h"

namespace persy::internal {
namespace {


// ---- Layout (docs/format.md, "Records") ----

// Address entry: [u64 page][u16 slot][u16 flags][u32 version].
constexpr size_t kEntrySize = 16;
constexpr uint16_t kEntryUsed = 1;
constexpr uint16_t kEntryOverflow = 2;
constexpr uint16_t kEntryKnownFlags = kEntryUsed | kEntryOverflow;

// Data page body: [u16 slot count][u16 data start][u32 zero], then the slot directory (per slot
// [u16 offset][u16 length], offset 0 = free), free space, and the records packed at the end.
// Offsets are from the start of the body.
constexpr size_t kDataHeaderSize = 8;
constexpr size_t kSlotSize = 4;
constexpr size_t kMaxSlots = (kPageBodySize - kDataHeaderSize) / kSlotSize;  // 1014

// Overflow page body: [u64 next page (0 = end)][u32 bytes in this page][bytes]. Every page of a
// chain but the last is full.
constexpr size_t kOverflowHeaderSize = 12;
constexpr size_t kOverflowPayload = kPageBodySize - kOverflowHeaderSize;  // 4052
constexpr size_t kMaxChainPages = (kMaxRecordBytes + kOverflowPayload - 1) / kOverflowPayload;

// No segment page lies past the largest file offset (page_file.h's kMaxPageId); a link past it
// is damage, and is caught before the page source is asked for it.
constexpr PageId kMaxSegmentPage = (uint64_t{INT64_MAX} / kPageSize) - 1;

static_assert(kLeafEntries * kEntrySize == kPageBodySize);
static_assert(kInnerChildren * 8 == kPageBodySize);
static_assert(kDataHeaderSize + 2 * (kSlotSize + kMaxInlineSize) <= kPageBodySize,
              "two of the biggest inline records fit in one data page");
static_assert(kPageBodySize < 0x10000, "offsets are u16");

const char* TypeName(PageType type) {
  switch (type) {
    case PageType::kFree: return "free";
    case PageType::kFileHeader: return "file header";
    case PageType::kBitmap: return "bitmap";
    case PageType::kJournal: return "journal";
    case PageType::kCatalog: return "catalog";
    case PageType::kData: return "data";
    case PageType::kOverflow: return "overflow";
    case PageType::kIndexLeaf: return "index leaf";
    case PageType::kIndexInner: return "index inner";
    case PageType::kAddressLeaf: return "address leaf";
    case PageType::kAddressInner: return "address inner";
  }
  return "unknown";
}

std::string LinkedFrom(PageId from) {
  return from == 0 ? std::string("the segment root") : absl::StrCat("page ", from);
}

// ---- Pages ----

absl::Status CheckLink(PageId id, PageId from) {
  if (id == 0 || id > kMaxSegmentPage) {
    return absl::DataLossError(
        absl::StrCat(LinkedFrom(from), ": links to page ", id, ", which cannot be a segment page"));
  }
  return absl::OkStatus();
}

absl::Status CheckType(PageId id, const PageBuf& page, PageType want, PageId from) {
  if (TypeOf(page) == want) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      "page ", id, ": is of type ", static_cast<int>(TypeOf(page)), " (", TypeName(TypeOf(page)),
      "), expected ", static_cast<int>(want), " (", TypeName(want), "); linked from ",
      LinkedFrom(from)));
}

// Page `id`, linked from page `from` (0: the segment root), which must be of type `want`.
absl::StatusOr<const PageBuf*> ReadTyped(PageDelta& delta, PageId id, PageType want,
                                         PageId from) {
  PERSY_RETURN_IF_ERROR(CheckLink(id, from));
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page, delta.Read(id));
  PERSY_RETURN_IF_ERROR(CheckType(id, *page, want, from));
  return page;
}

struct NewPage {
  PageId id;
  PageBuf* page;
};

absl::StatusOr<NewPage> AllocatePage(PageDelta& delta, Allocator& alloc, PageType type) {
  PERSY_ASSIGN_OR_RETURN(PageId id, alloc.Allocate(delta));
  PageBuf* page = delta.Fresh(id);
  PutU16(page->data() + 16, static_cast<uint16_t>(type));
  return NewPage{id, page};
}

bool BodyIsZero(const PageBuf& page) {
  const char* body = page.body();
  return std::all_of(body, body + kPageBodySize, [](char c) { return c == 0; });
}

// ---- Address table ----

struct Entry {
  PageId page = 0;
  uint16_t slot = 0;
  uint16_t flags = 0;
  uint32_t version = 0;

  bool used() const { return (flags & kEntryUsed) != 0; }
  bool overflow() const { return (flags & kEntryOverflow) != 0; }
};

absl::StatusOr<Entry> DecodeEntry(PageId leaf_id, const PageBuf& leaf, uint64_t index) {
  const char* p = leaf.body() + index * kEntrySize;
  Entry e{GetU64(p), GetU16(p + 8), GetU16(p + 10), GetU32(p + 12)};
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

void EncodeEntry(PageBuf& leaf, uint64_t index, const Entry& e) {
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

absl::Status CheckRoot(const SegmentRoot& root) {
  if ((root.address_root == 0) != (root.height == 0) || root.height > kMaxAddressHeight) {
    return absl::DataLossError(absl::StrCat("segment root: address root page ", root.address_root,
                                            " with height ", root.height));
  }
  return absl::OkStatus();
}

// The pages from the root to the leaf of a record number: ids[0] is the root, ids[depth-1] the
// leaf; index[d] is the child (or, in the leaf, entry) index taken in ids[d].
struct Path {
  std::array<PageId, kMaxAddressHeight> ids{};
  std::array<uint64_t, kMaxAddressHeight> index{};
  uint32_t depth = 0;
  PageId leaf() const { return ids[depth - 1]; }
  uint64_t entry() const { return index[depth - 1]; }
};

struct Found {
  Path path;
  Entry entry;
};

// The entry of `number`, if it is used.
absl::StatusOr<std::optional<Found>> Lookup(PageDelta& delta, const SegmentRoot& root,
                                            uint64_t number) {
  PERSY_RETURN_IF_ERROR(CheckRoot(root));
  if (number == 0 || root.height == 0 || !Covers(root.height, number)) return std::nullopt;
  Found found;
  Path& path = found.path;
  path.depth = root.height;
  PageId id = root.address_root;
  PageId from = 0;
  for (uint32_t level = root.height; level >= 2; --level) {
    PERSY_ASSIGN_OR_RETURN(const PageBuf* page, ReadTyped(delta, id, PageType::kAddressInner, from));
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

// The leaf that holds `number`, creating it (and the pages above it, and a taller root) if
// needed.
absl::StatusOr<PageId> EnsureLeaf(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                                  uint64_t number) {
  PERSY_RETURN_IF_ERROR(CheckRoot(root));
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
    PERSY_ASSIGN_OR_RETURN(const PageBuf* page, ReadTyped(delta, id, PageType::kAddressInner, from));
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

// Clears the entry `found` names, then frees the address pages left empty, bottom up.
absl::Status ClearEntry(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                        const Path& path) {
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

absl::Status WriteEntry(PageDelta& delta, const Path& path, const Entry& e) {
  PERSY_ASSIGN_OR_RETURN(PageBuf* leaf, delta.Write(path.leaf()));
  EncodeEntry(*leaf, path.entry(), e);
  return absl::OkStatus();
}

// ---- Data pages ----

uint16_t SlotCount(const PageBuf& page) { return GetU16(page.body()); }
uint16_t DataStart(const PageBuf& page) { return GetU16(page.body() + 2); }
size_t DirEnd(size_t count) { return kDataHeaderSize + count * kSlotSize; }
uint16_t SlotOffset(const PageBuf& page, size_t slot) {
  return GetU16(page.body() + DirEnd(slot));
}
uint16_t SlotLength(const PageBuf& page, size_t slot) {
  return GetU16(page.body() + DirEnd(slot) + 2);
}
void SetSlot(PageBuf& page, size_t slot, uint16_t offset, uint16_t length) {
  PutU16(page.body() + DirEnd(slot), offset);
  PutU16(page.body() + DirEnd(slot) + 2, length);
}

// The header checks every reader needs before trusting the slot count and data start.
absl::Status CheckDataHeader(PageId id, const PageBuf& page) {
  const size_t count = SlotCount(page);
  const size_t start = DataStart(page);
  if (GetU32(page.body() + 4) != 0 || count > kMaxSlots || DirEnd(count) > start ||
      start > kPageBodySize) {
    return absl::DataLossError(absl::StrCat("page ", id, ": data page header is malformed (",
                                            count, " slots, data start ", start, ")"));
  }
  return absl::OkStatus();
}

struct Extent {
  size_t offset;
  size_t length;
};

// Where the record in `slot` is. REQUIRES: CheckDataHeader passed.
absl::StatusOr<Extent> SlotExtent(PageId id, const PageBuf& page, uint64_t slot, PageId from) {
  const size_t count = SlotCount(page);
  if (slot >= count) {
    return absl::DataLossError(absl::StrCat("page ", id, ": slot ", slot, " out of range (",
                                            count, " slots); linked from ", LinkedFrom(from)));
  }
  const size_t offset = SlotOffset(page, slot);
  const size_t length = SlotLength(page, slot);
  if (offset == 0) {
    return absl::DataLossError(absl::StrCat("page ", id, ": slot ", slot,
                                            " is free; linked from ", LinkedFrom(from)));
  }
  if (offset < DataStart(page) || offset + length > kPageBodySize || length > kMaxInlineSize) {
    return absl::DataLossError(absl::StrCat("page ", id, ": slot ", slot, " (offset ", offset,
                                            ", length ", length, ") is out of bounds"));
  }
  return Extent{offset, length};
}

// Checks the whole page: header, every slot in bounds, no two records overlapping, the last
// slot in use. A page that passes can be changed safely.
absl::Status CheckDataPage(PageId id, const PageBuf& page) {
  PERSY_RETURN_IF_ERROR(CheckDataHeader(id, page));
  const size_t count = SlotCount(page);
  std::vector<Extent> live;
  live.reserve(count);
  for (size_t slot = 0; slot < count; ++slot) {
    if (SlotOffset(page, slot) == 0) {
      if (SlotLength(page, slot) != 0 || slot + 1 == count) {
        return absl::DataLossError(absl::StrCat("page ", id, ": free slot ", slot,
                                                " is malformed"));
      }
      continue;
    }
    PERSY_ASSIGN_OR_RETURN(Extent e, SlotExtent(id, page, slot, id));
    live.push_back(e);
  }
  std::sort(live.begin(), live.end(), [](const Extent& a, const Extent& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.length < b.length;
  });
  for (size_t i = 1; i < live.size(); ++i) {
    if (live[i - 1].offset + live[i - 1].length > live[i].offset) {
      return absl::DataLossError(
          absl::StrCat("page ", id, ": records overlap at offset ", live[i].offset));
    }
  }
  return absl::OkStatus();
}

// CheckDataPage for a page about to be changed. A private copy in the delta was checked when
// it was first read and has since been changed only by this file, so it is not checked again
// (that would cost a sort per insert into the tail).
absl::Status CheckDataPageForChange(PageDelta& delta, PageId id, const PageBuf& page) {
  if (delta.Contains(id)) return absl::OkStatus();
  return CheckDataPage(id, page);
}

void InitDataPage(PageBuf& page) {
  PutU16(page.body(), 0);
  PutU16(page.body() + 2, static_cast<uint16_t>(kPageBodySize));
  PutU32(page.body() + 4, 0);
}

size_t LiveBytes(const PageBuf& page) {
  size_t n = 0;
  for (size_t slot = 0; slot < SlotCount(page); ++slot) n += SlotLength(page, slot);
  return n;
}

// The lowest free slot, or the slot count if none is free.
size_t FirstFreeSlot(const PageBuf& page) {
  const size_t count = SlotCount(page);
  for (size_t slot = 0; slot < count; ++slot) {
    if (SlotOffset(page, slot) == 0) return slot;
  }
  return count;
}

// Bytes free in the page, wherever they are.
size_t FreeBytes(const PageBuf& page) {
  return kPageBodySize - DirEnd(SlotCount(page)) - LiveBytes(page);
}

// Whether a new record of `length` bytes fits (after compaction). REQUIRES: CheckDataPage passed.
bool Fits(const PageBuf& page, size_t length) {
  const bool new_slot = FirstFreeSlot(page) == SlotCount(page);
  if (new_slot && SlotCount(page) == kMaxSlots) return false;
  return FreeBytes(page) >= length + (new_slot ? kSlotSize : 0);
}

// Packs the records at the end of the page, keeping their slots, and zeroes the free space.
void Compact(PageBuf& page) {
  const PageBuf old = page;
  const size_t count = SlotCount(page);
  size_t pos = kPageBodySize;
  for (size_t slot = 0; slot < count; ++slot) {
    const size_t offset = SlotOffset(old, slot);
    if (offset == 0) continue;
    const size_t length = SlotLength(old, slot);
    pos -= length;
    std::memcpy(page.body() + pos, old.body() + offset, length);
    SetSlot(page, slot, static_cast<uint16_t>(pos), static_cast<uint16_t>(length));
  }
  std::memset(page.body() + DirEnd(count), 0, pos - DirEnd(count));
  PutU16(page.body() + 2, static_cast<uint16_t>(pos));
}

// Stores `bytes` in `slot`, which must be free, compacting if needed.
// REQUIRES: FreeBytes(page) >= bytes.size() (counting the slot as in the directory).
void PlaceAt(PageBuf& page, size_t slot, absl::string_view bytes) {
  if (DataStart(page) - DirEnd(SlotCount(page)) < bytes.size()) Compact(page);
  const size_t start = DataStart(page) - bytes.size();
  std::memcpy(page.body() + start, bytes.data(), bytes.size());
  PutU16(page.body() + 2, static_cast<uint16_t>(start));
  SetSlot(page, slot, static_cast<uint16_t>(start), static_cast<uint16_t>(bytes.size()));
}

// Adds a record. REQUIRES: Fits(page, bytes.size()).
uint16_t AddRecord(PageBuf& page, absl::string_view bytes) {
  const size_t slot = FirstFreeSlot(page);
  const size_t count = SlotCount(page);
  if (slot == count) {
    // Make the room for the new directory entry contiguous before growing the directory into it.
    if (DataStart(page) - DirEnd(count) < bytes.size() + kSlotSize) Compact(page);
    PutU16(page.body(), static_cast<uint16_t>(count + 1));
    SetSlot(page, slot, 0, 0);
  }
  PlaceAt(page, slot, bytes);
  return static_cast<uint16_t>(slot);
}

// Removes the record in `slot` (zeroing its bytes) and drops free slots at the directory's end.
void RemoveRecord(PageBuf& page, size_t slot) {
  std::memset(page.body() + SlotOffset(page, slot), 0, SlotLength(page, slot));
  SetSlot(page, slot, 0, 0);
  size_t count = SlotCount(page);
  while (count > 0 && SlotOffset(page, count - 1) == 0) --count;
  PutU16(page.body(), static_cast<uint16_t>(count));
  if (count == 0) PutU16(page.body() + 2, static_cast<uint16_t>(kPageBodySize));
}

// Replaces the record in `slot` if the new bytes fit in this page; false (page unchanged)
// otherwise.
bool ReplaceRecord(PageBuf& page, size_t slot, absl::string_view bytes) {
  const size_t offset = SlotOffset(page, slot);
  const size_t length = SlotLength(page, slot);
  if (bytes.size() <= length) {
    std::memcpy(page.body() + offset, bytes.data(), bytes.size());
    std::memset(page.body() + offset + bytes.size(), 0, length - bytes.size());
    SetSlot(page, slot, static_cast<uint16_t>(offset), static_cast<uint16_t>(bytes.size()));
    return true;
  }
  if (FreeBytes(page) + length < bytes.size()) return false;
  std::memset(page.body() + offset, 0, length);
  SetSlot(page, slot, 0, 0);
  PlaceAt(page, slot, bytes);
  return true;
}

struct Location {
  PageId page;
  uint16_t slot;
};

// Stores a small record in the tail page, or in a new tail page if it does not fit.
absl::StatusOr<Location> PlaceSmall(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                                    absl::string_view bytes) {
  if (root.tail_page != 0) {
    PERSY_ASSIGN_OR_RETURN(const PageBuf* tail,
                        ReadTyped(delta, root.tail_page, PageType::kData, 0));
    PERSY_RETURN_IF_ERROR(CheckDataPageForChange(delta, root.tail_page, *tail));
    if (Fits(*tail, bytes.size())) {
      PERSY_ASSIGN_OR_RETURN(PageBuf* w, delta.Write(root.tail_page));
      return Location{root.tail_page, AddRecord(*w, bytes)};
    }
  }
  PERSY_ASSIGN_OR_RETURN(NewPage page, AllocatePage(delta, alloc, PageType::kData));
  InitDataPage(*page.page);
  root.tail_page = page.id;
  return Location{page.id, AddRecord(*page.page, bytes)};
}

// The data page of a small record's entry, checked for a change, with the record's slot checked.
absl::StatusOr<const PageBuf*> ReadRecordPage(PageDelta& delta, const Found& found) {
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page,
                      ReadTyped(delta, found.entry.page, PageType::kData, found.path.leaf()));
  PERSY_RETURN_IF_ERROR(CheckDataPageForChange(delta, found.entry.page, *page));
  PERSY_RETURN_IF_ERROR(
      SlotExtent(found.entry.page, *page, found.entry.slot, found.path.leaf()).status());
  return page;
}

// Frees data page `id`, which holds no record; the segment has no tail if it was the tail. An
// empty page kept (even the tail) would pin the end of the file against truncation.
absl::Status FreeDataPage(PageDelta& delta, Allocator& alloc, SegmentRoot& root, PageId id) {
  if (id == root.tail_page) root.tail_page = 0;
  return alloc.Free(delta, id);
}

absl::Status FreeDataPageIfEmpty(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                                 PageId id) {
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page, delta.Read(id));
  if (SlotCount(*page) != 0) return absl::OkStatus();
  return FreeDataPage(delta, alloc, root, id);
}

// Removes a small record from its data page, freeing the page (unwritten) if it empties.
absl::Status RemoveSmall(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                         const Found& found) {
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page, ReadRecordPage(delta, found));
  size_t live = 0;
  for (size_t slot = 0; slot < SlotCount(*page); ++slot) live += SlotOffset(*page, slot) != 0;
  if (live == 1) return FreeDataPage(delta, alloc, root, found.entry.page);
  PERSY_ASSIGN_OR_RETURN(PageBuf* w, delta.Write(found.entry.page));
  RemoveRecord(*w, found.entry.slot);
  return absl::OkStatus();
}

// ---- Overflow chains ----

// Walks the chain from `first` (linked from `from`), checking every page; appends the record's
// bytes to `bytes` and the chain's pages to `pages` (either may be null).
absl::Status WalkChain(PageDelta& delta, PageId first, PageId from, std::string* bytes,
                       std::vector<PageId>* pages) {
  std::unordered_set<PageId> seen{first};
  PageId id = first;
  size_t total = 0;
  for (size_t n = 1;; ++n) {
    if (n > kMaxChainPages) {
      return absl::DataLossError(
          absl::StrCat("page ", first, ": overflow chain longer than the largest record"));
    }
    PERSY_ASSIGN_OR_RETURN(const PageBuf* page, ReadTyped(delta, id, PageType::kOverflow, from));
    const PageId next = GetU64(page->body());
    const size_t count = GetU32(page->body() + 8);
    if (count == 0 || count > kOverflowPayload || (next != 0 && count != kOverflowPayload)) {
      return absl::DataLossError(absl::StrCat("page ", id, ": overflow page holds ", count,
                                              " bytes", next != 0 ? " and is not the last" : ""));
    }
    total += count;
    if (total > kMaxRecordBytes) {
      return absl::DataLossError(
          absl::StrCat("page ", first, ": overflow chain longer than the largest record"));
    }
    if (bytes != nullptr) bytes->append(page->body() + kOverflowHeaderSize, count);
    if (pages != nullptr) pages->push_back(id);
    if (next == 0) break;
    if (!seen.insert(next).second) {
      return absl::DataLossError(
          absl::StrCat("page ", id, ": overflow chain loops back to page ", next));
    }
    from = id;
    id = next;
  }
  if (total <= kMaxInlineSize) {
    return absl::DataLossError(absl::StrCat("page ", first, ": overflow chain of only ", total,
                                            " bytes (such a record is stored inline)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PageId>> ChainPages(PageDelta& delta, PageId first, PageId from) {
  std::vector<PageId> pages;
  PERSY_RETURN_IF_ERROR(WalkChain(delta, first, from, nullptr, &pages));
  return pages;
}

absl::Status FreePages(PageDelta& delta, Allocator& alloc, const std::vector<PageId>& pages) {
  for (PageId id : pages) PERSY_RETURN_IF_ERROR(alloc.Free(delta, id));
  return absl::OkStatus();
}

// Writes `bytes` (more than kMaxInlineSize) as an overflow chain over the pages of `reuse` (an
// old chain), allocating more or freeing the rest. Returns the first page.
absl::StatusOr<PageId> WriteChain(PageDelta& delta, Allocator& alloc, absl::string_view bytes,
                                  const std::vector<PageId>& reuse) {
  const size_t n = (bytes.size() + kOverflowPayload - 1) / kOverflowPayload;
  std::vector<PageId> ids(n);
  std::vector<PageBuf*> bufs(n);
  for (size_t i = 0; i < n; ++i) {
    if (i < reuse.size()) {
      ids[i] = reuse[i];
      PERSY_ASSIGN_OR_RETURN(bufs[i], delta.Write(reuse[i]));
      std::memset(bufs[i]->body(), 0, kPageBodySize);
    } else {
      PERSY_ASSIGN_OR_RETURN(NewPage page, AllocatePage(delta, alloc, PageType::kOverflow));
      ids[i] = page.id;
      bufs[i] = page.page;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const size_t at = i * kOverflowPayload;
    const size_t count = std::min(kOverflowPayload, bytes.size() - at);
    char* body = bufs[i]->body();
    PutU64(body, i + 1 < n ? ids[i + 1] : 0);
    PutU32(body + 8, static_cast<uint32_t>(count));
    std::memcpy(body + kOverflowHeaderSize, bytes.data() + at, count);
  }
  for (size_t i = n; i < reuse.size(); ++i) PERSY_RETURN_IF_ERROR(alloc.Free(delta, reuse[i]));
  return ids[0];
}

absl::Status CheckSize(absl::string_view bytes) {
  if (bytes.size() > kMaxRecordBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a record of ", bytes.size(),
                                                   " bytes is bigger than the limit of ",
                                                   kMaxRecordBytes));
  }
  return absl::OkStatus();
}

// ---- Whole-tree walks ----

// The first used entry >= from in the subtree of page `id` at `level`, whose first number is
// `base` (from >= base).
absl::StatusOr<std::optional<uint64_t>> FindFrom(PageDelta& delta, PageId id, PageId parent,
                                                 uint32_t level, uint64_t base,
                                                 uint64_t from) {
  if (level == 1) {
    PERSY_ASSIGN_OR_RETURN(const PageBuf* leaf, ReadTyped(delta, id, PageType::kAddressLeaf, parent));
    for (uint64_t i = from - base; i < kLeafEntries; ++i) {
      PERSY_ASSIGN_OR_RETURN(Entry e, DecodeEntry(id, *leaf, i));
      if (e.used() && base + i != 0) return base + i;
    }
    return std::nullopt;
  }
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page, ReadTyped(delta, id, PageType::kAddressInner, parent));
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

// Everything CollectSegmentPages checks, gathered during the walk.
struct Collector {
  PageDelta& delta;
  std::vector<PageId>* out;
  std::unordered_set<PageId> seen;
  // Per data page, how many entries point at each slot.
  std::map<PageId, std::vector<uint32_t>> slot_refs;

  absl::Status AddPage(PageId id) {
    if (!seen.insert(id).second) {
      return absl::DataLossError(
          absl::StrCat("page ", id, ": is reached twice within the segment"));
    }
    out->push_back(id);
    return absl::OkStatus();
  }

  absl::Status AddDataPage(PageId id, PageId from) {
    if (slot_refs.count(id) != 0) return absl::OkStatus();
    PERSY_ASSIGN_OR_RETURN(const PageBuf* page, ReadTyped(delta, id, PageType::kData, from));
    PERSY_RETURN_IF_ERROR(CheckDataPage(id, *page));
    if (SlotCount(*page) == 0) {
      return absl::DataLossError(absl::StrCat("page ", id, ": empty data page"));
    }
    PERSY_RETURN_IF_ERROR(AddPage(id));
    slot_refs[id].assign(SlotCount(*page), 0);
    return absl::OkStatus();
  }

  absl::Status Walk(PageId id, PageId parent, uint32_t level, uint64_t base) {
    PERSY_RETURN_IF_ERROR(CheckLink(id, parent));
    PERSY_RETURN_IF_ERROR(AddPage(id));
    if (level == 1) {
      PERSY_ASSIGN_OR_RETURN(const PageBuf* leaf,
                          ReadTyped(delta, id, PageType::kAddressLeaf, parent));
      if (BodyIsZero(*leaf)) {
        return absl::DataLossError(absl::StrCat("page ", id, ": empty address leaf"));
      }
      std::vector<PageId> touched;
      for (uint64_t i = 0; i < kLeafEntries; ++i) {
        PERSY_ASSIGN_OR_RETURN(Entry e, DecodeEntry(id, *leaf, i));
        if (!e.used()) continue;
        if (base + i == 0) {
          return absl::DataLossError(absl::StrCat("page ", id, ": record number 0 is in use"));
        }
        if (e.overflow()) {
          std::vector<PageId> chain;
          PERSY_RETURN_IF_ERROR(WalkChain(delta, e.page, id, nullptr, &chain));
          for (PageId p : chain) {
            PERSY_RETURN_IF_ERROR(AddPage(p));
            delta.ForgetCommitted(p);
          }
          continue;
        }
        PERSY_RETURN_IF_ERROR(AddDataPage(e.page, id));
        PERSY_ASSIGN_OR_RETURN(const PageBuf* data, delta.Read(e.page));
        PERSY_RETURN_IF_ERROR(SlotExtent(e.page, *data, e.slot, id).status());
        if (++slot_refs[e.page][e.slot] > 1) {
          return absl::DataLossError(absl::StrCat("page ", e.page, ": slot ", e.slot,
                                                  " is claimed by two records"));
        }
        touched.push_back(e.page);
      }
      // Done with this leaf and the data pages it reached (CheckNoOrphans reads them again):
      // the walk holds its path, not the whole segment.
      delta.ForgetCommitted(id);
      for (PageId p : touched) delta.ForgetCommitted(p);
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
      PERSY_RETURN_IF_ERROR(Walk(child, id, level - 1, base + i * span));
    }
    delta.ForgetCommitted(id);
    return absl::OkStatus();
  }

  // Every live slot must be some record's.
  absl::Status CheckNoOrphans() {
    for (const auto& [id, refs] : slot_refs) {
      PERSY_ASSIGN_OR_RETURN(const PageBuf* page, delta.Read(id));
      for (size_t slot = 0; slot < refs.size(); ++slot) {
        if (SlotOffset(*page, slot) != 0 && refs[slot] == 0) {
          return absl::DataLossError(absl::StrCat(
              "page ", id, ": slot ", slot, " holds a record no address entry points at"));
        }
      }
      delta.ForgetCommitted(id);
    }
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<std::optional<RecordInfo>> ReadRecord(PageDelta& delta, const SegmentRoot& root,
                                                     uint64_t number) {
  PERSY_ASSIGN_OR_RETURN(std::optional<Found> found, Lookup(delta, root, number));
  if (!found.has_value()) return std::nullopt;
  RecordInfo info;
  info.version = found->entry.version;
  if (found->entry.overflow()) {
    PERSY_RETURN_IF_ERROR(
        WalkChain(delta, found->entry.page, found->path.leaf(), &info.bytes, nullptr));
    return info;
  }
  // Only this slot's bounds are checked: a read needs no more to stay inside the page.
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page,
                      ReadTyped(delta, found->entry.page, PageType::kData, found->path.leaf()));
  PERSY_RETURN_IF_ERROR(CheckDataHeader(found->entry.page, *page));
  PERSY_ASSIGN_OR_RETURN(Extent e,
                      SlotExtent(found->entry.page, *page, found->entry.slot, found->path.leaf()));
  info.bytes.assign(page->body() + e.offset, e.length);
  return info;
}

absl::StatusOr<std::optional<uint32_t>> RecordVersion(PageDelta& delta, const SegmentRoot& root,
                                                      uint64_t number) {
  PERSY_ASSIGN_OR_RETURN(std::optional<Found> found, Lookup(delta, root, number));
  if (!found.has_value()) return std::nullopt;
  return found->entry.version;
}

absl::Status InsertRecord(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                          uint64_t number, absl::string_view bytes) {
  if (number == 0) return absl::InvalidArgumentError("record number 0 is never used");
  PERSY_RETURN_IF_ERROR(CheckSize(bytes));
  PERSY_ASSIGN_OR_RETURN(std::optional<Found> existing, Lookup(delta, root, number));
  if (existing.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("record ", number, " already exists"));
  }
  Entry e;
  e.flags = kEntryUsed;
  e.version = 1;
  if (bytes.size() <= kMaxInlineSize) {
    PERSY_ASSIGN_OR_RETURN(Location loc, PlaceSmall(delta, alloc, root, bytes));
    e.page = loc.page;
    e.slot = loc.slot;
  } else {
    PERSY_ASSIGN_OR_RETURN(e.page, WriteChain(delta, alloc, bytes, {}));
    e.flags |= kEntryOverflow;
  }
  PERSY_ASSIGN_OR_RETURN(PageId leaf_id, EnsureLeaf(delta, alloc, root, number));
  PERSY_ASSIGN_OR_RETURN(PageBuf* leaf, delta.Write(leaf_id));
  EncodeEntry(*leaf, number % kLeafEntries, e);
  return absl::OkStatus();
}

absl::Status UpdateRecord(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                          uint64_t number, absl::string_view bytes) {
  PERSY_RETURN_IF_ERROR(CheckSize(bytes));
  PERSY_ASSIGN_OR_RETURN(std::optional<Found> found, Lookup(delta, root, number));
  if (!found.has_value()) return absl::NotFoundError(absl::StrCat("record ", number, " not found"));
  const Entry old = found->entry;
  if (old.version == UINT32_MAX) {
    return absl::ResourceExhaustedError(
        absl::StrCat("record ", number, " has reached the largest version"));
  }
  Entry e = old;
  ++e.version;
  if (bytes.size() <= kMaxInlineSize) {
    bool placed = false;
    if (old.overflow()) {
      PERSY_ASSIGN_OR_RETURN(std::vector<PageId> chain,
                          ChainPages(delta, old.page, found->path.leaf()));
      PERSY_RETURN_IF_ERROR(FreePages(delta, alloc, chain));
    } else {
      PERSY_RETURN_IF_ERROR(ReadRecordPage(delta, *found).status());
      PERSY_ASSIGN_OR_RETURN(PageBuf* page, delta.Write(old.page));
      if (ReplaceRecord(*page, old.slot, bytes)) {
        placed = true;
      } else {
        RemoveRecord(*page, old.slot);
      }
    }
    if (!placed) {
      PERSY_ASSIGN_OR_RETURN(Location loc, PlaceSmall(delta, alloc, root, bytes));
      e.page = loc.page;
      e.slot = loc.slot;
      e.flags = kEntryUsed;
      // The old page may be left empty: a record alone in a page whose directory is long (free
      // slots before it) may not have room to grow there. (If it was the tail, the record went
      // back into it.)
      if (!old.overflow()) PERSY_RETURN_IF_ERROR(FreeDataPageIfEmpty(delta, alloc, root, old.page));
    }
  } else {
    std::vector<PageId> reuse;
    if (old.overflow()) {
      PERSY_ASSIGN_OR_RETURN(reuse, ChainPages(delta, old.page, found->path.leaf()));
    } else {
      PERSY_RETURN_IF_ERROR(RemoveSmall(delta, alloc, root, *found));
    }
    PERSY_ASSIGN_OR_RETURN(e.page, WriteChain(delta, alloc, bytes, reuse));
    e.slot = 0;
    e.flags = kEntryUsed | kEntryOverflow;
  }
  return WriteEntry(delta, found->path, e);
}

absl::Status DeleteRecord(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                          uint64_t number) {
  PERSY_ASSIGN_OR_RETURN(std::optional<Found> found, Lookup(delta, root, number));
  if (!found.has_value()) return absl::NotFoundError(absl::StrCat("record ", number, " not found"));
  if (found->entry.overflow()) {
    PERSY_ASSIGN_OR_RETURN(std::vector<PageId> chain,
                        ChainPages(delta, found->entry.page, found->path.leaf()));
    PERSY_RETURN_IF_ERROR(FreePages(delta, alloc, chain));
  } else {
    PERSY_RETURN_IF_ERROR(RemoveSmall(delta, alloc, root, *found));
  }
  return ClearEntry(delta, alloc, root, found->path);
}

absl::Status DropSegmentPages(PageDelta& delta, Allocator& alloc, const SegmentRoot& root) {
  std::vector<PageId> pages;
  PERSY_RETURN_IF_ERROR(CollectSegmentPages(delta, root, &pages));
  return FreePages(delta, alloc, pages);
}

absl::StatusOr<std::optional<uint64_t>> NextRecord(PageDelta& delta, const SegmentRoot& root,
                                                   uint64_t from) {
  PERSY_RETURN_IF_ERROR(CheckRoot(root));
  if (from == 0) from = 1;
  if (root.height == 0 || !Covers(root.height, from)) return std::nullopt;
  return FindFrom(delta, root.address_root, 0, root.height, 0, from);
}

absl::Status CollectSegmentPages(PageDelta& delta, const SegmentRoot& root,
                                 std::vector<PageId>* pages) {
  PERSY_RETURN_IF_ERROR(CheckRoot(root));
  Collector c{delta, pages, {}, {}};
  if (root.tail_page != 0) PERSY_RETURN_IF_ERROR(c.AddDataPage(root.tail_page, 0));
  if (root.height != 0) PERSY_RETURN_IF_ERROR(c.Walk(root.address_root, 0, root.height, 0));
  return c.CheckNoOrphans();
}

#undef PERSY_RETURN_IF_ERROR
#undef RS_CONCAT_INNER
#undef RS_CONCAT
#undef PERSY_ASSIGN_OR_RETURN
#undef PERSY_ASSIGN_OR_RETURN_IMPL

}  // namespace persy::internal
