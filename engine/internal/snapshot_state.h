// SnapshotState: the committed state a Snapshot (persy.h) reads: the catalog as of the moment it
// was taken, and each page as of that moment, which the engine keeps while the snapshot lives
// (Engine::PageAsOf). Releases its hold on the engine's old versions when destroyed.
//
// Thread-safety: safe for concurrent use by multiple threads (reads take the engine's shared
// lock, under which the kept images do not change).

#ifndef ENGINE_INTERNAL_SNAPSHOT_STATE_H_
#define ENGINE_INTERNAL_SNAPSHOT_STATE_H_

#include <cstdint>
#include <memory>
#include <shared_mutex>

#include "engine/internal/catalog.h"
#include "engine/internal/committed_state.h"
#include "engine/internal/page_source.h"

namespace persy::internal {

class Engine;

class SnapshotState final : public CommittedState, private PageSource {
 public:
  // Made by Engine::TakeSnapshot, which registered `version`.
  SnapshotState(Engine* engine, uint64_t version, Catalog catalog);
  SnapshotState(const SnapshotState&) = delete;
  SnapshotState& operator=(const SnapshotState&) = delete;
  ~SnapshotState() override;

  std::shared_lock<std::shared_mutex> SharedLock() const override;
  const Catalog& catalog() const override { return catalog_; }

 protected:
  PageSource* pages() override { return this; }

 private:
  absl::StatusOr<std::shared_ptr<const PageBuf>> Get(PageId id) override;

  Engine* const engine_;
  const uint64_t version_;
  const Catalog catalog_;
};

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_SNAPSHOT_STATE_H_
