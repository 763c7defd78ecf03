#include "engine/internal/committed_state.h"

#include "engine/internal/api_errors.h"
#include "engine/internal/page_delta.h"

namespace persy::internal {

absl::StatusOr<std::optional<RecordInfo>> CommittedState::ReadCommitted(
    const SegmentMeta& segment, uint64_t number) {
  PageDelta delta(pages());
  absl::StatusOr<std::optional<RecordInfo>> info = ReadRecord(delta, segment.root, number);
  if (!info.ok()) return IoErrorFrom(info.status());
  return info;
}

absl::StatusOr<std::optional<uint64_t>> CommittedState::NextCommitted(const SegmentMeta& segment,
                                                                      uint64_t from) {
  PageDelta delta(pages());
  absl::StatusOr<std::optional<uint64_t>> next = NextRecord(delta, segment.root, from);
  if (!next.ok()) return IoErrorFrom(next.status());
  return next;
}

absl::StatusOr<std::vector<std::string>> CommittedState::CommittedIndexValues(
    const IndexMeta& index, std::string_view key) {
  PageDelta delta(pages());
  absl::StatusOr<std::vector<std::string>> values = ValuesOf(delta, index.root, key);
  if (!values.ok()) return IoErrorFrom(values.status());
  return values;
}

absl::StatusOr<std::optional<KeyValues>> CommittedState::CommittedIndexKey(
    const IndexMeta& index, const Probe& from, Direction direction) {
  PageDelta delta(pages());
  absl::StatusOr<std::optional<KeyValues>> next = NextKey(delta, index.root, from, direction);
  if (!next.ok()) return IoErrorFrom(next.status());
  return next;
}

absl::StatusOr<std::optional<std::string>> ReadRecordIn(CommittedState& state,
                                                        std::string_view segment, RecordId id) {
  auto lock = state.SharedLock();
  const auto& segments = state.catalog().segments;
  auto it = segments.find(std::string(segment));
  if (it == segments.end()) return SegmentNotFound(segment);
  if (absl::Status s = CheckIdOf(it->second.id, segment, id); !s.ok()) return s;
  absl::StatusOr<std::optional<RecordInfo>> info = state.ReadCommitted(it->second, id.number());
  if (!info.ok()) return info.status();
  if (!info->has_value()) return std::optional<std::string>();
  return std::optional<std::string>(std::move((*info)->bytes));
}

absl::Status ScanIn(CommittedState& state, std::string_view segment, const ScanFn& fn) {
  uint32_t segment_id = 0;
  for (uint64_t from = 1;;) {
    std::optional<RecordInfo> info;
    uint64_t number = 0;
    {
      auto lock = state.SharedLock();
      const auto& segments = state.catalog().segments;
      auto it = segments.find(std::string(segment));
      if (it == segments.end() || (segment_id != 0 && it->second.id != segment_id)) {
        // Dropped (and perhaps recreated) during the scan: the segment scanned is gone.
        if (segment_id != 0) return absl::OkStatus();
        return SegmentNotFound(segment);
      }
      segment_id = it->second.id;
      absl::StatusOr<std::optional<uint64_t>> next = state.NextCommitted(it->second, from);
      if (!next.ok()) return next.status();
      if (!next->has_value()) return absl::OkStatus();
      number = **next;
      absl::StatusOr<std::optional<RecordInfo>> read = state.ReadCommitted(it->second, number);
      if (!read.ok()) return read.status();
      info = std::move(*read);
    }
    if (info.has_value() && !fn(RecordId(segment_id, number), info->bytes)) {
      return absl::OkStatus();
    }
    from = number + 1;
  }
}

absl::StatusOr<bool> ExistsSegmentIn(CommittedState& state, std::string_view name) {
  auto lock = state.SharedLock();
  return state.catalog().segments.count(std::string(name)) != 0;
}

absl::StatusOr<std::vector<SegmentInfo>> ListSegmentsIn(CommittedState& state) {
  auto lock = state.SharedLock();
  std::vector<SegmentInfo> out;
  for (const auto& [name, meta] : state.catalog().segments) {
    out.push_back(SegmentInfo{name, meta.id});
  }
  return out;
}

}  // namespace persy::internal
