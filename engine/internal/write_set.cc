#include "engine/internal/write_set.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/internal/bytes.h"

namespace persy::internal {
namespace {

constexpr uint8_t kWriteSetVersion = 1;

}  // namespace

std::string EncodeWriteSet(const TxState& tx) {
  std::string out;
  AppendU8(out, kWriteSetVersion);
  AppendU8(out, static_cast<uint8_t>(tx.strategy()));
  AppendString(out, tx.transaction_id());
  AppendU32(out, static_cast<uint32_t>(tx.created().size()));
  for (const auto& [name, id] : tx.created()) {
    AppendString(out, name);
    AppendU32(out, id);
  }
  AppendU32(out, static_cast<uint32_t>(tx.dropped().size()));
  for (const auto& [id, name] : tx.dropped()) {
    AppendU32(out, id);
    AppendString(out, name);
  }
  AppendU32(out, static_cast<uint32_t>(tx.highest_inserted().size()));
  for (const auto& [id, number] : tx.highest_inserted()) {
    AppendU32(out, id);
    AppendU64(out, number);
  }
  AppendU32(out, static_cast<uint32_t>(tx.writes().size()));
  for (const auto& [id, records] : tx.writes()) {
    AppendU32(out, id);
    AppendU32(out, static_cast<uint32_t>(records.size()));
    for (const auto& [number, write] : records) {
      AppendU64(out, number);
      AppendU8(out, (write.inserted ? 1 : 0) | (write.bytes.has_value() ? 2 : 0));
      if (write.bytes.has_value()) AppendString(out, *write.bytes);
    }
  }
  const TxIndexes& indexes = tx.indexes();
  AppendU32(out, static_cast<uint32_t>(indexes.created().size()));
  for (const auto& [name, declared] : indexes.created()) {
    AppendString(out, name);
    AppendU32(out, declared.id);
    AppendU8(out, static_cast<uint8_t>(declared.key_type));
    AppendU8(out, static_cast<uint8_t>(declared.value_type));
    AppendU8(out, static_cast<uint8_t>(declared.mode));
  }
  AppendU32(out, static_cast<uint32_t>(indexes.dropped().size()));
  for (const auto& [id, name] : indexes.dropped()) {
    AppendU32(out, id);
    AppendString(out, name);
  }
  uint32_t changed = 0;
  for (const auto& [id, changes] : indexes.changes()) changed += changes.ops.empty() ? 0 : 1;
  AppendU32(out, changed);
  for (const auto& [id, changes] : indexes.changes()) {
    if (changes.ops.empty()) continue;
    AppendU32(out, id);
    AppendU32(out, static_cast<uint32_t>(changes.ops.size()));
    for (const auto& [key, ops] : changes.ops) {
      AppendString(out, key);
      AppendU32(out, static_cast<uint32_t>(ops.size()));
      for (const IndexOp& op : ops) {
        AppendU8(out, (op.put ? 1 : 0) | (op.value.has_value() ? 2 : 0));
        if (op.value.has_value()) AppendString(out, *op.value);
      }
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<TxState>> DecodeWriteSet(Engine* engine, std::string_view bytes) {
  auto bad = [](std::string_view what) {
    return absl::DataLossError(absl::StrCat("journal prepare entry: ", std::string(what)));
  };
  ByteReader r(bytes);
  uint8_t version = 0;
  uint8_t strategy = 0;
  TxOptions options;
  if (!r.U8(version) || version != kWriteSetVersion) return bad("unknown version");
  if (!r.U8(strategy) || strategy > static_cast<uint8_t>(TxStrategy::kVersionOnRead)) {
    return bad("unknown strategy");
  }
  options.strategy = static_cast<TxStrategy>(strategy);
  if (!r.String(options.transaction_id)) return bad("truncated transaction id");
  auto tx = std::make_unique<TxState>(engine, options);
  tx->finished_ = true;
  uint32_t n = 0;
  if (!r.U32(n)) return bad("truncated segments created");
  for (uint32_t i = 0; i < n; ++i) {
    std::string name;
    uint32_t id = 0;
    if (!r.String(name) || !r.U32(id)) return bad("truncated segment created");
    tx->created_[std::move(name)] = id;
  }
  if (!r.U32(n)) return bad("truncated segments dropped");
  for (uint32_t i = 0; i < n; ++i) {
    std::string name;
    uint32_t id = 0;
    if (!r.U32(id) || !r.String(name)) return bad("truncated segment dropped");
    tx->dropped_[id] = std::move(name);
  }
  if (!r.U32(n)) return bad("truncated highest inserted");
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t id = 0;
    uint64_t number = 0;
    if (!r.U32(id) || !r.U64(number)) return bad("truncated highest inserted");
    tx->highest_inserted_[id] = number;
  }
  if (!r.U32(n)) return bad("truncated segments written");
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t id = 0;
    uint32_t count = 0;
    if (!r.U32(id) || !r.U32(count)) return bad("truncated segment written");
    auto& records = tx->writes_[id];
    for (uint32_t j = 0; j < count; ++j) {
      uint64_t number = 0;
      uint8_t flags = 0;
      if (!r.U64(number) || !r.U8(flags) || flags > 3) return bad("bad record write");
      TxState::Write write;
      write.inserted = (flags & 1) != 0;
      if ((flags & 2) != 0) {
        write.bytes.emplace();
        if (!r.String(*write.bytes)) return bad("truncated record bytes");
      }
      records[number] = std::move(write);
    }
  }
  TxIndexes& indexes = tx->indexes_;
  if (!r.U32(n)) return bad("truncated indexes created");
  for (uint32_t i = 0; i < n; ++i) {
    std::string name;
    TxIndexes::Declared declared;
    uint8_t key = 0;
    uint8_t value = 0;
    uint8_t mode = 0;
    if (!r.String(name) || !r.U32(declared.id) || !r.U8(key) || !r.U8(value) || !r.U8(mode) ||
        key >= kIndexTypeCount || value >= kIndexTypeCount ||
        mode > static_cast<uint8_t>(ValueMode::kCluster)) {
      return bad("bad index created");
    }
    declared.key_type = static_cast<IndexType>(key);
    declared.value_type = static_cast<IndexType>(value);
    declared.mode = static_cast<ValueMode>(mode);
    indexes.created_[std::move(name)] = declared;
  }
  if (!r.U32(n)) return bad("truncated indexes dropped");
  for (uint32_t i = 0; i < n; ++i) {
    std::string name;
    uint32_t id = 0;
    if (!r.U32(id) || !r.String(name)) return bad("truncated index dropped");
    indexes.dropped_[id] = std::move(name);
  }
  if (!r.U32(n)) return bad("truncated indexes changed");
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t id = 0;
    uint32_t keys = 0;
    if (!r.U32(id) || !r.U32(keys)) return bad("truncated index changed");
    TxIndexes::Changes& changes = indexes.changes_[id];
    changes.index.id = id;
    for (uint32_t j = 0; j < keys; ++j) {
      std::string key;
      uint32_t count = 0;
      if (!r.String(key) || !r.U32(count)) return bad("truncated index key");
      std::vector<IndexOp>& ops = changes.ops[std::move(key)];
      for (uint32_t k = 0; k < count; ++k) {
        uint8_t flags = 0;
        if (!r.U8(flags) || flags > 3) return bad("bad index op");
        IndexOp op;
        op.put = (flags & 1) != 0;
        if ((flags & 2) != 0) {
          op.value.emplace();
          if (!r.String(*op.value)) return bad("truncated index value");
        }
        ops.push_back(std::move(op));
      }
    }
  }
  if (!r.done()) return bad("trailing bytes");
  return tx;
}

}  // namespace persy::internal
