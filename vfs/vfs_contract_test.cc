// The contract of vfs.h, sentence by sentence, run against every Vfs: PosixVfs (in a fresh
// temporary directory per test), MemVfs, and SimVfs with no damage and no injected faults,
// which must be indistinguishable from MemVfs here. A behaviour one Vfs has and another lacks
// is a bug in one of them, or a gap in the contract.
//
// The concurrency tests are meant to be run under --config=tsan too.

#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/status_test_util.h"
#include "vfs/mem_vfs.h"
#include "vfs/posix_vfs.h"
#include "vfs/sim_vfs.h"
#include "vfs/vfs.h"

namespace persy::vfs {
namespace {

using ::testing::HasSubstr;

// One test's Vfs and the place its files go. Destroyed after the test's Files.
class Env {
 public:
  virtual ~Env() = default;
  virtual Vfs& vfs() = 0;
  virtual std::string Path(absl::string_view name) const = 0;
};

class PosixEnv final : public Env {
 public:
  // Returns nullptr if the temporary directory cannot be made.
  static std::unique_ptr<Env> Make() {
    std::string dir = ::testing::TempDir() + "vfs_contract_XXXXXX";
    if (mkdtemp(dir.data()) == nullptr) return nullptr;
    return std::unique_ptr<Env>(new PosixEnv(std::move(dir)));
  }
  ~PosixEnv() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Vfs& vfs() override { return vfs_; }
  std::string Path(absl::string_view name) const override { return absl::StrCat(dir_, "/", name); }

 private:
  explicit PosixEnv(std::string dir) : dir_(std::move(dir)) {}
  const std::string dir_;
  PosixVfs vfs_;
};

// For the in-memory Vfses; the directory part only exercises SyncDir's path handling.
template <typename V>
class InMemoryEnv final : public Env {
 public:
  template <typename... Args>
  explicit InMemoryEnv(Args&&... args) : vfs_(std::forward<Args>(args)...) {}
  Vfs& vfs() override { return vfs_; }
  std::string Path(absl::string_view name) const override { return absl::StrCat("db/", name); }

 private:
  V vfs_;
};

struct VfsKind {
  const char* name;
  std::unique_ptr<Env> (*make)();
};

void PrintTo(const VfsKind& kind, std::ostream* os) { *os << kind.name; }

const VfsKind kPosix = {"Posix", &PosixEnv::Make};
const VfsKind kMem = {"Mem", [] { return std::unique_ptr<Env>(new InMemoryEnv<MemVfs>()); }};
const VfsKind kSim = {
    "Sim", [] { return std::unique_ptr<Env>(new InMemoryEnv<SimVfs>(/*seed=*/uint64_t{1})); }};

class VfsContractTest : public ::testing::TestWithParam<VfsKind> {
 protected:
  void SetUp() override {
    env_ = GetParam().make();
    ASSERT_NE(env_, nullptr) << "cannot make the test environment";
  }

  Vfs& vfs() { return env_->vfs(); }
  std::string Path(absl::string_view name) const { return env_->Path(name); }

  // Returns the bytes ReadAt returns, or "<error: ...>" after recording a failure.
  static std::string Read(File& file, uint64_t offset, size_t n) {
    std::string buf(n, '\0');
    absl::StatusOr<size_t> got = file.ReadAt(offset, n, buf.data());
    if (!got.ok()) {
      ADD_FAILURE() << got.status();
      return absl::StrCat("<error: ", got.status().ToString(), ">");
    }
    EXPECT_LE(*got, n);
    buf.resize(*got);
    return buf;
  }

  // Returns the whole file as reads see it.
  static std::string ReadAll(File& file) {
    absl::StatusOr<uint64_t> size = file.Size();
    if (!size.ok()) {
      ADD_FAILURE() << size.status();
      return "<error>";
    }
    return Read(file, 0, *size);
  }

  static uint64_t SizeOf(File& file) {
    absl::StatusOr<uint64_t> size = file.Size();
    EXPECT_TRUE(size.ok()) << size.status();
    return size.ok() ? *size : ~uint64_t{0};
  }

