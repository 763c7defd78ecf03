// The Model's two-phase commit and recovery (model.h): prepare and the locks of prepared
// transactions, their decisions, crashes, and the candidate durable states through recovery.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "model/model.h"
#include "model/require.h"

namespace persy::model {
namespace {

const char* StatusName(RecoverStatus status) {
  switch (status) {
    case RecoverStatus::kInDoubt: return "in doubt";
    case RecoverStatus::kCommitted: return "committed";
    case RecoverStatus::kRolledBack: return "rolled back";
  }
  return "?";
}

std::string ShowId(const std::string& id) {
  if (id.size() <= 24) return absl::StrCat("\"", absl::CHexEscape(id), "\"");
  return absl::StrCat(id.size(), "B \"", absl::CHexEscape(id.substr(0, 12)), "...\"");
}

}  // namespace

std::string RecoverEntriesToString(const std::vector<RecoverEntry>& entries) {
  std::string out = "[";
  for (const RecoverEntry& e : entries) {
    absl::StrAppend(&out, out.size() > 1 ? ", " : "", ShowId(e.transaction_id), " ",
                    StatusName(e.status));
  }
  return out + "]";
}

// ---- Locks ----

bool Model::LockConflict(const Tx& tx, const Tx& prepared) {
  auto drops_segment = [](const Tx& t, uint32_t id) {
    for (const auto& [name, dropped] : t.dropped) {
      if (dropped == id) return true;
    }
    return false;
  };
  auto writes_segment = [](const Tx& t, uint32_t id) {
    for (const auto& [record, write] : t.writes) {
      if (record.segment == id) return true;
    }
    return false;
  };
  auto drops_index = [](const Tx& t, uint32_t id) {
    for (const auto& [name, dropped] : t.dropped_indexes) {
      if (dropped == id) return true;
    }
    return false;
  };
  auto writes_index = [](const Tx& t, uint32_t id) {
    auto it = t.key_writes.find(id);
    return it != t.key_writes.end() && !it->second.empty();
  };
  // Segments: names created; drops against drops and writes; writes against drops; updates
  // and deletes of the same record.
  for (const auto& [name, id] : tx.created) {
    if (prepared.created.count(name) != 0) return true;
  }
  for (const auto& [name, id] : tx.dropped) {
    if (drops_segment(prepared, id) || writes_segment(prepared, id)) return true;
  }
  for (const auto& [record, write] : tx.writes) {
    if (drops_segment(prepared, record.segment)) return true;
    if (!write.inserted && prepared.writes.count(record) != 0) return true;
  }
  // Indexes: the same, with keys for records.
  for (const auto& [name, def] : tx.created_indexes) {
    if (prepared.created_indexes.count(name) != 0) return true;
  }
  for (const auto& [name, id] : tx.dropped_indexes) {
    if (drops_index(prepared, id) || writes_index(prepared, id)) return true;
  }
  for (const auto& [id, keys] : tx.key_writes) {
    if (keys.empty()) continue;
    if (drops_index(prepared, id)) return true;
    auto theirs = prepared.key_writes.find(id);
    if (theirs == prepared.key_writes.end()) continue;
    for (const auto& [key, writes] : keys) {
      if (theirs->second.count(key) != 0) return true;
    }
  }
  return false;
}

Error Model::CheckCommit(const Tx& tx) const {
  for (TxId prepared : prepared_) {
    if (LockConflict(tx, txs_[static_cast<size_t>(prepared)])) return Error::kLockTimeout;
  }
  return Validate(tx, committed_);
}

// ---- Prepare and decisions ----

Model::Durable Model::LiveDurable(std::string label) const {
  Durable state;
  state.committed = committed_;
  state.in_doubt = prepared_;
  state.label = std::move(label);
  return state;
}

Error Model::Prepare(TxId id) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  tx.finished = true;
  const Error error = CheckCommit(tx);
  if (error != Error::kNone) return error;
  tx.prepared = true;
  prepared_.push_back(id);
  return Error::kNone;
}

