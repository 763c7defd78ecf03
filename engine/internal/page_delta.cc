#include "engine/internal/page_delta.h"

#include <utility>

namespace persy::internal {

PageDelta::PageDelta(PageSource* source) : source_(source) {}

absl::StatusOr<const PageBuf*> PageDelta::Committed(PageId id) {
  if (auto it = committed_.find(id); it != committed_.end()) return it->second.get();
  absl::StatusOr<std::shared_ptr<const PageBuf>> image = source_->Get(id);
  if (!image.ok()) return image.status();
  const PageBuf* page = image->get();
  committed_.emplace(id, *std::move(image));
  return page;
}

absl::StatusOr<const PageBuf*> PageDelta::Read(PageId id) {
  if (auto it = pages_.find(id); it != pages_.end()) return &it->second;
  return Committed(id);
}

absl::StatusOr<const PageBuf*> PageDelta::ReadCommitted(PageId id) { return Committed(id); }

absl::Status PageDelta::ReadInto(PageId id, PageBuf* out) {
  if (auto it = pages_.find(id); it != pages_.end()) {
    *out = it->second;
    return absl::OkStatus();
  }
  if (auto it = committed_.find(id); it != committed_.end()) {
    *out = *it->second;
    return absl::OkStatus();
  }
  absl::StatusOr<std::shared_ptr<const PageBuf>> image = source_->Get(id);
  if (!image.ok()) return image.status();
  *out = **image;
  return absl::OkStatus();
}

absl::StatusOr<PageBuf*> PageDelta::Write(PageId id) {
  if (auto it = pages_.find(id); it != pages_.end()) return &it->second;
  absl::StatusOr<const PageBuf*> image = Committed(id);
  if (!image.ok()) return image.status();
  return &pages_.emplace(id, **image).first->second;
}

PageBuf* PageDelta::Fresh(PageId id) {
  PageBuf& page = pages_[id];
  page = PageBuf{};
  return &page;
}

bool PageDelta::Contains(PageId id) const { return pages_.count(id) != 0; }

void PageDelta::SealAll(uint64_t lsn) {
  for (auto& [id, page] : pages_) SealPage(id, TypeOf(page), lsn, page);
}

}  // namespace persy::internal