  std::unique_ptr<Env> env_;
};

// --- Create, Open, Exists -----------------------------------------------------------------

TEST_P(VfsContractTest, CreateMakesAnEmptyFile) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  EXPECT_EQ(SizeOf(*f), 0u);
  EXPECT_EQ(Read(*f, 0, 10), "");
}

TEST_P(VfsContractTest, CreateIsExclusive) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->WriteAt(0, "keep"));

  absl::StatusOr<std::unique_ptr<File>> again = vfs().Create(Path("a"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  EXPECT_THAT(std::string(again.status().message()), HasSubstr(Path("a")));
  // The failed Create must not have truncated the existing file.
  EXPECT_EQ(ReadAll(*f), "keep");
}

TEST_P(VfsContractTest, OpenOfMissingFileIsNotFound) {
  absl::StatusOr<std::unique_ptr<File>> f = vfs().Open(Path("missing"));
  EXPECT_EQ(f.status().code(), absl::StatusCode::kNotFound) << f.status();
  EXPECT_THAT(std::string(f.status().message()), HasSubstr(Path("missing")));
  // Open does not create.
  ASSERT_OK_AND_ASSIGN(bool exists, vfs().Exists(Path("missing")));
  EXPECT_FALSE(exists);
}

TEST_P(VfsContractTest, ExistsFollowsCreateAndRemove) {
  ASSERT_OK_AND_ASSIGN(bool exists, vfs().Exists(Path("a")));
  EXPECT_FALSE(exists);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK_AND_ASSIGN(exists, vfs().Exists(Path("a")));
  EXPECT_TRUE(exists);
  ASSERT_OK_AND_ASSIGN(bool other, vfs().Exists(Path("b")));
  EXPECT_FALSE(other);
  ASSERT_OK(vfs().Remove(Path("a")));
  ASSERT_OK_AND_ASSIGN(exists, vfs().Exists(Path("a")));
  EXPECT_FALSE(exists);
}

TEST_P(VfsContractTest, OpenSeesDataWrittenThroughAnotherFile) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> writer, vfs().Create(Path("a")));
  ASSERT_OK(writer->WriteAt(0, "hello"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> reader, vfs().Open(Path("a")));
  EXPECT_EQ(ReadAll(*reader), "hello");
  // Changes show "at once", in every File of the file, without Sync.
  ASSERT_OK(writer->WriteAt(5, " world"));
  EXPECT_EQ(ReadAll(*reader), "hello world");
  ASSERT_OK(reader->Truncate(4));
  EXPECT_EQ(ReadAll(*writer), "hell");

  // And after the writer is gone.
  writer.reset();
  reader.reset();
  ASSERT_OK_AND_ASSIGN(reader, vfs().Open(Path("a")));
  EXPECT_EQ(ReadAll(*reader), "hell");
}

// --- ReadAt, WriteAt, Size ----------------------------------------------------------------

TEST_P(VfsContractTest, WritesAndReadsRoundTrip) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->WriteAt(0, "0123456789"));
  ASSERT_OK(f->WriteAt(3, "abc"));  // Overwrite in the middle.
  ASSERT_OK(f->WriteAt(10, "XY"));  // Append exactly at the end.
  EXPECT_EQ(ReadAll(*f), "012abc6789XY");
  EXPECT_EQ(Read(*f, 2, 5), "2abc6");
  EXPECT_EQ(Read(*f, 11, 1), "Y");
  // Binary data, including NULs, round-trips.
  const std::string binary("\0\xff\x01\x80", 4);
  ASSERT_OK(f->WriteAt(1, binary));
  EXPECT_EQ(Read(*f, 1, 4), binary);
}

TEST_P(VfsContractTest, ReadPastEndIsShortAndLeavesTheRestOfDstUnchanged) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->WriteAt(0, "0123456789"));
  std::string dst(8, 'x');
  ASSERT_OK_AND_ASSIGN(size_t got, f->ReadAt(6, dst.size(), dst.data()));
  EXPECT_EQ(got, 4u);
  EXPECT_EQ(dst, "6789xxxx");
}

