#include "model/executor.h"

#include <sys/mman.h>

#include <cerrno>
#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace persy::model {
namespace {

static_assert(kMaxRecordSize == persy::kMaxRecordSize);
static_assert(kMaxSegmentNameSize == persy::kMaxSegmentNameSize);
static_assert(kMaxTransactionIdSize == persy::kMaxTransactionIdSize);
static_assert(kMaxIndexNameSize == persy::kMaxIndexNameSize);
static_assert(kMaxIndexKeySize == persy::kMaxIndexKeySize);
static_assert(kMaxIndexValueSize == persy::kMaxIndexValueSize);

// The probe transaction's segment and index (one name in both namespaces): valid, and never
// one of the ops' names.
constexpr char kProbeName[] = "~probe";

persy::Error ToPersy(Error error) {
  switch (error) {
    case Error::kNone: return persy::Error::kNone;
    case Error::kSegmentNotFound: return persy::Error::kSegmentNotFound;
    case Error::kSegmentAlreadyExists: return persy::Error::kSegmentAlreadyExists;
    case Error::kRecordNotFound: return persy::Error::kRecordNotFound;
    case Error::kInvalidId: return persy::Error::kInvalidId;
    case Error::kInvalidArgument: return persy::Error::kInvalidArgument;
    case Error::kCannotDropSegmentCreatedInTx:
      return persy::Error::kCannotDropSegmentCreatedInTx;
    case Error::kVersionConflict: return persy::Error::kVersionConflict;
    case Error::kRecordTooBig: return persy::Error::kRecordTooBig;
    case Error::kTransactionFinished: return persy::Error::kTransactionFinished;
    case Error::kIndexNotFound: return persy::Error::kIndexNotFound;
    case Error::kIndexAlreadyExists: return persy::Error::kIndexAlreadyExists;
    case Error::kCannotDropIndexCreatedInTx: return persy::Error::kCannotDropIndexCreatedInTx;
    case Error::kIndexTypeMismatch: return persy::Error::kIndexTypeMismatch;
    case Error::kIndexDuplicateKey: return persy::Error::kIndexDuplicateKey;
    case Error::kKeyTooBig: return persy::Error::kKeyTooBig;
    case Error::kValueTooBig: return persy::Error::kValueTooBig;
    case Error::kLockTimeout: return persy::Error::kLockTimeout;
    case Error::kTransactionNotFound: return persy::Error::kTransactionNotFound;
  }
  std::abort();
}

persy::TxStrategy ToPersy(Strategy strategy) {
  switch (strategy) {
    case Strategy::kLastWriterWins: return persy::TxStrategy::kLastWriterWins;
    case Strategy::kVersionOnWrite: return persy::TxStrategy::kVersionOnWrite;
    case Strategy::kVersionOnRead: return persy::TxStrategy::kVersionOnRead;
  }
  std::abort();
}

Strategy FromPersy(persy::TxStrategy strategy) {
  switch (strategy) {
    case persy::TxStrategy::kLastWriterWins: return Strategy::kLastWriterWins;
    case persy::TxStrategy::kVersionOnWrite: return Strategy::kVersionOnWrite;
    case persy::TxStrategy::kVersionOnRead: return Strategy::kVersionOnRead;
  }
  std::abort();
}

// The errors any call that touches the file may return after an I/O failure (persy.h).
bool IsIoClass(persy::Error error) {
  return error == persy::Error::kIo || error == persy::Error::kDataLoss ||
         error == persy::Error::kFailed;
}

// Debian's Abseil has its own string_view, not std::string_view.
std::string ShowBytes(std::string_view bytes) {
  const absl::string_view head(bytes.data(), std::min<size_t>(bytes.size(), 16));
  if (bytes.size() <= 24) return absl::StrCat("\"", absl::CHexEscape(head), "\"");
  return absl::StrCat(bytes.size(), "B \"", absl::CHexEscape(head), "...\"");
}

std::string Show(const std::optional<std::string>& bytes) {
  return bytes.has_value() ? ShowBytes(*bytes) : "nullopt";
}

std::string Show(const std::vector<ScanEntry>& entries) {
  std::string out = "[";
  for (const ScanEntry& e : entries) {
    absl::StrAppend(&out, out.size() > 1 ? ", " : "", e.id.ToString(), "=", ShowBytes(e.bytes));
  }
  return out + "]";
}

std::string Show(const std::vector<SegmentInfo>& segments) {
  std::string out = "[";
  for (const SegmentInfo& s : segments) {
    absl::StrAppend(&out, out.size() > 1 ? ", " : "", ShowBytes(s.name), "#", s.id);
  }
  return out + "]";
}

absl::Status Mismatch(const std::string& what) { return absl::InternalError(what); }

// kMaxRecordSize + 1 bytes that cost no memory: a read-only anonymous mapping of zero pages.
std::string_view TooBigRecord() {
  struct Mapping {
    Mapping() {
      void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) std::abort();
      data = static_cast<const char*>(p);
    }
    ~Mapping() { munmap(const_cast<char*>(data), size); }
    const size_t size = kMaxRecordSize + 1;
    const char* data = nullptr;
  };
  static const Mapping mapping;
  return std::string_view(mapping.data, mapping.size);
}

}  // namespace

