// The executor's two-phase commit and recovery (executor.h): prepare and the decisions of
// prepared handles, crashes, and the three ways of opening a file with transactions in doubt,
// each compared step by step with the model, and cut short by a power-off when the plan says.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "model/executor.h"

namespace persy::model {
namespace {

// A transaction id no generated transaction has (they are empty, "i..." or "<tag>:...").
constexpr char kMissingId[] = "~missing";

absl::Status Mismatch(const std::string& what) { return absl::InternalError(what); }

// The errors any call that touches the file may return after an I/O failure (persy.h).
bool IsIoClass(persy::Error error) {
  return error == persy::Error::kIo || error == persy::Error::kDataLoss ||
         error == persy::Error::kFailed;
}

// What an open returns when the disk goes off in it: an I/O error, whichever call it cuts short
// (SimVfs fails them with kUnavailable, which is not the lock's "already in use" nor a header
// that is not persy's).
bool IsOpenCutShort(persy::Error error) { return IsIoClass(error); }

std::string ShowId(std::string_view id) {
  const absl::string_view head(id.data(), std::min<size_t>(id.size(), 16));
  if (id.size() <= 24) return absl::StrCat("\"", absl::CHexEscape(head), "\"");
  return absl::StrCat(id.size(), "B \"", absl::CHexEscape(head), "...\"");
}

std::vector<RecoverEntry> FromPersy(const std::vector<persy::RecoverEntry>& entries) {
  std::vector<RecoverEntry> out;
  for (const persy::RecoverEntry& e : entries) {
    RecoverStatus status = RecoverStatus::kInDoubt;
    if (e.status == persy::RecoverStatus::kCommitted) status = RecoverStatus::kCommitted;
    if (e.status == persy::RecoverStatus::kRolledBack) status = RecoverStatus::kRolledBack;
    out.push_back(RecoverEntry{e.transaction_id, status});
  }
  return out;
}

size_t DecidedCount(const std::vector<persy::RecoverEntry>& entries) {
  size_t n = 0;
  for (const persy::RecoverEntry& e : entries) n += e.status != persy::RecoverStatus::kInDoubt;
  return n;
}

}  // namespace

// ---- Prepare and decisions ----

bool Executor::ArmCrashInNextCommit() {
  call_start_ = vfs_.event_count();
  if (!crash_in_next_commit_.has_value()) return false;
  vfs_.PowerOffAfter(*crash_in_next_commit_);
  crash_in_next_commit_.reset();
  return true;
}

void Executor::EndCommitCall() {
  if (!call_start_.has_value()) return;
  commit_call_events_.push_back(vfs_.event_count() - *call_start_);
  call_start_.reset();
}

Executor::PreparedSlot& Executor::PreparedAt(int tx) {
  return prepared_[static_cast<size_t>(((tx % kTxSlots) + kTxSlots) % kTxSlots)];
}

absl::Status Executor::ApplyPrepare(const Op& op, Slot& slot) {
  PreparedSlot& prepared = PreparedAt(op.tx);
  const uint64_t crashes = crashes_;
  MODEL_RETURN_IF_ERROR(DropPrepared(prepared));
  if (crashes_ != crashes) return absl::OkStatus();  // the rollback was cut short: recovered
  const Model::TxId tx = *slot.model_tx;
  const bool crash = ArmCrashInNextCommit();
  absl::StatusOr<std::unique_ptr<persy::PreparedTransaction>> engine = slot.tx->Prepare();
  EndCommitCall();
  const bool io = IoHit();
  if (io && !engine.ok() && IsIoClass(persy::ErrorOf(engine.status()))) {
    // The outcome is unknown: in doubt or absent. If the checks fail, it is absent either way.
    ++coverage_.uncertain;
    (void)model_.PrepareUncertain(tx);
    return CrashAndRecover();
  }
  const Error model = model_.Prepare(tx);
  MODEL_RETURN_IF_ERROR(ExpectError("Prepare", model, engine.status(), false));
  if (model == Error::kNone) ++coverage_.prepared;
  if (model == Error::kLockTimeout) ++coverage_.lock_timeouts;
  if (engine.ok()) {
    if ((*engine)->transaction_id() != slot.transaction_id) {
      return Mismatch(absl::StrCat("Prepare: the handle's transaction id is ",
                                   ShowId((*engine)->transaction_id()), ", Begin's ",
                                   ShowId(slot.transaction_id)));
    }
    prepared.model_tx = tx;
    prepared.handle = std::move(*engine);
  }
  if (crash) return CrashAndRecover();
  return absl::OkStatus();
}

absl::Status Executor::DropPrepared(PreparedSlot& prepared) {
  if (prepared.handle == nullptr) return absl::OkStatus();
  const Model::TxId tx = *prepared.model_tx;
  const bool undecided = model_.undecided(tx);
  const bool crash = undecided && ArmCrashInNextCommit();
  prepared.handle.reset();  // rolls back an undecided one, ignoring errors
  EndCommitCall();
  prepared.model_tx.reset();
  if (!undecided) return absl::OkStatus();
  if (IoHit()) {
    // The rollback met the I/O error or the power-off: rolled back or still in doubt.
    ++coverage_.uncertain;
    model_.DecidePreparedUncertain(tx, /*commit=*/false);
    return CrashAndRecover();
  }
  if (const Error error = model_.RollbackPrepared(tx); error != Error::kNone) {
    return Mismatch(absl::StrCat("DropPrepared: the model's rollback returns ", ErrorName(error)));
  }
  if (crash) return CrashAndRecover();
  return absl::OkStatus();
}

absl::Status Executor::ApplyPreparedOp(const Op& op) {
  PreparedSlot& prepared = PreparedAt(op.tx);
  if (prepared.handle == nullptr) return absl::OkStatus();
  if (op.kind == OpKind::kDropPrepared) return DropPrepared(prepared);
  const Model::TxId tx = *prepared.model_tx;
  const bool commit = op.kind == OpKind::kCommitPrepared;
  const bool undecided = model_.undecided(tx);
  const bool crash = undecided && ArmCrashInNextCommit();
  const absl::Status engine = commit ? prepared.handle->Commit() : prepared.handle->Rollback();
  EndCommitCall();
  const bool io = IoHit();
  if (undecided && io && !engine.ok() && IsIoClass(persy::ErrorOf(engine))) {
    ++coverage_.uncertain;
    model_.DecidePreparedUncertain(tx, commit);
    return CrashAndRecover();
  }
  const Error model = commit ? model_.CommitPrepared(tx) : model_.RollbackPrepared(tx);
  MODEL_RETURN_IF_ERROR(ExpectError(OpKindName(op.kind), model, engine, false));
  if (model == Error::kNone) {
    ++coverage_.decided;
    if (commit) ++coverage_.commits;
  }
  if (!undecided) {  // it answered TransactionFinished once: it leaves
    prepared.handle.reset();
    prepared.model_tx.reset();
  }
  if (crash) return CrashAndRecover();
  if (io || !undecided || !commit) return absl::OkStatus();
  return CheckCommitted();
}

// ---- Crash and recovery ----

absl::Status Executor::CrashAndRecover() {
  // The process dies: its files stop working before any of its destructors runs.
  vfs_.ClearFaults();
  fault_.reset();
  vfs_.Crash();
  DropAllSlots();
  recovery_.reset();
  db_.reset();
  model_.Crash();
  ++crashes_;
  return Recover();
}

absl::Status Executor::Recover() {
  // The way stays for later opens; the power-off is for this one.
  RecoveryPlan plan = recovery_plan_.value_or(RecoveryPlan());
  if (recovery_plan_.has_value()) recovery_plan_->power_off = 0;
  while (true) {
    vfs_.ClearFaults();
    fault_.reset();
    bool crashed = false;
    MODEL_RETURN_IF_ERROR(OpenWith(plan, &crashed));
    vfs_.PowerOffAfter(std::nullopt);
    if (!crashed && !vfs_.powered_off()) break;
    ++coverage_.recoveries_cut_short;
    // The disk went off in the middle of recovery: the process dies again. What it decided
    // stays decided, the rest is in doubt again; the next open decides it the same way.
    vfs_.Crash();
    recovery_.reset();
    db_.reset();
    model_.Crash();
    plan.power_off = 0;
  }
  if (absl::Status s = db_->CheckIntegrity(); !s.ok()) {
    return Mismatch(absl::StrCat("integrity check after reopening: ", s.ToString()));
  }
  Dump dump;
  MODEL_RETURN_IF_ERROR(EngineDump(&dump));
  Counters counters;
  MODEL_RETURN_IF_ERROR(EngineCounters(dump, &counters));
  if (absl::Status resolved = model_.Resolve(dump, counters); !resolved.ok()) {
    return Mismatch(absl::StrCat("recovery: ", resolved.message()));
  }
  MODEL_RETURN_IF_ERROR(ModelProbe(counters));
  // Numbers not committed may be handed out again: forget them.
  std::map<Id, persy::RecordId> kept;
  for (const auto& [name, segment] : dump.segments) {
    for (const auto& [number, bytes] : segment.records) {
      const Id id{segment.id, number};
      if (auto it = to_engine_.find(id); it != to_engine_.end()) kept.insert(*it);
    }
  }
  to_engine_ = std::move(kept);
  to_model_.clear();
  for (const auto& [m, e] : to_engine_) to_model_[e] = m;
  return absl::OkStatus();
}

void Executor::BeginOpen(RecoveryWay way) {
  model_.BeginOpen();
  if (!model_.RecoveryList().empty()) ++coverage_.in_doubt_opens[static_cast<int>(way)];
}

absl::Status Executor::OpenWith(const RecoveryPlan& plan, bool* crashed) {
  *crashed = false;
  const Model::DecisionFn commit_all = [](size_t) { return true; };
  const Model::DecisionFn decide = [plan](size_t position) {
    return RecoveryCommits(plan, position);
  };
  switch (plan.way) {
    case RecoveryWay::kOpen: {
      if (plan.power_off > 0) vfs_.PowerOffAfter(static_cast<uint64_t>(plan.power_off));
      absl::StatusOr<std::unique_ptr<persy::Persy>> opened =
          persy::Persy::Open(options_.path, options_.config, &vfs_);
      BeginOpen(plan.way);
      if (!opened.ok()) {
        if (!vfs_.powered_off() || !IsOpenCutShort(persy::ErrorOf(opened.status()))) {
          return Mismatch(absl::StrCat("reopening the file: ", opened.status().ToString()));
        }
        // Cut short before its decisions or among them: any number of them may have been made.
        model_.DecideAllUncertain(commit_all, 0, std::numeric_limits<size_t>::max());
        *crashed = true;
        return absl::OkStatus();
      }
      model_.DecideAll(commit_all);
      db_ = std::move(*opened);
      return absl::OkStatus();
    }
    case RecoveryWay::kOpenWithRecover: {
      std::vector<std::string> asked;
      const auto ask = [&](std::string_view id) {
        if (asked.empty() && plan.power_off > 0) {
          vfs_.PowerOffAfter(static_cast<uint64_t>(plan.power_off));
        }
        asked.emplace_back(id);
        return RecoveryCommits(plan, asked.size() - 1);
      };
      absl::StatusOr<std::unique_ptr<persy::Persy>> opened =
          persy::Persy::OpenWithRecover(options_.path, options_.config, ask, &vfs_);
      BeginOpen(plan.way);
      if (!opened.ok()) {
        if (!vfs_.powered_off() || !IsIoClass(persy::ErrorOf(opened.status()))) {
          return Mismatch(
              absl::StrCat("reopening the file (OpenWithRecover): ", opened.status().ToString()));
        }
        // Each question comes before its decision: those before the last one were made.
        model_.DecideAllUncertain(decide, asked.empty() ? 0 : asked.size() - 1, asked.size());
        *crashed = true;
        return absl::OkStatus();
      }
      if (absl::Status s = model_.ObserveInDoubtIds(asked); !s.ok()) {
        return Mismatch(absl::StrCat("OpenWithRecover: ", s.message()));
      }
      model_.DecideAll(decide);
      db_ = std::move(*opened);
      return absl::OkStatus();
    }
    case RecoveryWay::kRecover:
      return OpenRecovering(plan, crashed);
  }
  std::abort();
}

absl::Status Executor::CheckRecoveryList(const std::string& when) {
  if (absl::Status s = model_.ObserveRecoveryList(FromPersy(recovery_->List())); !s.ok()) {
    return Mismatch(absl::StrCat("Recovery::List ", when, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status Executor::OpenRecovering(const RecoveryPlan& plan, bool* crashed) {
  absl::StatusOr<std::unique_ptr<persy::Recovery>> opened =
      persy::Persy::Recover(options_.path, options_.config, &vfs_);
  if (!opened.ok()) {
    return Mismatch(absl::StrCat("reopening the file (Recover): ", opened.status().ToString()));
  }
  recovery_ = std::move(*opened);
  BeginOpen(plan.way);
  MODEL_RETURN_IF_ERROR(CheckRecoveryList("at open"));
  if (plan.power_off > 0) vfs_.PowerOffAfter(static_cast<uint64_t>(plan.power_off));
  const std::vector<persy::RecoverEntry> at_open = recovery_->List();
  for (size_t i = 0; i < at_open.size(); ++i) {
    const RecoveryChoice choice = RecoveryChoiceAt(plan, i);
    if (choice == RecoveryChoice::kLeave) continue;
    const std::string id =
        choice == RecoveryChoice::kMissing ? kMissingId : at_open[i].transaction_id;
    const bool commit = choice != RecoveryChoice::kRollback;
    const size_t decided_before = DecidedCount(recovery_->List());
    const absl::Status engine = commit ? recovery_->Commit(id) : recovery_->Rollback(id);
    if (!engine.ok() && vfs_.powered_off() && IsIoClass(persy::ErrorOf(engine))) {
      // The entries List shows decided were; the next one may have been.
      const size_t made = DecidedCount(recovery_->List()) - decided_before;
      model_.DecideInDoubtUncertain(id, commit, made, made + 1);
      *crashed = true;
      return absl::OkStatus();
    }
    const std::string what =
        absl::StrCat("Recovery::", commit ? "Commit(" : "Rollback(", ShowId(id), ")");
    MODEL_RETURN_IF_ERROR(ExpectError(what, model_.DecideInDoubt(id, commit), engine, false));
    MODEL_RETURN_IF_ERROR(CheckRecoveryList(absl::StrCat("after ", what)));
  }
  const size_t decided_before = DecidedCount(recovery_->List());
  absl::StatusOr<std::unique_ptr<persy::Persy>> finished = recovery_->Finish();
  if (!finished.ok()) {
    if (!vfs_.powered_off() || !IsIoClass(persy::ErrorOf(finished.status()))) {
      return Mismatch(absl::StrCat("Recovery::Finish: ", finished.status().ToString()));
    }
    const size_t made = DecidedCount(recovery_->List()) - decided_before;
    model_.DecideAllUncertain([](size_t) { return true; }, made, made + 1);
    *crashed = true;
    return absl::OkStatus();
  }
  model_.DecideAll([](size_t) { return true; });
  MODEL_RETURN_IF_ERROR(CheckRecoveryList("after Finish"));
  // Finished: the recovery hands over nothing more.
  const absl::StatusOr<std::unique_ptr<persy::Persy>> again = recovery_->Finish();
  const absl::Status decided = recovery_->Commit(kMissingId);
  if (persy::ErrorOf(again.status()) != persy::Error::kFailed ||
      persy::ErrorOf(decided) != persy::Error::kFailed) {
    return Mismatch(absl::StrCat("after Recovery::Finish, Finish returns ",
                                 again.status().ToString(), " and Commit ", decided.ToString(),
                                 ", both should be Failed"));
  }
  recovery_.reset();
  db_ = std::move(*finished);
  return absl::OkStatus();
}

}  // namespace persy::model
