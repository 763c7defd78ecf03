#include "engine/internal/page_cache.h"

#include "absl/strings/str_cat.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace persy::internal {

PageCache::PageCache(PageFile* file, size_t capacity_bytes)
    : file_(file), capacity_pages_(std::max(kMinCapacityPages, capacity_bytes / kPageSize)) {
  assert(file_ != nullptr);
}

absl::StatusOr<std::shared_ptr<const PageBuf>> PageCache::Get(PageId id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = pages_.find(id); it != pages_.end()) {
    ++hits_;
    lru_.splice(lru_.begin(), lru_, it->second.lru_pos);
    return it->second.image;
  }
  ++misses_;
  auto page = std::make_shared<PageBuf>();
  if (absl::Status s = file_->Read(id, *page); !s.ok()) return s;
  if (LsnOf(*page) >= lsn_limit_) {
    // A page no commit of the recovered journal can have written: the file header in use
    // describes an older state than the data (its newer copy was damaged after a checkpoint).
    // Serving the page would mix two states; refusing it is the only safe answer.
    return absl::DataLossError(absl::StrCat(
        "page ", id, ": written by commit ", LsnOf(*page), ", but the journal ends before commit ",
        lsn_limit_, " (the newer file header copy is damaged)"));
  }
  std::shared_ptr<const PageBuf> image = std::move(page);
  InstallLocked(id, image, /*dirty=*/false);
  EvictLocked();
  return image;
}

void PageCache::SetLsnLimit(uint64_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  lsn_limit_ = limit;
}

void PageCache::Put(PageId id, std::shared_ptr<const PageBuf> page) {
  assert(page != nullptr);
  std::lock_guard<std::mutex> lock(mu_);
  InstallLocked(id, std::move(page), /*dirty=*/true);
  EvictLocked();
}

absl::Status PageCache::FlushDirty() {
  std::lock_guard<std::mutex> lock(mu_);
  // After a failed eviction write the file refuses writes (PageFile's sticky failure); say so
  // rather than report a checkpoint's flush as complete.
  if (!evict_error_.ok()) return evict_error_;
  for (auto it = dirty_.begin(); it != dirty_.end();) {
    const PageId id = *it;
    if (absl::Status s = file_->Write(id, *pages_.at(id).image); !s.ok()) return s;
    it = dirty_.erase(it);
  }
  return absl::OkStatus();
}

void PageCache::Drop(PageId id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pages_.find(id);
  if (it == pages_.end()) return;
  lru_.erase(it->second.lru_pos);
  dirty_.erase(id);
  pages_.erase(it);
}

size_t PageCache::page_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pages_.size();
}

size_t PageCache::dirty_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dirty_.size();
}

uint64_t PageCache::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}

uint64_t PageCache::misses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return misses_;
}

void PageCache::InstallLocked(PageId id, std::shared_ptr<const PageBuf> image, bool dirty) {
  if (auto it = pages_.find(id); it != pages_.end()) {
    // Replacing the pointer, never the bytes it points to: a reader of the old image keeps it.
    it->second.image = std::move(image);
    lru_.splice(lru_.begin(), lru_, it->second.lru_pos);
  } else {
    lru_.push_front(id);
    pages_.emplace(id, Entry{std::move(image), lru_.begin()});
  }
  if (dirty) {
    dirty_.insert(id);
  } else {
    dirty_.erase(id);
  }
}

void PageCache::EvictLocked() {
  // Walk from the least recently used end. A dirty victim is written in place first, with no
  // sync: the journal still covers it. Once such a write has failed, no dirty page can leave
  // (its image would be lost, and the file now refuses writes), but clean pages still can, so
  // the cache stays bounded by capacity plus the dirty pages.
  auto it = lru_.end();
  while (pages_.size() > capacity_pages_ && it != lru_.begin()) {
    --it;
    const PageId id = *it;
    if (dirty_.count(id) != 0) {
      if (!evict_error_.ok()) continue;
      if (absl::Status s = file_->Write(id, *pages_.at(id).image); !s.ok()) {
        evict_error_ = std::move(s);
        continue;
      }
      dirty_.erase(id);
    }
    it = lru_.erase(it);  // the next --it reaches the page before the victim
    pages_.erase(id);
  }
}

}  // namespace persy::internal
