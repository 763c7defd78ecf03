#include "model/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace persy::model {
namespace {

std::string ShowBytes(const std::string& bytes) {
  if (bytes.size() <= 24) return absl::StrCat("\"", absl::CHexEscape(bytes), "\"");
  return absl::StrCat(bytes.size(), "B \"", absl::CHexEscape(bytes.substr(0, 12)), "...\"");
}

std::string ShowSegment(int index) {
  const std::string& name = SegmentName(index);
  if (name.size() > 24) return absl::StrCat("<", name.size(), "-byte name>");
  return absl::StrCat("\"", name, "\"");
}

std::string ShowIndex(int index) {
  const std::string& name = IndexName(index);
  if (name.size() > 24) return absl::StrCat("<", name.size(), "-byte name>");
  return absl::StrCat("\"", name, "\"");
}

int Mod(int v, int n) { return ((v % n) + n) % n; }

// "key 3", with " (wrong type)" when the op asks for one.
std::string ShowPick(const char* what, int pick, bool wrong) {
  return absl::StrCat(what, " ", Mod(pick, kIndexValuePicks), wrong ? " (wrong type)" : "");
}

std::string ShowBounds(const Op& op, const IndexArgs& args) {
  using Kind = IndexBound::Kind;
  const std::string from = args.from == Kind::kUnbounded ? "(.."
                           : absl::StrCat(args.from == Kind::kIncluded ? "[" : "(",
                                          ShowPick("key", op.key, args.wrong_key_type), "..");
  const std::string to = args.to == Kind::kUnbounded ? ")"
                         : absl::StrCat(ShowPick("key", op.value, args.wrong_key_type),
                                        args.to == Kind::kIncluded ? "]" : ")");
  // A typed range's key type shows in its bounds, if it has any.
  const bool wrong_key = args.typed && args.wrong_key_type && args.from == Kind::kUnbounded &&
                         args.to == Kind::kUnbounded;
  const bool wrong_value = args.typed && args.wrong_value_type;
  return absl::StrCat(from, to, args.direction == Direction::kBackward ? ", backward" : "",
                      args.limit > 0 ? absl::StrCat(", limit ", args.limit) : "",
                      args.typed ? ", typed" : "", wrong_key ? " with a wrong key type" : "",
                      wrong_value ? (wrong_key ? " and value type" : " with a wrong value type")
                                  : "");
}

// Unsigned integers: small ones, then the edges.
template <typename T>
T UnsignedFor(int pick) {
  constexpr T kMax = std::numeric_limits<T>::max();
  const T values[kIndexValuePicks] = {0, 1, 2, 3, 4, 5, 6, 7, kMax, T(kMax - 1), T(kMax >> 1),
                                      T((kMax >> 1) + 1), 100, T(255), T(256), T(65536)};
  return values[pick];
}

template <typename T>
T SignedFor(int pick) {
  constexpr T kMin = std::numeric_limits<T>::min();
  constexpr T kMax = std::numeric_limits<T>::max();
  const T values[kIndexValuePicks] = {0, 1, -1, 2, -2, 3, -3, 7, kMin, kMax, T(kMin + 1),
                                      T(kMax - 1), T(-128), T(127), T(-129), T(128)};
  return values[pick];
}

// Floats: -0.0 and NaN among the ordinary ones, so that they meet +0.0 and each other often.
template <typename F>
F FloatFor(int pick) {
  using L = std::numeric_limits<F>;
  const F values[kIndexValuePicks] = {
      F(0.0), F(1.0), F(-1.0), F(0.5), F(-0.0), F(2.0), L::quiet_NaN(), L::infinity(),
      -L::infinity(), L::max(), -L::max(), L::denorm_min(), -L::denorm_min(), L::min(),
      // A NaN with the sign set and a payload: the same key as every NaN.
      std::copysign(static_cast<F>(std::nan("5")), F(-1)), F(1.5)};
  return values[pick];
}

std::string StringFor(int pick) {
  static const std::vector<std::string>* const values = new std::vector<std::string>{
      "", "a", "ab", "b", "abc", "\xff", std::string("a\0", 2), "aa", "\x80",
      std::string(1, '\0'), "B", std::string(200, 'a'), std::string(511, 'a'),
      std::string(512, 'z'), std::string(512, 'a'), std::string(513, 'a')};
  return (*values)[static_cast<size_t>(pick)];
}

RecordId RecordIdFor(int pick) {
  constexpr uint32_t kMaxSegment = std::numeric_limits<uint32_t>::max();
  constexpr uint64_t kMaxNumber = std::numeric_limits<uint64_t>::max();
  const RecordId values[kIndexValuePicks] = {
      {1, 1}, {1, 2}, {2, 1}, {0, 0}, {1, 3}, {2, 2}, {3, 1}, {1, 10},
      {kMaxSegment, kMaxNumber}, {0, kMaxNumber}, {kMaxSegment, 0}, {1, uint64_t{1} << 32},
      {uint32_t{1} << 31, 1}, {1, uint64_t{1} << 63}, {5, 5}, {4, 4}};
  return values[pick];
}

std::string ShowRecord(int record) {
  if (record >= kSegmentRecordBase) {
    return absl::StrCat("committed[", record - kSegmentRecordBase, "]");
  }
  if (record >= 0) return absl::StrCat("seen[", record, "]");
  return absl::StrCat("id ", RecordFor(record, {}).ToString());
}

std::string ShowRecordBytes(const Op& op) {
  return op.arg == 1 ? absl::StrCat("<", kMaxRecordSize + 1, " bytes: too big>")
                     : ShowBytes(op.bytes);
}

// "Recover: c-rm--, power off after 12 events": the way, its decisions, the power-off.
std::string ShowRecoveryPlan(const RecoveryPlan& plan) {
  std::string out;
  switch (plan.way) {
    case RecoveryWay::kOpen: out = "Open"; break;
    case RecoveryWay::kOpenWithRecover:
      out = "OpenWithRecover: ";
      for (size_t i = 0; i < 12; ++i) out.push_back(RecoveryCommits(plan, i) ? 'c' : 'r');
      break;
    case RecoveryWay::kRecover:
      out = "Recover: ";
      for (size_t i = 0; i < kRecoveryChoices; ++i) {
        out.push_back("-crm"[static_cast<int>(RecoveryChoiceAt(plan, i))]);
      }
      break;
  }
  if (plan.power_off > 0) absl::StrAppend(&out, ", power off after ", plan.power_off, " events");
  return out;
}

// Reads a byte at a time; zeros once the input is exhausted.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t Next() { return pos_ < size_ ? data_[pos_++] : 0; }

