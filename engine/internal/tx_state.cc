#include "engine/internal/tx_state.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/error.h"
#include "engine/internal/api_errors.h"
#include "engine/internal/engine.h"

namespace persy::internal {
namespace {

absl::Status CheckName(std::string_view name) {
  if (name.empty() || name.size() > kMaxSegmentNameSize) {
    return MakeError(Error::kInvalidArgument,
                     absl::StrCat("segment name must be 1 to ", kMaxSegmentNameSize,
                                  " bytes, not ", name.size()));
  }
  return absl::OkStatus();
}

absl::Status CheckSize(std::string_view bytes) {
  if (bytes.size() > kMaxRecordSize) {
    return MakeError(Error::kRecordTooBig, absl::StrCat("record of ", bytes.size(),
                                                        " bytes exceeds the limit of ",
                                                        kMaxRecordSize));
  }
  return absl::OkStatus();
}

absl::Status RecordNotFound(RecordId id) {
  return MakeError(Error::kRecordNotFound, absl::StrCat("record ", id.ToString(), " not found"));
}

}  // namespace

TxState::TxState(Engine* engine, const TxOptions& options)
    : engine_(engine),
      strategy_(options.strategy.value_or(engine->config().strategy)),
      transaction_id_(options.transaction_id),
      indexes_(engine, strategy_) {}

absl::Status TxState::CheckLive() const {
  if (finished_) {
    return MakeError(Error::kTransactionFinished, "the transaction was committed or rolled back");
  }
  return absl::OkStatus();
}

absl::StatusOr<TxState::Resolved> TxState::Resolve(std::string_view name) const {
  if (auto it = created_.find(std::string(name)); it != created_.end()) {
    return Resolved{it->second, nullptr};
  }
  const auto& segments = engine_->catalog().segments;
  auto it = segments.find(std::string(name));
  if (it == segments.end() || dropped_.count(it->second.id) != 0) return SegmentNotFound(name);
  return Resolved{it->second.id, &it->second};
}

absl::StatusOr<bool> TxState::Visible(const Resolved& seg, uint64_t number,
                                      std::optional<uint32_t>* committed_version) {
  committed_version->reset();
  if (auto w = writes_.find(seg.id); w != writes_.end()) {
    if (auto r = w->second.find(number); r != w->second.end()) return r->second.bytes.has_value();
  }
  if (seg.committed == nullptr) return false;
  absl::StatusOr<std::optional<RecordInfo>> info = engine_->ReadCommitted(*seg.committed, number);
  if (!info.ok()) return info.status();
  if (!info->has_value()) return false;
  *committed_version = (*info)->version;
  return true;
}

absl::Status TxState::CreateSegment(std::string_view name) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  if (absl::Status s = CheckName(name); !s.ok()) return s;
  auto lock = engine_->SharedLock();
  if (Resolve(name).ok()) {
    return MakeError(Error::kSegmentAlreadyExists,
                     absl::StrCat("segment \"", std::string(name), "\" already exists"));
  }
  created_[std::string(name)] = engine_->AllocateSegmentId();
  return absl::OkStatus();
}

