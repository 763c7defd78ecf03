#include "model/model.h"
#include "model/require.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace persy::model {
namespace {

std::string Short(const std::string& bytes) {
  if (bytes.size() <= 24) return absl::StrCat("\"", absl::CHexEscape(bytes), "\"");
  return absl::StrCat(bytes.size(), "B \"", absl::CHexEscape(bytes.substr(0, 16)), "...\"");
}

}  // namespace

const char* ErrorName(Error error) {
  switch (error) {
    case Error::kNone: return "None";
    case Error::kSegmentNotFound: return "SegmentNotFound";
    case Error::kSegmentAlreadyExists: return "SegmentAlreadyExists";
    case Error::kRecordNotFound: return "RecordNotFound";
    case Error::kInvalidId: return "InvalidId";
    case Error::kInvalidArgument: return "InvalidArgument";
    case Error::kCannotDropSegmentCreatedInTx: return "CannotDropSegmentCreatedInTx";
    case Error::kVersionConflict: return "VersionConflict";
    case Error::kRecordTooBig: return "RecordTooBig";
    case Error::kTransactionFinished: return "TransactionFinished";
    case Error::kIndexNotFound: return "IndexNotFound";
    case Error::kIndexAlreadyExists: return "IndexAlreadyExists";
    case Error::kCannotDropIndexCreatedInTx: return "CannotDropIndexCreatedInTx";
    case Error::kIndexTypeMismatch: return "IndexTypeMismatch";
    case Error::kIndexDuplicateKey: return "IndexDuplicateKey";
    case Error::kKeyTooBig: return "KeyTooBig";
    case Error::kValueTooBig: return "ValueTooBig";
    case Error::kLockTimeout: return "LockTimeout";
    case Error::kTransactionNotFound: return "TransactionNotFound";
  }
  return "?";
}

const char* StrategyName(Strategy strategy) {
  switch (strategy) {
    case Strategy::kLastWriterWins: return "LastWriterWins";
    case Strategy::kVersionOnWrite: return "VersionOnWrite";
    case Strategy::kVersionOnRead: return "VersionOnRead";
  }
  return "?";
}

std::string Id::ToString() const { return absl::StrCat(segment, ".", number); }

std::string DumpToString(const Dump& dump) {
  std::string out = "{";
  for (const auto& [name, segment] : dump.segments) {
    absl::StrAppend(&out, out.size() > 1 ? ", " : "", Short(name), "#", segment.id, ": {");
    bool first = true;
    for (const auto& [number, bytes] : segment.records) {
      absl::StrAppend(&out, first ? "" : ", ", number, "=", Short(bytes));
      first = false;
    }
    absl::StrAppend(&out, "}");
  }
  for (const auto& [name, index] : dump.indexes) {
    absl::StrAppend(&out, out.size() > 1 ? ", " : "", "index ", Short(name), "#", index.id, " ",
                    IndexDefText(index.key_type, index.value_type, index.mode), ": ",
                    IndexEntriesText(index.entries));
  }
  return out + "}";
}

std::string CountersToString(const Counters& counters) {
  std::string out = absl::StrCat("{next segment id ", counters.next_segment_id);
  for (const auto& [name, next] : counters.next_number) {
    absl::StrAppend(&out, ", ", Short(name), " next ", next);
  }
  return absl::StrCat(out, ", next index id ", counters.next_index_id, "}");
}

Model::Model() = default;

// ---- Lookups ----

void Model::RequireCertain() const {
  Require(phase_ == Phase::kOpen,
          "a call other than Crash and recovery while the durable state is uncertain");
}

Model::Tx& Model::LiveTx(TxId tx) {
  RequireCertain();
  Require(tx >= 0 && static_cast<size_t>(tx) < txs_.size(), "unknown transaction handle");
  return txs_[static_cast<size_t>(tx)];
}