TEST_P(VfsContractTest, ReadAtOrPastEndReturnsZero) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  std::string dst(4, 'x');
  ASSERT_OK_AND_ASSIGN(size_t got, f->ReadAt(0, dst.size(), dst.data()));  // Empty file.
  EXPECT_EQ(got, 0u);
  ASSERT_OK(f->WriteAt(0, "0123456789"));
  for (uint64_t offset : {uint64_t{10}, uint64_t{11}, uint64_t{4096}, uint64_t{1} << 40}) {
    ASSERT_OK_AND_ASSIGN(got, f->ReadAt(offset, dst.size(), dst.data()));
    EXPECT_EQ(got, 0u) << "at " << offset;
  }
  EXPECT_EQ(dst, "xxxx");
}

TEST_P(VfsContractTest, ReadOfZeroBytesReturnsZero) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->WriteAt(0, "0123"));
  char dst = 'x';
  ASSERT_OK_AND_ASSIGN(size_t got, f->ReadAt(1, 0, &dst));
  EXPECT_EQ(got, 0u);
  EXPECT_EQ(dst, 'x');
}

TEST_P(VfsContractTest, WritePastEndZeroFillsTheGap) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->WriteAt(0, "a"));
  ASSERT_OK(f->WriteAt(100, "b"));
  EXPECT_EQ(SizeOf(*f), 101u);
  EXPECT_EQ(ReadAll(*f), "a" + std::string(99, '\0') + "b");

  // A first write far from the start of an empty file, too.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> g, vfs().Create(Path("b")));
  ASSERT_OK(g->WriteAt(5000, "z"));
  EXPECT_EQ(ReadAll(*g), std::string(5000, '\0') + "z");
}

TEST_P(VfsContractTest, EmptyWriteDoesNotExtendTheFile) {
  // Nothing needs extending for zero bytes, as with pwrite(fd, buf, 0, offset).
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->WriteAt(0, "abc"));
  ASSERT_OK(f->WriteAt(100, ""));
  ASSERT_OK(f->WriteAt(1, ""));
  EXPECT_EQ(ReadAll(*f), "abc");
}

TEST_P(VfsContractTest, SizeCountsUnsyncedChanges) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  EXPECT_EQ(SizeOf(*f), 0u);
  ASSERT_OK(f->WriteAt(0, "12345"));
  EXPECT_EQ(SizeOf(*f), 5u);
  ASSERT_OK(f->WriteAt(2, "x"));  // Inside: no change.
  EXPECT_EQ(SizeOf(*f), 5u);
  ASSERT_OK(f->Sync());
  ASSERT_OK(f->WriteAt(8, "xy"));
  EXPECT_EQ(SizeOf(*f), 10u);
  ASSERT_OK(f->Truncate(3));
  EXPECT_EQ(SizeOf(*f), 3u);
}

TEST_P(VfsContractTest, OutOfRangeOffsetsAreInvalidArgument) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->WriteAt(0, "abc"));
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  constexpr uint64_t kInt64Max = std::numeric_limits<int64_t>::max();
  // The end of the write would not be representable as a file offset.
  for (uint64_t offset : {kMax - 1, kInt64Max}) {
    absl::Status s = f->WriteAt(offset, "xy");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << "at " << offset << ": " << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(Path("a")));
  }
  absl::Status s = f->Truncate(kMax);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(ReadAll(*f), "abc");
}

// --- Truncate -----------------------------------------------------------------------------

TEST_P(VfsContractTest, TruncateShrinksAndCutBytesDoNotComeBack) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->WriteAt(0, "0123456789"));
  ASSERT_OK(f->Truncate(4));
  EXPECT_EQ(SizeOf(*f), 4u);
  EXPECT_EQ(Read(*f, 0, 10), "0123");
  EXPECT_EQ(Read(*f, 4, 10), "");
  // Growing it again by a write past the end must show zeros, not the old "4567".
  ASSERT_OK(f->WriteAt(8, "89"));
  EXPECT_EQ(ReadAll(*f), std::string("0123\0\0\0\089", 10));
  ASSERT_OK(f->Truncate(0));
  EXPECT_EQ(SizeOf(*f), 0u);
  EXPECT_EQ(Read(*f, 0, 10), "");
}

