// MapPageSource: committed pages in a std::map, for tests of the page-level structures (record
// store, catalog, index tree) without a file or cache. A delta is "committed" as the engine
// does it: sealed, then its pages copied in. A page not in the map is past the end of the file
// (all zero). It brings the status assertions those tests share (status_test_util.h).
// Thread-safety: only accessed by one thread at a time.

#ifndef ENGINE_INTERNAL_MAP_PAGE_SOURCE_H_
#define ENGINE_INTERNAL_MAP_PAGE_SOURCE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/internal/page.h"
#include "engine/internal/page_delta.h"
#include "engine/internal/page_source.h"
#include "engine/internal/status_test_util.h"

namespace persy::internal {

class MapPageSource : public PageSource {
 public:
  absl::StatusOr<std::shared_ptr<const PageBuf>> Get(PageId id) override {
    ++gets_;
    auto it = pages_.find(id);
    if (it == pages_.end()) return std::make_shared<const PageBuf>();
    if (absl::Status s = VerifyPage(id, *it->second); !s.ok()) return s;
    return it->second;
  }

  void Put(PageId id, const PageBuf& page) { pages_[id] = std::make_shared<const PageBuf>(page); }
  void Commit(PageDelta& delta, uint64_t lsn) {
    delta.SealAll(lsn);
    for (const auto& [id, page] : delta.pages()) Put(id, page);
  }
  const PageBuf& At(PageId id) const { return *pages_.at(id); }
  bool Has(PageId id) const { return pages_.count(id) != 0; }
  PageId MaxPage() const { return pages_.empty() ? 0 : pages_.rbegin()->first; }
  uint64_t gets() const { return gets_; }

 private:
  std::map<PageId, std::shared_ptr<const PageBuf>> pages_;
  uint64_t gets_ = 0;
};

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_MAP_PAGE_SOURCE_H_
