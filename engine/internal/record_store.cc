#include "engine/internal/record_store.h"

#include <map>
#include <unordered_set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/internal/address_table.h"
#include "engine/internal/data_page.h"
#include "engine/internal/overflow_chain.h"
#include "engine/internal/status_macros.h"

namespace persy::internal {
namespace {

absl::Status CheckSize(absl::string_view bytes) {
  if (bytes.size() > kMaxRecordBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a record of ", bytes.size(),
                                                   " bytes is bigger than the limit of ",
                                                   kMaxRecordBytes));
  }
  return absl::OkStatus();
}

// Everything CollectSegmentPages checks, gathered during the walk of the address table (which
// checks the address pages and their entries itself).
class Collector : public AddressTableVisitor {
 public:
  Collector(PageDelta& delta, std::vector<PageId>* out) : delta_(delta), out_(out) {}

  absl::Status AddDataPage(PageId id, PageId from) {
    if (slot_refs_.count(id) != 0) return absl::OkStatus();
    PERSY_ASSIGN_OR_RETURN(const size_t slots, CheckWholeDataPage(delta_, id, from));
    PERSY_RETURN_IF_ERROR(AddPage(id));
    slot_refs_[id].assign(slots, 0);
    return absl::OkStatus();
  }

  absl::Status OnAddressPage(PageId id) override { return AddPage(id); }

  absl::Status OnEntry(PageId leaf, const AddressEntry& e) override {
    if (e.overflow()) {
      PERSY_ASSIGN_OR_RETURN(std::vector<PageId> chain, ChainPages(delta_, e.page, leaf));
      for (PageId p : chain) {
        PERSY_RETURN_IF_ERROR(AddPage(p));
        delta_.ForgetCommitted(p);
      }
      return absl::OkStatus();
    }
    PERSY_RETURN_IF_ERROR(AddDataPage(e.page, leaf));
    PERSY_RETURN_IF_ERROR(CheckLiveSlot(delta_, e.page, e.slot, leaf));
    if (++slot_refs_[e.page][e.slot] > 1) {
      return absl::DataLossError(absl::StrCat("page ", e.page, ": slot ", e.slot,
                                              " is claimed by two records"));
    }
    touched_.push_back(e.page);
    return absl::OkStatus();
  }

  // Done with this leaf and the data pages it reached (CheckNoOrphans reads them again): the
  // walk holds its path, not the whole segment.
  void OnLeafDone() override {
    for (PageId p : touched_) delta_.ForgetCommitted(p);
    touched_.clear();
  }

  // Every live slot must be some record's.
  absl::Status CheckNoOrphans() {
    for (const auto& [id, refs] : slot_refs_) {
      PERSY_RETURN_IF_ERROR(CheckSlotsClaimed(delta_, id, refs));
      delta_.ForgetCommitted(id);
    }
    return absl::OkStatus();
  }

 private:
  absl::Status AddPage(PageId id) {
    if (!seen_.insert(id).second) {
      return absl::DataLossError(
          absl::StrCat("page ", id, ": is reached twice within the segment"));
    }
    out_->push_back(id);
    return absl::OkStatus();
  }

  PageDelta& delta_;
  std::vector<PageId>* const out_;
  std::unordered_set<PageId> seen_;
  // Per data page, how many entries point at each slot.
  std::map<PageId, std::vector<uint32_t>> slot_refs_;
  // The data pages the current leaf's entries reached.
  std::vector<PageId> touched_;
};

}  // namespace

absl::StatusOr<std::optional<RecordInfo>> ReadRecord(PageDelta& delta, const SegmentRoot& root,
                                                     uint64_t number) {
  PERSY_ASSIGN_OR_RETURN(std::optional<FoundEntry> found, LookupEntry(delta, root, number));
  if (!found.has_value()) return std::nullopt;
  RecordInfo info;
  info.version = found->entry.version;
  if (found->entry.overflow()) {
    PERSY_ASSIGN_OR_RETURN(info.bytes, ReadChain(delta, found->entry.page, found->path.leaf()));
    return info;
  }
  PERSY_ASSIGN_OR_RETURN(info.bytes, ReadSmall(delta, found->entry.page, found->entry.slot,
                                               found->path.leaf()));
  return info;
}

absl::StatusOr<std::optional<uint32_t>> RecordVersion(PageDelta& delta, const SegmentRoot& root,
                                                      uint64_t number) {
  PERSY_ASSIGN_OR_RETURN(std::optional<FoundEntry> found, LookupEntry(delta, root, number));
  if (!found.has_value()) return std::nullopt;
  return found->entry.version;
}

