#include "engine/internal/overflow_chain.h"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "engine/internal/segment_page.h"
#include "engine/internal/status_macros.h"

namespace persy::internal {
namespace {

// Overflow page body: [u64 next page (0 = end)][u32 bytes in this page][bytes]. Every page of a
// chain but the last is full.
constexpr size_t kOverflowHeaderSize = 12;
constexpr size_t kOverflowPayload = kPageBodySize - kOverflowHeaderSize;  // 4052
constexpr size_t kMaxChainPages = (kMaxRecordBytes + kOverflowPayload - 1) / kOverflowPayload;

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

}  // namespace

absl::StatusOr<std::string> ReadChain(PageDelta& delta, PageId first, PageId from) {
  std::string bytes;
  PERSY_RETURN_IF_ERROR(WalkChain(delta, first, from, &bytes, nullptr));
  return bytes;
}

absl::StatusOr<std::vector<PageId>> ChainPages(PageDelta& delta, PageId first, PageId from) {
  std::vector<PageId> pages;
  PERSY_RETURN_IF_ERROR(WalkChain(delta, first, from, nullptr, &pages));
  return pages;
}

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

}  // namespace persy::internal