bool Model::finished(TxId tx) const {
  Require(tx >= 0 && static_cast<size_t>(tx) < txs_.size(), "unknown transaction handle");
  return txs_[static_cast<size_t>(tx)].finished;
}

const Model::Segment* Model::SegmentById(const Committed& committed, uint32_t id) {
  for (const auto& [name, segment] : committed.segments) {
    if (segment.id == id) return &segment;
  }
  return nullptr;
}

Model::Segment* Model::SegmentById(Committed& committed, uint32_t id) {
  for (auto& [name, segment] : committed.segments) {
    if (segment.id == id) return &segment;
  }
  return nullptr;
}

const Model::Record* Model::RecordById(const Committed& committed, Id id) {
  const Segment* segment = SegmentById(committed, id.segment);
  if (segment == nullptr) return nullptr;
  auto it = segment->records.find(id.number);
  return it == segment->records.end() ? nullptr : &it->second;
}

std::optional<uint32_t> Model::VisibleSegment(const Tx& tx, std::string_view name) const {
  const std::string key(name);
  if (auto it = tx.created.find(key); it != tx.created.end()) return it->second;
  auto it = committed_.segments.find(key);
  if (it == committed_.segments.end() || tx.dropped.count({key, it->second.id}) != 0) {
    return std::nullopt;
  }
  return it->second.id;
}

std::optional<std::string> Model::VisibleRecord(Tx& tx, Id id, bool track_read) {
  if (auto it = tx.writes.find(id); it != tx.writes.end()) return it->second.bytes;
  const Record* record = RecordById(committed_, id);
  if (record == nullptr) return std::nullopt;
  if (track_read) tx.read_versions.emplace(id, record->version);  // keeps the first read
  return record->bytes;
}

uint64_t Model::TakeNumber(uint32_t segment_id) {
  auto it = next_number_.find(segment_id);
  if (it == next_number_.end()) {
    const Segment* segment = SegmentById(committed_, segment_id);
    it = next_number_.emplace(segment_id, segment == nullptr ? 1 : segment->persisted_next_number)
             .first;
  }
  return it->second++;
}

std::vector<ScanEntry> Model::ScanOf(const std::map<uint64_t, std::string>& records,
                                     uint32_t segment_id, size_t limit) {
  std::vector<ScanEntry> out;
  for (const auto& [number, bytes] : records) {
    if (limit != 0 && out.size() == limit) break;
    out.push_back(ScanEntry{Id{segment_id, number}, bytes});
  }
  return out;
}

// ---- Transactions ----

Result<Model::TxId> Model::Begin(Strategy strategy, std::string_view transaction_id) {
  RequireCertain();
  if (transaction_id.size() > kMaxTransactionIdSize) return Error::kInvalidArgument;
  Tx tx;
  tx.strategy = strategy;
  tx.transaction_id = std::string(transaction_id);
  txs_.push_back(std::move(tx));
  return static_cast<TxId>(txs_.size() - 1);
}

Error Model::CreateSegment(TxId id, std::string_view name) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  if (name.empty() || name.size() > kMaxSegmentNameSize) return Error::kInvalidArgument;
  if (VisibleSegment(tx, name).has_value()) return Error::kSegmentAlreadyExists;
  const uint32_t segment_id = next_segment_id_++;
  tx.created[std::string(name)] = segment_id;
  tx.highest_created = std::max(tx.highest_created, segment_id);
  return Error::kNone;
}