// ---- Setup ----

persy::Config TestConfig() {
  persy::Config config;
  config.lock_timeout = std::chrono::milliseconds(1);
  return config;
}

Executor::Executor(const ExecutorOptions& options) : options_(options), vfs_(options.seed) {}

Executor::~Executor() {
  DropAllSlots();
  recovery_.reset();
  db_.reset();
}

absl::StatusOr<std::unique_ptr<Executor>> Executor::Create(const ExecutorOptions& options) {
  std::unique_ptr<Executor> executor(new Executor(options));
  absl::StatusOr<std::unique_ptr<persy::Persy>> db =
      persy::Persy::Create(options.path, options.config, &executor->vfs_);
  if (!db.ok()) return db.status();
  executor->db_ = std::move(*db);
  return executor;
}

Executor::Slot& Executor::SlotAt(int tx) {
  return slots_[static_cast<size_t>(((tx % kTxSlots) + kTxSlots) % kTxSlots)];
}

absl::Status Executor::BeginIn(Slot& slot, std::optional<Strategy> strategy,
                               const std::string& transaction_id) {
  DropSlot(slot);
  persy::TxOptions options;
  options.transaction_id = transaction_id;
  if (strategy.has_value()) options.strategy = ToPersy(*strategy);
  absl::StatusOr<std::unique_ptr<persy::Transaction>> engine = db_->Begin(options);
  const bool io = IoHit();
  const Result<Model::TxId> model =
      model_.Begin(strategy.value_or(FromPersy(options_.config.strategy)), transaction_id);
  MODEL_RETURN_IF_ERROR(ExpectError("Begin", model.error, engine.status(), io));
  if (model.ok() && engine.ok()) {
    slot.model_tx = model.value;
    slot.tx = std::move(*engine);
    slot.transaction_id = transaction_id;
  }
  return absl::OkStatus();
}

void Executor::DropSlot(Slot& slot) {
  slot.tx.reset();  // the engine rolls back an unfinished transaction
  if (slot.model_tx.has_value() && !model_.finished(*slot.model_tx)) {
    (void)model_.Rollback(*slot.model_tx);  // cannot fail: the transaction is not finished
  }
  slot.model_tx.reset();
}

void Executor::DropAllSlots() {
  for (SnapshotSlot& slot : snapshots_) {
    slot.snapshot.reset();
    slot.model.reset();
  }
  for (Slot& slot : slots_) {
    slot.tx.reset();
    slot.model_tx.reset();
  }
  for (PreparedSlot& slot : prepared_) {
    slot.handle.reset();
    slot.model_tx.reset();
  }
}

// ---- Comparison ----

bool Executor::IoHit() const {
  if (vfs_.powered_off()) return true;
  return fault_.has_value() && vfs_.count(fault_->kind) >= fault_->fires_at;
}

