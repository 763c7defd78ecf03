#include "engine/internal/segment_page.h"

#include "absl/strings/str_cat.h"
#include "engine/internal/status_macros.h"

namespace persy::internal {
namespace {

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

absl::Status CheckType(PageId id, const PageBuf& page, PageType want, PageId from) {
  if (TypeOf(page) == want) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat(
      "page ", id, ": is of type ", static_cast<int>(TypeOf(page)), " (", TypeName(TypeOf(page)),
      "), expected ", static_cast<int>(want), " (", TypeName(want), "); linked from ",
      LinkedFrom(from)));
}

}  // namespace

std::string LinkedFrom(PageId from) {
  return from == 0 ? std::string("the segment root") : absl::StrCat("page ", from);
}

absl::Status CheckLink(PageId id, PageId from) {
  if (id == 0 || id > kMaxSegmentPage) {
    return absl::DataLossError(
        absl::StrCat(LinkedFrom(from), ": links to page ", id, ", which cannot be a segment page"));
  }
  return absl::OkStatus();
}

absl::StatusOr<const PageBuf*> ReadTyped(PageDelta& delta, PageId id, PageType want,
                                         PageId from) {
  PERSY_RETURN_IF_ERROR(CheckLink(id, from));
  PERSY_ASSIGN_OR_RETURN(const PageBuf* page, delta.Read(id));
  PERSY_RETURN_IF_ERROR(CheckType(id, *page, want, from));
  return page;
}

absl::StatusOr<NewPage> AllocatePage(PageDelta& delta, Allocator& alloc, PageType type) {
  PERSY_ASSIGN_OR_RETURN(PageId id, alloc.Allocate(delta));
  PageBuf* page = delta.Fresh(id);
  PutU16(page->data() + 16, static_cast<uint16_t>(type));
  return NewPage{id, page};
}

absl::Status FreePages(PageDelta& delta, Allocator& alloc, const std::vector<PageId>& pages) {
  for (PageId id : pages) PERSY_RETURN_IF_ERROR(alloc.Free(delta, id));
  return absl::OkStatus();
}

}  // namespace persy::internal
