// Property: after any sequence of writes, truncates, syncs, failed syncs, bit flips and crashes,
// the simulated disk leaves every sector of every file holding its value at the last successful
// sync or one of the values written to it since; garbage only where a torn write allows it;
// and data synced successfully never changes except by injected bit rot.
//
// Method. An oracle, written here without any of SimVfs's code, follows each file: the current
// contents (checked against every read), for each sector the set of values it may hold
// durably, the values each sector took since the last sync, and the sizes the file may have
// after a crash. At each crash the files are read back and every sector and size must be one
// the oracle allows (the bytes of a sector below the file size, when the size cuts it); the oracle then learns the values actually seen, so the next crash is
// checked against them, and a crash with nothing pending must change nothing.
//
// RapidCheck prints the seed of each run ("Using configuration: seed=...") and, on failure, the
// shrunk operation sequence; replay with RC_PARAMS="seed=N" (bazel: --test_env=RC_PARAMS=...).

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "absl/strings/str_cat.h"
#include "vfs/sim_vfs.h"

namespace persy::vfs {
namespace {

constexpr size_t kSector = 512;
constexpr int kFiles = 2;
constexpr uint32_t kMaxOffset = 8 * kSector;

enum class OpKind { kWrite, kTruncate, kSync, kFailSync, kCrash, kFlipBit };

struct Op {
  OpKind kind;
  int file;
  uint32_t a;  // write: offset; truncate: size; flip: bit
  uint32_t b;  // write: length
};

void showValue(const Op& op, std::ostream& os) {
  switch (op.kind) {
    case OpKind::kWrite: os << "Write(f" << op.file << ", off=" << op.a << ", len=" << op.b << ")"; break;
    case OpKind::kTruncate: os << "Truncate(f" << op.file << ", " << op.a << ")"; break;
    case OpKind::kSync: os << "Sync(f" << op.file << ")"; break;
    case OpKind::kFailSync: os << "FailSync(f" << op.file << ", EIO)"; break;
    case OpKind::kCrash: os << "Crash"; break;
    case OpKind::kFlipBit: os << "FlipBit(f" << op.file << ", " << op.a << ")"; break;
  }
}

}  // namespace
}  // namespace persy::vfs

namespace rc {
template <>
struct Arbitrary<persy::vfs::Op> {
  static Gen<persy::vfs::Op> arbitrary() {
    using persy::vfs::Op;
    using persy::vfs::OpKind;
    auto file = gen::inRange(0, persy::vfs::kFiles);
    return gen::weightedOneOf<Op>({
        {8, gen::apply([](int f, uint32_t off, uint32_t len) { return Op{OpKind::kWrite, f, off, len}; },
                       file, gen::inRange<uint32_t>(0, persy::vfs::kMaxOffset),
                       gen::inRange<uint32_t>(1, 3 * persy::vfs::kSector))},
        {2, gen::apply([](int f, uint32_t size) { return Op{OpKind::kTruncate, f, size, 0}; },
                       file, gen::inRange<uint32_t>(0, persy::vfs::kMaxOffset))},
        {3, gen::apply([](int f) { return Op{OpKind::kSync, f, 0, 0}; }, file)},
        {1, gen::apply([](int f) { return Op{OpKind::kFailSync, f, 0, 0}; }, file)},
        {2, gen::just(Op{OpKind::kCrash, 0, 0, 0})},
        {1, gen::apply([](int f, uint32_t bit) { return Op{OpKind::kFlipBit, f, bit, 0}; },
                       file, gen::inRange<uint32_t>(0, persy::vfs::kMaxOffset * 8))},
    });
  }
};
}  // namespace rc

namespace persy::vfs {
namespace {

std::string SectorOf(const std::string& data, uint64_t s) {
  std::string sector(kSector, '\0');
  if (s * kSector < data.size()) {
    sector.replace(0, std::min<uint64_t>(kSector, data.size() - s * kSector),
                   data.substr(s * kSector, kSector));
  }
  return sector;
}

// What the oracle knows of one file.
struct FileOracle {
  std::string current;                                 // what reads must return
  std::map<uint64_t, std::set<std::string>> durable;   // absent: only zeros
  std::map<uint64_t, std::set<std::string>> since;     // values taken since the last sync
  std::set<uint64_t> garbage_ok;                       // may hold garbage after a failed sync
  std::set<uint64_t> durable_sizes = {0};
  std::set<uint64_t> sizes_since;