 private:
  const uint8_t* const data_;
  const size_t size_;
  size_t pos_ = 0;
};

// A key or value pick: mostly the ordinary values, some edges, a few of the too-big ones.
int DecodeValuePick(Reader& in) {
  const uint8_t b = in.Next();
  if (b < 120) return b % 4;
  if (b < 200) return 4 + b % 4;
  if (b < 248) return 8 + b % 6;
  return 14 + b % 2;
}

std::string DecodeRecordBytes(Reader& in) {
  const uint8_t b = in.Next();
  const uint8_t tag = in.Next();
  // Mostly small records; one in eight spans one to three pages.
  const size_t size = b < 224 ? b % 48 : 3000 + static_cast<size_t>(b - 224) * 200;
  return MakeBytes(size, tag);
}

}  // namespace

const char* OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kBegin: return "Begin";
    case OpKind::kCreateSegment: return "CreateSegment";
    case OpKind::kDropSegment: return "DropSegment";
    case OpKind::kExistsSegment: return "ExistsSegment";
    case OpKind::kListSegments: return "ListSegments";
    case OpKind::kInsert: return "Insert";
    case OpKind::kUpdate: return "Update";
    case OpKind::kDelete: return "Delete";
    case OpKind::kRead: return "Read";
    case OpKind::kScan: return "Scan";
    case OpKind::kCommit: return "Commit";
    case OpKind::kRollback: return "Rollback";
    case OpKind::kReadCommitted: return "ReadCommitted";
    case OpKind::kScanCommitted: return "ScanCommitted";
    case OpKind::kExistsCommitted: return "ExistsCommitted";
    case OpKind::kListCommitted: return "ListCommitted";
    case OpKind::kCrash: return "Crash";
    case OpKind::kCrashInNextCommit: return "CrashInNextCommit";
    case OpKind::kInjectIoError: return "InjectIoError";
    case OpKind::kReopen: return "Reopen";
    case OpKind::kCreateIndex: return "CreateIndex";
    case OpKind::kDropIndex: return "DropIndex";
    case OpKind::kExistsIndex: return "ExistsIndex";
    case OpKind::kListIndexes: return "ListIndexes";
    case OpKind::kPut: return "Put";
    case OpKind::kRemove: return "Remove";
    case OpKind::kGet: return "Get";
    case OpKind::kRange: return "Range";
    case OpKind::kGetCommitted: return "GetCommitted";
    case OpKind::kRangeCommitted: return "RangeCommitted";
    case OpKind::kExistsIndexCommitted: return "ExistsIndexCommitted";
    case OpKind::kListIndexesCommitted: return "ListIndexesCommitted";
    case OpKind::kPrepare: return "Prepare";
    case OpKind::kCommitPrepared: return "CommitPrepared";
    case OpKind::kRollbackPrepared: return "RollbackPrepared";
    case OpKind::kDropPrepared: return "DropPrepared";
    case OpKind::kArmRecovery: return "ArmRecovery";
    case OpKind::kTakeSnapshot: return "TakeSnapshot";
    case OpKind::kReleaseSnapshot: return "ReleaseSnapshot";
    case OpKind::kSnapshotRead: return "SnapshotRead";
    case OpKind::kSnapshotGet: return "SnapshotGet";
    case OpKind::kSnapshotRange: return "SnapshotRange";
  }
  return "?";
}

