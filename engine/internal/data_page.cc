#include "engine/internal/data_page.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/internal/segment_page.h"
#include "engine/internal/status_macros.h"

namespace persy::internal {
namespace {

// Data page body: [u16 slot count][u16 data start][u32 zero], then the slot directory (per slot
// [u16 offset][u16 length], offset 0 = free), free space, and the records packed at the end.
// Offsets are from the start of the body.
constexpr size_t kDataHeaderSize = 8;
constexpr size_t kSlotSize = 4;
constexpr size_t kMaxSlots = (kPageBodySize - kDataHeaderSize) / kSlotSize;  // 1014

static_assert(kDataHeaderSize + 2 * (kSlotSize + kMaxInlineSize) <= kPageBodySize,
              "two of the biggest inline records fit in one data page");
static_assert(kPageBodySize < 0x10000, "offsets are u16");

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

// Data page `id` of a small record (in `slot`, linked from `from`), checked for a change, with
// the record's slot checked.
absl::StatusOr<const PageBuf*> ReadRecordPage(PageDelta& delta, PageId id, uint16_t slot,
                                              PageId from) {
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page, ReadTyped(delta, id, PageType::kData, from));
  PERSY_RETURN_IF_ERROR(CheckDataPageForChange(delta, id, *page));
  PERSY_RETURN_IF_ERROR(SlotExtent(id, *page, slot, from).status());
  return page;
}

// Frees data page `id`, which holds no record; the segment has no tail if it was the tail. An
// empty page kept (even the tail) would pin the end of the file against truncation.
absl::Status FreeDataPage(PageDelta& delta, Allocator& alloc, PageId& tail_page, PageId id) {
  if (id == tail_page) tail_page = 0;
  return alloc.Free(delta, id);
}

}  // namespace

absl::StatusOr<DataSlot> PlaceSmall(PageDelta& delta, Allocator& alloc, PageId& tail_page,
                                    absl::string_view bytes) {
  if (tail_page != 0) {
    PERSY_ASSIGN_OR_RETURN(const PageBuf* tail, ReadTyped(delta, tail_page, PageType::kData, 0));
    PERSY_RETURN_IF_ERROR(CheckDataPageForChange(delta, tail_page, *tail));
    if (Fits(*tail, bytes.size())) {
      PERSY_ASSIGN_OR_RETURN(PageBuf* w, delta.Write(tail_page));
      return DataSlot{tail_page, AddRecord(*w, bytes)};
    }
  }
  PERSY_ASSIGN_OR_RETURN(NewPage page, AllocatePage(delta, alloc, PageType::kData));
  InitDataPage(*page.page);
  tail_page = page.id;
  return DataSlot{page.id, AddRecord(*page.page, bytes)};
}

absl::StatusOr<std::string> ReadSmall(PageDelta& delta, PageId id, uint16_t slot, PageId from) {
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page, ReadTyped(delta, id, PageType::kData, from));
  PERSY_RETURN_IF_ERROR(CheckDataHeader(id, *page));
  PERSY_ASSIGN_OR_RETURN(Extent e, SlotExtent(id, *page, slot, from));
  return std::string(page->body() + e.offset, e.length);
}

absl::StatusOr<bool> ReplaceSmall(PageDelta& delta, PageId id, uint16_t slot, PageId from,
                                  absl::string_view bytes) {
  PERSY_RETURN_IF_ERROR(ReadRecordPage(delta, id, slot, from).status());
  PERSY_ASSIGN_OR_RETURN(PageBuf* page, delta.Write(id));
  if (ReplaceRecord(*page, slot, bytes)) return true;
  RemoveRecord(*page, slot);
  return false;
}

absl::Status RemoveSmall(PageDelta& delta, Allocator& alloc, PageId& tail_page, PageId id,
                         uint16_t slot, PageId from) {
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page, ReadRecordPage(delta, id, slot, from));
  size_t live = 0;
  for (size_t s = 0; s < SlotCount(*page); ++s) live += SlotOffset(*page, s) != 0;
  if (live == 1) return FreeDataPage(delta, alloc, tail_page, id);
  PERSY_ASSIGN_OR_RETURN(PageBuf* w, delta.Write(id));
  RemoveRecord(*w, slot);
  return absl::OkStatus();
}

absl::Status FreeDataPageIfEmpty(PageDelta& delta, Allocator& alloc, PageId& tail_page,
                                 PageId id) {
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page, delta.Read(id));
  if (SlotCount(*page) != 0) return absl::OkStatus();
  return FreeDataPage(delta, alloc, tail_page, id);
}

absl::StatusOr<size_t> CheckWholeDataPage(PageDelta& delta, PageId id, PageId from) {
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page, ReadTyped(delta, id, PageType::kData, from));
  PERSY_RETURN_IF_ERROR(CheckDataPage(id, *page));
  if (SlotCount(*page) == 0) {
    return absl::DataLossError(absl::StrCat("page ", id, ": empty data page"));
  }
  return size_t{SlotCount(*page)};
}

absl::Status CheckLiveSlot(PageDelta& delta, PageId id, uint16_t slot, PageId from) {
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page, delta.Read(id));
  return SlotExtent(id, *page, slot, from).status();
}

absl::Status CheckSlotsClaimed(PageDelta& delta, PageId id, const std::vector<uint32_t>& claims) {
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page, delta.Read(id));
  for (size_t slot = 0; slot < claims.size(); ++slot) {
    if (SlotOffset(*page, slot) != 0 && claims[slot] == 0) {
      return absl::DataLossError(absl::StrCat(
          "page ", id, ": slot ", slot, " holds a record no address entry points at"));
    }
  }
  return absl::OkStatus();
}

}  // namespace persy::internal
