// MapPageSource: committed pages in a std::map, for tests of the page-level structures (record
// store, catalog, index tree) without a file or cache. A delta is "committed" as the engine
// does it: sealed, then its pages copied in. A page not in the map is past the end of the file
// (all zero). It brings the status assertions those tests share (status_test_util.h), and the
// helpers of the record store's tests: TEST_RETURN_IF_ERROR, TestBytes and UsedPagesOf.
// Thread-safety: only accessed by one thread at a time.

#ifndef ENGINE_INTERNAL_MAP_PAGE_SOURCE_H_
#define ENGINE_INTERNAL_MAP_PAGE_SOURCE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/internal/allocator.h"
#include "engine/internal/page.h"
#include "engine/internal/page_delta.h"
#include "engine/internal/page_source.h"
#include "tools/status_test_util.h"

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

// In a function returning absl::Status or absl::StatusOr: returns the error of `expr` (either).
#define TEST_RETURN_IF_ERROR(expr)                                                   \
  do {                                                                               \
    if (absl::Status s_ = ::persy::testing::StatusOf(expr); !s_.ok()) return s_;     \
  } while (0)

// `n` bytes that differ with `seed` at every position, so that a record read from the wrong
// place or with the wrong length is caught; never zero, so that a byte left unzeroed shows.
inline std::string TestBytes(uint64_t seed, size_t n) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x | 1);
  }
  return s;
}

// The pages `alloc`'s bitmaps mark used as `delta` sees them, up to one past the highest page
// `source` holds: with the pages a structure owns, what a leak check compares.
inline absl::StatusOr<std::set<PageId>> UsedPagesOf(const MapPageSource& source,
                                                    Allocator& alloc, PageDelta& delta) {
  std::set<PageId> used;
  for (PageId id = 0; id <= source.MaxPage() + 1; ++id) {
    absl::StatusOr<bool> u = alloc.IsUsed(delta, id);
    TEST_RETURN_IF_ERROR(u);
    if (*u) used.insert(id);
  }
  return used;
}

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_MAP_PAGE_SOURCE_H_
