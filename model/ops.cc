#include "model/ops.h"

#include <algorithm>

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

std::string ShowRecord(int record) {
  if (record >= 0) return absl::StrCat("seen[", record, "]");
  return absl::StrCat("id ", RecordFor(record, {}).ToString());
}

std::string ShowRecordBytes(const Op& op) {
  return op.arg == 1 ? absl::StrCat("<", kMaxRecordSize + 1, " bytes: too big>")
                     : ShowBytes(op.bytes);
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
  }
  return "?";
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
    case OpKind::kCommit: return 7;
    case OpKind::kRollback: return 2;
    case OpKind::kReadCommitted: return 2;
    case OpKind::kScanCommitted: return 2;
    case OpKind::kExistsCommitted: return 1;
    case OpKind::kListCommitted: return 1;
    case OpKind::kCrash: return 1;
    case OpKind::kCrashInNextCommit: return 1;
    case OpKind::kInjectIoError: return 1;
    case OpKind::kReopen: return 1;
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

int PickByWeight(uint8_t byte, int n, int (*weight)(int)) {
  int total = 0;
  for (int i = 0; i < n; ++i) total += weight(i);
  int pick = byte * total / 256;
  int i = 0;
  while (pick >= weight(i)) pick -= weight(i++);
  return i;
}

std::vector<Op> Prelude() {
  std::vector<Op> ops(4);
  ops[0].kind = OpKind::kBegin;
  ops[1].kind = OpKind::kCreateSegment;
  ops[2].kind = OpKind::kCreateSegment;
  ops[2].segment = 1;
  ops[3].kind = OpKind::kCommit;
  return ops;
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

Id RecordFor(int record, const std::vector<Id>& seen) {
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
      default:
        break;
    }
    if (op.kind == OpKind::kUpdate || op.kind == OpKind::kDelete || op.kind == OpKind::kRead ||
        op.kind == OpKind::kReadCommitted) {
      // Mostly ids seen; one in four fabricated.
      const uint8_t r = in.Next();
      op.record = r < 192 ? r : -1 - in.Next() % 64;
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

}  // namespace persy::model