absl::Status TxState::DropSegment(std::string_view name) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  auto lock = engine_->SharedLock();
  absl::StatusOr<Resolved> seg = Resolve(name);
  if (!seg.ok()) return seg.status();
  if (seg->committed == nullptr) {
    return MakeError(Error::kCannotDropSegmentCreatedInTx,
                     absl::StrCat("segment \"", std::string(name), "\" was created in this transaction"));
  }
  dropped_[seg->id] = std::string(name);
  writes_.erase(seg->id);
  highest_inserted_.erase(seg->id);
  for (auto* versions : {&write_versions_, &read_versions_}) {
    for (auto it = versions->begin(); it != versions->end();) {
      it = it->first.segment() == seg->id ? versions->erase(it) : std::next(it);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> TxState::ExistsSegment(std::string_view name) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  auto lock = engine_->SharedLock();
  return Resolve(name).ok();
}

absl::StatusOr<std::vector<SegmentInfo>> TxState::ListSegments() {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  auto lock = engine_->SharedLock();
  std::map<std::string, uint32_t> visible(created_.begin(), created_.end());
  for (const auto& [name, meta] : engine_->catalog().segments) {
    if (dropped_.count(meta.id) == 0) visible.emplace(name, meta.id);
  }
  std::vector<SegmentInfo> out;
  for (const auto& [name, id] : visible) out.push_back(SegmentInfo{name, id});
  return out;
}

absl::StatusOr<RecordId> TxState::Insert(std::string_view segment, std::string_view bytes) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  auto lock = engine_->SharedLock();
  absl::StatusOr<Resolved> seg = Resolve(segment);
  if (!seg.ok()) return seg.status();
  if (absl::Status s = CheckSize(bytes); !s.ok()) return s;
  const RecordId id(seg->id, engine_->AllocateRecordNumber(seg->id));
  writes_[seg->id][id.number()] = Write{std::string(bytes), /*inserted=*/true};
  uint64_t& highest = highest_inserted_[seg->id];
  highest = std::max(highest, id.number());
  return id;
}

absl::StatusOr<TxState::Resolved> TxState::ResolveRecord(std::string_view segment, RecordId id,
                                                        std::optional<uint32_t>* version) {
  absl::StatusOr<Resolved> seg = Resolve(segment);
  if (!seg.ok()) return seg.status();
  if (absl::Status s = CheckIdOf(seg->id, segment, id); !s.ok()) return s;
  absl::StatusOr<bool> exists = Visible(*seg, id.number(), version);
  if (!exists.ok()) return exists.status();
  if (!*exists) return RecordNotFound(id);
  return seg;
}

absl::Status TxState::Update(std::string_view segment, RecordId id, std::string_view bytes) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  auto lock = engine_->SharedLock();
  std::optional<uint32_t> version;
  absl::StatusOr<Resolved> seg = ResolveRecord(segment, id, &version);
  if (!seg.ok()) return seg.status();
  if (absl::Status s = CheckSize(bytes); !s.ok()) return s;
  if (version.has_value()) write_versions_.emplace(id, *version);
  writes_[seg->id][id.number()].bytes = std::string(bytes);
  return absl::OkStatus();
}

absl::Status TxState::Delete(std::string_view segment, RecordId id) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  auto lock = engine_->SharedLock();
  std::optional<uint32_t> version;
  absl::StatusOr<Resolved> seg = ResolveRecord(segment, id, &version);
  if (!seg.ok()) return seg.status();
  if (version.has_value()) write_versions_.emplace(id, *version);
  auto& records = writes_[seg->id];
  auto it = records.find(id.number());
  if (it != records.end() && it->second.inserted) {
    records.erase(it);  // inserted and deleted here: it never existed
  } else {
    records[id.number()] = Write{std::nullopt, /*inserted=*/false};
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> TxState::Read(std::string_view segment, RecordId id) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  auto lock = engine_->SharedLock();
  absl::StatusOr<Resolved> seg = Resolve(segment);
  if (!seg.ok()) return seg.status();
  if (absl::Status s = CheckIdOf(seg->id, segment, id); !s.ok()) return s;
  if (auto w = writes_.find(seg->id); w != writes_.end()) {
    if (auto r = w->second.find(id.number()); r != w->second.end()) return r->second.bytes;
  }
  if (seg->committed == nullptr) return std::optional<std::string>();
  absl::StatusOr<std::optional<RecordInfo>> info = engine_->ReadCommitted(*seg->committed,
                                                                          id.number());
  if (!info.ok()) return info.status();
  if (!info->has_value()) return std::optional<std::string>();
  read_versions_.emplace(id, (*info)->version);
  return std::optional<std::string>(std::move((*info)->bytes));
}