absl::Status Executor::ExpectError(const std::string& what, Error model,
                                   const absl::Status& engine, bool io_hit) const {
  const persy::Error got = persy::ErrorOf(engine);
  if (io_hit && !engine.ok() && IsIoClass(got)) return absl::OkStatus();
  if (engine.ok() == (model == Error::kNone) && got == ToPersy(model)) return absl::OkStatus();
  return Mismatch(absl::StrCat(what, ": the model returns ", ErrorName(model),
                               ", the engine returns ", engine.ToString(), " (",
                               std::string(persy::ErrorName(got)), ")"));
}

absl::Status Executor::MapId(const Id& model_id, const persy::RecordId& engine_id) {
  auto a = to_engine_.find(model_id);
  auto b = to_model_.find(engine_id);
  if ((a != to_engine_.end() && a->second != engine_id) ||
      (b != to_model_.end() && b->second != model_id)) {
    return Mismatch(absl::StrCat("Insert: model id ", model_id.ToString(), " <-> engine id ",
                                 engine_id.ToString(),
                                 " breaks the bijection of ids (one was mapped otherwise)"));
  }
  if (model_id.segment != engine_id.segment() || model_id.number != engine_id.number()) {
    return Mismatch(absl::StrCat("Insert: the engine returns id ", engine_id.ToString(),
                                 ", the numbering rule gives ", model_id.ToString()));
  }
  to_engine_[model_id] = engine_id;
  to_model_[engine_id] = model_id;
  seen_ids_.push_back(model_id);
  return absl::OkStatus();
}

// ---- Operations ----

absl::Status Executor::Apply(const Op& op) {
  absl::Status status;
  if (IsTxOp(op.kind)) {
    Slot& slot = SlotAt(op.tx);
    if (!slot.model_tx.has_value()) status = BeginIn(slot, std::nullopt, "");
    // Without a transaction after Begin: an I/O error, reopen below.
    if (status.ok() && slot.model_tx.has_value()) {
      // A finished transaction answers one call (TransactionFinished), then leaves its slot.
      const bool finished = model_.finished(*slot.model_tx);
      status = op.kind == OpKind::kCommit    ? ApplyCommit(slot)
               : op.kind == OpKind::kPrepare ? ApplyPrepare(op, slot)
               : IsIndexOp(op.kind)          ? ApplyIndexTxOp(op, slot)
                                             : ApplyTxOp(op, slot);
      if (status.ok() && finished) DropSlot(slot);
    }
  } else {
    switch (op.kind) {
      case OpKind::kBegin:
        status = BeginIn(SlotAt(op.tx), BeginStrategy(op.arg), op.bytes);
        break;
      case OpKind::kReadCommitted:
      case OpKind::kScanCommitted:
      case OpKind::kExistsCommitted:
      case OpKind::kListCommitted:
        status = ApplyCommittedRead(op, ReadSource(), op.arg > 0 ? static_cast<size_t>(op.arg) : 0);
        break;
      case OpKind::kGetCommitted:
      case OpKind::kRangeCommitted:
      case OpKind::kExistsIndexCommitted:
      case OpKind::kListIndexesCommitted:
        status = ApplyIndexCommittedRead(op, ReadSource());
        break;
      case OpKind::kCommitPrepared:
      case OpKind::kRollbackPrepared:
      case OpKind::kDropPrepared:
        status = ApplyPreparedOp(op);
        break;
      case OpKind::kArmRecovery:
        recovery_plan_ = DecodeRecoveryPlan(op.arg);
        break;
      case OpKind::kTakeSnapshot:
      case OpKind::kReleaseSnapshot:
      case OpKind::kSnapshotRead:
      case OpKind::kSnapshotGet:
      case OpKind::kSnapshotRange:
        status = ApplySnapshotOp(op);
        break;
      case OpKind::kCrash:
        status = CrashAndRecover();
        break;
      case OpKind::kCrashInNextCommit:
        crash_in_next_commit_ = std::max(1, op.arg);
        break;
      case OpKind::kInjectIoError: {
        const IoFault fault = DecodeIoFault(op.arg);
        const vfs::IoKind kind = fault.sync ? vfs::IoKind::kSync : vfs::IoKind::kWrite;
        vfs_.ClearFaults();
        vfs_.InjectFault(kind, static_cast<uint64_t>(fault.nth), fault.enospc ? ENOSPC : EIO,
                         fault.persistent);
        fault_ = ArmedFault{kind, vfs_.count(kind) + static_cast<uint64_t>(fault.nth)};
        break;
      }
      case OpKind::kReopen: {
        // Snapshots and transactions go first (rolled back); the prepared handles after
        // Close, so that their transactions stay in doubt, as a crash leaves them.
        for (SnapshotSlot& slot : snapshots_) {
          slot.snapshot.reset();
          slot.model.reset();
        }
        for (Slot& slot : slots_) {
          slot.tx.reset();
          slot.model_tx.reset();
        }
        model_.Crash();
        // Close writes the journal's pages home and may shrink the file: a crash can cut it.
        const bool crash = ArmCrashInNextCommit();
        const absl::Status closed = db_->Close();
        EndCommitCall();
        const bool io = IoHit();
        DropAllSlots();
        db_.reset();
        if (!closed.ok() && !(io && IsIoClass(persy::ErrorOf(closed)))) {
          return Mismatch(absl::StrCat("Close: ", closed.ToString()));
        }
        // After a failed write, as persy.h says, close and reopen; after a power-off in Close or
        // just after it, the process dies before it opens again.
        if (crash) ++coverage_.closes_cut;
        if (io || crash) {
          vfs_.ClearFaults();
          vfs_.Crash();
        }
        status = Recover();
        break;
      }
      default:
        std::abort();  // IsTxOp above
    }
  }
  if (!status.ok()) return status;
  // The call that hit an injected I/O error returned; the handle is now failed: reopen.
  if (fault_.has_value() && IoHit()) return CrashAndRecover();
  return absl::OkStatus();
}

