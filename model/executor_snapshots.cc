// The executor's snapshots (executor.h): taken into slots, read with the committed reads'
// own comparisons against the model's copy of the state when each was taken.

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/executor.h"

namespace persy::model {

absl::Status Executor::TakeSnapshotInto(SnapshotSlot& slot) {
  slot.snapshot.reset();
  if (slot.model.has_value()) model_.ReleaseSnapshot(*slot.model);
  slot.model.reset();
  absl::StatusOr<std::unique_ptr<persy::Snapshot>> engine = db_->TakeSnapshot();
  MODEL_RETURN_IF_ERROR(ExpectError("TakeSnapshot", Error::kNone, engine.status(), IoHit()));
  if (!engine.ok()) return absl::OkStatus();
  slot.snapshot = std::move(*engine);
  slot.model = model_.TakeSnapshot();
  slot.taken_at = coverage_.commits;
  return absl::OkStatus();
}

absl::Status Executor::ApplySnapshotOp(const Op& op) {
  SnapshotSlot& slot = snapshots_[static_cast<size_t>(((op.tx % kSnapshotSlots) + kSnapshotSlots) %
                                                      kSnapshotSlots)];
  if (op.kind == OpKind::kTakeSnapshot) return TakeSnapshotInto(slot);
  if (op.kind == OpKind::kReleaseSnapshot) {
    slot.snapshot.reset();
    if (slot.model.has_value()) model_.ReleaseSnapshot(*slot.model);
    slot.model.reset();
    return absl::OkStatus();
  }
  if (slot.snapshot == nullptr) {
    MODEL_RETURN_IF_ERROR(TakeSnapshotInto(slot));
    if (slot.snapshot == nullptr) return absl::OkStatus();  // an I/O error: reopen
  }
  const ReadSource source{slot.snapshot.get(), slot.model};
  if (slot.taken_at != coverage_.commits) ++coverage_.older_snapshot_reads;
  // Each snapshot read is the committed read of the same name, of the snapshot.
  Op read = op;
  switch (op.kind) {
    case OpKind::kSnapshotRead: {
      const SnapshotReadArgs args = DecodeSnapshotReadArgs(op.arg);
      switch (args.kind) {
        case SnapshotReadKind::kRead: read.kind = OpKind::kReadCommitted; break;
        case SnapshotReadKind::kScan: read.kind = OpKind::kScanCommitted; break;
        case SnapshotReadKind::kExistsSegment: read.kind = OpKind::kExistsCommitted; break;
        case SnapshotReadKind::kListSegments: read.kind = OpKind::kListCommitted; break;
        case SnapshotReadKind::kExistsIndex:
          read.kind = OpKind::kExistsIndexCommitted;
          return ApplyIndexCommittedRead(read, source);
        case SnapshotReadKind::kListIndexes:
          read.kind = OpKind::kListIndexesCommitted;
          return ApplyIndexCommittedRead(read, source);
      }
      return ApplyCommittedRead(read, source, static_cast<size_t>(args.limit));
    }
    case OpKind::kSnapshotGet:
      read.kind = OpKind::kGetCommitted;
      return ApplyIndexCommittedRead(read, source);
    case OpKind::kSnapshotRange:
      read.kind = OpKind::kRangeCommitted;
      return ApplyIndexCommittedRead(read, source);
    default:
      std::abort();  // not a snapshot op
  }
}

}  // namespace persy::model
