#include "engine/internal/index_commit.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/error.h"
#include "engine/internal/index_tree.h"
#include "engine/internal/key_codec.h"
#include "engine/internal/status_macros.h"

namespace persy::internal {
namespace {

// The key for messages: decoded if it can be.
std::string KeyName(IndexType type, const std::string& encoded) {
  absl::StatusOr<IndexValue> key = DecodeIndexValue(type, encoded);
  return key.ok() ? IndexValueToString(*key) : absl::StrCat("of ", encoded.size(), " bytes");
}

const std::string* NameOf(const Catalog& catalog, uint32_t id) {
  for (const auto& [name, meta] : catalog.indexes) {
    if (meta.id == id) return &name;
  }
  return nullptr;
}

}  // namespace

absl::Status ValidateIndexNames(const TxIndexes& tx, const Catalog& catalog) {
  for (const auto& [name, declared] : tx.created()) {
    auto committed = catalog.indexes.find(name);
    // A name this transaction freed by dropping its committed index may be created again.
    if (committed != catalog.indexes.end() && tx.dropped().count(committed->second.id) == 0) {
      return MakeError(Error::kIndexAlreadyExists,
                       absl::StrCat("index \"", name, "\" was created meanwhile"));
    }
  }
  for (const auto& [id, name] : tx.dropped()) {
    if (catalog.FindIndexById(id) == nullptr) {
      return MakeError(Error::kIndexNotFound,
                       absl::StrCat("index \"", name, "\" was dropped meanwhile"));
    }
  }
  for (const auto& [id, changes] : tx.changes()) {
    if (changes.ops.empty()) continue;  // only read
    bool created_here = false;
    for (const auto& [name, declared] : tx.created()) created_here |= declared.id == id;
    if (!created_here && catalog.FindIndexById(id) == nullptr) {
      return MakeError(Error::kIndexNotFound,
                       absl::StrCat("index ", id, " was dropped meanwhile"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateIndexKeys(const TxIndexes& tx, TxStrategy strategy, const Catalog& catalog,
                               PageDelta& delta) {
  for (const auto& [id, changes] : tx.changes()) {
    if (changes.index.mode != ValueMode::kExclusive) continue;
    const IndexMeta* meta = catalog.FindIndexById(id);
    for (const auto& [key, ops] : changes.ops) {
      std::vector<std::string> values;
      if (meta != nullptr) {
        absl::StatusOr<std::vector<std::string>> committed = ValuesOf(delta, meta->root, key);
        if (!committed.ok()) return IoErrorFrom(committed.status());
        values = std::move(*committed);
      }
      if (!ReplayOps(ValueMode::kExclusive, ops, values)) {
        const std::string* name = NameOf(catalog, id);
        return MakeError(Error::kIndexDuplicateKey,
                         absl::StrCat("index \"", name != nullptr ? *name : std::string("?"),
                                      "\": key ", KeyName(changes.index.key_type, key),
                                      " has another value committed meanwhile"));
      }
    }
  }
  if (strategy == TxStrategy::kLastWriterWins) return absl::OkStatus();
  for (const auto& entry : tx.changes()) {
    const uint32_t id = entry.first;  // not a structured binding: the lambda captures it
    const TxIndexes::Changes& changes = entry.second;
    // An index dropped meanwhile has no values now (one created here has nothing seen).
    const IndexMeta* meta = catalog.FindIndexById(id);
    auto check = [&](const std::map<std::string, std::vector<std::string>>& seen) -> absl::Status {
      for (const auto& [key, values] : seen) {
        absl::StatusOr<std::vector<std::string>> now =
            meta == nullptr ? std::vector<std::string>() : ValuesOf(delta, meta->root, key);
        if (!now.ok()) return IoErrorFrom(now.status());
        if (*now != values) {
          const std::string* name = NameOf(catalog, id);
          return MakeError(Error::kVersionConflict,
                           absl::StrCat("index \"", name != nullptr ? *name : std::string("?"),
                                        "\": the values of key ",
                                        KeyName(changes.index.key_type, key),
                                        " changed meanwhile"));
        }
      }
      return absl::OkStatus();
    };
    PERSY_RETURN_IF_ERROR(check(changes.write_seen));
    if (strategy == TxStrategy::kVersionOnRead) PERSY_RETURN_IF_ERROR(check(changes.read_seen));
  }
  return absl::OkStatus();
}

absl::Status ApplyIndexes(const TxIndexes& tx, PageDelta& delta, Allocator& alloc,
                          Catalog& catalog) {
  for (const auto& [id, name] : tx.dropped()) {
    auto it = catalog.indexes.find(name);
    if (it == catalog.indexes.end() || it->second.id != id) continue;
    PERSY_RETURN_IF_ERROR(DropIndexPages(delta, alloc, it->second.root));
    catalog.indexes.erase(it);
  }
  for (const auto& [name, declared] : tx.created()) {
    IndexMeta meta;
    meta.id = declared.id;
    meta.key_type = declared.key_type;
    meta.value_type = declared.value_type;
    meta.mode = declared.mode;
    catalog.indexes[name] = meta;
    catalog.next_index_id = std::max(catalog.next_index_id, declared.id + 1);
  }
  for (const auto& [id, changes] : tx.changes()) {
    if (changes.ops.empty()) continue;
    IndexMeta* meta = catalog.FindIndexById(id);
    if (meta == nullptr) continue;  // changed, then dropped: its ops were discarded
    for (const auto& [key, ops] : changes.ops) {
      PERSY_ASSIGN_OR_RETURN(std::vector<std::string> before, ValuesOf(delta, meta->root, key));
      std::vector<std::string> after = before;
      ReplayOps(meta->mode, ops, after);
      // Both sorted: remove what went, add what came.
      std::vector<std::string> gone;
      std::vector<std::string> came;
      std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                          std::back_inserter(gone));
      std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                          std::back_inserter(came));
      for (const std::string& v : gone) {
        PERSY_RETURN_IF_ERROR(RemoveEntry(delta, alloc, meta->root, key, v).status());
      }
      for (const std::string& v : came) {
        PERSY_RETURN_IF_ERROR(InsertEntry(delta, alloc, meta->root, key, v).status());
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace persy::internal