Error Model::DropSegment(TxId id, std::string_view name) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  const std::optional<uint32_t> segment = VisibleSegment(tx, name);
  if (!segment.has_value()) return Error::kSegmentNotFound;
  if (tx.created.count(std::string(name)) != 0) return Error::kCannotDropSegmentCreatedInTx;
  tx.dropped.emplace(name, *segment);
  // Dropping supersedes what the transaction did in the segment: its writes and the versions
  // it saw there are forgotten, and the commit checks only that the segment still exists.
  tx.written_segments.erase({std::string(name), *segment});
  tx.highest_inserted.erase(*segment);
  for (auto it = tx.writes.begin(); it != tx.writes.end();) {
    it = it->first.segment == *segment ? tx.writes.erase(it) : std::next(it);
  }
  for (auto it = tx.read_versions.begin(); it != tx.read_versions.end();) {
    it = it->first.segment == *segment ? tx.read_versions.erase(it) : std::next(it);
  }
  return Error::kNone;
}

Result<bool> Model::ExistsSegment(TxId id, std::string_view name) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  return VisibleSegment(tx, name).has_value();
}

Result<std::vector<SegmentInfo>> Model::ListSegments(TxId id) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  std::set<std::string> names;
  for (const auto& [name, segment] : committed_.segments) names.insert(name);
  for (const auto& [name, segment_id] : tx.created) names.insert(name);
  std::vector<SegmentInfo> out;
  for (const std::string& name : names) {
    if (std::optional<uint32_t> segment = VisibleSegment(tx, name)) {
      out.push_back(SegmentInfo{name, *segment});
    }
  }
  return out;
}

Result<Id> Model::Insert(TxId id, std::string_view name, std::string_view bytes) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  const std::optional<uint32_t> segment = VisibleSegment(tx, name);
  if (!segment.has_value()) return Error::kSegmentNotFound;
  if (bytes.size() > kMaxRecordSize) return Error::kRecordTooBig;
  const Id record{*segment, TakeNumber(*segment)};
  tx.writes[record] = Write{true, std::string(bytes), 0};
  tx.highest_inserted[*segment] = std::max(tx.highest_inserted[*segment], record.number);
  if (tx.created.count(std::string(name)) == 0) tx.written_segments.emplace(name, *segment);
  return record;
}

Error Model::Update(TxId id, std::string_view name, Id record, std::string_view bytes) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  const std::optional<uint32_t> segment = VisibleSegment(tx, name);
  if (!segment.has_value()) return Error::kSegmentNotFound;
  if (record.segment != *segment) return Error::kInvalidId;
  if (!VisibleRecord(tx, record, /*track_read=*/false).has_value()) return Error::kRecordNotFound;
  if (bytes.size() > kMaxRecordSize) return Error::kRecordTooBig;
  if (auto it = tx.writes.find(record); it != tx.writes.end()) {
    it->second.bytes = std::string(bytes);
  } else {
    tx.writes[record] = Write{false, std::string(bytes), RecordById(committed_, record)->version};
  }
  if (tx.created.count(std::string(name)) == 0) tx.written_segments.emplace(name, *segment);
  return Error::kNone;
}

Error Model::Delete(TxId id, std::string_view name, Id record) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  const std::optional<uint32_t> segment = VisibleSegment(tx, name);
  if (!segment.has_value()) return Error::kSegmentNotFound;
  if (record.segment != *segment) return Error::kInvalidId;
  if (!VisibleRecord(tx, record, /*track_read=*/false).has_value()) return Error::kRecordNotFound;
  if (auto it = tx.writes.find(record); it != tx.writes.end()) {
    it->second.bytes = std::nullopt;
  } else {
    tx.writes[record] = Write{false, std::nullopt, RecordById(committed_, record)->version};
  }
  if (tx.created.count(std::string(name)) == 0) tx.written_segments.emplace(name, *segment);
  return Error::kNone;
}

Result<std::optional<std::string>> Model::Read(TxId id, std::string_view name, Id record) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  const std::optional<uint32_t> segment = VisibleSegment(tx, name);
  if (!segment.has_value()) return Error::kSegmentNotFound;
  if (record.segment != *segment) return Error::kInvalidId;
  return VisibleRecord(tx, record, /*track_read=*/true);
}

