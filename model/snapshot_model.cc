// The Model's snapshots (model.h): a copy of the committed state when taken, read with the
// committed reads' own code.

#include "model/model.h"
#include "model/require.h"

namespace persy::model {

Model::SnapshotId Model::TakeSnapshot() {
  RequireCertain();
  snapshots_[next_snapshot_] = committed_;
  return next_snapshot_++;
}

void Model::ReleaseSnapshot(SnapshotId snapshot) {
  Require(snapshots_.erase(snapshot) == 1, "ReleaseSnapshot of an unknown snapshot");
}

const Model::Committed& Model::SnapshotState(SnapshotId snapshot) const {
  RequireCertain();
  auto it = snapshots_.find(snapshot);
  Require(it != snapshots_.end(), "a read of an unknown snapshot");
  return it->second;
}

Result<std::optional<std::string>> Model::SnapshotRead(SnapshotId snapshot,
                                                       std::string_view segment, Id id) const {
  return ReadIn(SnapshotState(snapshot), segment, id);
}

Result<std::vector<ScanEntry>> Model::SnapshotScan(SnapshotId snapshot, std::string_view segment,
                                                   size_t limit) const {
  return ScanIn(SnapshotState(snapshot), segment, limit);
}

bool Model::SnapshotExists(SnapshotId snapshot, std::string_view name) const {
  return SnapshotState(snapshot).segments.count(std::string(name)) != 0;
}

std::vector<SegmentInfo> Model::SnapshotList(SnapshotId snapshot) const {
  return ListIn(SnapshotState(snapshot));
}

Result<std::vector<IndexValue>> Model::SnapshotGet(SnapshotId snapshot, std::string_view index,
                                                   const IndexValue& key,
                                                   std::optional<IndexType> value_type) const {
  return GetIn(SnapshotState(snapshot), index, key, value_type);
}

Result<std::vector<IndexEntry>> Model::SnapshotRange(SnapshotId snapshot, std::string_view index,
                                                     const IndexBound& from, const IndexBound& to,
                                                     Direction direction, size_t limit,
                                                     std::optional<RangeTypes> typed) const {
  return RangeIn(SnapshotState(snapshot), index, from, to, direction, limit, typed);
}

bool Model::SnapshotExistsIndex(SnapshotId snapshot, std::string_view name) const {
  return SnapshotState(snapshot).indexes.count(std::string(name)) != 0;
}

std::vector<IndexInfo> Model::SnapshotListIndexes(SnapshotId snapshot) const {
  return ListIndexesIn(SnapshotState(snapshot));
}

std::optional<IndexInfo> Model::SnapshotIndex(SnapshotId snapshot, std::string_view name) const {
  const Committed& state = SnapshotState(snapshot);
  auto it = state.indexes.find(std::string(name));
  if (it == state.indexes.end()) return std::nullopt;
  return InfoOf(it->first, it->second.def);
}

}  // namespace persy::model
