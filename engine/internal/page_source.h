// Where committed page images come from: the page cache in the engine, a map in tests.
//
// Thread-safety: implementations are safe for concurrent use by multiple threads.

#ifndef ENGINE_INTERNAL_PAGE_SOURCE_H_
#define ENGINE_INTERNAL_PAGE_SOURCE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "engine/internal/page.h"

namespace persy::internal {

class PageSource {
 public:
  virtual ~PageSource() = default;

  // Returns the committed image of page `id`, verified (kDataLoss naming the page if it is
  // damaged). A page wholly past the end of the file reads as an all-zero page
  // (PageType::kFree): the file grows only when a new page is first written. Within the file,
  // every page must verify.
  // The image is immutable and stays valid while the caller holds it.
  virtual absl::StatusOr<std::shared_ptr<const PageBuf>> Get(PageId id) = 0;
};

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_PAGE_SOURCE_H_