Result<std::vector<ScanEntry>> Model::Scan(TxId id, std::string_view name, size_t limit) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  const std::optional<uint32_t> segment = VisibleSegment(tx, name);
  if (!segment.has_value()) return Error::kSegmentNotFound;
  // Every number the tx may see: the committed ones of this segment id and its own writes.
  std::set<uint64_t> numbers;
  if (const Segment* committed = SegmentById(committed_, *segment)) {
    for (const auto& [number, record] : committed->records) numbers.insert(number);
  }
  for (const auto& [record, write] : tx.writes) {
    if (record.segment == *segment) numbers.insert(record.number);
  }
  std::vector<ScanEntry> out;
  for (uint64_t number : numbers) {
    if (limit != 0 && out.size() == limit) break;
    const Id record{*segment, number};
    if (std::optional<std::string> bytes = VisibleRecord(tx, record, /*track_read=*/true)) {
      out.push_back(ScanEntry{record, *bytes});
    }
  }
  return out;
}

Error Model::Rollback(TxId id) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  tx.finished = true;
  return Error::kNone;
}

// ---- Commit ----

Error Model::Validate(const Tx& tx, const Committed& committed) {
  // 1. A name it creates is committed, by a segment other than one it drops.
  for (const auto& [name, id] : tx.created) {
    auto it = committed.segments.find(name);
    if (it != committed.segments.end() && tx.dropped.count({name, it->second.id}) == 0) {
      return Error::kSegmentAlreadyExists;
    }
  }
  // 2. A committed segment it writes to or drops is no longer committed under that name and id.
  std::set<std::pair<std::string, uint32_t>> used = tx.written_segments;
  used.insert(tx.dropped.begin(), tx.dropped.end());
  for (const auto& [name, id] : used) {
    auto it = committed.segments.find(name);
    if (it == committed.segments.end() || it->second.id != id) return Error::kSegmentNotFound;
  }
  // 3, 4. Index names (index_model.cc).
  if (const Error error = ValidateIndexNames(tx, committed); error != Error::kNone) return error;
  // 5. A committed record it updates or deletes is gone.
  for (const auto& [id, write] : tx.writes) {
    if (!write.inserted && RecordById(committed, id) == nullptr) return Error::kRecordNotFound;
  }
  // 6. Versions of records.
  if (tx.strategy != Strategy::kLastWriterWins) {
    for (const auto& [id, write] : tx.writes) {
      if (!write.inserted && RecordById(committed, id)->version != write.first_version) {
        return Error::kVersionConflict;
      }
    }
  }
  if (tx.strategy == Strategy::kVersionOnRead) {
    for (const auto& [id, version] : tx.read_versions) {
      const Record* record = RecordById(committed, id);
      if (record == nullptr || record->version != version) return Error::kVersionConflict;
    }
  }
  // 7, 8. Index keys (index_model.cc).
  return ValidateIndexKeys(tx, committed);
}

void Model::Apply(const Tx& tx, Committed& committed) {
  for (const auto& [name, id] : tx.dropped) {
    if (auto it = committed.segments.find(name); it != committed.segments.end() && it->second.id == id) {
      committed.segments.erase(it);
    }
  }
  for (const auto& [name, id] : tx.created) committed.segments[name] = Segment{id, {}, 1};
  for (const auto& [id, write] : tx.writes) {
    Segment* segment = SegmentById(committed, id.segment);
    if (segment == nullptr) continue;  // the tx dropped it
    if (write.inserted) {
      if (write.bytes.has_value()) segment->records[id.number] = Record{*write.bytes, 1};
    } else if (write.bytes.has_value()) {
      Record& record = segment->records.at(id.number);
      record.bytes = *write.bytes;
      ++record.version;
    } else {
      segment->records.erase(id.number);
    }
  }
  if (tx.highest_created != 0) {
    committed.persisted_next_segment_id =
        std::max(committed.persisted_next_segment_id, tx.highest_created + 1);
  }
  for (const auto& [segment_id, highest] : tx.highest_inserted) {
    if (Segment* segment = SegmentById(committed, segment_id)) {
      segment->persisted_next_number = std::max(segment->persisted_next_number, highest + 1);
    }
  }
  ApplyIndexes(tx, committed);
}