absl::Status InsertRecord(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                          uint64_t number, absl::string_view bytes) {
  if (number == 0) return absl::InvalidArgumentError("record number 0 is never used");
  PERSY_RETURN_IF_ERROR(CheckSize(bytes));
  PERSY_ASSIGN_OR_RETURN(std::optional<FoundEntry> existing, LookupEntry(delta, root, number));
  if (existing.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("record ", number, " already exists"));
  }
  AddressEntry e;
  e.flags = kEntryUsed;
  e.version = 1;
  if (bytes.size() <= kMaxInlineSize) {
    PERSY_ASSIGN_OR_RETURN(DataSlot loc, PlaceSmall(delta, alloc, root.tail_page, bytes));
    e.page = loc.page;
    e.slot = loc.slot;
  } else {
    PERSY_ASSIGN_OR_RETURN(e.page, WriteChain(delta, alloc, bytes, {}));
    e.flags |= kEntryOverflow;
  }
  return AddEntry(delta, alloc, root, number, e);
}

absl::Status UpdateRecord(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                          uint64_t number, absl::string_view bytes) {
  PERSY_RETURN_IF_ERROR(CheckSize(bytes));
  PERSY_ASSIGN_OR_RETURN(std::optional<FoundEntry> found, LookupEntry(delta, root, number));
  if (!found.has_value()) return absl::NotFoundError(absl::StrCat("record ", number, " not found"));
  const AddressEntry old = found->entry;
  const PageId leaf = found->path.leaf();
  if (old.version == UINT32_MAX) {
    return absl::ResourceExhaustedError(
        absl::StrCat("record ", number, " has reached the largest version"));
  }
  AddressEntry e = old;
  ++e.version;
  if (bytes.size() <= kMaxInlineSize) {
    bool placed = false;
    if (old.overflow()) {
      PERSY_ASSIGN_OR_RETURN(std::vector<PageId> chain, ChainPages(delta, old.page, leaf));
      PERSY_RETURN_IF_ERROR(FreePages(delta, alloc, chain));
    } else {
      PERSY_ASSIGN_OR_RETURN(placed, ReplaceSmall(delta, old.page, old.slot, leaf, bytes));
    }
    if (!placed) {
      PERSY_ASSIGN_OR_RETURN(DataSlot loc, PlaceSmall(delta, alloc, root.tail_page, bytes));
      e.page = loc.page;
      e.slot = loc.slot;
      e.flags = kEntryUsed;
      // The old page may be left empty: a record alone in a page whose directory is long (free
      // slots before it) may not have room to grow there. (If it was the tail, the record went
      // back into it.)
      if (!old.overflow()) {
        PERSY_RETURN_IF_ERROR(FreeDataPageIfEmpty(delta, alloc, root.tail_page, old.page));
      }
    }
  } else {
    std::vector<PageId> reuse;
    if (old.overflow()) {
      PERSY_ASSIGN_OR_RETURN(reuse, ChainPages(delta, old.page, leaf));
    } else {
      PERSY_RETURN_IF_ERROR(RemoveSmall(delta, alloc, root.tail_page, old.page, old.slot, leaf));
    }
    PERSY_ASSIGN_OR_RETURN(e.page, WriteChain(delta, alloc, bytes, reuse));
    e.slot = 0;
    e.flags = kEntryUsed | kEntryOverflow;
  }
  return WriteEntry(delta, found->path, e);
}

absl::Status DeleteRecord(PageDelta& delta, Allocator& alloc, SegmentRoot& root,
                          uint64_t number) {
  PERSY_ASSIGN_OR_RETURN(std::optional<FoundEntry> found, LookupEntry(delta, root, number));
  if (!found.has_value()) return absl::NotFoundError(absl::StrCat("record ", number, " not found"));
  const AddressEntry& e = found->entry;
  if (e.overflow()) {
    PERSY_ASSIGN_OR_RETURN(std::vector<PageId> chain,
                           ChainPages(delta, e.page, found->path.leaf()));
    PERSY_RETURN_IF_ERROR(FreePages(delta, alloc, chain));
  } else {
    PERSY_RETURN_IF_ERROR(
        RemoveSmall(delta, alloc, root.tail_page, e.page, e.slot, found->path.leaf()));
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
  return NextEntry(delta, root, from);
}

absl::Status CollectSegmentPages(PageDelta& delta, const SegmentRoot& root,
                                 std::vector<PageId>* pages) {
  PERSY_RETURN_IF_ERROR(CheckAddressRoot(root));
  Collector c(delta, pages);
  if (root.tail_page != 0) PERSY_RETURN_IF_ERROR(c.AddDataPage(root.tail_page, 0));
  PERSY_RETURN_IF_ERROR(WalkAddressTable(delta, root, c));
  return c.CheckNoOrphans();
}

}  // namespace persy::internal