Id Executor::RecordOf(const Op& op, const std::string& name) const {
  std::vector<Id> committed;
  if (op.record >= kSegmentRecordBase) {
    for (const ScanEntry& e : model_.ScanCommitted(name).value) committed.push_back(e.id);
  }
  return RecordFor(op.record, seen_ids_, committed);
}

absl::Status Executor::ApplyTxOp(const Op& op, Slot& slot) {
  const std::string& name = SegmentName(op.segment);
  const std::string what = OpKindName(op.kind);
  const Model::TxId tx = *slot.model_tx;
  const Id model_id = RecordOf(op, name);
  auto it = to_engine_.find(model_id);
  const persy::RecordId engine_id = it != to_engine_.end()
                                        ? it->second
                                        : persy::RecordId(model_id.segment, model_id.number);
  const std::string what_id = absl::StrCat(what, " [id ", model_id.ToString(), "]");
  const std::string_view bytes = op.arg == 1 ? TooBigRecord() : std::string_view(op.bytes);

  switch (op.kind) {
    case OpKind::kCreateSegment: {
      const absl::Status engine = slot.tx->CreateSegment(name);
      const bool io = IoHit();
      return ExpectError(what, model_.CreateSegment(tx, name), engine, io);
    }
    case OpKind::kDropSegment: {
      const absl::Status engine = slot.tx->DropSegment(name);
      const bool io = IoHit();
      return ExpectError(what, model_.DropSegment(tx, name), engine, io);
    }
    case OpKind::kExistsSegment: {
      const absl::StatusOr<bool> engine = slot.tx->ExistsSegment(name);
      const bool io = IoHit();
      const Result<bool> model = model_.ExistsSegment(tx, name);
      MODEL_RETURN_IF_ERROR(ExpectError(what, model.error, engine.status(), io));
      if (engine.ok() && model.ok() && *engine != model.value) {
        return Mismatch(absl::StrCat(what, ": the model says ", model.value, ", the engine ",
                                     *engine));
      }
      return absl::OkStatus();
    }
    case OpKind::kListSegments: {
      const absl::StatusOr<std::vector<persy::SegmentInfo>> engine = slot.tx->ListSegments();
      const bool io = IoHit();
      const Result<std::vector<SegmentInfo>> model = model_.ListSegments(tx);
      MODEL_RETURN_IF_ERROR(ExpectError(what, model.error, engine.status(), io));
      if (!engine.ok() || !model.ok()) return absl::OkStatus();
      std::vector<SegmentInfo> got;
      for (const persy::SegmentInfo& s : *engine) got.push_back(SegmentInfo{s.name, s.id});
      if (got != model.value) {
        return Mismatch(absl::StrCat(what, ": the model lists ", Show(model.value),
                                     ", the engine ", Show(got)));
      }
      return absl::OkStatus();
    }
    case OpKind::kInsert: {
      const absl::StatusOr<persy::RecordId> engine = slot.tx->Insert(name, bytes);
      const bool io = IoHit();
      const Result<Id> model = model_.Insert(tx, name, bytes);
      MODEL_RETURN_IF_ERROR(ExpectError(what, model.error, engine.status(), io));
      if (!engine.ok() || !model.ok()) return absl::OkStatus();
      return MapId(model.value, *engine);
    }
    case OpKind::kUpdate: {
      const absl::Status engine = slot.tx->Update(name, engine_id, bytes);
      const bool io = IoHit();
      return ExpectError(what_id, model_.Update(tx, name, model_id, bytes), engine, io);
    }
    case OpKind::kDelete: {
      const absl::Status engine = slot.tx->Delete(name, engine_id);
      const bool io = IoHit();
      return ExpectError(what_id, model_.Delete(tx, name, model_id), engine, io);
    }
    case OpKind::kRead: {
      const absl::StatusOr<std::optional<std::string>> engine = slot.tx->Read(name, engine_id);
      const bool io = IoHit();
      const Result<std::optional<std::string>> model = model_.Read(tx, name, model_id);
      MODEL_RETURN_IF_ERROR(ExpectError(what_id, model.error, engine.status(), io));
      if (engine.ok() && model.ok() && *engine != model.value) {
        return Mismatch(absl::StrCat(what_id, ": the model reads ", Show(model.value),
                                     ", the engine ", Show(*engine)));
      }
      return absl::OkStatus();
    }
    case OpKind::kScan: {
      const size_t limit = op.arg > 0 ? static_cast<size_t>(op.arg) : 0;
      std::vector<ScanEntry> got;
      const absl::Status engine =
          slot.tx->Scan(name, [&](persy::RecordId id, std::string_view b) {
            auto m = to_model_.find(id);
            got.push_back(ScanEntry{m != to_model_.end() ? m->second : Id{id.segment(), id.number()},
                                    std::string(b)});
            return limit == 0 || got.size() < limit;
          });
      const bool io = IoHit();
      const Result<std::vector<ScanEntry>> model = model_.Scan(tx, name, limit);
      MODEL_RETURN_IF_ERROR(ExpectError(what, model.error, engine, io));
      if (engine.ok() && model.ok() && got != model.value) {
        return Mismatch(absl::StrCat(what, ": the model visits ", Show(model.value),
                                     ", the engine ", Show(got)));
      }
      return absl::OkStatus();
    }
    case OpKind::kRollback: {
      const absl::Status engine = slot.tx->Rollback();
      const bool io = IoHit();
      return ExpectError(what, model_.Rollback(tx), engine, io);
    }
    default:
      std::abort();  // not a transaction op
  }
}

