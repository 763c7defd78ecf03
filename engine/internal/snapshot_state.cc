#include "engine/internal/snapshot_state.h"

#include <utility>

#include "engine/internal/engine.h"

namespace persy::internal {

SnapshotState::SnapshotState(Engine* engine, uint64_t version, Catalog catalog)
    : engine_(engine), version_(version), catalog_(std::move(catalog)) {}

SnapshotState::~SnapshotState() { engine_->ReleaseSnapshot(version_); }

std::shared_lock<std::shared_mutex> SnapshotState::SharedLock() const {
  return engine_->SharedLock();
}

absl::StatusOr<std::shared_ptr<const PageBuf>> SnapshotState::Get(PageId id) {
  return engine_->PageAsOf(version_, id);
}

}  // namespace persy::internal