TEST_P(VfsContractTest, TruncateGrowsWithZeros) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->WriteAt(0, "abcd"));
  ASSERT_OK(f->Truncate(2));
  ASSERT_OK(f->Truncate(100));
  EXPECT_EQ(SizeOf(*f), 100u);
  EXPECT_EQ(ReadAll(*f), "ab" + std::string(98, '\0'));
}

TEST_P(VfsContractTest, TruncateToTheSameSizeChangesNothing) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->WriteAt(0, "abcd"));
  ASSERT_OK(f->Truncate(4));
  EXPECT_EQ(ReadAll(*f), "abcd");
}

// --- Remove -------------------------------------------------------------------------------

TEST_P(VfsContractTest, RemoveThenOpenIsNotFound) {
  { ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a"))); }
  ASSERT_OK(vfs().Remove(Path("a")));
  absl::StatusOr<std::unique_ptr<File>> f = vfs().Open(Path("a"));
  EXPECT_EQ(f.status().code(), absl::StatusCode::kNotFound) << f.status();
}

TEST_P(VfsContractTest, RemoveOfMissingFileIsNotFound) {
  absl::Status s = vfs().Remove(Path("missing"));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(Path("missing")));

  { ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a"))); }
  ASSERT_OK(vfs().Remove(Path("a")));
  s = vfs().Remove(Path("a"));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
}

TEST_P(VfsContractTest, RemovedFileStaysUsableWhileOpen) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->WriteAt(0, "before"));
  ASSERT_OK(vfs().Remove(Path("a")));
  EXPECT_EQ(ReadAll(*f), "before");
  ASSERT_OK(f->WriteAt(6, " after"));
  EXPECT_EQ(ReadAll(*f), "before after");
  EXPECT_EQ(SizeOf(*f), 12u);
  ASSERT_OK(f->Truncate(6));
  EXPECT_EQ(ReadAll(*f), "before");
  ASSERT_OK(f->Sync());

  // A new file at the same path is a different file.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> g, vfs().Create(Path("a")));
  EXPECT_EQ(SizeOf(*g), 0u);
  ASSERT_OK(g->WriteAt(0, "new"));
  EXPECT_EQ(ReadAll(*f), "before");
  ASSERT_OK(f->WriteAt(0, "B"));
  EXPECT_EQ(ReadAll(*g), "new");
}

// --- RenameNoReplace, IsFileAt -------------------------------------------------------------

TEST_P(VfsContractTest, RenameMovesTheFileAndItsOpenFilesFollow) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->WriteAt(0, "moved"));
  ASSERT_OK(f->Lock());
  ASSERT_OK(vfs().RenameNoReplace(Path("a"), Path("b")));
  ASSERT_OK_AND_ASSIGN(bool a_exists, vfs().Exists(Path("a")));
  EXPECT_FALSE(a_exists);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> g, vfs().Open(Path("b")));
  EXPECT_EQ(ReadAll(*g), "moved");
  // The open File still works, on the same file, and keeps its lock.
  ASSERT_OK(f->WriteAt(5, "!"));
  EXPECT_EQ(ReadAll(*g), "moved!");
  EXPECT_EQ(g->Lock().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(vfs().SyncDir(Path("b")));
}

TEST_P(VfsContractTest, RenameNeverReplaces) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> a, vfs().Create(Path("a")));
  ASSERT_OK(a->WriteAt(0, "from"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> b, vfs().Create(Path("b")));
  ASSERT_OK(b->WriteAt(0, "kept"));
  absl::Status s = vfs().RenameNoReplace(Path("a"), Path("b"));
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  // Both names still hold their own files.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> b2, vfs().Open(Path("b")));
  EXPECT_EQ(ReadAll(*b2), "kept");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> a2, vfs().Open(Path("a")));
  EXPECT_EQ(ReadAll(*a2), "from");
}

TEST_P(VfsContractTest, RenameOfMissingFileIsNotFound) {
  absl::Status s = vfs().RenameNoReplace(Path("missing"), Path("b"));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(Path("missing")));
  ASSERT_OK_AND_ASSIGN(bool exists, vfs().Exists(Path("b")));
  EXPECT_FALSE(exists);
}