absl::Status Executor::ApplyCommit(Slot& slot) {
  const bool crash = ArmCrashInNextCommit();
  const absl::Status engine = slot.tx->Commit();
  EndCommitCall();
  const bool io = IoHit();
  if (io && !engine.ok() && IsIoClass(persy::ErrorOf(engine))) {
    // The outcome is unknown. If the model says validation fails, nothing is applied either way.
    (void)model_.CommitUncertain(*slot.model_tx);
    return CrashAndRecover();
  }
  const Error model = model_.Commit(*slot.model_tx);
  MODEL_RETURN_IF_ERROR(ExpectError("Commit", model, engine, false));
  if (model == Error::kNone) ++coverage_.commits;
  if (model == Error::kLockTimeout) ++coverage_.lock_timeouts;
  if (crash) return CrashAndRecover();
  if (io) return absl::OkStatus();  // Apply reopens
  return CheckCommitted();
}

absl::Status Executor::ApplyCommittedRead(const Op& op, const ReadSource& source,
                                          size_t limit) {
  const std::string& name = SegmentName(op.segment);
  const std::string what = source.snapshot == nullptr ? OpKindName(op.kind)
                           : absl::StrCat("Snapshot ", OpKindName(op.kind));
  const bool io = IoHit();
  persy::Snapshot* const snapshot = source.snapshot;
  switch (op.kind) {
    case OpKind::kReadCommitted: {
      const Id model_id = RecordOf(op, name);
      auto it = to_engine_.find(model_id);
      const persy::RecordId engine_id = it != to_engine_.end()
                                            ? it->second
                                            : persy::RecordId(model_id.segment, model_id.number);
      const std::string what_id = absl::StrCat(what, " [id ", model_id.ToString(), "]");
      const absl::StatusOr<std::optional<std::string>> engine =
          snapshot != nullptr ? snapshot->Read(name, engine_id) : db_->Read(name, engine_id);
      const Result<std::optional<std::string>> model =
          source.model.has_value() ? model_.SnapshotRead(*source.model, name, model_id)
                                   : model_.ReadCommitted(name, model_id);
      MODEL_RETURN_IF_ERROR(ExpectError(what_id, model.error, engine.status(), io || IoHit()));
      if (engine.ok() && model.ok() && *engine != model.value) {
        return Mismatch(absl::StrCat(what_id, ": the model reads ", Show(model.value),
                                     ", the engine ", Show(*engine)));
      }
      return absl::OkStatus();
    }
    case OpKind::kScanCommitted: {
      std::vector<ScanEntry> got;
      const persy::ScanFn visit = [&](persy::RecordId id, std::string_view b) {
        auto m = to_model_.find(id);
        got.push_back(ScanEntry{m != to_model_.end() ? m->second : Id{id.segment(), id.number()},
                                std::string(b)});
        return limit == 0 || got.size() < limit;
      };
      const absl::Status engine =
          snapshot != nullptr ? snapshot->Scan(name, visit) : db_->Scan(name, visit);
      const Result<std::vector<ScanEntry>> model =
          source.model.has_value() ? model_.SnapshotScan(*source.model, name, limit)
                                   : model_.ScanCommitted(name, limit);
      MODEL_RETURN_IF_ERROR(ExpectError(what, model.error, engine, io || IoHit()));
      if (engine.ok() && model.ok() && got != model.value) {
        return Mismatch(absl::StrCat(what, ": the model visits ", Show(model.value),
                                     ", the engine ", Show(got)));
      }
      return absl::OkStatus();
    }
    case OpKind::kExistsCommitted: {
      const absl::StatusOr<bool> engine =
          snapshot != nullptr ? snapshot->ExistsSegment(name) : db_->ExistsSegment(name);
      const bool model = source.model.has_value() ? model_.SnapshotExists(*source.model, name)
                                                  : model_.ExistsCommitted(name);
      MODEL_RETURN_IF_ERROR(ExpectError(what, Error::kNone, engine.status(), io || IoHit()));
      if (engine.ok() && *engine != model) {
        return Mismatch(absl::StrCat(what, ": the model says ", model, ", the engine ", *engine));
      }
      return absl::OkStatus();
    }
    case OpKind::kListCommitted: {
      const absl::StatusOr<std::vector<persy::SegmentInfo>> engine =
          snapshot != nullptr ? snapshot->ListSegments() : db_->ListSegments();
      const std::vector<SegmentInfo> model = source.model.has_value()
                                                 ? model_.SnapshotList(*source.model)
                                                 : model_.ListCommitted();
      MODEL_RETURN_IF_ERROR(ExpectError(what, Error::kNone, engine.status(), io || IoHit()));
      if (!engine.ok()) return absl::OkStatus();
      std::vector<SegmentInfo> got;
      for (const persy::SegmentInfo& s : *engine) got.push_back(SegmentInfo{s.name, s.id});
      if (got != model) {
        return Mismatch(absl::StrCat(what, ": the model lists ", Show(model), ", the engine ",
                                     Show(got)));
      }
      return absl::OkStatus();
    }
    default:
      std::abort();  // not a committed read
  }
}