Error Model::PrepareUncertain(TxId id) {
  Tx& tx = LiveTx(id);
  if (tx.finished) return Error::kTransactionFinished;
  tx.finished = true;
  const Error error = CheckCommit(tx);
  if (error != Error::kNone) return error;
  tx.prepared = true;
  tx.decided = true;  // no handle: only recovery decides it
  Durable with = LiveDurable("with the uncertain prepare");
  with.in_doubt.push_back(id);
  candidates_ = {LiveDurable("without the uncertain prepare"), std::move(with)};
  phase_ = Phase::kAwaitingCrash;
  return Error::kNone;
}

Error Model::CommitPrepared(TxId id) { return DecidePrepared(id, /*commit=*/true); }

Error Model::RollbackPrepared(TxId id) { return DecidePrepared(id, /*commit=*/false); }

Error Model::DecidePrepared(TxId id, bool commit) {
  Tx& tx = LiveTx(id);
  Require(tx.prepared, "a decision on a transaction not prepared");
  if (tx.decided) return Error::kTransactionFinished;
  tx.decided = true;
  auto it = std::find(prepared_.begin(), prepared_.end(), id);
  Require(it != prepared_.end(), "a prepared transaction not in the prepared list");
  prepared_.erase(it);
  if (commit) Apply(tx, committed_);
  return Error::kNone;
}

void Model::DecidePreparedUncertain(TxId id, bool commit) {
  Tx& tx = LiveTx(id);
  Require(tx.prepared && !tx.decided, "an uncertain decision of a transaction not undecided");
  tx.decided = true;
  Durable decided = LiveDurable(commit ? "with the uncertain commit of the prepared transaction"
                                       : "with the uncertain rollback of the prepared transaction");
  decided.in_doubt.erase(std::find(decided.in_doubt.begin(), decided.in_doubt.end(), id));
  if (commit) Apply(tx, decided.committed);
  candidates_ = {LiveDurable("without the uncertain decision"), std::move(decided)};
  phase_ = Phase::kAwaitingCrash;
}

bool Model::undecided(TxId id) const {
  const Tx& tx = AnyTx(id);
  return tx.prepared && !tx.decided;
}

// ---- Crash and recovery ----

void Model::Crash() {
  for (Tx& tx : txs_) {
    tx.finished = true;
    if (tx.prepared) tx.decided = true;  // the handle died with the process
  }
  snapshots_.clear();
  if (phase_ == Phase::kOpen) candidates_ = {LiveDurable("")};
  for (Durable& state : candidates_) {
    state.opened = false;
    state.session.clear();
  }
  prepared_.clear();
  phase_ = Phase::kClosed;
  if (candidates_.size() == 1 && candidates_[0].in_doubt.empty()) {
    committed_ = std::move(candidates_[0].committed);
    candidates_.clear();
    phase_ = Phase::kOpen;
  }
  next_segment_id_ = committed_.persisted_next_segment_id;
  next_number_.clear();
  next_index_id_ = committed_.persisted_next_index_id;
}

void Model::EnsureClosed() {
  Require(phase_ != Phase::kAwaitingCrash, "recovery before Crash after an uncertain call");
  if (phase_ != Phase::kOpen) return;
  Require(prepared_.empty(), "recovery without a Crash");
  candidates_ = {LiveDurable("")};
  phase_ = Phase::kClosed;
}

void Model::BeginOpen() {
  EnsureClosed();
  for (Durable& state : candidates_) {
    Require(!state.opened, "BeginOpen twice without a Crash");
    state.opened = true;
    state.session.clear();
    const Committed& committed = state.committed;
    state.raised_segment_id = committed.persisted_next_segment_id;
    state.raised_index_id = committed.persisted_next_index_id;
    state.raised_numbers.clear();
    for (TxId id : state.in_doubt) {
      state.session.emplace_back(id, RecoverStatus::kInDoubt);
      // An in-doubt transaction keeps the ids it took: the counters go past them.
      const Tx& tx = txs_[static_cast<size_t>(id)];
      if (tx.highest_created != 0) {
        state.raised_segment_id = std::max(state.raised_segment_id, tx.highest_created + 1);
      }
      if (tx.highest_index_created != 0) {
        state.raised_index_id = std::max(state.raised_index_id, tx.highest_index_created + 1);
      }
      for (const auto& [segment_id, highest] : tx.highest_inserted) {
        auto [it, inserted] = state.raised_numbers.emplace(segment_id, highest + 1);
        if (inserted) {
          if (const Segment* segment = SegmentById(committed, segment_id)) {
            it->second = segment->persisted_next_number;
          }
        }
        it->second = std::max(it->second, highest + 1);
      }
    }
  }
}

