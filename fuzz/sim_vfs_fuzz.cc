// Fuzzes SimVfs against an exact oracle: under the two damage presets whose outcome is certain
// (LoseUnsynced: a crash leaves the last synced contents; KeepUnsynced: it leaves the current
// ones), any sequence of writes, truncates, syncs, failed syncs, power-offs and crashes must
// leave exactly what the oracle says. The harsh random model is checked by
// vfs/sim_vfs_property_test.cc; this target lets libFuzzer steer into odd sizes and offsets.
//
// Input: byte 0 picks the preset, bytes 1-8 seed the disk, then 4 bytes per operation:
// kind, and three bytes of arguments. FUZZ_VERBOSE=1 prints the operations.

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>

#include "vfs/sim_vfs.h"

namespace {

using persy::vfs::File;
using persy::vfs::IoKind;
using persy::vfs::SimDamage;
using persy::vfs::SimVfs;

constexpr char kPath[] = "/fuzz/file";

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "sim_vfs_fuzz: %s\n", what);
  std::abort();
}

void Check(bool ok, const char* what) {
  if (!ok) Die(what);
}

std::string ReadAll(File& file) {
  auto size = file.Size();
  Check(size.ok(), "size failed");
  std::string data(*size, '\0');
  auto got = file.ReadAt(0, data.size(), data.data());
  Check(got.ok() && *got == data.size(), "read failed");
  return data;
}

// What the file holds, written without SimVfs's code. A sync writes back whole dirty sectors of
// the current contents, as a kernel writes back whole pages: bytes whose earlier sync failed can
// reach the disk again that way.
struct Oracle {
  static constexpr size_t kSector = persy::vfs::kDefaultSectorSize;
  std::string current;  // what reads must return
  std::string durable;  // what a crash that loses everything unsynced leaves
  std::set<uint64_t> dirty;

  void Dirty(uint64_t begin, uint64_t end) {
    if (begin >= end) return;  // e.g. a truncate to the current size changes nothing
    for (uint64_t s = begin / kSector; s * kSector < end; ++s) dirty.insert(s);
  }
  void Write(uint64_t offset, const std::string& bytes) {
    const uint64_t old_size = current.size();
    if (current.size() < offset + bytes.size()) current.resize(offset + bytes.size(), '\0');
    current.replace(offset, bytes.size(), bytes);
    Dirty(std::min(old_size, offset), offset + bytes.size());
  }
  void Truncate(uint64_t size) {
    Dirty(std::min<uint64_t>(size, current.size()), std::max<uint64_t>(size, current.size()));
    current.resize(size, '\0');
  }
  void Sync() {
    for (uint64_t s : dirty) {
      std::string sector = s * kSector < current.size() ? current.substr(s * kSector, kSector) : "";
      sector.resize(kSector, '\0');
      if (durable.size() < (s + 1) * kSector) durable.resize((s + 1) * kSector, '\0');
      durable.replace(s * kSector, kSector, sector);
    }
    durable.resize(current.size(), '\0');
    dirty.clear();
  }
  void Forget() { dirty.clear(); }
};

std::unique_ptr<File> Reopen(SimVfs& sim) {
  auto file = sim.Open(kPath);
  Check(file.ok(), "open failed");
  return std::move(*file);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 9) return 0;
  const bool keep = data[0] & 1;
  uint64_t seed;
  std::memcpy(&seed, data + 1, sizeof(seed));
  SimVfs sim(seed, keep ? SimDamage::KeepUnsynced() : SimDamage::LoseUnsynced());
  auto created = sim.Create(kPath);
  Check(created.ok(), "create failed");
  std::unique_ptr<File> file = std::move(*created);
  Check(sim.SyncDir(kPath).ok(), "syncdir failed");

  static const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;
  Oracle o;
  for (size_t i = 9; i + 4 <= size; i += 4) {
    const uint8_t kind = data[i] % 6;
    const uint32_t offset = data[i + 1] * 37u + data[i + 2];
    const uint32_t length = data[i + 3] * 5u + 1;
    if (verbose) {
      static const char* const kNames[] = {"write", "truncate", "sync", "failsync", "poweroff",
                                           "crash"};
      std::fprintf(stderr, "%s offset=%u length=%u\n", kNames[kind], offset, length);
    }
    switch (kind) {
      case 0: {  // write
        std::string bytes(length, static_cast<char>(data[i + 3] ^ i));
        Check(file->WriteAt(offset, bytes).ok(), "write failed");
        o.Write(offset, bytes);
        break;
      }
      case 1:  // truncate
        Check(file->Truncate(offset).ok(), "truncate failed");
        o.Truncate(offset);
        break;
      case 2:  // sync
        Check(file->Sync().ok(), "sync failed");
        o.Sync();
        break;
      case 3:  // failed sync: KeepUnsynced persists everything, LoseUnsynced nothing
        sim.InjectFault(IoKind::kSync, 1, EIO, /*persistent=*/false);
        Check(!file->Sync().ok(), "injected sync fault did not fire");
        Check(!file->WriteAt(0, "x").ok(), "poisoned file accepted a write");
        keep ? o.Sync() : o.Forget();
        file = Reopen(sim);
        break;
      case 4:  // power off after a few events, then write until the disk refuses
        sim.PowerOffAfter(1 + data[i + 1] % 3);
        for (int n = 0; n < 4; ++n) {
          std::string bytes(length, static_cast<char>(n));
          if (!file->WriteAt(offset, bytes).ok()) break;
          o.Write(offset, bytes);
        }
        [[fallthrough]];
      case 5:  // crash
        sim.Crash();
        file = Reopen(sim);
        keep ? o.Sync() : o.Forget();
        o.current = o.durable;
        break;
    }
    Check(ReadAll(*file) == o.current, "reads differ from the oracle");
  }
  return 0;
}
