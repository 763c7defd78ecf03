#include "engine/internal/tx_locks.h"

#include "absl/strings/str_cat.h"

namespace persy::internal {
namespace {

bool WritesIndex(const TxIndexes& tx, uint32_t id) {
  auto it = tx.changes().find(id);
  return it != tx.changes().end() && !it->second.ops.empty();
}

}  // namespace

std::optional<std::string> LockConflict(const TxState& tx, const TxState& prepared) {
  // Segments: names created, drops against writes and drops.
  for (const auto& [name, id] : tx.created()) {
    if (prepared.created().count(name) != 0) return absl::StrCat("segment name \"", name, "\"");
  }
  for (const auto& [id, name] : tx.dropped()) {
    if (prepared.dropped().count(id) != 0 || prepared.writes().count(id) != 0) {
      return absl::StrCat("segment \"", name, "\"");
    }
  }
  for (const auto& [id, records] : tx.writes()) {
    if (auto dropped = prepared.dropped().find(id); dropped != prepared.dropped().end()) {
      return absl::StrCat("segment \"", dropped->second, "\"");
    }
    auto locked = prepared.writes().find(id);
    if (locked == prepared.writes().end()) continue;
    for (const auto& [number, write] : records) {
      if (!write.inserted && locked->second.count(number) != 0) {
        return absl::StrCat("record ", RecordId(id, number).ToString());
      }
    }
  }
  // Indexes: the same, with keys for records.
  const TxIndexes& mine = tx.indexes();
  const TxIndexes& theirs = prepared.indexes();
  for (const auto& [name, declared] : mine.created()) {
    if (theirs.created().count(name) != 0) return absl::StrCat("index name \"", name, "\"");
  }
  for (const auto& [id, name] : mine.dropped()) {
    if (theirs.dropped().count(id) != 0 || WritesIndex(theirs, id)) {
      return absl::StrCat("index \"", name, "\"");
    }
  }
  for (const auto& [id, changes] : mine.changes()) {
    if (changes.ops.empty()) continue;
    if (auto dropped = theirs.dropped().find(id); dropped != theirs.dropped().end()) {
      return absl::StrCat("index \"", dropped->second, "\"");
    }
    auto locked = theirs.changes().find(id);
    if (locked == theirs.changes().end()) continue;
    for (const auto& [key, ops] : changes.ops) {
      if (locked->second.ops.count(key) != 0) return absl::StrCat("a key of index ", id);
    }
  }
  return std::nullopt;
}

}  // namespace persy::internal
