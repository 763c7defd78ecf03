#include "engine/internal/allocator.h"

#include <algorithm>
#include <bit>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"

namespace persy::internal {
namespace {

static_assert(kPageBodySize % 8 == 0, "bitmaps are scanned 64 pages at a time");
constexpr size_t kWords = kPageBodySize / 8;

// Page ids whose byte offset fits in 64 bits; a group must end below this.
constexpr uint64_t kMaxPages = uint64_t{1} << 52;
constexpr uint64_t kMaxGroups = kMaxPages / kGroupPages;

bool BitSet(const PageBuf& bitmap, uint64_t offset) {
  return (static_cast<uint8_t>(bitmap.body()[offset / 8]) >> (offset % 8)) & 1;
}

void SetBit(PageBuf& bitmap, uint64_t offset, bool used) {
  char& byte = bitmap.body()[offset / 8];
  const auto mask = static_cast<uint8_t>(1u << (offset % 8));
  byte = static_cast<char>(used ? (static_cast<uint8_t>(byte) | mask)
                                : (static_cast<uint8_t>(byte) & ~mask));
}

// 64 bits of a bitmap, little-endian like the bytes: bit k of word w is page offset 64w + k. A
// group that does not exist (nullptr) has every page free.
uint64_t Word(const PageBuf* bitmap, size_t w) {
  return bitmap == nullptr ? 0 : GetU64(bitmap->body() + 8 * w);
}

bool IsZero(const PageBuf& page) {
  return std::all_of(page.bytes.begin(), page.bytes.end(), [](char c) { return c == 0; });
}

// A new group's bitmap in `delta`: every page free but the bitmap page itself (and, in group 0,
// the two file header pages).
PageBuf* StartGroup(PageDelta& delta, uint64_t group) {
  PageBuf* bitmap = delta.Fresh(BitmapPageOf(group));
  PutU16(bitmap->data() + 16, static_cast<uint16_t>(PageType::kBitmap));
  SetBit(*bitmap, 2, true);
  if (group == 0) {
    SetBit(*bitmap, 0, true);
    SetBit(*bitmap, 1, true);
  }
  return bitmap;
}

absl::Status NotFormatted() {
  return absl::FailedPreconditionError(
      absl::StrCat("page ", BitmapPageOf(0), ": no group 0 bitmap (the file was not formatted)"));
}

}  // namespace

struct Allocator::JournalScan {
  // Stop after this many pages.
  uint64_t want = 1;
  // Count the room the journal will have once the delta commits: the delta's view alone
  // decides, and its groups are durable.
  bool after_commit = false;