TEST_P(VfsContractTest, IsFileAtTellsWhichFileAPathNames) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> a, vfs().Create(Path("a")));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> a_again, vfs().Open(Path("a")));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> b, vfs().Create(Path("b")));
  ASSERT_OK_AND_ASSIGN(bool at, vfs().IsFileAt(*a, Path("a")));
  EXPECT_TRUE(at);
  ASSERT_OK_AND_ASSIGN(at, vfs().IsFileAt(*a_again, Path("a")));
  EXPECT_TRUE(at) << "another File of the same file";
  ASSERT_OK_AND_ASSIGN(at, vfs().IsFileAt(*b, Path("a")));
  EXPECT_FALSE(at);
  ASSERT_OK_AND_ASSIGN(at, vfs().IsFileAt(*a, Path("missing")));
  EXPECT_FALSE(at);
  // A new file at a removed file's path is not the removed one.
  ASSERT_OK(vfs().Remove(Path("a")));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> new_a, vfs().Create(Path("a")));
  ASSERT_OK_AND_ASSIGN(at, vfs().IsFileAt(*a, Path("a")));
  EXPECT_FALSE(at);
  ASSERT_OK_AND_ASSIGN(at, vfs().IsFileAt(*new_a, Path("a")));
  EXPECT_TRUE(at);
  // And a renamed file is at its new name.
  ASSERT_OK(vfs().RenameNoReplace(Path("b"), Path("c")));
  ASSERT_OK_AND_ASSIGN(at, vfs().IsFileAt(*b, Path("c")));
  EXPECT_TRUE(at);
}

// --- Lock ---------------------------------------------------------------------------------

TEST_P(VfsContractTest, LockConflictsWithAnotherFileOfTheSameProcess) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> first, vfs().Create(Path("a")));
  ASSERT_OK(first->Lock());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> second, vfs().Open(Path("a")));
  absl::Status s = second->Lock();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("already in use"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(Path("a")));
  // A failed attempt takes nothing: the first File still holds the lock against a third.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> third, vfs().Open(Path("a")));
  EXPECT_EQ(third->Lock().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(first->Lock());
}

TEST_P(VfsContractTest, LockIsReleasedWhenItsFileIsDestroyed) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> first, vfs().Create(Path("a")));
  ASSERT_OK(first->Lock());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> second, vfs().Open(Path("a")));
  EXPECT_EQ(second->Lock().code(), absl::StatusCode::kFailedPrecondition);
  first.reset();
  ASSERT_OK(second->Lock());
  // And a File that never took the lock releases nothing when it goes.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> bystander, vfs().Open(Path("a")));
  bystander.reset();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> third, vfs().Open(Path("a")));
  EXPECT_EQ(third->Lock().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(VfsContractTest, LockTwiceOnTheSameFileIsANoOp) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->Lock());
  ASSERT_OK(f->Lock());
  // Still held exactly once: destroying the File releases it.
  f.reset();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> g, vfs().Open(Path("a")));
  ASSERT_OK(g->Lock());
}

TEST_P(VfsContractTest, LocksOnDifferentFilesAreIndependent) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> a, vfs().Create(Path("a")));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> b, vfs().Create(Path("b")));
  ASSERT_OK(a->Lock());
  ASSERT_OK(b->Lock());
}

// --- Sync, SyncDir ------------------------------------------------------------------------

TEST_P(VfsContractTest, SyncAndSyncDirSucceed) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->Sync());  // Nothing to sync yet.
  ASSERT_OK(vfs().SyncDir(Path("a")));
  ASSERT_OK(f->WriteAt(0, "data"));
  ASSERT_OK(f->Sync());
  ASSERT_OK(f->Sync());
  ASSERT_OK(f->Truncate(2));
  ASSERT_OK(f->Sync());
  EXPECT_EQ(ReadAll(*f), "da");
  ASSERT_OK(vfs().Remove(Path("a")));
  ASSERT_OK(vfs().SyncDir(Path("a")));
}

// --- Concurrency and size -----------------------------------------------------------------

