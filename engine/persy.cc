#include "engine/persy.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/internal/engine.h"
#include "engine/internal/snapshot_state.h"
#include "engine/internal/tx_indexes.h"
#include "engine/internal/tx_state.h"
#include "vfs/mem_vfs.h"

namespace persy {

Transaction::Transaction(std::unique_ptr<internal::TxState> state) : state_(std::move(state)) {}

Transaction::~Transaction() { state_->Rollback().IgnoreError(); }

absl::Status Transaction::CreateSegment(std::string_view name) {
  return state_->CreateSegment(name);
}
absl::Status Transaction::DropSegment(std::string_view name) { return state_->DropSegment(name); }
absl::StatusOr<bool> Transaction::ExistsSegment(std::string_view name) {
  return state_->ExistsSegment(name);
}
absl::StatusOr<std::vector<SegmentInfo>> Transaction::ListSegments() {
  return state_->ListSegments();
}
absl::StatusOr<RecordId> Transaction::Insert(std::string_view segment, std::string_view bytes) {
  return state_->Insert(segment, bytes);
}
absl::Status Transaction::Update(std::string_view segment, RecordId id, std::string_view bytes) {
  return state_->Update(segment, id, bytes);
}
absl::Status Transaction::Delete(std::string_view segment, RecordId id) {
  return state_->Delete(segment, id);
}
absl::StatusOr<std::optional<std::string>> Transaction::Read(std::string_view segment,
                                                             RecordId id) {
  return state_->Read(segment, id);
}
absl::Status Transaction::Scan(std::string_view segment, const ScanFn& fn) {
  return state_->Scan(segment, fn);
}
absl::Status Transaction::CreateIndex(std::string_view name, IndexType key_type,
                                      IndexType value_type, ValueMode mode) {
  return state_->CreateIndex(name, key_type, value_type, mode);
}
absl::Status Transaction::DropIndex(std::string_view name) { return state_->DropIndex(name); }
absl::StatusOr<bool> Transaction::ExistsIndex(std::string_view name) {
  return state_->ExistsIndex(name);
}
absl::StatusOr<std::vector<IndexInfo>> Transaction::ListIndexes() {
  return state_->ListIndexes();
}
absl::Status Transaction::Put(std::string_view index, const IndexValue& key,
                              const IndexValue& value) {
  return state_->Put(index, key, value);
}
absl::Status Transaction::Remove(std::string_view index, const IndexValue& key,
                                 const std::optional<IndexValue>& value) {
  return state_->Remove(index, key, value);
}
absl::StatusOr<std::vector<IndexValue>> Transaction::Get(std::string_view index,
                                                         const IndexValue& key) {
  return state_->Get(index, key, std::nullopt);
}
absl::StatusOr<std::vector<IndexValue>> Transaction::GetAs(std::string_view index,
                                                           const IndexValue& key,
                                                           std::optional<IndexType> value_type) {
  return state_->Get(index, key, value_type);
}
absl::Status Transaction::Range(std::string_view index, const IndexBound& from,
                                const IndexBound& to, Direction direction, const RangeFn& fn) {
  return state_->Range(index, from, to, direction, std::nullopt, std::nullopt, fn);
}
absl::Status Transaction::RangeAs(std::string_view index, const IndexBound& from,
                                  const IndexBound& to, Direction direction,
                                  std::optional<IndexType> key_type,
                                  std::optional<IndexType> value_type, const RangeFn& fn) {
  return state_->Range(index, from, to, direction, key_type, value_type, fn);
}
absl::Status Transaction::Commit() { return state_->Commit(); }
absl::Status Transaction::Rollback() { return state_->Rollback(); }

absl::StatusOr<std::unique_ptr<PreparedTransaction>> Transaction::Prepare() {
  absl::StatusOr<std::unique_ptr<internal::TxState>> taken = state_->TakeForPrepare();
  if (!taken.ok()) return taken.status();
  internal::Engine* engine = (*taken)->engine();
  std::string transaction_id = (*taken)->transaction_id();
  absl::StatusOr<uint64_t> prepare_id = engine->Prepare(std::move(*taken));
  if (!prepare_id.ok()) return prepare_id.status();
  return std::unique_ptr<PreparedTransaction>(
      new PreparedTransaction(engine, *prepare_id, std::move(transaction_id)));
}

PreparedTransaction::PreparedTransaction(internal::Engine* engine, uint64_t prepare_id,
                                         std::string transaction_id)
    : engine_(engine), prepare_id_(prepare_id), transaction_id_(std::move(transaction_id)) {}

PreparedTransaction::~PreparedTransaction() {
  if (!decided_) Rollback().IgnoreError();
}

absl::Status PreparedTransaction::Commit() { return Decide(/*commit=*/true); }

absl::Status PreparedTransaction::Rollback() { return Decide(/*commit=*/false); }

absl::Status PreparedTransaction::Decide(bool commit) {
  if (decided_) return MakeError(Error::kTransactionFinished, "the transaction was decided");
  absl::Status s = engine_->DecidePrepared(prepare_id_, commit);
  decided_ = s.ok() || ErrorOf(s) == Error::kTransactionFinished;
  return s;
}

Recovery::Recovery(std::unique_ptr<internal::Engine> engine) : engine_(std::move(engine)) {
  for (const internal::Engine::PreparedInfo& prepared : engine_->Prepared()) {
    entries_.push_back(Entry{prepared.prepare_id, RecoverEntry{prepared.transaction_id}});
  }
}

Recovery::~Recovery() = default;

std::vector<RecoverEntry> Recovery::List() const {
  std::vector<RecoverEntry> out;
  for (const Entry& e : entries_) out.push_back(e.entry);
  return out;
}

absl::Status Recovery::Commit(std::string_view transaction_id) {
  return Decide(transaction_id, /*commit=*/true);
}

absl::Status Recovery::Rollback(std::string_view transaction_id) {
  return Decide(transaction_id, /*commit=*/false);
}

absl::Status Recovery::Decide(std::string_view transaction_id, bool commit) {
  if (engine_ == nullptr) return MakeError(Error::kFailed, "the recovery was finished");
  bool found = false;
  for (Entry& e : entries_) {
    if (e.entry.transaction_id != transaction_id || e.entry.status != RecoverStatus::kInDoubt) {
      continue;
    }
    found = true;
    absl::Status s = engine_->DecidePrepared(e.prepare_id, commit);
    if (!s.ok()) return s;
    e.entry.status = commit ? RecoverStatus::kCommitted : RecoverStatus::kRolledBack;
  }
  if (!found) {
    return MakeError(Error::kTransactionNotFound,
                     absl::StrCat("no transaction in doubt has the id \"",
                                  std::string(transaction_id), "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Persy>> Recovery::Finish() {
  if (engine_ == nullptr) return MakeError(Error::kFailed, "the recovery was finished");
  for (Entry& e : entries_) {
    if (e.entry.status != RecoverStatus::kInDoubt) continue;
    if (absl::Status s = engine_->DecidePrepared(e.prepare_id, /*commit=*/true); !s.ok()) return s;
    e.entry.status = RecoverStatus::kCommitted;
  }
  return std::unique_ptr<Persy>(new Persy(std::move(engine_)));
}

Persy::Persy(std::unique_ptr<internal::Engine> engine)
    : ReadView(engine.get()), engine_(std::move(engine)) {}

Persy::~Persy() = default;

absl::StatusOr<std::unique_ptr<Persy>> Persy::Create(const std::string& path,
                                                     const Config& config, vfs::Vfs* vfs) {
  return CreateAndInit(path, config, nullptr, vfs);
}

absl::StatusOr<std::unique_ptr<Persy>> Persy::CreateAndInit(
    const std::string& path, const Config& config,
    const std::function<absl::Status(Transaction&)>* init, vfs::Vfs* vfs) {
  absl::StatusOr<std::unique_ptr<internal::Engine>> engine =
      internal::Engine::Create(vfs, path, config);
  if (!engine.ok()) return engine.status();
  std::unique_ptr<Persy> created(new Persy(std::move(*engine)));
  if (init != nullptr) {
    absl::Status status;
    {
      absl::StatusOr<std::unique_ptr<Transaction>> tx = created->Begin();
      status = tx.ok() ? (*init)(**tx) : tx.status();
      if (status.ok()) status = (*tx)->Commit();
    }
    if (!status.ok()) {
      // The file never had its name: nothing of the caller's is lost.
      created->engine_->Discard();
      return status;
    }
  }
  if (absl::Status s = created->engine_->Publish(); !s.ok()) return s;
  return created;
}

absl::StatusOr<std::unique_ptr<Persy>> Persy::Open(const std::string& path, const Config& config,
                                                   vfs::Vfs* vfs) {
  return OpenWithRecover(
      path, config, [](std::string_view) { return true; }, vfs);
}

absl::StatusOr<std::unique_ptr<Persy>> Persy::OpenWithRecover(
    const std::string& path, const Config& config,
    const std::function<bool(std::string_view transaction_id)>& commit, vfs::Vfs* vfs) {
  absl::StatusOr<std::unique_ptr<internal::Engine>> engine =
      internal::Engine::Open(vfs, path, config);
  if (!engine.ok()) return engine.status();
  for (const internal::Engine::PreparedInfo& prepared : (*engine)->Prepared()) {
    absl::Status s =
        (*engine)->DecidePrepared(prepared.prepare_id, commit(prepared.transaction_id));
    if (!s.ok()) return s;
  }
  return std::unique_ptr<Persy>(new Persy(std::move(*engine)));
}

absl::StatusOr<std::unique_ptr<Recovery>> Persy::Recover(const std::string& path,
                                                        const Config& config, vfs::Vfs* vfs) {
  absl::StatusOr<std::unique_ptr<internal::Engine>> engine =
      internal::Engine::Open(vfs, path, config);
  if (!engine.ok()) return engine.status();
  return std::unique_ptr<Recovery>(new Recovery(std::move(*engine)));
}

absl::StatusOr<std::unique_ptr<Persy>> Persy::OpenOrCreate(
    const std::string& path, const Config& config,
    const std::function<absl::Status(Transaction&)>& init, vfs::Vfs* vfs) {
  absl::StatusOr<std::unique_ptr<Persy>> opened = Open(path, config, vfs);
  if (ErrorOf(opened.status()) != Error::kFileNotFound) return opened;
  absl::StatusOr<std::unique_ptr<Persy>> created = CreateAndInit(path, config, &init, vfs);
  // Another opener may have created it in between: then open what it made.
  if (ErrorOf(created.status()) == Error::kFileAlreadyExists) return Open(path, config, vfs);
  return created;
}

absl::StatusOr<std::unique_ptr<Persy>> Persy::OpenInMemory(const Config& config) {
  auto mem = std::make_unique<vfs::MemVfs>();
  vfs::Vfs* raw = mem.get();
  absl::StatusOr<std::unique_ptr<internal::Engine>> engine =
      internal::Engine::Create(raw, "memory.persy", config, std::move(mem));
  if (!engine.ok()) return engine.status();
  if (absl::Status s = (*engine)->Publish(); !s.ok()) return s;
  return std::unique_ptr<Persy>(new Persy(std::move(*engine)));
}

absl::Status Persy::Close() { return engine_->Close(); }

absl::Status Persy::CheckIntegrity() { return engine_->CheckIntegrity(); }

absl::StatusOr<std::unique_ptr<Transaction>> Persy::Begin(const TxOptions& options) {
  if (options.transaction_id.size() > kMaxTransactionIdSize) {
    return MakeError(Error::kInvalidArgument,
                     absl::StrCat("transaction id of ", options.transaction_id.size(),
                                  " bytes exceeds ", kMaxTransactionIdSize));
  }
  return std::unique_ptr<Transaction>(
      new Transaction(std::make_unique<internal::TxState>(engine_.get(), options)));
}

absl::StatusOr<std::unique_ptr<Snapshot>> Persy::TakeSnapshot() {
  return std::unique_ptr<Snapshot>(new Snapshot(engine_->TakeSnapshot()));
}

Snapshot::Snapshot(std::unique_ptr<internal::SnapshotState> state)
    : ReadView(state.get()), state_(std::move(state)) {}

Snapshot::~Snapshot() = default;

absl::StatusOr<std::optional<std::string>> ReadView::Read(std::string_view segment,
                                                          RecordId id) {
  return internal::ReadRecordIn(*state_, segment, id);
}
absl::Status ReadView::Scan(std::string_view segment, const ScanFn& fn) {
  return internal::ScanIn(*state_, segment, fn);
}
absl::StatusOr<bool> ReadView::ExistsSegment(std::string_view name) {
  return internal::ExistsSegmentIn(*state_, name);
}
absl::StatusOr<std::vector<SegmentInfo>> ReadView::ListSegments() {
  return internal::ListSegmentsIn(*state_);
}

// Index reads: a transaction view without changes sees exactly the committed state.
absl::StatusOr<std::vector<IndexValue>> ReadView::Get(std::string_view index,
                                                      const IndexValue& key) {
  return GetAs(index, key, std::nullopt);
}
absl::StatusOr<std::vector<IndexValue>> ReadView::GetAs(std::string_view index,
                                                        const IndexValue& key,
                                                        std::optional<IndexType> value_type) {
  internal::TxIndexes view(state_);
  return view.Get(index, key, value_type);
}
absl::Status ReadView::Range(std::string_view index, const IndexBound& from,
                             const IndexBound& to, Direction direction, const RangeFn& fn) {
  return RangeAs(index, from, to, direction, std::nullopt, std::nullopt, fn);
}
absl::Status ReadView::RangeAs(std::string_view index, const IndexBound& from,
                               const IndexBound& to, Direction direction,
                               std::optional<IndexType> key_type,
                               std::optional<IndexType> value_type, const RangeFn& fn) {
  internal::TxIndexes view(state_);
  return view.Range(index, from, to, direction, key_type, value_type, fn);
}
absl::StatusOr<bool> ReadView::ExistsIndex(std::string_view name) {
  internal::TxIndexes view(state_);
  return view.Exists(name);
}
absl::StatusOr<std::vector<IndexInfo>> ReadView::ListIndexes() {
  internal::TxIndexes view(state_);
  return view.List();
}

}  // namespace persy