  std::set<std::string> DurableOf(uint64_t s) const {
    auto it = durable.find(s);
    return it == durable.end() ? std::set<std::string>{std::string(kSector, '\0')} : it->second;
  }

  // The file changed in bytes [begin, end) of the current contents.
  void Changed(uint64_t begin, uint64_t end) {
    for (uint64_t s = begin / kSector; s * kSector < end; ++s) {
      since[s].insert(SectorOf(current, s));
    }
    sizes_since.insert(current.size());
  }

  // The durable size may have been `z`: the sector holding it may then read as any of its
  // values cut at `z` (and zero after, should the file grow again). With `replace`, the size
  // is certainly `z` and only the cut values remain.
  void CutAt(uint64_t z, bool replace) {
    if (z % kSector == 0) return;
    const uint64_t s = z / kSector;
    std::set<std::string> values = replace ? std::set<std::string>() : DurableOf(s);
    for (std::string v : DurableOf(s)) {
      std::fill(v.begin() + z % kSector, v.end(), '\0');
      values.insert(v);
    }
    durable[s] = values;
  }

  void SyncOk() {
    for (const auto& [s, values] : since) durable[s] = {SectorOf(current, s)};
    for (auto it = durable.begin(); it != durable.end();) {
      it = it->first * kSector >= current.size() ? durable.erase(it) : std::next(it);
    }
    CutAt(current.size(), /*replace=*/true);
    durable_sizes = {current.size()};
    since.clear();
    sizes_since.clear();
  }

  void SyncFailed(bool torn_garbage) {
    for (const auto& [s, values] : since) {
      std::set<std::string> all = DurableOf(s);
      all.insert(values.begin(), values.end());
      durable[s] = all;
      if (torn_garbage) garbage_ok.insert(s);
    }
    durable_sizes.insert(sizes_since.begin(), sizes_since.end());
    durable_sizes.insert(current.size());
    for (uint64_t z : durable_sizes) CutAt(z, /*replace=*/false);
    since.clear();
    sizes_since.clear();
  }

