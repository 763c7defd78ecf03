// The one vocabulary of operations on a database: what the model-based test generates, the
// fuzzers decode from bytes and the crash simulator replays. The executor (executor.h) gives
// each operation its meaning, on the model and on the engine at once.
//
// An operation names its transaction by slot (0..kTxSlots-1), its segment by index into a fixed
// list of names (four valid ones, the empty name and a 300-byte one), and its record by index
// into the ids the executor has seen returned by Insert so far, or as a fabricated id. So any
// sequence is valid, and shrinking a failing one keeps it meaningful.
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
  kCrashInNextCommit,  // arg >= 1: the disk goes off after arg more I/O events of the next Commit
  kInjectIoError,      // arg: an IoFault (EncodeIoFault) for the coming operations
  kReopen,             // clean close and reopen
};
inline constexpr int kOpKindCount = 20;
const char* OpKindName(OpKind kind);
// How often a generator should pick each kind, relative to the others (all > 0).
int OpKindWeight(OpKind kind);

inline constexpr int kTxSlots = 4;
// Segment names by index (taken modulo kSegmentNameCount): "s0".."s3", then "" and a 300-byte
// name, both invalid.
inline constexpr int kSegmentNameCount = 6;
inline constexpr int kValidSegmentNameCount = 4;
const std::string& SegmentName(int index);

// How often generators pick each slot and segment name: the low ones most, so that a begin,
// its writes and its commit often land in one transaction, and writes in one segment.
int TxSlotWeight(int slot);
int SegmentWeight(int index);

// Picks an index in [0, n) with the weights `weight(i)`, from a byte (a fuzzer's choice).
int PickByWeight(uint8_t byte, int n, int (*weight)(int));

struct Op {
  OpKind kind = OpKind::kBegin;
  int tx = 0;          // transaction slot, modulo kTxSlots
  int segment = 0;     // SegmentName(segment)
  int record = 0;      // see RecordFor
  std::string bytes;   // kInsert, kUpdate: the record; kBegin: the transaction id
  int arg = 0;         // per kind, above
  friend bool operator==(const Op&, const Op&) = default;
};

// Begin(tx0), CreateSegment(tx0, "s0"), CreateSegment(tx0, "s1"), Commit(tx0): what most
// generated sequences start with, so that they spend their length on records rather than on
// finding how to create a segment.
std::vector<Op> Prelude();

// The strategy a kBegin asks for: nullopt (arg 0: the Config's), else arg 1..3.
std::optional<Strategy> BeginStrategy(int arg);

// The record id an op names, given the ids seen so far in order: record >= 0 picks
// seen[record % seen.size()] (or 1.1 while none was seen); record < 0 fabricates
// (v / 8).(v % 8) with v = (-record - 1) % 64, mostly ids of missing records or of another
// segment, sometimes real ones.
Id RecordFor(int record, const std::vector<Id>& seen);

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
