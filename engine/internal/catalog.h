// The catalog: the list of segments and the counters that keep ids unique, stored in a chain of
// catalog pages whose first page (the catalog root, named by the file header) never moves.
//
// Format (docs/format.md, "Catalog"): the catalog is one blob spread over the chain; each page's
// body is [u64 next page (0 = end)][u32 bytes in this page][bytes]. The blob:
//   [u32 blob version = 2][u32 next segment id][u32 segment count]
//   per segment: [u32 id][u64 next record number][u64 address root][u32 height]
//                [u64 tail page][u16 name length][name]
//   [u32 next index id][u32 index count]
//   per index:   [u32 id][u8 key type][u8 value type][u8 value mode][u8 zero][u64 root page]
//                [u32 height][u16 name length][name]
// A version 1 blob (before indexes) ends after the segments; it reads as having no index.
// Thread-safety: Catalog is a plain value; the functions need the caller's commit lock to write.

#ifndef ENGINE_INTERNAL_CATALOG_H_
#define ENGINE_INTERNAL_CATALOG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/index.h"
#include "engine/internal/allocator.h"
#include "engine/internal/index_tree.h"
#include "engine/internal/page.h"
#include "engine/internal/page_delta.h"
#include "engine/internal/record_store.h"

namespace persy::internal {

struct SegmentMeta {
  uint32_t id = 0;
  // Record numbers below this were handed to committed inserts; never reissued.
  uint64_t next_number = 1;
  SegmentRoot root;
};

struct IndexMeta {
  uint32_t id = 0;
  IndexType key_type = IndexType::kU64;
  IndexType value_type = IndexType::kU64;
  ValueMode mode = ValueMode::kReplace;
  IndexRoot root;
};

struct Catalog {
  // Segment ids below this were handed to committed creates; never reissued.
  uint32_t next_segment_id = 1;
  std::map<std::string, SegmentMeta> segments;  // by name
  // Index ids below this were handed to committed creates; never reissued.
  uint32_t next_index_id = 1;
  std::map<std::string, IndexMeta> indexes;  // by name

  // The segment with this id, if any.
  SegmentMeta* FindById(uint32_t id);
  const SegmentMeta* FindById(uint32_t id) const {
    return const_cast<Catalog*>(this)->FindById(id);
  }
  // The index with this id, if any.
  IndexMeta* FindIndexById(uint32_t id);
  const IndexMeta* FindIndexById(uint32_t id) const {
    return const_cast<Catalog*>(this)->FindIndexById(id);
  }
};

// Serialization of the blob; Decode returns kDataLoss naming `root` on anything malformed.
std::string EncodeCatalog(const Catalog& catalog);
absl::StatusOr<Catalog> DecodeCatalog(std::string_view blob, PageId root);

// The pages of the chain starting at `root`, in order; kDataLoss if it loops or a page is not a
// catalog page.
absl::StatusOr<std::vector<PageId>> CatalogPages(PageDelta& delta, PageId root);

// Reads the catalog from the chain starting at `root`.
absl::StatusOr<Catalog> ReadCatalog(PageDelta& delta, PageId root);

// Writes `catalog` over the chain starting at `root`, growing or shrinking the chain (pages from
// and back to `alloc`). The root page itself stays.
absl::Status WriteCatalog(PageDelta& delta, Allocator& alloc, PageId root, const Catalog& catalog);

// Creates an empty catalog in the fresh page `root` (for file creation).
void FormatCatalog(PageDelta& delta, PageId root);

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_CATALOG_H_
