// Creating a file: whole or absent after a crash at any point, `init` run exactly once in every
// file that has the name, and one creator at a time (a live creator's file is never taken; a
// crashed one's is).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "engine/persy.h"
#include "tools/status_test_util.h"
#include "tools/test_seed.h"
#include "vfs/mem_vfs.h"
#include "vfs/sim_vfs.h"

namespace persy {
namespace {

using vfs::SimVfs;

constexpr char kPath[] = "/db/test.persy";
constexpr char kCreating[] = "/db/test.persy.creating";

// Creates the segment "init" holding one record.
absl::Status Init(Transaction& tx) {
  if (absl::Status s = tx.CreateSegment("init"); !s.ok()) return s;
  return tx.Insert("init", "initialized").status();
}

// Checks that the database at kPath was initialized, once, and is sound.
void ExpectInitialized(Persy& db, const std::string& where) {
  absl::StatusOr<bool> exists = db.ExistsSegment("init");
  ASSERT_OK(exists.status());
  ASSERT_TRUE(*exists) << where;
  int records = 0;
  ASSERT_OK(db.Scan("init", [&](RecordId, std::string_view bytes) {
    EXPECT_EQ(bytes, "initialized") << where;
    ++records;
    return true;
  }));
  EXPECT_EQ(records, 1) << where;
  EXPECT_OK(db.CheckIntegrity()) << where;
}

// The disk goes off at each I/O event of OpenOrCreate in turn, then crashes. Afterwards there is
// no file at the path, or an initialized one (always one if OpenOrCreate returned OK); and
// OpenOrCreate then succeeds, taking over a creation file the crash left.
TEST(CreateTest, CrashAtEveryEventOfCreationLeavesNoFileOrAnInitializedOne) {
  const uint64_t seed = persy::testing::TestSeed();
  int cut = 0;
  int absent = 0;
  int present = 0;
  for (uint64_t k = 1;; ++k) {
    SimVfs sim(seed + k);
    sim.PowerOffAfter(k);
    absl::StatusOr<std::unique_ptr<Persy>> created =
        Persy::OpenOrCreate(kPath, Config(), Init, &sim);
    if (!sim.powered_off()) {  // creation takes fewer than k events: every cut was tried
      sim.PowerOffAfter(std::nullopt);
      ASSERT_OK(created.status());
      ExpectInitialized(**created, "uncut");
      break;
    }
    ++cut;
    const std::string where = absl::StrCat("power off after ", k, " events, seed ", seed + k);
    if (!created.ok()) {
      EXPECT_EQ(ErrorOf(created.status()), Error::kIo) << where << ": " << created.status();
    }
    const bool returned_ok = created.ok();
    created = absl::UnknownError("dropped");  // the handle goes with the disk
    sim.Crash();

    absl::StatusOr<std::unique_ptr<Persy>> opened = Persy::Open(kPath, Config(), &sim);
    const bool was_present = opened.ok();
    if (was_present) {
      ++present;
      ExpectInitialized(**opened, where);
      opened = absl::UnknownError("closed");
    } else {
      ++absent;
      EXPECT_EQ(ErrorOf(opened.status()), Error::kFileNotFound) << where << ": " << opened.status();
      EXPECT_FALSE(returned_ok) << where << ": OpenOrCreate returned OK, the file is gone";
    }
    int runs = 0;
    auto again = Persy::OpenOrCreate(
        kPath, Config(),
        [&](Transaction& tx) {
          ++runs;
          return Init(tx);
        },
        &sim);
    ASSERT_OK(again.status()) << where;
    ExpectInitialized(**again, where);
    EXPECT_EQ(runs, was_present ? 0 : 1) << where;
    if (runs == 1) {
      EXPECT_FALSE(*sim.Exists(kCreating)) << where << ": the crashed creation's file stays";
    }
  }
  std::printf("%d cuts: %d left no file, %d a whole one (seed %llu)\n", cut, absent, present,
              static_cast<unsigned long long>(seed));
  EXPECT_GE(cut, 5) << "creation does a create, a lock, writes, syncs and a rename at least";
  EXPECT_GT(absent, 0);
  EXPECT_GT(present, 0);
}

// A creation file whose creator is alive (it holds the lock) is not taken: Create fails with
// AlreadyInUse. Once the creator is gone, the next Create takes the file over.
TEST(CreateTest, OneCreatorAtATime) {
  vfs::MemVfs mem;
  {
    absl::StatusOr<std::unique_ptr<vfs::File>> other = mem.Create(kCreating);
    ASSERT_OK(other.status());
    ASSERT_OK((*other)->WriteAt(0, std::string(10000, 'x')));
    ASSERT_OK((*other)->Lock());
    auto db = Persy::Create(kPath, Config(), &mem);
    EXPECT_EQ(ErrorOf(db.status()), Error::kAlreadyInUse) << db.status();
    auto or_created = Persy::OpenOrCreate(kPath, Config(), Init, &mem);
    EXPECT_EQ(ErrorOf(or_created.status()), Error::kAlreadyInUse) << or_created.status();
    EXPECT_FALSE(*mem.Exists(kPath));
  }  // the other creator dies, leaving its half-built file
  auto db = Persy::OpenOrCreate(kPath, Config(), Init, &mem);
  ASSERT_OK(db.status());
  ExpectInitialized(**db, "after the takeover");
  EXPECT_FALSE(*mem.Exists(kCreating));

  // While this one is open, a second Create fails, and leaves it alone.
  EXPECT_EQ(ErrorOf(Persy::Create(kPath, Config(), &mem).status()), Error::kFileAlreadyExists);
  ExpectInitialized(**db, "after the second Create");
}

// A failed `init` leaves nothing behind, at the path or the creation path.
TEST(CreateTest, FailedInitLeavesNoFile) {
  vfs::MemVfs mem;
  auto db = Persy::OpenOrCreate(kPath, Config(),
                                [](Transaction&) { return absl::InternalError("no"); }, &mem);
  EXPECT_EQ(db.status().code(), absl::StatusCode::kInternal);
  EXPECT_FALSE(*mem.Exists(kPath));
  EXPECT_FALSE(*mem.Exists(kCreating));
}

// Create in a directory that does not exist: FileNotFound (POSIX files).
TEST(CreateTest, CreateInAMissingDirectoryIsFileNotFound) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/no/such/dir/x.persy";
  auto db = Persy::Create(path);
  EXPECT_EQ(ErrorOf(db.status()), Error::kFileNotFound) << db.status();
}

}  // namespace
}  // namespace persy
