// Tests of what only PosixVfs has: locks between processes, real directories, real devices
// and DefaultVfs. The behaviour all Vfses share is in vfs_contract_test.cc.

#include "vfs/posix_vfs.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/status_test_util.h"
#include "vfs/vfs.h"

namespace persy::vfs {
namespace {

using ::testing::HasSubstr;

// What a child process reports about its Lock() attempt, as its exit code.
enum ChildResult : int {
  kLocked = 0,
  kAlreadyInUse = 1,  // kFailedPrecondition with "already in use"
  kOtherError = 2,
  kOpenFailed = 3,
};

// Opens `path` with a fresh PosixVfs and tries to lock it. Runs in a forked child, so it reports
// through the exit code and leaves with _exit: gtest's state and atexit handlers are the
// parent's.
[[noreturn]] void TryLockAndExit(const std::string& path) {
  PosixVfs vfs;
  absl::StatusOr<std::unique_ptr<File>> f = vfs.Open(path);
  if (!f.ok()) _exit(kOpenFailed);
  const absl::Status s = (*f)->Lock();
  if (s.ok()) _exit(kLocked);
  if (s.code() == absl::StatusCode::kFailedPrecondition &&
      s.message().find("already in use") != absl::string_view::npos) {
    _exit(kAlreadyInUse);
  }
  _exit(kOtherError);
}

// Forks a child that runs TryLockAndExit(path) and returns its result, or -1.
int LockInChild(const std::string& path) {
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) TryLockAndExit(path);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

class PosixVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = ::testing::TempDir() + "posix_vfs_XXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = std::move(dir);
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
  PosixVfs vfs_;
};

TEST_F(PosixVfsTest, LockConflictsWithAnotherProcess) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs_.Create(Path("lock")));
  ASSERT_OK(f->Lock());
  EXPECT_EQ(LockInChild(Path("lock")), kAlreadyInUse);
  // The parent still holds it.
  ASSERT_OK(f->Lock());
  EXPECT_EQ(LockInChild(Path("lock")), kAlreadyInUse);
}

TEST_F(PosixVfsTest, AnotherProcessCanLockAfterTheFileIsDestroyed) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs_.Create(Path("lock")));
  ASSERT_OK(f->Lock());
  ASSERT_EQ(LockInChild(Path("lock")), kAlreadyInUse);
  f.reset();
  EXPECT_EQ(LockInChild(Path("lock")), kLocked);
}

TEST_F(PosixVfsTest, LockHeldByAnotherProcessIsReleasedWhenItDies) {
  // A crashed engine must not leave its database locked: the kernel drops the lock with the
  // process, with no destructor run.
  { ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs_.Create(Path("lock"))); }
  int locked[2];  // child -> parent: "I hold the lock"
  int release[2];  // parent -> child: "die now"
  ASSERT_EQ(pipe(locked), 0);
  ASSERT_EQ(pipe(release), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Only the parent may hold the write end of `release`, or the child never sees EOF.
    close(locked[0]);
    close(release[1]);
    PosixVfs vfs;
    absl::StatusOr<std::unique_ptr<File>> f = vfs.Open(Path("lock"));
    if (!f.ok() || !(*f)->Lock().ok()) _exit(1);
    char c = 'L';
    if (write(locked[1], &c, 1) != 1) _exit(2);
    (void)!read(release[0], &c, 1);  // Returns on a byte or when the parent closes the pipe.
    _exit(0);  // Without destroying the File.
  }
  close(locked[1]);
  close(release[0]);
  char c = 0;
  ASSERT_EQ(read(locked[0], &c, 1), 1) << "child could not take the lock";

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs_.Open(Path("lock")));
  const absl::Status s = f->Lock();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("already in use"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(Path("lock")));

  close(release[1]);  // The child exits.
  close(locked[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_OK(f->Lock());
}

TEST_F(PosixVfsTest, SyncDirOfARelativePathWithoutSlashUsesTheCurrentDirectory) {
  char old_cwd[4096];
  ASSERT_NE(getcwd(old_cwd, sizeof(old_cwd)), nullptr);
  ASSERT_EQ(chdir(dir_.c_str()), 0);
  absl::StatusOr<std::unique_ptr<File>> f = vfs_.Create("relative");
  const absl::Status synced = vfs_.SyncDir("relative");
  const bool in_dir = std::filesystem::exists(Path("relative"));
  ASSERT_EQ(chdir(old_cwd), 0);  // Before any assertion can return early.
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(synced.ok()) << synced;
  EXPECT_TRUE(in_dir);
}

TEST_F(PosixVfsTest, SyncDirSyncsTheDirectoryPart) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs_.Create(Path("a")));
  ASSERT_OK(vfs_.SyncDir(Path("a")));
  // Only the directory has to exist.
  ASSERT_OK(vfs_.SyncDir(Path("not-created-yet")));
  ASSERT_OK(vfs_.SyncDir("/at-the-root"));  // The directory is "/".

  const absl::Status s = vfs_.SyncDir(Path("missing-dir/a"));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(Path("missing-dir")));
}

