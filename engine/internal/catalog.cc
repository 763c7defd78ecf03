#include "engine/internal/catalog.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/internal/bytes.h"

namespace persy::internal {
namespace {

// Version 1 had no indexes; it is still read (as a catalog without indexes).
constexpr uint32_t kBlobVersion = 2;
constexpr size_t kChunkHeader = 12;  // [u64 next][u32 length]
constexpr size_t kChunkCapacity = kPageBodySize - kChunkHeader;

absl::Status Malformed(PageId root, std::string_view what) {
  return absl::DataLossError(absl::StrCat("catalog at page ", root, ": ", std::string(what)));
}

void SetType(PageBuf& page, PageType type) {
  PutU16(page.data() + 16, static_cast<uint16_t>(type));
}

}  // namespace

IndexMeta* Catalog::FindIndexById(uint32_t id) {
  for (auto& [name, meta] : indexes) {
    if (meta.id == id) return &meta;
  }
  return nullptr;
}

SegmentMeta* Catalog::FindById(uint32_t id) {
  for (auto& [name, meta] : segments) {
    if (meta.id == id) return &meta;
  }
  return nullptr;
}

std::string EncodeCatalog(const Catalog& catalog) {
  std::string out;
  auto u16 = [&](uint16_t v) { char b[2]; PutU16(b, v); out.append(b, 2); };
  auto u32 = [&](uint32_t v) { char b[4]; PutU32(b, v); out.append(b, 4); };
  auto u64 = [&](uint64_t v) { char b[8]; PutU64(b, v); out.append(b, 8); };
  u32(kBlobVersion);
  u32(catalog.next_segment_id);
  u32(static_cast<uint32_t>(catalog.segments.size()));
  for (const auto& [name, meta] : catalog.segments) {
    u32(meta.id);
    u64(meta.next_number);
    u64(meta.root.address_root);
    u32(meta.root.height);
    u64(meta.root.tail_page);
    u16(static_cast<uint16_t>(name.size()));
    out.append(name);
  }
  u32(catalog.next_index_id);
  u32(static_cast<uint32_t>(catalog.indexes.size()));
  for (const auto& [name, meta] : catalog.indexes) {
    u32(meta.id);
    out.push_back(static_cast<char>(meta.key_type));
    out.push_back(static_cast<char>(meta.value_type));
    out.push_back(static_cast<char>(meta.mode));
    out.push_back(0);
    u64(meta.root.root);
    u32(meta.root.height);
    u16(static_cast<uint16_t>(name.size()));
    out.append(name);
  }
  return out;
}

absl::StatusOr<Catalog> DecodeCatalog(std::string_view blob, PageId root) {
  ByteReader r(blob);
  uint32_t version = 0, count = 0;
  Catalog catalog;
  if (!r.U32(version) || (version != 1 && version != kBlobVersion)) {
    return Malformed(root, "unknown version");
  }
  if (!r.U32(catalog.next_segment_id) || !r.U32(count)) return Malformed(root, "truncated");
  for (uint32_t i = 0; i < count; ++i) {
    SegmentMeta meta;
    uint16_t name_size = 0;
    std::string name;
    if (!r.U32(meta.id) || !r.U64(meta.next_number) || !r.U64(meta.root.address_root) ||
        !r.U32(meta.root.height) || !r.U64(meta.root.tail_page) || !r.U16(name_size) ||
        !r.Bytes(name_size, name)) {
      return Malformed(root, "truncated segment entry");
    }
    if (meta.id == 0 || meta.id >= catalog.next_segment_id || name.empty() ||
        !catalog.segments.emplace(std::move(name), meta).second) {
      return Malformed(root, "inconsistent segment entry");
    }
  }
  if (version >= 2) {
    if (!r.U32(catalog.next_index_id) || !r.U32(count)) return Malformed(root, "truncated");
    for (uint32_t i = 0; i < count; ++i) {
      IndexMeta meta;
      std::string types;
      uint16_t name_size = 0;
      std::string name;
      if (!r.U32(meta.id) || !r.Bytes(4, types) || !r.U64(meta.root.root) ||
          !r.U32(meta.root.height) || !r.U16(name_size) || !r.Bytes(name_size, name)) {
        return Malformed(root, "truncated index entry");
      }
      const auto key_type = static_cast<uint8_t>(types[0]);
      const auto value_type = static_cast<uint8_t>(types[1]);
      const auto mode = static_cast<uint8_t>(types[2]);
      meta.key_type = static_cast<IndexType>(key_type);
      meta.value_type = static_cast<IndexType>(value_type);
      meta.mode = static_cast<ValueMode>(mode);
      if (meta.id == 0 || meta.id >= catalog.next_index_id || name.empty() ||
          key_type >= kIndexTypeCount || value_type >= kIndexTypeCount ||
          mode > static_cast<uint8_t>(ValueMode::kCluster) || types[3] != 0 ||
          (meta.root.root == 0) != (meta.root.height == 0) ||
          !catalog.indexes.emplace(std::move(name), meta).second) {
        return Malformed(root, "inconsistent index entry");
      }
    }
  }
  if (!r.done()) return Malformed(root, "trailing bytes");
  return catalog;
}

absl::StatusOr<std::vector<PageId>> CatalogPages(PageDelta& delta, PageId root) {
  std::vector<PageId> chain;
  for (PageId id = root; id != 0;) {
    if (std::find(chain.begin(), chain.end(), id) != chain.end()) {
      return Malformed(root, absl::StrCat("chain loops at page ", id));
    }
    chain.push_back(id);
    absl::StatusOr<const PageBuf*> page = delta.Read(id);
    if (!page.ok()) return page.status();
    if (TypeOf(**page) != PageType::kCatalog) {
      return absl::DataLossError(absl::StrCat("page ", id, ": not a catalog page"));
    }
    id = GetU64((*page)->body());
  }
  return chain;
}

absl::StatusOr<Catalog> ReadCatalog(PageDelta& delta, PageId root) {
  absl::StatusOr<std::vector<PageId>> chain = CatalogPages(delta, root);
  if (!chain.ok()) return chain.status();
  std::string blob;
  for (PageId id : *chain) {
    absl::StatusOr<const PageBuf*> page = delta.Read(id);
    if (!page.ok()) return page.status();
    const char* body = (*page)->body();
    const uint32_t length = GetU32(body + 8);
    if (length > kChunkCapacity) {
      return absl::DataLossError(absl::StrCat("page ", id, ": catalog chunk length ", length));
    }
    blob.append(body + kChunkHeader, length);
  }
  return DecodeCatalog(blob, root);
}

void FormatCatalog(PageDelta& delta, PageId root) {
  PageBuf* page = delta.Fresh(root);
  SetType(*page, PageType::kCatalog);
  const std::string blob = EncodeCatalog(Catalog());
  PutU64(page->body(), 0);
  PutU32(page->body() + 8, static_cast<uint32_t>(blob.size()));
  std::memcpy(page->body() + kChunkHeader, blob.data(), blob.size());
}

absl::Status WriteCatalog(PageDelta& delta, Allocator& alloc, PageId root,
                          const Catalog& catalog) {
  // The existing chain, to reuse its pages in order.
  absl::StatusOr<std::vector<PageId>> existing = CatalogPages(delta, root);
  if (!existing.ok()) return existing.status();
  std::vector<PageId> chain = std::move(*existing);
  const std::string blob = EncodeCatalog(catalog);
  const size_t needed = std::max<size_t>(1, (blob.size() + kChunkCapacity - 1) / kChunkCapacity);
  while (chain.size() < needed) {
    absl::StatusOr<PageId> id = alloc.Allocate(delta);
    if (!id.ok()) return id.status();
    SetType(*delta.Fresh(*id), PageType::kCatalog);
    chain.push_back(*id);
  }
  while (chain.size() > needed) {
    if (absl::Status s = alloc.Free(delta, chain.back()); !s.ok()) return s;
    chain.pop_back();
  }
  for (size_t i = 0; i < needed; ++i) {
    absl::StatusOr<PageBuf*> page = delta.Write(chain[i]);
    if (!page.ok()) return page.status();
    const size_t begin = i * kChunkCapacity;
    const size_t n = std::min(kChunkCapacity, blob.size() - std::min(begin, blob.size()));
    std::memset((*page)->body(), 0, kPageBodySize);
    SetType(**page, PageType::kCatalog);
    PutU64((*page)->body(), i + 1 < needed ? chain[i + 1] : 0);
    PutU32((*page)->body() + 8, static_cast<uint32_t>(n));
    if (n > 0) std::memcpy((*page)->body() + kChunkHeader, blob.data() + begin, n);
  }
  return absl::OkStatus();
}

}  // namespace persy::internal