TEST_P(VfsContractTest, ConcurrentWritersToDisjointRangesAllLand) {
  constexpr int kThreads = 8;
  constexpr int kChunksPerThread = 64;
  constexpr size_t kChunk = 1000;  // Not a sector multiple: chunks share sectors.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  auto chunk_of = [](int thread, int i) {
    return std::string(kChunk, static_cast<char>('A' + thread + (i % 3)));
  };

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kChunksPerThread; ++i) {
        // Chunks interleave across threads, so the file grows concurrently from all of them.
        const uint64_t offset = uint64_t{kChunk} * (i * kThreads + t);
        const std::string data = chunk_of(t, i);
        if (!f->WriteAt(offset, data).ok()) ++failures;
        std::string back(kChunk, '\0');
        absl::StatusOr<size_t> got = f->ReadAt(offset, kChunk, back.data());
        if (!got.ok() || *got != kChunk || back != data) ++failures;
        if (!f->Size().ok()) ++failures;
        if (i % 16 == 0 && !f->Sync().ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);

  ASSERT_EQ(SizeOf(*f), uint64_t{kChunk} * kThreads * kChunksPerThread);
  const std::string all = ReadAll(*f);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kChunksPerThread; ++i) {
      const size_t offset = kChunk * (i * kThreads + t);
      ASSERT_EQ(all.substr(offset, kChunk), chunk_of(t, i)) << "thread " << t << " chunk " << i;
    }
  }
}

TEST_P(VfsContractTest, ConcurrentOverlappingWritesLeaveOneWrittenValuePerByte) {
  constexpr int kThreads = 4;
  constexpr size_t kSize = 4096;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string data(kSize, static_cast<char>('a' + t));
      for (int i = 0; i < 50; ++i) {
        if (!f->WriteAt(0, data).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  const std::string all = ReadAll(*f);
  ASSERT_EQ(all.size(), kSize);
  for (size_t i = 0; i < kSize; ++i) {
    ASSERT_TRUE(all[i] >= 'a' && all[i] < 'a' + kThreads) << "byte " << i;
  }
}

TEST_P(VfsContractTest, ConcurrentCallsOnTheVfs) {
  constexpr int kThreads = 6;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string path = Path(absl::StrCat("file", t));
      for (int i = 0; i < 20; ++i) {
        absl::StatusOr<std::unique_ptr<File>> f = vfs().Create(path);
        if (!f.ok() || !(*f)->WriteAt(0, path).ok() || !(*f)->Lock().ok()) ++failures;
        absl::StatusOr<std::unique_ptr<File>> g = vfs().Open(path);
        if (!g.ok() || Read(**g, 0, path.size()) != path) ++failures;
        absl::StatusOr<bool> exists = vfs().Exists(path);
        if (!exists.ok() || !*exists) ++failures;
        if (!vfs().SyncDir(path).ok()) ++failures;
        if (!vfs().Remove(path).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_P(VfsContractTest, LargeWritesRoundTrip) {
  constexpr size_t kMiB = 1 << 20;
  std::string data(kMiB, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7919) >> 3);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs().Create(Path("a")));
  ASSERT_OK(f->WriteAt(0, data));
  EXPECT_EQ(SizeOf(*f), kMiB);
  EXPECT_TRUE(Read(*f, 0, kMiB) == data);
  // Unaligned, overlapping the first, read with a buffer larger than what is left.
  constexpr uint64_t kOffset = 12345;
  ASSERT_OK(f->WriteAt(kOffset, data));
  EXPECT_EQ(SizeOf(*f), kOffset + kMiB);
  EXPECT_TRUE(Read(*f, kOffset, 2 * kMiB) == data);
  EXPECT_TRUE(Read(*f, 0, kOffset) == data.substr(0, kOffset));
  ASSERT_OK(f->Sync());
}

INSTANTIATE_TEST_SUITE_P(AllVfs, VfsContractTest, ::testing::Values(kPosix, kMem, kSim),
                         [](const ::testing::TestParamInfo<VfsKind>& param_info) {
                           return std::string(param_info.param.name);
                         });

}  // namespace
}  // namespace persy::vfs