bool IsIndexOp(OpKind kind) {
  const int k = static_cast<int>(kind);
  if (k >= static_cast<int>(OpKind::kCreateIndex) &&
      k <= static_cast<int>(OpKind::kListIndexesCommitted)) {
    return true;
  }
  return kind == OpKind::kSnapshotRead || kind == OpKind::kSnapshotGet ||
         kind == OpKind::kSnapshotRange;
}

bool IsTxOp(OpKind kind) {
  switch (kind) {
    case OpKind::kCreateSegment:
    case OpKind::kDropSegment:
    case OpKind::kExistsSegment:
    case OpKind::kListSegments:
    case OpKind::kInsert:
    case OpKind::kUpdate:
    case OpKind::kDelete:
    case OpKind::kRead:
    case OpKind::kScan:
    case OpKind::kCommit:
    case OpKind::kRollback:
    case OpKind::kCreateIndex:
    case OpKind::kDropIndex:
    case OpKind::kExistsIndex:
    case OpKind::kListIndexes:
    case OpKind::kPut:
    case OpKind::kRemove:
    case OpKind::kGet:
    case OpKind::kRange:
    case OpKind::kPrepare:
      return true;
    default:
      return false;
  }
}

int OpKindWeight(OpKind kind) {
  switch (kind) {
    case OpKind::kBegin: return 3;
    case OpKind::kCreateSegment: return 3;
    case OpKind::kDropSegment: return 1;
    case OpKind::kExistsSegment: return 1;
    case OpKind::kListSegments: return 1;
    case OpKind::kInsert: return 10;
    case OpKind::kUpdate: return 5;
    case OpKind::kDelete: return 3;
    case OpKind::kRead: return 5;
    case OpKind::kScan: return 3;
    case OpKind::kCommit: return 9;
    case OpKind::kRollback: return 2;
    case OpKind::kReadCommitted: return 2;
    case OpKind::kScanCommitted: return 2;
    case OpKind::kExistsCommitted: return 1;
    case OpKind::kListCommitted: return 1;
    case OpKind::kCrash: return 1;
    case OpKind::kCrashInNextCommit: return 1;
    case OpKind::kInjectIoError: return 1;
    case OpKind::kReopen: return 1;
    // About two ops in five touch indexes, most of them puts, so that keys fill up and collide.
    case OpKind::kCreateIndex: return 3;
    case OpKind::kDropIndex: return 1;
    case OpKind::kExistsIndex: return 1;
    case OpKind::kListIndexes: return 1;
    case OpKind::kPut: return 14;
    case OpKind::kRemove: return 5;
    case OpKind::kGet: return 6;
    case OpKind::kRange: return 4;
    case OpKind::kGetCommitted: return 2;
    case OpKind::kRangeCommitted: return 2;
    case OpKind::kExistsIndexCommitted: return 1;
    case OpKind::kListIndexesCommitted: return 1;
    // About one op in six: prepares often enough that their locks meet other commits and that
    // crashes find them in doubt; snapshots read after later commits.
    case OpKind::kPrepare: return 4;
    case OpKind::kCommitPrepared: return 3;
    case OpKind::kRollbackPrepared: return 1;
    case OpKind::kDropPrepared: return 1;
    case OpKind::kArmRecovery: return 2;
    case OpKind::kTakeSnapshot: return 1;
    case OpKind::kReleaseSnapshot: return 1;
    case OpKind::kSnapshotRead: return 3;
    case OpKind::kSnapshotGet: return 2;
    case OpKind::kSnapshotRange: return 2;
  }
  return 1;
}