  uint64_t count = 0;
  PageId first = kNoPage;
  // The first group that is not durable, if the scan got there.
  uint64_t stop_group = 0;
};

absl::Status Allocator::Format(PageDelta& delta) {
  const PageId id = BitmapPageOf(0);
  absl::StatusOr<const PageBuf*> existing = delta.Read(id);
  if (!existing.ok()) return existing.status();
  if (delta.Contains(id) || !IsZero(**existing)) {
    return absl::FailedPreconditionError(absl::StrCat("page ", id, ": already exists"));
  }
  StartGroup(delta, 0);
  return absl::OkStatus();
}

absl::StatusOr<const PageBuf*> Allocator::LoadBitmap(PageDelta& delta, uint64_t group,
                                                     Image image) {
  const PageId id = BitmapPageOf(group);
  const bool private_copy = image == Image::kView && delta.Contains(id);
  absl::StatusOr<const PageBuf*> page =
      image == Image::kView ? delta.Read(id) : delta.ReadCommitted(id);
  if (!page.ok()) return page.status();
  const PageBuf& bitmap = **page;
  // The source verified a committed image; only the zero page past the end has type kFree.
  if (!private_copy && TypeOf(bitmap) == PageType::kFree && IsZero(bitmap)) return nullptr;
  // A private copy went wrong in this process, not on disk: a bug, not damage.
  auto error = [&](const std::string& what) {
    std::string message = absl::StrCat("page ", id, " (bitmap of group ", group, "): ", what);
    return private_copy ? absl::InternalError(message) : absl::DataLossError(message);
  };
  if (TypeOf(bitmap) != PageType::kBitmap) {
    return error(absl::StrCat("is of type ", static_cast<int>(TypeOf(bitmap))));
  }
  if (!BitSet(bitmap, 2) || (group == 0 && (!BitSet(bitmap, 0) || !BitSet(bitmap, 1)))) {
    return error("does not mark itself and the file header pages used");
  }
  return &bitmap;
}

absl::StatusOr<uint64_t> Allocator::FirstGroup(PageDelta& delta) {
  if (hint_ == 0) return uint64_t{0};
  // Groups only disappear if the file is truncated below a bitmap page, which UsedPageCount
  // never allows; starting a group past a missing one would leave a gap, so check anyway.
  absl::StatusOr<const PageBuf*> below = LoadBitmap(delta, hint_ - 1, Image::kCommitted);
  if (!below.ok()) return below.status();
  if (*below == nullptr) hint_ = 0;
  return hint_;
}

template <typename Visit>
bool Allocator::ForEachFree(uint64_t group, const PageBuf* a, const PageBuf* b, uint64_t end,
                            Visit visit) const {
  const PageId base = group * kGroupPages;
  auto masks = reserved_words_.find(group);
  const std::vector<uint64_t>* reserved = masks == reserved_words_.end() ? nullptr : &masks->second;
  for (size_t w = 0; w < kWords && w * 64 < end; ++w) {
    const uint64_t taken = Word(a, w) | Word(b, w) | (reserved != nullptr ? (*reserved)[w] : 0);
    for (uint64_t free = ~taken; free != 0; free &= free - 1) {
      const uint64_t offset = w * 64 + static_cast<uint64_t>(std::countr_zero(free));
      if (offset >= end) return false;
      const PageId id = base + offset;
      // Only a group that does not exist leaves these bits clear.
      if (id < 2 || IsBitmapPage(id)) continue;
      if (visit(id)) return true;
    }
  }
  return false;
}

absl::StatusOr<PageId> Allocator::Allocate(PageDelta& delta) {
  absl::StatusOr<uint64_t> first = FirstGroup(delta);
  if (!first.ok()) return first.status();
  for (uint64_t group = *first; group < kMaxGroups; ++group) {
    absl::StatusOr<const PageBuf*> loaded = LoadBitmap(delta, group, Image::kView);
    if (!loaded.ok()) return loaded.status();
    const PageBuf* bitmap = *loaded;
    if (bitmap == nullptr) {
      if (group == 0) return NotFormatted();
      bitmap = StartGroup(delta, group);
    }
    PageId found = kNoPage;
    ForEachFree(group, bitmap, nullptr, kGroupPages, [&](PageId id) {
      found = id;
      return true;
    });
    if (found != kNoPage) {
      absl::StatusOr<PageBuf*> writable = delta.Write(BitmapPageOf(group));
      if (!writable.ok()) return writable.status();
      SetBit(**writable, found - group * kGroupPages, true);
      return found;
    }
    // Full as committed (not merely in this delta, which may yet be discarded).
    if (group == hint_ && !delta.Contains(BitmapPageOf(group))) ++hint_;
  }
  return absl::ResourceExhaustedError("the file has reached its largest size");
}

absl::Status Allocator::Free(PageDelta& delta, PageId id) {
  if (id < 2 || IsBitmapPage(id) || id >= kMaxPages) {
    return absl::InvalidArgumentError(absl::StrCat("page ", id, " cannot be freed"));
  }
  const uint64_t group = id / kGroupPages;
  absl::StatusOr<const PageBuf*> bitmap = LoadBitmap(delta, group, Image::kView);
  if (!bitmap.ok()) return bitmap.status();
  if (*bitmap == nullptr || !BitSet(**bitmap, id % kGroupPages)) {
    return absl::DataLossError(absl::StrCat("page ", id, ": freed, but it is not in use"));
  }
  absl::StatusOr<PageBuf*> writable = delta.Write(BitmapPageOf(group));
  if (!writable.ok()) return writable.status();
  SetBit(**writable, id % kGroupPages, false);
  if (defer_frees_) {
    Reserve(id);
    deferred_.push_back(id);
  }
  Freed(id);
  return absl::OkStatus();
}

bool Allocator::IsReserved(PageId id) const {
  auto words = reserved_words_.find(id / kGroupPages);
  const uint64_t offset = id % kGroupPages;
  return words != reserved_words_.end() &&
         (words->second[offset / 64] >> (offset % 64) & 1) != 0;
}

void Allocator::Reserve(PageId id) {
  std::vector<uint64_t>& words = reserved_words_[id / kGroupPages];
  words.resize(kWords, 0);
  const uint64_t offset = id % kGroupPages;
  words[offset / 64] |= uint64_t{1} << (offset % 64);
}

void Allocator::Unreserve(PageId id) {
  if (!IsReserved(id)) return;
  auto words = reserved_words_.find(id / kGroupPages);
  const uint64_t offset = id % kGroupPages;
  words->second[offset / 64] &= ~(uint64_t{1} << (offset % 64));
  if (std::all_of(words->second.begin(), words->second.end(), [](uint64_t w) { return w == 0; })) {
    reserved_words_.erase(words);
  }
  Freed(id);
}

void Allocator::Freed(PageId id) { hint_ = std::min(hint_, id / kGroupPages); }

absl::Status Allocator::ScanForJournal(PageDelta& delta, JournalScan& scan) {
  if (scan.count >= scan.want) return absl::OkStatus();
  absl::StatusOr<uint64_t> first = FirstGroup(delta);
  if (!first.ok()) return first.status();
  // While the file is being created, group 0 exists only in the delta, and nothing is durable
  // before the file header is: then too the delta's groups count as durable.
  bool view_decides = scan.after_commit;
  if (!view_decides) {
    absl::StatusOr<const PageBuf*> group0 = LoadBitmap(delta, 0, Image::kCommitted);
    if (!group0.ok()) return group0.status();
    view_decides = *group0 == nullptr;
  }
  auto visit = [&scan](PageId id) {
    if (scan.count++ == 0) scan.first = id;
    return scan.count >= scan.want;
  };
  for (uint64_t group = *first; group < kMaxGroups; ++group) {
    absl::StatusOr<const PageBuf*> view = LoadBitmap(delta, group, Image::kView);
    if (!view.ok()) return view.status();
    if (*view == nullptr && group == 0) return NotFormatted();
    const PageBuf* committed = nullptr;
    bool durable = *view != nullptr;
    if (!view_decides) {
      absl::StatusOr<const PageBuf*> loaded = LoadBitmap(delta, group, Image::kCommitted);
      if (!loaded.ok()) return loaded.status();
      committed = *loaded;
      durable = committed != nullptr;
    }
    if (!durable) {
      // Below this group's bitmap page: the file may end there, but nothing may lie past it.
      ForEachFree(group, *view, nullptr, /*end=*/2, visit);
      scan.stop_group = group;
      return absl::OkStatus();
    }
    const uint64_t before = scan.count;
    if (ForEachFree(group, *view, committed, kGroupPages, visit)) return absl::OkStatus();
    if (scan.count == before && group == hint_ && !delta.Contains(BitmapPageOf(group))) {
      ++hint_;
    }
  }
  scan.stop_group = kMaxGroups;
  return absl::OkStatus();
}

absl::StatusOr<PageId> Allocator::ReserveForJournal(PageDelta& delta) {
  JournalScan scan;
  if (absl::Status s = ScanForJournal(delta, scan); !s.ok()) return s;
  if (scan.count == 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "no page for the journal: the committed groups are full, and group ", scan.stop_group,
        " must be committed before a journal page may lie past its bitmap page ",
        BitmapPageOf(scan.stop_group)));
  }
  Reserve(scan.first);
  return scan.first;
}