TEST_F(PosixVfsTest, WritesReachTheRealFile) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs_.Create(Path("real")));
  ASSERT_OK(f->WriteAt(0, "hello"));
  ASSERT_OK(f->WriteAt(10, "world"));
  ASSERT_OK(f->Sync());
  std::ifstream in(Path("real"), std::ios::binary);
  const std::string contents((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  EXPECT_EQ(contents, std::string("hello\0\0\0\0\0world", 15));

  // Created with mode 0644, less the umask.
  const mode_t mask = umask(0);
  umask(mask);
  struct stat st;
  ASSERT_EQ(stat(Path("real").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644 & ~mask);
}

TEST_F(PosixVfsTest, ErrorsNameTheCallThePathAndTheErrno) {
  absl::StatusOr<std::unique_ptr<File>> f = vfs_.Open(Path("missing"));
  EXPECT_EQ(f.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("open " + Path("missing")));
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("ENOENT"));
}

TEST_F(PosixVfsTest, ReadAtAnOffsetBeyondOffTIsInvalidArgument) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> f, vfs_.Create(Path("a")));
  char dst[4];
  const uint64_t offset = uint64_t{std::numeric_limits<int64_t>::max()} + 1;
  absl::StatusOr<size_t> got = f->ReadAt(offset, sizeof(dst), dst);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << got.status();
  // The largest offset that fits is merely past the end.
  ASSERT_OK_AND_ASSIGN(size_t n, f->ReadAt(offset - 1, sizeof(dst), dst));
  EXPECT_EQ(n, 0u);
}

// /dev/full fails every write with ENOSPC, which is how a full disk reaches us.
TEST_F(PosixVfsTest, FullDeviceIsResourceExhausted) {
  absl::StatusOr<std::unique_ptr<File>> f = vfs_.Open("/dev/full");
  if (!f.ok()) GTEST_SKIP() << "no /dev/full here: " << f.status();
  const absl::Status s = (*f)->WriteAt(4096, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("pwrite /dev/full at offset 4096"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("ENOSPC"));
}

// /dev/null accepts writes but cannot be fsynced (EINVAL): a real Sync failure, to check that
// it poisons the File.
TEST_F(PosixVfsTest, FailedSyncPoisonsTheFile) {
  absl::StatusOr<std::unique_ptr<File>> opened = vfs_.Open("/dev/null");
  if (!opened.ok()) GTEST_SKIP() << "no /dev/null here: " << opened.status();
  File& f = **opened;
  ASSERT_OK(f.WriteAt(0, "accepted"));
  const absl::Status failed = f.Sync();
  if (failed.ok()) GTEST_SKIP() << "fdatasync of /dev/null succeeds here";
  EXPECT_THAT(std::string(failed.message()), HasSubstr("fdatasync /dev/null"));

  // Every later change and Sync reports the first failure, though a write would now succeed.
  EXPECT_EQ(f.WriteAt(0, "refused"), failed);
  EXPECT_EQ(f.Truncate(0), failed);
  EXPECT_EQ(f.Sync(), failed);
  // Reads still work.
  char dst[4];
  absl::StatusOr<size_t> got = f.ReadAt(0, sizeof(dst), dst);
  EXPECT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(f.Size().ok());
  // The poison belongs to that File, not to the path.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<File> other, vfs_.Open("/dev/null"));
  ASSERT_OK(other->WriteAt(0, "accepted"));
}

TEST(DefaultVfsTest, IsOnePosixVfsForTheProcess) {
  Vfs* vfs = DefaultVfs();
  ASSERT_NE(vfs, nullptr);
  EXPECT_EQ(vfs, DefaultVfs());
  EXPECT_NE(dynamic_cast<PosixVfs*>(vfs), nullptr);
}

}  // namespace
}  // namespace persy::vfs