int TxSlotWeight(int slot) {
  static constexpr int kWeights[kTxSlots] = {8, 4, 2, 2};
  return slot >= 0 && slot < kTxSlots ? kWeights[slot] : 0;
}

int SegmentWeight(int index) {
  static constexpr int kWeights[kSegmentNameCount] = {24, 18, 8, 6, 1, 1};
  return index >= 0 && index < kSegmentNameCount ? kWeights[index] : 0;
}

int IndexWeight(int index) {
  // "i0" most: the prelude creates it, so that ops find an index with entries to collide on.
  static constexpr int kWeights[kIndexNameCount] = {36, 16, 3, 2, 1, 1};
  return index >= 0 && index < kIndexNameCount ? kWeights[index] : 0;
}

int PickByWeight(uint8_t byte, int n, int (*weight)(int)) {
  int total = 0;
  for (int i = 0; i < n; ++i) total += weight(i);
  int pick = byte * total / 256;
  int i = 0;
  while (pick >= weight(i)) pick -= weight(i++);
  return i;
}

std::vector<Op> Prelude(int index_spec) {
  std::vector<Op> ops(6);
  ops[0].kind = OpKind::kBegin;
  ops[1].kind = OpKind::kCreateSegment;
  ops[2].kind = OpKind::kCreateSegment;
  ops[2].segment = 1;
  ops[3].kind = OpKind::kCreateIndex;
  ops[3].arg = index_spec;
  ops[4].kind = OpKind::kCreateIndex;
  ops[4].index = 1;
  ops[4].arg = index_spec;
  ops[5].kind = OpKind::kCommit;
  return ops;
}

const std::string& IndexName(int index) {
  static const std::vector<std::string>* const names = new std::vector<std::string>{
      "i0", "i1", "i2", "i3", "", std::string(300, 'n')};
  return (*names)[static_cast<size_t>(Mod(index, kIndexNameCount))];
}

IndexSpec IndexSpecFor(int index, int arg) {
  // The name shifts the types and mode, so that with arg 0 (where shrinking goes) the names
  // still differ; over all args of one name every combination comes once.
  const int a = Mod(arg, kIndexSpecCount);
  const int i = Mod(index, kIndexNameCount);
  IndexSpec spec;
  spec.key_type = static_cast<IndexType>((a + 4 * i) % kIndexTypeCount);
  spec.value_type = static_cast<IndexType>((a / kIndexTypeCount + 7 * i) % kIndexTypeCount);
  spec.mode = static_cast<ValueMode>((a / (kIndexTypeCount * kIndexTypeCount) + i) % 3);
  return spec;
}

IndexValue IndexValueFor(IndexType type, int pick) {
  const int p = Mod(pick, kIndexValuePicks);
  switch (type) {
    case IndexType::kU8: return IndexValue(std::in_place_type<uint8_t>, UnsignedFor<uint8_t>(p));
    case IndexType::kU16:
      return IndexValue(std::in_place_type<uint16_t>, UnsignedFor<uint16_t>(p));
    case IndexType::kU32:
      return IndexValue(std::in_place_type<uint32_t>, UnsignedFor<uint32_t>(p));
    case IndexType::kU64:
      return IndexValue(std::in_place_type<uint64_t>, UnsignedFor<uint64_t>(p));
    case IndexType::kU128: {
      // Beyond 64 bits where the others have their edges.
      const u128 two64 = u128{1} << 64;
      const u128 values[kIndexValuePicks] = {0, 1, 2, 3, 4, 5, 6, 7, ~u128{0}, ~u128{0} - 1,
                                             ~u128{0} >> 1, (~u128{0} >> 1) + 1, two64 - 1,
                                             two64, two64 + 1, u128{1} << 96};
      return IndexValue(std::in_place_type<u128>, values[p]);
    }
    case IndexType::kI8: return IndexValue(std::in_place_type<int8_t>, SignedFor<int8_t>(p));
    case IndexType::kI16: return IndexValue(std::in_place_type<int16_t>, SignedFor<int16_t>(p));
    case IndexType::kI32: return IndexValue(std::in_place_type<int32_t>, SignedFor<int32_t>(p));
    case IndexType::kI64: return IndexValue(std::in_place_type<int64_t>, SignedFor<int64_t>(p));
    case IndexType::kI128: {
      const i128 max = static_cast<i128>(~u128{0} >> 1);
      const i128 two64 = i128{1} << 64;
      const i128 values[kIndexValuePicks] = {0, 1, -1, 2, -2, 3, -3, 7, -max - 1, max, -max,
                                             max - 1, -two64, two64, -two64 - 1, two64 - 1};
      return IndexValue(std::in_place_type<i128>, values[p]);
    }
    case IndexType::kF32: return IndexValue(std::in_place_type<float>, FloatFor<float>(p));
    case IndexType::kF64: return IndexValue(std::in_place_type<double>, FloatFor<double>(p));
    case IndexType::kString: return IndexValue(std::in_place_type<std::string>, StringFor(p));
    case IndexType::kBytes:
      return IndexValue(std::in_place_type<ByteString>, ByteString{StringFor(p)});
    case IndexType::kRecordId: return IndexValue(std::in_place_type<RecordId>, RecordIdFor(p));
  }
  std::abort();
}

