// PageCache: a bounded LRU cache of committed page images over a PageFile, with write-back.
//
// Images are std::shared_ptr<const PageBuf>: immutable, so installing a new image of a page never
// disturbs a reader still holding the old one. A page is clean (the file holds this image) or
// dirty (installed by a commit, docs/format.md "Commit" step 3, and not yet written in place).
// Dirty pages reach the file without a sync of their own, on eviction or at FlushDirty (a
// checkpoint's step 1); until a checkpoint moves the journal head past them, the journal can
// rebuild them, torn or not (docs/format.md "Principles" 3).
//
// Capacity counts every cached page, clean or dirty. After an insert, least-recently-used pages
// are evicted until the cache fits; a dirty victim is written in place first. If that write
// fails the victim is kept (the cache stays over capacity, since dropping the only copy of a
// committed image would lose it) and the error is remembered: FlushDirty returns it from then
// on. The PageFile's sticky failure means no later write would succeed anyway; Get keeps working.
//
// Thread-safety: safe for concurrent use by multiple threads. One mutex guards everything and is
// held across the file I/O of a miss, an eviction or a flush: simple and obviously correct, at
// the cost of serializing misses. A later change can read outside the lock.
//
// The PageFile must outlive the PageCache.

#ifndef ENGINE_INTERNAL_PAGE_CACHE_H_
#define ENGINE_INTERNAL_PAGE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/internal/page.h"
#include "engine/internal/page_file.h"
#include "engine/internal/page_source.h"

namespace persy::internal {

class PageCache : public PageSource {
 public:
  // The smallest capacity, in pages; a smaller capacity_bytes is raised to it.
  static constexpr size_t kMinCapacityPages = 16;

  // REQUIRES: file != nullptr, and it outlives this cache.
  PageCache(PageFile* file, size_t capacity_bytes);

  PageCache(const PageCache&) = delete;
  PageCache& operator=(const PageCache&) = delete;

  // The cached image, or else PageFile::Read (verified; a page wholly past the end of the file
  // is the zero page), cached clean. A damaged page gives kDataLoss and is not cached.
  absl::StatusOr<std::shared_ptr<const PageBuf>> Get(PageId id) override;

  // Installs `page` as the committed image of page `id`, dirty: it must be written in place
  // before the next checkpoint completes. Never fails (an eviction failure is remembered, see
  // above). REQUIRES: page != nullptr.
  void Put(PageId id, std::shared_ptr<const PageBuf> page);

  // Pages read from the file must have been written by a commit below `limit` (their lsn);
  // a page from a later commit is kDataLoss (see Get). The engine raises it with every commit,
  // before it installs the commit's pages. Unlimited until set.
  void SetLsnLimit(uint64_t limit);

  // Writes every dirty page in place (PageFile::Write, no sync), in page order, and marks each
  // clean once written. On error returns it; the pages not written stay dirty. Returns the
  // remembered eviction error, if any, before trying.
  [[nodiscard]] absl::Status FlushDirty();

  // Forgets page `id` (e.g. it was freed). A dirty page dropped is not written.
  void Drop(PageId id);

  size_t capacity_pages() const { return capacity_pages_; }
  size_t page_count() const;
  size_t dirty_count() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  struct Entry {
    std::shared_ptr<const PageBuf> image;
    std::list<PageId>::iterator lru_pos;  // in lru_
  };

  // REQUIRES: mu_ held, for all below.
  // Makes `id` the most recently used page, caching `image` (dirty or clean).
  void InstallLocked(PageId id, std::shared_ptr<const PageBuf> image, bool dirty);
  // Evicts least-recently-used pages while the cache is over capacity.
  void EvictLocked();

  // Constant after construction.
  PageFile* const file_;
  const size_t capacity_pages_;

  mutable std::mutex mu_;
  // State below is protected by mu_.
  std::unordered_map<PageId, Entry> pages_;  // GUARDED_BY(mu_)
  std::list<PageId> lru_;                    // GUARDED_BY(mu_): most recently used first
  std::set<PageId> dirty_;                   // GUARDED_BY(mu_): ordered, for FlushDirty
  absl::Status evict_error_;                 // GUARDED_BY(mu_): first failed eviction write
  uint64_t hits_ = 0;                        // GUARDED_BY(mu_)
  uint64_t lsn_limit_ = UINT64_MAX;          // GUARDED_BY(mu_)
  uint64_t misses_ = 0;                      // GUARDED_BY(mu_)
};

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_PAGE_CACHE_H_
