// The pages one commit changes: private copies over the committed images.
//
// A transaction computes its changes against the committed pages (read committed) without
// touching them: the first Write of a page copies its committed image into the delta, and every
// later Read or Write of that page sees the copy. Newly allocated pages start as Fresh all-zero
// copies that never read the source. At commit, SealAll seals every copy with the commit's lsn
// and pages() is the commit record's page list, in id order (docs/format.md, "Commit"). A
// discarded delta leaves no trace anywhere.
//
// Lifetime: "*source" must remain live while this PageDelta is in use. Committed images read
// through Read or ReadCommitted are held by the delta, so the returned pointers stay valid while
// the delta lives. A pointer into a private copy (from Read, Write or Fresh) stays valid until
// that entry is erased through mutable_pages() or the delta is destroyed.
//
// Thread-safety: Only accessed by one thread at a time.

#ifndef ENGINE_INTERNAL_PAGE_DELTA_H_
#define ENGINE_INTERNAL_PAGE_DELTA_H_

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "engine/internal/page.h"
#include "engine/internal/page_source.h"

namespace persy::internal {

class PageDelta {
 public:
  explicit PageDelta(PageSource* source);

  PageDelta(const PageDelta&) = delete;
  PageDelta& operator=(const PageDelta&) = delete;

  // The page as this delta sees it: its private copy if it has one, else the committed image
  // from the source (verified by the source; a page past the end of the file is all zero).
  // A pointer returned before the page's first Write still shows the committed image: Read
  // again after writing.
  [[nodiscard]] absl::StatusOr<const PageBuf*> Read(PageId id);

  // The committed image, ignoring any private copy. For callers that must respect both the
  // committed state and the delta's (the allocator never hands the journal a page that this
  // delta frees: were the commit to fail, that page would still be live).
  [[nodiscard]] absl::StatusOr<const PageBuf*> ReadCommitted(PageId id);

  // Copies the page as Read would return it into `*out`, without holding the committed image:
  // for walks over a whole structure (integrity checks), whose memory must not grow with it.
  [[nodiscard]] absl::Status ReadInto(PageId id, PageBuf* out);

  // Lets go of the committed image of `id` that Read or ReadCommitted handed out (a later Read
  // fetches it again), so that a walk over a whole structure can keep its memory to its path.
  // Every pointer to that image becomes invalid. A private copy is kept.
  void ForgetCommitted(PageId id) { committed_.erase(id); }

  // A private, writable copy of the page, copied from the committed image on first use.
  // Later Reads return it.
  [[nodiscard]] absl::StatusOr<PageBuf*> Write(PageId id);

  // A private, all-zero page for a newly allocated page. Never reads the source: the page may be
  // past the end of the file or still hold a freed page's old bytes. Zeroes an existing private
  // copy (a page freed and allocated again within this delta).
  PageBuf* Fresh(PageId id);

  // The committed image of `id` this delta read (through Read, ReadCommitted or a first Write),
  // or nullptr if it did not: for a commit to keep the image a snapshot still needs.
  std::shared_ptr<const PageBuf> CommittedImage(PageId id) const {
    auto it = committed_.find(id);
    return it == committed_.end() ? nullptr : it->second;
  }

  // Whether the delta has a private copy of the page.
  bool Contains(PageId id) const;

  // The private copies, by id (a std::map, so the journal record lists them in id order).
  const std::map<PageId, PageBuf>& pages() const { return pages_; }
  std::map<PageId, PageBuf>& mutable_pages() { return pages_; }

  // Seals every private copy with `lsn` and the page type already in its header (bytes 16-18).
  // REQUIRES: the caller has set the type of every private copy (a Fresh page is type kFree
  // until then).
  void SealAll(uint64_t lsn);

 private:
  // The committed image of `id`, fetched from the source once and held.
  absl::StatusOr<const PageBuf*> Committed(PageId id);

  // Constant after construction
  PageSource* const source_;

  std::map<PageId, PageBuf> pages_;
  // Every committed image handed out, held so that pointers to it stay valid.
  std::unordered_map<PageId, std::shared_ptr<const PageBuf>> committed_;
};

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_PAGE_DELTA_H_