IndexType OtherIndexType(IndexType type, int pick) {
  const int shift = 1 + Mod(pick, kIndexTypeCount - 1);
  return static_cast<IndexType>((static_cast<int>(type) + shift) % kIndexTypeCount);
}

int EncodeIndexArgs(const IndexArgs& args) {
  return (args.wrong_key_type ? 1 : 0) | (args.wrong_value_type ? 2 : 0) |
         (args.with_value ? 4 : 0) | (args.typed ? 8 : 0) | (static_cast<int>(args.from) << 4) |
         (static_cast<int>(args.to) << 6) | (args.direction == Direction::kBackward ? 1 << 8 : 0) |
         (std::clamp(args.limit, 0, 3) << 9);
}

IndexArgs DecodeIndexArgs(int arg) {
  IndexArgs args;
  args.wrong_key_type = (arg & 1) != 0;
  args.wrong_value_type = (arg & 2) != 0;
  args.with_value = (arg & 4) != 0;
  args.typed = (arg & 8) != 0;
  args.from = static_cast<IndexBound::Kind>(((arg >> 4) & 3) % 3);
  args.to = static_cast<IndexBound::Kind>(((arg >> 6) & 3) % 3);
  args.direction = (arg & (1 << 8)) != 0 ? Direction::kBackward : Direction::kForward;
  args.limit = (arg >> 9) & 3;
  return args;
}

const std::string& SegmentName(int index) {
  static const std::vector<std::string>* const names = new std::vector<std::string>{
      "s0", "s1", "s2", "s3", "", std::string(300, 'n')};
  const int i = ((index % kSegmentNameCount) + kSegmentNameCount) % kSegmentNameCount;
  return (*names)[static_cast<size_t>(i)];
}

std::optional<Strategy> BeginStrategy(int arg) {
  switch (arg) {
    case 1: return Strategy::kLastWriterWins;
    case 2: return Strategy::kVersionOnWrite;
    case 3: return Strategy::kVersionOnRead;
    default: return std::nullopt;
  }
}

Id RecordFor(int record, const std::vector<Id>& seen, const std::vector<Id>& committed) {
  if (record >= kSegmentRecordBase) {
    record -= kSegmentRecordBase;
    if (!committed.empty()) return committed[static_cast<size_t>(record) % committed.size()];
  }
  if (record >= 0) {
    if (seen.empty()) return Id{1, 1};
    return seen[static_cast<size_t>(record) % seen.size()];
  }
  const int64_t v = (-int64_t{record} - 1) % 64;
  return Id{static_cast<uint32_t>(v / 8), static_cast<uint64_t>(v % 8)};
}

int EncodeIoFault(const IoFault& fault) {
  const int nth = std::clamp(fault.nth, 1, 64);
  return (nth - 1) | (fault.sync ? 64 : 0) | (fault.enospc ? 128 : 0) |
         (fault.persistent ? 256 : 0);
}

IoFault DecodeIoFault(int arg) {
  IoFault fault;
  fault.nth = (arg & 63) + 1;
  fault.sync = (arg & 64) != 0;
  fault.enospc = (arg & 128) != 0;
  fault.persistent = (arg & 256) != 0;
  return fault;
}

int EncodeRecoveryPlan(const RecoveryPlan& plan) {
  return static_cast<int>(plan.way) | ((plan.decisions & 0xfff) << 2) |
         (std::clamp(plan.power_off, 0, 63) << 14);
}