  // Checks the contents read back after a crash, then takes them as the new durable state.
  void AfterCrash(const std::string& seen, bool torn_garbage) {
    std::set<uint64_t> sizes = durable_sizes;
    sizes.insert(sizes_since.begin(), sizes_since.end());
    sizes.insert(current.size());
    RC_ASSERT(sizes.count(seen.size()) == 1u);
    for (uint64_t s = 0; s * kSector < seen.size(); ++s) {
      const std::string value = SectorOf(seen, s);
      std::set<std::string> allowed = DurableOf(s);
      auto it = since.find(s);
      if (it != since.end()) allowed.insert(it->second.begin(), it->second.end());
      // A sector may be cut by the file size: the size of one moment and the sector of
      // another, as when a write reaches the disk and the size update does not.
      const uint64_t keep = std::min<uint64_t>(kSector, seen.size() - s * kSector);
      bool held = false;
      for (const std::string& candidate : allowed) {
        held |= candidate.compare(0, keep, value, 0, keep) == 0;
      }
      if (held) continue;
      const bool may_be_garbage =
          garbage_ok.count(s) == 1 || (torn_garbage && it != since.end());
      RC_ASSERT(may_be_garbage);
    }
    current = seen;
    durable.clear();
    for (uint64_t s = 0; s * kSector < seen.size(); ++s) durable[s] = {SectorOf(seen, s)};
    since.clear();
    sizes_since.clear();
    garbage_ok.clear();
    durable_sizes = {seen.size()};
  }
};

std::string ReadAll(File& file) {
  absl::StatusOr<uint64_t> size = file.Size();
  RC_ASSERT(size.ok());
  std::string data(*size, '\0');
  absl::StatusOr<size_t> got = file.ReadAt(0, data.size(), data.data());
  RC_ASSERT(got.ok());
  RC_ASSERT(*got == data.size());
  return data;
}

SimDamage GenDamage() {
  SimDamage d;
  d.sector_size = kSector;
  d.keep = *rc::gen::element(0.0, 0.3, 0.5, 1.0);
  d.drop = *rc::gen::element(0.0, 0.3, 0.5) * (1.0 - d.keep);
  d.torn_garbage = *rc::gen::element(0.0, 0.2);
  d.reorder = *rc::gen::arbitrary<bool>();
  d.lose_size_change = *rc::gen::element(0.0, 0.5, 1.0);
  d.lose_unsynced_dir_op = 0;  // the files' entries are synced once at the start
  return d;
}

RC_GTEST_PROP(SimVfsProperty, CrashLeavesOnlyValuesSectorsHeld, ()) {
  const SimDamage damage = GenDamage();
  const uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  const auto ops = *rc::gen::container<std::vector<Op>>(rc::gen::arbitrary<Op>());
  RC_TAG(damage.torn_garbage > 0 ? "garbage" : "no garbage");
  SimVfs sim(seed, damage);
  const bool torn_garbage = damage.torn_garbage > 0 && damage.keep + damage.drop < 1;

  std::vector<std::unique_ptr<File>> files(kFiles);
  std::vector<FileOracle> oracle(kFiles);
  auto path = [](int f) { return absl::StrCat("/db/f", f); };
  for (int f = 0; f < kFiles; ++f) {
    auto file = sim.Create(path(f));
    RC_ASSERT(file.ok());
    files[f] = std::move(*file);
  }
  RC_ASSERT(sim.SyncDir(path(0)).ok());

  uint32_t stamp = 0;
  for (const Op& op : ops) {
    File& file = *files[op.file];
    FileOracle& o = oracle[op.file];
    switch (op.kind) {
      case OpKind::kWrite: {
        // Each write gets its own bytes, so that the oracle can tell writes apart.
        ++stamp;
        std::string data(op.b, '\0');
        for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(stamp * 31 + i);
        RC_ASSERT(file.WriteAt(op.a, data).ok());
        const uint64_t old_size = o.current.size();
        if (o.current.size() < op.a + data.size()) o.current.resize(op.a + data.size(), '\0');
        o.current.replace(op.a, data.size(), data);
        o.Changed(std::min<uint64_t>(old_size, op.a), op.a + data.size());
        break;
      }
      case OpKind::kTruncate: {
        RC_ASSERT(file.Truncate(op.a).ok());
        const uint64_t old_size = o.current.size();
        o.current.resize(op.a, '\0');
        if (old_size != op.a) o.Changed(std::min<uint64_t>(old_size, op.a), std::max<uint64_t>(old_size, op.a));
        break;
      }
      case OpKind::kSync:
        RC_ASSERT(file.Sync().ok());
        o.SyncOk();
        break;
      case OpKind::kFailSync: {
        sim.InjectFault(IoKind::kSync, 1, EIO, /*persistent=*/false);
        absl::Status s = file.Sync();
        RC_ASSERT(s.code() == absl::StatusCode::kDataLoss);
        // The File is poisoned: writes fail with the same error, reads still see the data.
        RC_ASSERT(file.WriteAt(0, "x").code() == absl::StatusCode::kDataLoss);
        RC_ASSERT(file.Sync().code() == absl::StatusCode::kDataLoss);
        RC_ASSERT(ReadAll(file) == o.current);
        o.SyncFailed(torn_garbage);
        auto reopened = sim.Open(path(op.file));
        RC_ASSERT(reopened.ok());
        files[op.file] = std::move(*reopened);
        break;
      }
      case OpKind::kFlipBit: {
        // Bit rot in synced data, only where the oracle knows the durable contents exactly.
        if (!o.since.empty() || o.durable_sizes.size() != 1 || !o.garbage_ok.empty() ||
            op.a / 8 >= *o.durable_sizes.begin()) {
          break;
        }
        RC_ASSERT(sim.FlipDurableBit(path(op.file), op.a).ok());
        const uint64_t s = op.a / 8 / kSector;
        std::set<std::string> flipped;
        for (std::string v : o.DurableOf(s)) {
          v[op.a / 8 % kSector] = static_cast<char>(v[op.a / 8 % kSector] ^ (1 << (op.a % 8)));
          flipped.insert(v);
        }
        o.durable[s] = flipped;
        break;
      }
      case OpKind::kCrash:
        sim.Crash();
        for (int f = 0; f < kFiles; ++f) {
          auto reopened = sim.Open(path(f));
          RC_ASSERT(reopened.ok());
          files[f] = std::move(*reopened);
          oracle[f].AfterCrash(ReadAll(*files[f]), torn_garbage);
        }
        break;
    }
    RC_ASSERT(ReadAll(*files[op.file]) == oracle[op.file].current);
  }
  // A final crash checks whatever was pending at the end.
  sim.Crash();
  for (int f = 0; f < kFiles; ++f) {
    auto reopened = sim.Open(path(f));
    RC_ASSERT(reopened.ok());
    oracle[f].AfterCrash(ReadAll(**reopened), torn_garbage);
  }
}

}  // namespace
}  // namespace persy::vfs