// ---- Dumps and counters ----

absl::Status Executor::EngineDump(Dump* dump) {
  const absl::StatusOr<std::vector<persy::SegmentInfo>> list = db_->ListSegments();
  if (!list.ok()) return Mismatch(absl::StrCat("dump: ListSegments: ", list.status().ToString()));
  for (const persy::SegmentInfo& info : *list) {
    if (dump->segments.count(info.name) != 0) {
      return Mismatch(absl::StrCat("dump: ListSegments lists ", ShowBytes(info.name), " twice"));
    }
    DumpSegment& segment = dump->segments[info.name];
    segment.id = info.id;
    std::string bad;
    const absl::Status scanned =
        db_->Scan(info.name, [&](persy::RecordId id, std::string_view bytes) {
          if (id.segment() != info.id) {
            bad = absl::StrCat("id ", id.ToString(), " in segment #", info.id);
          } else if (!segment.records.empty() && id.number() <= segment.records.rbegin()->first) {
            bad = absl::StrCat("id ", id.ToString(), " out of order");
          }
          segment.records[id.number()] = std::string(bytes);
          return bad.empty();
        });
    if (!scanned.ok()) {
      return Mismatch(absl::StrCat("dump: Scan(", ShowBytes(info.name), "): ", scanned.ToString()));
    }
    if (!bad.empty()) return Mismatch(absl::StrCat("dump: Scan(", ShowBytes(info.name), "): ", bad));
  }
  return EngineIndexDump(dump);
}