std::vector<RecoverEntry> Model::ListOf(const Durable& state) const {
  std::vector<RecoverEntry> out;
  for (const auto& [id, status] : state.session) {
    out.push_back(RecoverEntry{txs_[static_cast<size_t>(id)].transaction_id, status});
  }
  return out;
}

std::vector<RecoverEntry> Model::RecoveryList() const {
  Require(phase_ == Phase::kClosed && !candidates_.empty(), "RecoveryList outside recovery");
  return ListOf(candidates_[0]);
}

absl::Status Model::ObserveInDoubtIds(const std::vector<std::string>& observed) {
  std::vector<RecoverEntry> as_list;
  for (const std::string& id : observed) {
    as_list.push_back(RecoverEntry{id, RecoverStatus::kInDoubt});
  }
  return ObserveRecoveryList(as_list);
}

absl::Status Model::ObserveRecoveryList(const std::vector<RecoverEntry>& observed) {
  Require(phase_ == Phase::kClosed, "recovery calls outside recovery");
  std::vector<Durable> kept;
  std::string message =
      absl::StrCat("the engine's in-doubt transactions are ", RecoverEntriesToString(observed),
                   ", the model's");
  for (Durable& state : candidates_) {
    Require(state.opened, "recovery calls before BeginOpen");
    const std::vector<RecoverEntry> list = ListOf(state);
    if (list == observed) {
      kept.push_back(std::move(state));
    } else {
      absl::StrAppend(&message, "\n  ", state.label.empty() ? "" : state.label,
                      state.label.empty() ? "" : ": ", RecoverEntriesToString(list));
    }
  }
  if (kept.empty()) return absl::InternalError(message);
  candidates_ = std::move(kept);
  return absl::OkStatus();
}

size_t Model::DecideIn(Durable& state, const std::function<bool(const std::string&)>& match,
                       const DecisionFn& commit, size_t max) const {
  size_t made = 0;
  for (size_t i = 0; i < state.session.size() && made < max; ++i) {
    auto& [id, status] = state.session[i];
    const Tx& tx = txs_[static_cast<size_t>(id)];
    if (status != RecoverStatus::kInDoubt || !match(tx.transaction_id)) continue;
    const bool commits = commit(i);
    status = commits ? RecoverStatus::kCommitted : RecoverStatus::kRolledBack;
    state.in_doubt.erase(std::find(state.in_doubt.begin(), state.in_doubt.end(), id));
    if (commits) Apply(tx, state.committed);
    ++made;
  }
  return made;
}

Error Model::DecideInDoubt(std::string_view transaction_id, bool commit) {
  Require(phase_ == Phase::kClosed, "recovery calls outside recovery");
  std::optional<Error> result;
  for (Durable& state : candidates_) {
    Require(state.opened, "recovery calls before BeginOpen");
    const size_t made = DecideIn(
        state, [&](const std::string& id) { return id == transaction_id; },
        [commit](size_t) { return commit; }, std::numeric_limits<size_t>::max());
    const Error error = made == 0 ? Error::kTransactionNotFound : Error::kNone;
    Require(!result.has_value() || *result == error, "candidates that disagree on the list");
    result = error;
  }
  return *result;
}

void Model::Branch(size_t min, size_t max, const std::function<size_t(Durable&, size_t)>& decide,
                   const std::string& what) {
  Require(phase_ == Phase::kClosed, "recovery calls outside recovery");
  std::vector<Durable> out;
  for (const Durable& state : candidates_) {
    Require(state.opened, "recovery calls before BeginOpen");
    for (size_t k = min; k <= max; ++k) {
      Durable copy = state;
      const size_t made = decide(copy, k);
      absl::StrAppend(&copy.label, copy.label.empty() ? "" : ", ", what, ": ", made, " made");
      out.push_back(std::move(copy));
      if (made < k) break;  // no more to decide: larger k give the same state
    }
  }
  candidates_ = std::move(out);
}