RecoveryPlan DecodeRecoveryPlan(int arg) {
  RecoveryPlan plan;
  plan.way = static_cast<RecoveryWay>((arg & 3) % 3);
  plan.decisions = (arg >> 2) & 0xfff;
  plan.power_off = (arg >> 14) & 63;
  return plan;
}

bool RecoveryCommits(const RecoveryPlan& plan, size_t position) {
  return ((plan.decisions >> (position % 12)) & 1) != 0;
}

RecoveryChoice RecoveryChoiceAt(const RecoveryPlan& plan, size_t position) {
  if (position >= static_cast<size_t>(kRecoveryChoices)) return RecoveryChoice::kLeave;
  return static_cast<RecoveryChoice>((plan.decisions >> (2 * position)) & 3);
}

int EncodeSnapshotReadArgs(const SnapshotReadArgs& args) {
  return static_cast<int>(args.kind) | (std::clamp(args.limit, 0, 3) << 3);
}

SnapshotReadArgs DecodeSnapshotReadArgs(int arg) {
  SnapshotReadArgs args;
  args.kind = static_cast<SnapshotReadKind>(Mod(arg & 7, kSnapshotReadKinds));
  args.limit = (arg >> 3) & 3;
  return args;
}

std::string MakeBytes(size_t size, uint32_t tag) {
  std::string out = absl::StrCat(tag, ":");
  out.reserve(std::max(size, out.size()));
  while (out.size() < size) {
    out.push_back(static_cast<char>('a' + (tag + out.size() / 64) % 26));
  }
  out.resize(size);
  return out;
}