absl::Status Executor::EngineCounters(const Dump& dump, Counters* counters) {
  absl::StatusOr<std::unique_ptr<persy::Transaction>> tx = db_->Begin();
  if (!tx.ok()) return Mismatch(absl::StrCat("probe: Begin: ", tx.status().ToString()));
  if (absl::Status s = (*tx)->CreateSegment(kProbeName); !s.ok()) {
    return Mismatch(absl::StrCat("probe: CreateSegment: ", s.ToString()));
  }
  const absl::StatusOr<std::vector<persy::SegmentInfo>> list = (*tx)->ListSegments();
  if (!list.ok()) return Mismatch(absl::StrCat("probe: ListSegments: ", list.status().ToString()));
  bool found = false;
  for (const persy::SegmentInfo& info : *list) {
    if (info.name == kProbeName) {
      counters->next_segment_id = info.id;
      found = true;
    }
  }
  if (!found) return Mismatch("probe: ListSegments in the transaction misses its new segment");
  if (absl::Status s = (*tx)->CreateIndex(kProbeName, persy::IndexType::kU8,
                                          persy::IndexType::kU8, persy::ValueMode::kReplace);
      !s.ok()) {
    return Mismatch(absl::StrCat("probe: CreateIndex: ", s.ToString()));
  }
  const absl::StatusOr<std::vector<persy::IndexInfo>> indexes = (*tx)->ListIndexes();
  if (!indexes.ok()) {
    return Mismatch(absl::StrCat("probe: ListIndexes: ", indexes.status().ToString()));
  }
  found = false;
  for (const persy::IndexInfo& info : *indexes) {
    if (info.name == kProbeName) {
      counters->next_index_id = info.id;
      found = true;
    }
  }
  if (!found) return Mismatch("probe: ListIndexes in the transaction misses its new index");
  for (const auto& [name, segment] : dump.segments) {
    const absl::StatusOr<persy::RecordId> id = (*tx)->Insert(name, "");
    if (!id.ok()) {
      return Mismatch(absl::StrCat("probe: Insert(", ShowBytes(name), "): ", id.status().ToString()));
    }
    if (id->segment() != segment.id) {
      return Mismatch(absl::StrCat("probe: Insert(", ShowBytes(name), ") returns id ", id->ToString(),
                                   " of segment #", id->segment(), ", not #", segment.id));
    }
    counters->next_number[name] = id->number();
  }
  if (absl::Status s = (*tx)->Rollback(); !s.ok()) {
    return Mismatch(absl::StrCat("probe: Rollback: ", s.ToString()));
  }
  return absl::OkStatus();
}