void Model::DecideInDoubtUncertain(std::string_view transaction_id, bool commit, size_t min,
                                   size_t max) {
  const std::string id(transaction_id);
  Branch(
      min, max,
      [&](Durable& state, size_t k) {
        return DecideIn(
            state, [&](const std::string& other) { return other == id; },
            [commit](size_t) { return commit; }, k);
      },
      absl::StrCat(commit ? "Commit" : "Rollback", "(", ShowId(id), ") cut short"));
}

void Model::DecideAll(const DecisionFn& commit) {
  Require(phase_ == Phase::kClosed, "recovery calls outside recovery");
  for (Durable& state : candidates_) {
    Require(state.opened, "recovery calls before BeginOpen");
    DecideIn(
        state, [](const std::string&) { return true; }, commit,
        std::numeric_limits<size_t>::max());
  }
}

void Model::DecideAllUncertain(const DecisionFn& commit, size_t min, size_t max) {
  Branch(
      min, max,
      [&](Durable& state, size_t k) {
        return DecideIn(
            state, [](const std::string&) { return true; }, commit, k);
      },
      "the decisions of an open cut short");
}

Counters Model::ExpectedCounters(const Durable& state) const {
  const Committed& committed = state.committed;
  Counters counters;
  counters.next_segment_id =
      std::max(committed.persisted_next_segment_id, state.raised_segment_id);
  counters.next_index_id = std::max(committed.persisted_next_index_id, state.raised_index_id);
  for (const auto& [name, segment] : committed.segments) {
    uint64_t next = segment.persisted_next_number;
    if (auto it = state.raised_numbers.find(segment.id); it != state.raised_numbers.end()) {
      next = std::max(next, it->second);
    }
    counters.next_number[name] = next;
  }
  return counters;
}

absl::Status Model::Resolve(const Dump& observed, const Counters& observed_counters) {
  const bool was_certain = phase_ == Phase::kOpen;
  EnsureClosed();
  bool opened = true;
  for (const Durable& state : candidates_) opened = opened && state.opened;
  if (!opened) {  // as Persy::Open
    for (Durable& state : candidates_) state.opened = false;
    BeginOpen();
    DecideAll([](size_t) { return true; });
  }
  for (const Durable& state : candidates_) {
    Require(state.in_doubt.empty(), "Resolve with transactions still in doubt");
  }
  for (Durable& state : candidates_) {
    const Counters expected = ExpectedCounters(state);
    if (DumpOf(state.committed) != observed || expected != observed_counters) continue;
    committed_ = std::move(state.committed);
    prepared_.clear();
    next_segment_id_ = expected.next_segment_id;
    next_index_id_ = expected.next_index_id;
    next_number_.clear();
    for (const auto& [segment_id, next] : state.raised_numbers) {
      const Segment* segment = SegmentById(committed_, segment_id);
      next_number_[segment_id] =
          std::max(next, segment == nullptr ? uint64_t{0} : segment->persisted_next_number);
    }
    candidates_.clear();
    phase_ = Phase::kOpen;
    return absl::OkStatus();
  }
  std::string message = absl::StrCat("after recovery the engine shows\n  ",
                                     DumpToString(observed), "\n  counters ",
                                     CountersToString(observed_counters), "\nbut the model has");
  for (const Durable& state : candidates_) {
    absl::StrAppend(&message, "\n  ", state.label, state.label.empty() ? "" : ": ",
                    DumpToString(DumpOf(state.committed)), "\n  counters ",
                    CountersToString(ExpectedCounters(state)));
  }
  if (was_certain) {  // the one state stays the model's, as it was
    candidates_.clear();
    phase_ = Phase::kOpen;
  }
  return absl::InternalError(message);
}

}  // namespace persy::model