std::string ToString(const Op& op) {
  const std::string tx = absl::StrCat("tx", ((op.tx % kTxSlots) + kTxSlots) % kTxSlots);
  const std::string snapshot = absl::StrCat("snap", Mod(op.tx, kSnapshotSlots));
  const std::string name = OpKindName(op.kind);
  switch (op.kind) {
    case OpKind::kBegin: {
      const std::optional<Strategy> strategy = BeginStrategy(op.arg);
      return absl::StrCat(name, "(", tx, ", ",
                          strategy.has_value() ? StrategyName(*strategy) : "default strategy",
                          op.bytes.empty() ? "" : ", id ", op.bytes.empty() ? "" : ShowBytes(op.bytes),
                          ")");
    }
    case OpKind::kCreateSegment:
    case OpKind::kDropSegment:
    case OpKind::kExistsSegment:
      return absl::StrCat(name, "(", tx, ", ", ShowSegment(op.segment), ")");
    case OpKind::kListSegments:
    case OpKind::kCommit:
    case OpKind::kRollback:
      return absl::StrCat(name, "(", tx, ")");
    case OpKind::kInsert:
      return absl::StrCat(name, "(", tx, ", ", ShowSegment(op.segment), ", ",
                          ShowRecordBytes(op), ")");
    case OpKind::kUpdate:
      return absl::StrCat(name, "(", tx, ", ", ShowSegment(op.segment), ", ",
                          ShowRecord(op.record), ", ", ShowRecordBytes(op), ")");
    case OpKind::kDelete:
    case OpKind::kRead:
      return absl::StrCat(name, "(", tx, ", ", ShowSegment(op.segment), ", ",
                          ShowRecord(op.record), ")");
    case OpKind::kScan:
      return absl::StrCat(name, "(", tx, ", ", ShowSegment(op.segment),
                          op.arg > 0 ? absl::StrCat(", limit ", op.arg) : "", ")");
    case OpKind::kReadCommitted:
      return absl::StrCat(name, "(", ShowSegment(op.segment), ", ", ShowRecord(op.record), ")");
    case OpKind::kScanCommitted:
      return absl::StrCat(name, "(", ShowSegment(op.segment),
                          op.arg > 0 ? absl::StrCat(", limit ", op.arg) : "", ")");
    case OpKind::kExistsCommitted:
      return absl::StrCat(name, "(", ShowSegment(op.segment), ")");
    case OpKind::kListCommitted:
    case OpKind::kCrash:
    case OpKind::kReopen:
      return absl::StrCat(name, "()");
    case OpKind::kCrashInNextCommit:
      return absl::StrCat(name, "(after ", op.arg, " events)");
    case OpKind::kInjectIoError: {
      const IoFault fault = DecodeIoFault(op.arg);
      return absl::StrCat(name, "(", fault.sync ? "sync" : "write", " #", fault.nth, ", ",
                          fault.enospc ? "ENOSPC" : "EIO", ", ",
                          fault.persistent ? "persistent" : "once", ")");
    }
    case OpKind::kCreateIndex: {
      const IndexSpec spec = IndexSpecFor(op.index, op.arg);
      return absl::StrCat(name, "(", tx, ", ", ShowIndex(op.index), ", ",
                          IndexDefText(spec.key_type, spec.value_type, spec.mode), ")");
    }
    case OpKind::kDropIndex:
    case OpKind::kExistsIndex:
      return absl::StrCat(name, "(", tx, ", ", ShowIndex(op.index), ")");
    case OpKind::kListIndexes:
      return absl::StrCat(name, "(", tx, ")");
    case OpKind::kPut:
    case OpKind::kRemove: {
      const IndexArgs args = DecodeIndexArgs(op.arg);
      const bool value = op.kind == OpKind::kPut || args.with_value;
      return absl::StrCat(name, "(", tx, ", ", ShowIndex(op.index), ", ",
                          ShowPick("key", op.key, args.wrong_key_type), ", ",
                          value ? ShowPick("value", op.value, args.wrong_value_type)
                                : "every value",
                          ")");
    }
    case OpKind::kGet:
    case OpKind::kGetCommitted: {
      const IndexArgs args = DecodeIndexArgs(op.arg);
      return absl::StrCat(name, "(", op.kind == OpKind::kGet ? tx + ", " : "",
                          ShowIndex(op.index), ", ", ShowPick("key", op.key, args.wrong_key_type),
                          args.typed ? ", typed" : "",
                          args.typed && args.wrong_value_type ? " with a wrong value type" : "",
                          ")");
    }
    case OpKind::kRange:
    case OpKind::kRangeCommitted:
      return absl::StrCat(name, "(", op.kind == OpKind::kRange ? tx + ", " : "",
                          ShowIndex(op.index), ", ", ShowBounds(op, DecodeIndexArgs(op.arg)), ")");
    case OpKind::kExistsIndexCommitted:
      return absl::StrCat(name, "(", ShowIndex(op.index), ")");
    case OpKind::kListIndexesCommitted:
      return absl::StrCat(name, "()");
    case OpKind::kPrepare:
    case OpKind::kCommitPrepared:
    case OpKind::kRollbackPrepared:
    case OpKind::kDropPrepared:
      return absl::StrCat(name, "(", tx, ")");
    case OpKind::kArmRecovery:
      return absl::StrCat(name, "(", ShowRecoveryPlan(DecodeRecoveryPlan(op.arg)), ")");
    case OpKind::kTakeSnapshot:
    case OpKind::kReleaseSnapshot:
      return absl::StrCat(name, "(", snapshot, ")");
    case OpKind::kSnapshotRead: {
      const SnapshotReadArgs args = DecodeSnapshotReadArgs(op.arg);
      std::string read;
      switch (args.kind) {
        case SnapshotReadKind::kRead:
          read = absl::StrCat("Read ", ShowSegment(op.segment), " ", ShowRecord(op.record));
          break;
        case SnapshotReadKind::kScan:
          read = absl::StrCat("Scan ", ShowSegment(op.segment),
                              args.limit > 0 ? absl::StrCat(", limit ", args.limit) : "");
          break;
        case SnapshotReadKind::kExistsSegment:
          read = absl::StrCat("ExistsSegment ", ShowSegment(op.segment));
          break;
        case SnapshotReadKind::kListSegments: read = "ListSegments"; break;
        case SnapshotReadKind::kExistsIndex:
          read = absl::StrCat("ExistsIndex ", ShowIndex(op.index));
          break;
        case SnapshotReadKind::kListIndexes: read = "ListIndexes"; break;
      }
      return absl::StrCat(name, "(", snapshot, ", ", read, ")");
    }
    case OpKind::kSnapshotGet: {
      const IndexArgs args = DecodeIndexArgs(op.arg);
      return absl::StrCat(name, "(", snapshot, ", ", ShowIndex(op.index), ", ",
                          ShowPick("key", op.key, args.wrong_key_type),
                          args.typed ? ", typed" : "",
                          args.typed && args.wrong_value_type ? " with a wrong value type" : "",
                          ")");
    }
    case OpKind::kSnapshotRange:
      return absl::StrCat(name, "(", snapshot, ", ", ShowIndex(op.index), ", ",
                          ShowBounds(op, DecodeIndexArgs(op.arg)), ")");
  }
  return name;
}

std::string ToString(const std::vector<Op>& ops) {
  std::string out;
  for (size_t i = 0; i < ops.size(); ++i) absl::StrAppend(&out, i, ": ", ToString(ops[i]), "\n");
  return out;
}