absl::Status Executor::ModelProbe(const Counters& engine_counters) {
  // Takes the same ids from the model's counters, so that both sides go on alike.
  const Result<Model::TxId> tx = model_.Begin(Strategy::kLastWriterWins);
  if (!tx.ok()) return Mismatch("probe: the model's Begin failed");
  Counters counters;
  bool ok = model_.CreateSegment(tx.value, kProbeName) == Error::kNone;
  const Result<std::vector<SegmentInfo>> list = model_.ListSegments(tx.value);
  for (const SegmentInfo& info : list.value) {
    if (info.name == kProbeName) counters.next_segment_id = info.id;
  }
  ok = ok && model_.CreateIndex(tx.value, kProbeName, IndexType::kU8, IndexType::kU8,
                                ValueMode::kReplace) == Error::kNone;
  const Result<std::vector<IndexInfo>> indexes = model_.ListIndexes(tx.value);
  for (const IndexInfo& info : indexes.value) {
    if (info.name == kProbeName) counters.next_index_id = info.id;
  }
  for (const auto& [name, next] : engine_counters.next_number) {
    const Result<Id> id = model_.Insert(tx.value, name, "");
    ok = ok && id.ok();
    counters.next_number[name] = id.value.number;
  }
  ok = ok && model_.Rollback(tx.value) == Error::kNone;
  if (!ok || counters != engine_counters) {
    return Mismatch(absl::StrCat("probe: the model takes ", CountersToString(counters),
                                 ", the engine ", CountersToString(engine_counters)));
  }
  return absl::OkStatus();
}

absl::Status Executor::CheckCommitted() {
  Dump dump;
  MODEL_RETURN_IF_ERROR(EngineDump(&dump));
  const Dump expected = model_.dump();
  if (dump != expected) {
    return Mismatch(absl::StrCat("committed state: the model has\n  ", DumpToString(expected),
                                 "\nthe engine shows\n  ", DumpToString(dump)));
  }
  return absl::OkStatus();
}

absl::Status Executor::CheckIntegrity() {
  if (absl::Status s = db_->CheckIntegrity(); !s.ok()) {
    return Mismatch(absl::StrCat("integrity check: ", s.ToString()));
  }
  return absl::OkStatus();
}

void Coverage::Add(const Coverage& other) {
  commits += other.commits;
  prepared += other.prepared;
  decided += other.decided;
  lock_timeouts += other.lock_timeouts;
  uncertain += other.uncertain;
  for (int i = 0; i < 3; ++i) in_doubt_opens[i] += other.in_doubt_opens[i];
  recoveries_cut_short += other.recoveries_cut_short;
  closes_cut += other.closes_cut;
  older_snapshot_reads += other.older_snapshot_reads;
}

absl::Status RunOps(const ExecutorOptions& options, const std::vector<Op>& ops,
                    Coverage* coverage) {
  absl::StatusOr<std::unique_ptr<Executor>> executor = Executor::Create(options);
  if (!executor.ok()) {
    return absl::InternalError(
        absl::StrCat("creating the database: ", executor.status().ToString()));
  }
  struct AddCoverage {
    ~AddCoverage() {
      if (to != nullptr) to->Add(executor.coverage());
    }
    Coverage* to;
    const Executor& executor;
  } add{coverage, **executor};
  for (size_t i = 0; i < ops.size(); ++i) {
    if (absl::Status s = (*executor)->Apply(ops[i]); !s.ok()) {
      return absl::InternalError(absl::StrCat("op ", i, " ", ToString(ops[i]), ": ", s.message()));
    }
  }
  if (absl::Status s = (*executor)->CheckCommitted(); !s.ok()) {
    return absl::InternalError(absl::StrCat("at the end: ", s.message()));
  }
  if (absl::Status s = (*executor)->CheckIntegrity(); !s.ok()) {
    return absl::InternalError(absl::StrCat("at the end: ", s.message()));
  }
  Op reopen;
  reopen.kind = OpKind::kReopen;
  if (absl::Status s = (*executor)->Apply(reopen); !s.ok()) {
    return absl::InternalError(absl::StrCat("final reopen: ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace persy::model