Error Model::Commit(TxId id) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  tx.finished = true;
  const Error error = CheckCommit(tx);
  if (error == Error::kNone) Apply(tx, committed_);
  return error;
}

Error Model::CommitUncertain(TxId id) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  tx.finished = true;
  const Error error = CheckCommit(tx);
  if (error != Error::kNone) return error;
  Durable with = LiveDurable("with the uncertain commit");
  Apply(tx, with.committed);
  candidates_ = {LiveDurable("without the uncertain commit"), std::move(with)};
  phase_ = Phase::kAwaitingCrash;
  return Error::kNone;
}

// ---- Committed reads ----

Result<std::optional<std::string>> Model::ReadIn(const Committed& state, std::string_view name,
                                                 Id id) {
  auto it = state.segments.find(std::string(name));
  if (it == state.segments.end()) return Error::kSegmentNotFound;
  if (id.segment != it->second.id) return Error::kInvalidId;
  auto record = it->second.records.find(id.number);
  if (record == it->second.records.end()) return std::optional<std::string>();
  return std::optional<std::string>(record->second.bytes);
}

Result<std::vector<ScanEntry>> Model::ScanIn(const Committed& state, std::string_view name,
                                             size_t limit) {
  auto it = state.segments.find(std::string(name));
  if (it == state.segments.end()) return Error::kSegmentNotFound;
  std::map<uint64_t, std::string> records;
  for (const auto& [number, record] : it->second.records) records[number] = record.bytes;
  return ScanOf(records, it->second.id, limit);
}

std::vector<SegmentInfo> Model::ListIn(const Committed& state) {
  std::vector<SegmentInfo> out;
  for (const auto& [name, segment] : state.segments) out.push_back({name, segment.id});
  return out;
}

Result<std::optional<std::string>> Model::ReadCommitted(std::string_view name, Id id) const {
  RequireCertain();
  return ReadIn(committed_, name, id);
}

Result<std::vector<ScanEntry>> Model::ScanCommitted(std::string_view name, size_t limit) const {
  RequireCertain();
  return ScanIn(committed_, name, limit);
}

bool Model::ExistsCommitted(std::string_view name) const {
  RequireCertain();
  return committed_.segments.count(std::string(name)) != 0;
}

std::vector<SegmentInfo> Model::ListCommitted() const {
  RequireCertain();
  return ListIn(committed_);
}

// ---- Dumps ----

Dump Model::DumpOf(const Committed& committed) {
  Dump dump;
  for (const auto& [name, segment] : committed.segments) {
    DumpSegment& out = dump.segments[name];
    out.id = segment.id;
    for (const auto& [number, record] : segment.records) out.records[number] = record.bytes;
  }
  DumpIndexes(committed, dump);
  return dump;
}

Counters Model::PersistedCountersOf(const Committed& committed) {
  Counters counters;
  counters.next_segment_id = committed.persisted_next_segment_id;
  for (const auto& [name, segment] : committed.segments) {
    counters.next_number[name] = segment.persisted_next_number;
  }
  counters.next_index_id = committed.persisted_next_index_id;
  return counters;
}

Dump Model::dump() const {
  RequireCertain();
  return DumpOf(committed_);
}

Counters Model::counters() const {
  RequireCertain();
  Counters counters;
  counters.next_segment_id = next_segment_id_;
  for (const auto& [name, segment] : committed_.segments) {
    auto it = next_number_.find(segment.id);
    counters.next_number[name] =
        it == next_number_.end() ? segment.persisted_next_number : it->second;
  }
  counters.next_index_id = next_index_id_;
  return counters;
}

}  // namespace persy::model