std::ostream& operator<<(std::ostream& os, const Op& op) { return os << ToString(op); }

std::vector<Op> DecodeOps(const uint8_t* data, size_t size) {
  const auto kind_weight = [](int k) { return OpKindWeight(static_cast<OpKind>(k)); };
  Reader in(data, size);
  std::vector<Op> ops;
  while (!in.done() && ops.size() < 256) {
    Op op;
    op.kind = static_cast<OpKind>(PickByWeight(in.Next(), kOpKindCount, kind_weight));
    op.tx = PickByWeight(in.Next(), kTxSlots, TxSlotWeight);
    op.segment = PickByWeight(in.Next(), kSegmentNameCount, SegmentWeight);
    switch (op.kind) {
      case OpKind::kBegin: {
        op.arg = in.Next() % 4;
        const uint8_t id = in.Next();
        // Mostly no transaction id; a few around the 512-byte limit.
        const size_t id_size = id < 128 ? 0 : id < 250 ? id % 16 : 509 + static_cast<size_t>(id - 250);
        op.bytes = MakeBytes(id_size, id);
        break;
      }
      case OpKind::kInsert:
      case OpKind::kUpdate:
        op.bytes = DecodeRecordBytes(in);
        op.arg = in.Next() == 255 ? 1 : 0;
        break;
      case OpKind::kScan:
      case OpKind::kScanCommitted:
        op.arg = in.Next() % 4;
        break;
      case OpKind::kCrashInNextCommit:
        op.arg = 1 + in.Next() % 64;
        break;
      case OpKind::kInjectIoError:
        op.arg = in.Next() | ((in.Next() & 1) << 8);
        break;
      case OpKind::kCreateIndex:
        op.arg = (in.Next() | (in.Next() << 8)) % kIndexSpecCount;
        break;
      case OpKind::kArmRecovery: {
        RecoveryPlan plan;
        const uint8_t way = in.Next();
        plan.way = static_cast<RecoveryWay>(way % 3);
        plan.decisions = in.Next() | ((in.Next() & 15) << 8);
        // Mostly no power-off: a recovery that completes decides what it says.
        plan.power_off = way >= 168 ? 1 + (way - 168) % 63 : 0;
        op.arg = EncodeRecoveryPlan(plan);
        break;
      }
      case OpKind::kSnapshotRead: {
        const uint8_t b = in.Next();
        op.arg = EncodeSnapshotReadArgs(
            SnapshotReadArgs{static_cast<SnapshotReadKind>(b % kSnapshotReadKinds), b / 64});
        break;
      }
      case OpKind::kPut:
      case OpKind::kRemove:
      case OpKind::kGet:
      case OpKind::kRange:
      case OpKind::kGetCommitted:
      case OpKind::kRangeCommitted:
      case OpKind::kSnapshotGet:
      case OpKind::kSnapshotRange: {
        op.key = DecodeValuePick(in);
        op.value = DecodeValuePick(in);
        // Wrong types rarely; bounds, direction and limit from a second byte.
        const uint8_t flags = in.Next();
        const uint8_t range = in.Next();
        IndexArgs args;
        args.wrong_key_type = flags >= 248 && (flags & 1) != 0;
        args.wrong_value_type = flags >= 248 && (flags & 2) != 0;
        args.with_value = (flags & 4) != 0;
        args.typed = (flags & 24) == 24;
        args.from = static_cast<IndexBound::Kind>(range % 3);
        args.to = static_cast<IndexBound::Kind>(range / 3 % 3);
        args.direction = range / 9 % 2 != 0 ? Direction::kBackward : Direction::kForward;
        args.limit = range / 18 % 8 < 4 ? 0 : range / 18 % 4;
        op.arg = EncodeIndexArgs(args);
        break;
      }
      default:
        break;
    }
    if (IsIndexOp(op.kind)) {
      op.index = PickByWeight(in.Next(), kIndexNameCount, IndexWeight);
    }
    if (op.kind == OpKind::kUpdate || op.kind == OpKind::kDelete || op.kind == OpKind::kRead ||
        op.kind == OpKind::kReadCommitted || op.kind == OpKind::kSnapshotRead) {
      // Mostly ids seen or committed in the op's segment; one in four fabricated.
      const uint8_t r = in.Next();
      op.record = r < 64 ? kSegmentRecordBase + r % 3 : r < 192 ? r : -1 - in.Next() % 64;
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

}  // namespace persy::model