absl::Status TxState::Scan(std::string_view segment, const ScanFn& fn) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  uint32_t segment_id;
  {
    auto lock = engine_->SharedLock();
    absl::StatusOr<Resolved> seg = Resolve(segment);
    if (!seg.ok()) return seg.status();
    segment_id = seg->id;
  }
  static const std::map<uint64_t, Write> kNone;
  auto w = writes_.find(segment_id);
  const std::map<uint64_t, Write>& own = w == writes_.end() ? kNone : w->second;
  // Merge, in number order, the committed records (each read under the lock as of its visit)
  // with this transaction's writes.
  uint64_t from = 1;
  while (true) {
    std::optional<uint64_t> committed;
    std::optional<RecordInfo> info;
    {
      auto lock = engine_->SharedLock();
      absl::StatusOr<Resolved> seg = Resolve(segment);
      if (!seg.ok()) return seg.status();
      if (seg->committed != nullptr && seg->id == segment_id) {
        absl::StatusOr<std::optional<uint64_t>> next =
            engine_->NextCommitted(*seg->committed, from);
        if (!next.ok()) return next.status();
        committed = *next;
        if (committed.has_value()) {
          absl::StatusOr<std::optional<RecordInfo>> read =
              engine_->ReadCommitted(*seg->committed, *committed);
          if (!read.ok()) return read.status();
          info = std::move(*read);
        }
      }
    }
    auto mine = own.lower_bound(from);
    uint64_t number;
    std::optional<std::string> bytes;
    if (mine != own.end() && (!committed.has_value() || mine->first <= *committed)) {
      number = mine->first;
      bytes = mine->second.bytes;
    } else if (committed.has_value()) {
      number = *committed;
      if (info.has_value()) {
        read_versions_.emplace(RecordId(segment_id, number), info->version);
        bytes = std::move(info->bytes);
      }
    } else {
      return absl::OkStatus();
    }
    if (bytes.has_value() && !fn(RecordId(segment_id, number), *bytes)) return absl::OkStatus();
    from = number + 1;
  }
}

absl::Status TxState::Commit() {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  finished_ = true;
  return engine_->Commit(*this);
}

absl::StatusOr<std::unique_ptr<TxState>> TxState::TakeForPrepare() {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  finished_ = true;
  auto taken = std::unique_ptr<TxState>(new TxState(std::move(*this)));
  created_.clear();
  dropped_.clear();
  writes_.clear();
  write_versions_.clear();
  read_versions_.clear();
  highest_inserted_.clear();
  return taken;
}

absl::Status TxState::Rollback() {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  finished_ = true;
  return absl::OkStatus();
}

absl::Status TxState::CreateIndex(std::string_view name, IndexType key_type,
                                  IndexType value_type, ValueMode mode) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  return indexes_.Create(name, key_type, value_type, mode);
}

absl::Status TxState::DropIndex(std::string_view name) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  return indexes_.Drop(name);
}

absl::StatusOr<bool> TxState::ExistsIndex(std::string_view name) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  return indexes_.Exists(name);
}

absl::StatusOr<std::vector<IndexInfo>> TxState::ListIndexes() {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  return indexes_.List();
}

absl::Status TxState::Put(std::string_view index, const IndexValue& key,
                          const IndexValue& value) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  return indexes_.Put(index, key, value);
}

absl::Status TxState::Remove(std::string_view index, const IndexValue& key,
                             const std::optional<IndexValue>& value) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  return indexes_.Remove(index, key, value);
}

absl::StatusOr<std::vector<IndexValue>> TxState::Get(std::string_view index,
                                                     const IndexValue& key,
                                                     std::optional<IndexType> value_type) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  return indexes_.Get(index, key, value_type);
}

absl::Status TxState::Range(std::string_view index, const IndexBound& from, const IndexBound& to,
                            Direction direction, std::optional<IndexType> key_type,
                            std::optional<IndexType> value_type, const RangeFn& fn) {
  if (absl::Status s = CheckLive(); !s.ok()) return s;
  return indexes_.Range(index, from, to, direction, key_type, value_type, fn);
}

}  // namespace persy::internal
