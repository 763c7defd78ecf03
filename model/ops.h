// The one vocabulary of operations on a database: what the model-based test generates, the
// fuzzers decode from bytes and the crash simulator replays. The executor (executor.h) gives
// each operation its meaning, on the model and on the engine at once.
//
// An operation names its transaction by slot (0..kTxSlots-1), its segment by index into a fixed
// list of names (four valid ones, the empty name and a 300-byte one), and its record by index
// into the ids the executor has seen returned by Insert so far, into the records committed in
// its segment, or as a fabricated id. An index op names its index likewise (IndexName), and its
// keys and values by picks into a small domain per type (IndexValueFor): the executor takes the
// types the index has as the model sees it, so keys collide often and have the right type
// unless the op asks for a wrong one. A prepared transaction's handle stays in the slot of the
// transaction it came from; snapshots have slots of their own. So any sequence is valid, and
// shrinking a failing one keeps it meaningful.
//
// Thread-safety: plain values and pure functions.

#ifndef MODEL_OPS_H_
#define MODEL_OPS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "engine/index.h"
#include "model/model.h"

namespace persy::model {

enum class OpKind {
  kBegin,            // arg: strategy (see BeginStrategy); bytes: the transaction id
  kCreateSegment,
  kDropSegment,
  kExistsSegment,
  kListSegments,
  kInsert,           // bytes: the record; arg 1: a record of kMaxRecordSize + 1 bytes instead
  kUpdate,           // as kInsert
  kDelete,
  kRead,
  kScan,             // arg > 0: stop after visiting arg records
  kCommit,
  kRollback,
  kReadCommitted,    // outside any transaction
  kScanCommitted,    // as kScan
  kExistsCommitted,
  kListCommitted,
  kCrash,              // power loss with the simulated disk's harsh default damage, then reopen
  kCrashInNextCommit,  // arg >= 1: the disk goes off after arg more I/O events of the next
                       // Commit, Prepare, decision of a prepared transaction or Reopen's Close
  kInjectIoError,      // arg: an IoFault (EncodeIoFault) for the coming operations
  kReopen,             // clean close and reopen
  kCreateIndex,        // index; arg: its types and mode, IndexSpecFor(index, arg)
  kDropIndex,
  kExistsIndex,
  kListIndexes,
  kPut,                // index, key, value; arg: IndexArgs (wrong types)
  kRemove,             // as kPut; IndexArgs::with_value: only that value, else all of the key's
  kGet,                // index, key; arg: IndexArgs (typed: the typed Get<K, V>, wrong types)
  kRange,              // index; key and value: the picks of the bounds' keys; arg: IndexArgs
  kGetCommitted,       // as kGet, outside any transaction
  kRangeCommitted,     // as kRange, outside any transaction
  kExistsIndexCommitted,
  kListIndexesCommitted,
  // Two-phase commit. The prepared handle of slot `tx` is the one kPrepare of that slot made.
  kPrepare,            // prepares the transaction of slot `tx` (dropping the slot's old handle)
  kCommitPrepared,     // the handle of slot `tx`, if any
  kRollbackPrepared,
  kDropPrepared,       // destroys the handle (undecided: a rollback)
  kArmRecovery,        // arg: how later opens decide in-doubt transactions (RecoveryPlan)
  // Snapshots, in kSnapshotSlots slots named by `tx`; a read of an empty slot takes one first.
  kTakeSnapshot,       // (releasing the slot's old snapshot)
  kReleaseSnapshot,
  kSnapshotRead,       // segment, record; arg: SnapshotReadArgs
  kSnapshotGet,        // as kGetCommitted, of the snapshot
  kSnapshotRange,      // as kRangeCommitted, of the snapshot
};
inline constexpr int kOpKindCount = 42;
const char* OpKindName(OpKind kind);
// Whether the op names an index (index, key and value matter): kCreateIndex to
// kListIndexesCommitted, kSnapshotRead (for its index reads), kSnapshotGet, kSnapshotRange.
bool IsIndexOp(OpKind kind);
// Whether the op runs in the transaction of its slot (auto-begun if the slot is empty).
bool IsTxOp(OpKind kind);
// How often a generator should pick each kind, relative to the others (all > 0).
int OpKindWeight(OpKind kind);

inline constexpr int kTxSlots = 4;
// Segment names by index (taken modulo kSegmentNameCount): "s0".."s3", then "" and a 300-byte
// name, both invalid.
inline constexpr int kSegmentNameCount = 6;
inline constexpr int kValidSegmentNameCount = 4;
const std::string& SegmentName(int index);

// Index names by index (modulo kIndexNameCount): "i0".."i3", then "" and a 300-byte name.
inline constexpr int kIndexNameCount = 6;
inline constexpr int kValidIndexNameCount = 4;
const std::string& IndexName(int index);

// How often generators pick each slot, segment and index name: the low ones most, so that a
// begin, its writes and its commit often land in one transaction, and writes in one segment.
int TxSlotWeight(int slot);
int SegmentWeight(int index);
int IndexWeight(int index);

// The types and mode a kCreateIndex asks for, from the index and the op's arg: across the
// kIndexSpecCount args of one name, every pair of key and value types with every mode.
struct IndexSpec {
  IndexType key_type = IndexType::kU8;
  IndexType value_type = IndexType::kU8;
  ValueMode mode = ValueMode::kReplace;
};
inline constexpr int kIndexSpecCount = kIndexTypeCount * kIndexTypeCount * 3;
IndexSpec IndexSpecFor(int index, int arg);

// A key or value of `type` by pick (modulo kIndexValuePicks). Picks 0-7 are ordinary values
// (small numbers, -0.0 and NaN, short strings that prefix each other); 8-13 the edges (minimum
// and maximum, beyond 64 bits, infinities, denormals, a negative NaN with a payload, long
// strings); 14 and 15 a string or byte string of 512 and 513 bytes (the limit, and over it).
inline constexpr int kIndexValuePicks = 16;
IndexValue IndexValueFor(IndexType type, int pick);
// A type other than `type` (for IndexTypeMismatch), chosen by `pick`.
IndexType OtherIndexType(IndexType type, int pick);

// The choices of an index op besides its index, key and value, packed into Op::arg.
struct IndexArgs {
  bool wrong_key_type = false;    // the key (or the bounds' keys) of another type
  bool wrong_value_type = false;  // kPut, kRemove with_value, typed reads: the value type
  bool with_value = false;        // kRemove: only the op's value
  // The reads (kGet, kRange and their committed and snapshot forms): the typed Get<K, V> or
  // Range<K, V>, K the key's (or the bounds') type.
  bool typed = false;
  IndexBound::Kind from = IndexBound::Kind::kUnbounded;  // kRange: the bounds
  IndexBound::Kind to = IndexBound::Kind::kUnbounded;
  Direction direction = Direction::kForward;
  int limit = 0;  // kRange: stop after visiting `limit` keys (0..3; 0: visit all)
};
int EncodeIndexArgs(const IndexArgs& args);
IndexArgs DecodeIndexArgs(int arg);

// How the opens after a crash or reopen decide the transactions left in doubt, from a
// kArmRecovery on (before any: Persy::Open). With `power_off` > 0 the disk goes off that many
// I/O events into the next recovery: for kOpen from the start of Persy::Open, for
// kOpenWithRecover from its first question, for kRecover from after Persy::Recover returned
// (among the decisions); then the executor crashes and opens again the same way without one.
enum class RecoveryWay { kOpen, kOpenWithRecover, kRecover };
enum class RecoveryChoice {
  kLeave,     // Recovery: leave it to Finish
  kCommit,    // Recovery::Commit(its transaction id)
  kRollback,  // Recovery::Rollback(its transaction id)
  kMissing,   // Recovery::Commit of an id no transaction has (TransactionNotFound)
};
inline constexpr int kRecoveryChoices = 6;  // the first entries of Recovery::List with a choice
struct RecoveryPlan {
  RecoveryWay way = RecoveryWay::kOpen;
  // kOpenWithRecover: the question at position i commits if bit i % 12 is set. kRecover: bits
  // 2i and 2i+1 are the RecoveryChoice of the entry at position i of List() (i < 6).
  int decisions = 0;
  int power_off = 0;  // 0..63
};
int EncodeRecoveryPlan(const RecoveryPlan& plan);
RecoveryPlan DecodeRecoveryPlan(int arg);
bool RecoveryCommits(const RecoveryPlan& plan, size_t position);
RecoveryChoice RecoveryChoiceAt(const RecoveryPlan& plan, size_t position);

// The snapshot slots, and what a kSnapshotRead reads.
inline constexpr int kSnapshotSlots = 2;
enum class SnapshotReadKind { kRead, kScan, kExistsSegment, kListSegments, kExistsIndex,
                              kListIndexes };
inline constexpr int kSnapshotReadKinds = 6;
struct SnapshotReadArgs {
  SnapshotReadKind kind = SnapshotReadKind::kRead;
  int limit = 0;  // kScan: stop after visiting `limit` records (0..3; 0: all)
};
int EncodeSnapshotReadArgs(const SnapshotReadArgs& args);
SnapshotReadArgs DecodeSnapshotReadArgs(int arg);

// Picks an index in [0, n) with the weights `weight(i)`, from a byte (a fuzzer's choice).
int PickByWeight(uint8_t byte, int n, int (*weight)(int));

struct Op {
  OpKind kind = OpKind::kBegin;
  int tx = 0;          // transaction slot, modulo kTxSlots (snapshot ops: modulo kSnapshotSlots)
  int segment = 0;     // SegmentName(segment)
  int record = 0;      // see RecordFor
  std::string bytes;   // kInsert, kUpdate: the record; kBegin: the transaction id
  int arg = 0;         // per kind, above
  int index = 0;       // index ops: IndexName(index)
  int key = 0;         // index ops: the key's pick (IndexValueFor); kRange: the from bound's
  int value = 0;       // kPut, kRemove: the value's pick; kRange: the to bound's key pick
  friend bool operator==(const Op&, const Op&) = default;
};

// Begin(tx0), CreateSegment(tx0, "s0"), CreateSegment(tx0, "s1"), CreateIndex(tx0, "i0"),
// CreateIndex(tx0, "i1") (both with arg `index_spec`: IndexSpecFor gives the two names other
// types), Commit(tx0): what most generated sequences start with, so that they spend their
// length on records and keys rather than on finding how to create a segment or an index.
std::vector<Op> Prelude(int index_spec = 0);

// The strategy a kBegin asks for: nullopt (arg 0: the Config's), else arg 1..3.
std::optional<Strategy> BeginStrategy(int arg);

// The record id an op names, given the ids seen so far in order: record >= 0 picks
// seen[record % seen.size()] (or 1.1 while none was seen); record < 0 fabricates
// (v / 8).(v % 8) with v = (-record - 1) % 64, mostly ids of missing records or of another
// segment, sometimes real ones; record >= kSegmentRecordBase picks
// committed[k % committed.size()], k = record - kSegmentRecordBase, among the records committed
// now in the op's segment (as seen[k] while there is none), so that transactions meet on the
// same records, and on the locks of prepared ones.
inline constexpr int kSegmentRecordBase = 1 << 20;
Id RecordFor(int record, const std::vector<Id>& seen, const std::vector<Id>& committed = {});

// An injected I/O error: which call fails, with which errno, once or from then on.
struct IoFault {
  bool sync = false;        // a sync, else a write
  bool enospc = false;      // ENOSPC, else EIO
  bool persistent = false;  // every later call of that kind fails too
  int nth = 1;              // 1 = the next call of that kind (1..64)
};
int EncodeIoFault(const IoFault& fault);
IoFault DecodeIoFault(int arg);

// `size` bytes that tell records apart: "<tag>:" then letters that change every 64 bytes.
std::string MakeBytes(size_t size, uint32_t tag);

// One line, e.g. `Insert(tx1, "s2", 5B "3:abc")`; a sequence one op per line, numbered.
std::string ToString(const Op& op);
std::string ToString(const std::vector<Op>& ops);
std::ostream& operator<<(std::ostream& os, const Op& op);

// Decodes a sequence from arbitrary bytes (for fuzzers): every input gives a valid sequence,
// at most 256 operations, picked with the weights above; similar inputs give similar sequences.
std::vector<Op> DecodeOps(const uint8_t* data, size_t size);

}  // namespace persy::model

#endif  // MODEL_OPS_H_