absl::StatusOr<uint64_t> Allocator::JournalRoom(PageDelta& delta, uint64_t at_most) {
  JournalScan scan;
  scan.want = at_most;
  if (absl::Status s = ScanForJournal(delta, scan); !s.ok()) return s;
  return scan.count;
}

absl::Status Allocator::StartGroupsForJournal(PageDelta& delta, uint64_t pages) {
  while (true) {
    JournalScan scan;
    scan.want = pages;
    scan.after_commit = true;
    if (absl::Status s = ScanForJournal(delta, scan); !s.ok()) return s;
    if (scan.count >= pages) return absl::OkStatus();
    if (scan.stop_group >= kMaxGroups) {
      return absl::ResourceExhaustedError("the file has reached its largest size");
    }
    StartGroup(delta, scan.stop_group);
  }
}

absl::Status Allocator::DropFreedPages(PageDelta& delta) {
  auto& pages = delta.mutable_pages();
  for (auto it = pages.begin(); it != pages.end();) {
    absl::StatusOr<bool> used = IsUsed(delta, it->first);
    if (!used.ok()) return used.status();
    it = *used ? std::next(it) : pages.erase(it);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Allocator::IsUsed(PageDelta& delta, PageId id) {
  if (id >= kMaxPages) return absl::InvalidArgumentError(absl::StrCat("no page ", id));
  absl::StatusOr<const PageBuf*> bitmap = LoadBitmap(delta, id / kGroupPages, Image::kView);
  if (!bitmap.ok()) return bitmap.status();
  return *bitmap != nullptr && BitSet(**bitmap, id % kGroupPages);
}

absl::StatusOr<uint64_t> Allocator::UsedPageCount(PageDelta& delta, uint64_t file_pages) {
  uint64_t groups = file_pages > 2 ? std::min((file_pages - 3) / kGroupPages + 1, kMaxGroups) : 0;
  // Groups started by commits whose pages are not written in place yet, or by `delta`.
  for (; groups < kMaxGroups; ++groups) {
    absl::StatusOr<const PageBuf*> bitmap = LoadBitmap(delta, groups, Image::kView);
    if (!bitmap.ok()) return bitmap.status();
    if (*bitmap == nullptr) break;
  }
  uint64_t used = 0;
  for (uint64_t group = groups; group-- > 0 && used == 0;) {
    absl::StatusOr<const PageBuf*> bitmap = LoadBitmap(delta, group, Image::kView);
    if (!bitmap.ok()) return bitmap.status();
    if (*bitmap == nullptr) continue;  // `file_pages` counted a group the file does not hold
    for (size_t w = kWords; w-- > 0;) {
      if (const uint64_t word = Word(*bitmap, w); word != 0) {
        used = group * kGroupPages + w * 64 + (64 - static_cast<uint64_t>(std::countl_zero(word)));
        break;
      }
    }
  }
  if (used == 0) return NotFormatted();
  if (!reserved_words_.empty()) {
    // The highest reservation: the last group that has one (its masks are never all zero).
    const auto& [group, words] = *reserved_words_.rbegin();
    for (size_t w = kWords; w-- > 0;) {
      if (words[w] != 0) {
        const uint64_t offset = w * 64 + 63 - static_cast<uint64_t>(std::countl_zero(words[w]));
        used = std::max(used, group * kGroupPages + offset + 1);
        break;
      }
    }
  }
  return used;
}

}  // namespace persy::internal
