#include "vfs/posix_vfs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "vfs/io_error.h"

namespace persy::vfs {
namespace {

// The directory of `path` as vfs.h defines it, except that "/name" yields "/", not "".
std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class PosixFile final : public File {
 public:
  // Takes ownership of `fd`.
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  // Closing also releases the flock, if any. A close error is ignored: nothing written is
  // promised to be durable without a successful Sync, which reports errors itself.
  ~PosixFile() override { ::close(fd_); }

  int fd() const { return fd_; }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n, char* dst) override {
    if (absl::Status s = CheckRange("pread", path_, offset, 0); !s.ok()) return s;
    // No file extends past kMaxFileOffset, so whatever is beyond it is past the end anyway.
    if (n > kMaxFileOffset - offset) n = kMaxFileOffset - offset;
    size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd_, dst + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return IoError(errno, "pread", path_, static_cast<int64_t>(offset + done));
      }
      if (r == 0) break;  // End of file.
      done += static_cast<size_t>(r);
    }
    return done;
  }

  absl::Status WriteAt(uint64_t offset, absl::string_view data) override {
    if (absl::Status s = Poisoned(); !s.ok()) return s;
    if (absl::Status s = CheckRange("pwrite", path_, offset, data.size()); !s.ok()) return s;
    size_t done = 0;
    while (done < data.size()) {
      const int64_t at = static_cast<int64_t>(offset + done);
      const ssize_t r = ::pwrite(fd_, data.data() + done, data.size() - done, at);
      if (r < 0) {
        if (errno == EINTR) continue;
        return IoError(errno, "pwrite", path_, at);
      }
      if (r == 0) {
        // POSIX does not forbid it; looping on it would spin forever.
        return absl::InternalError(
            absl::StrCat("pwrite ", path_, " at offset ", at, ": wrote 0 bytes"));
      }
      done += static_cast<size_t>(r);
    }
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    // Syncs run one at a time. Linux reports a writeback error to only one fdatasync per open
    // file description; a Sync racing a failing one could otherwise see no error and return OK
    // for pages the kernel dropped. Serialized, the later Sync finds the poison instead.
    std::lock_guard<std::mutex> sync_lock(sync_mu_);
    if (absl::Status s = Poisoned(); !s.ok()) return s;
    // EINTR is not retried: we cannot tell whether the interrupted call already consumed a
    // writeback error, so it counts as a failure like any other.
    if (::fdatasync(fd_) != 0) {
      absl::Status s = IoError(errno, "fdatasync", path_);
      std::lock_guard<std::mutex> lock(mu_);
      if (poison_.ok()) poison_ = s;
      return poison_;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return IoError(errno, "fstat", path_);
    return static_cast<uint64_t>(st.st_size);
  }

  absl::Status Truncate(uint64_t size) override {
    if (absl::Status s = Poisoned(); !s.ok()) return s;
    if (absl::Status s = CheckRange("ftruncate", path_, size, 0); !s.ok()) return s;
    while (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      if (errno != EINTR) return IoError(errno, "ftruncate", path_, static_cast<int64_t>(size));
    }
    return absl::OkStatus();
  }

  absl::Status Lock() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (locked_) return absl::OkStatus();
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EINTR) continue;
      if (errno == EWOULDBLOCK) {
        return absl::FailedPreconditionError(
            absl::StrCat("flock ", path_, ": already in use by another File or process"));
      }
      return IoError(errno, "flock", path_);
    }
    locked_ = true;
    return absl::OkStatus();
  }

 private:
  // Returns the first failed Sync's status, or OK.
  absl::Status Poisoned() {
    std::lock_guard<std::mutex> lock(mu_);
    return poison_;
  }

  // Constant after construction
  const int fd_;
  const std::string path_;

  // Held across fdatasync; see Sync. Acquired before mu_, never after.
  std::mutex sync_mu_;

  // State below is protected by mu_
  std::mutex mu_;
  absl::Status poison_;  // GUARDED_BY(mu_); the first failed Sync's error
  bool locked_ = false;  // GUARDED_BY(mu_)
};

absl::StatusOr<std::unique_ptr<File>> OpenFd(const std::string& path, int flags) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return IoError(errno, "open", path);
  return std::unique_ptr<File>(new PosixFile(fd, path));
}

}  // namespace

absl::StatusOr<std::unique_ptr<File>> PosixVfs::Create(const std::string& path) {
  return OpenFd(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC);
}

absl::StatusOr<std::unique_ptr<File>> PosixVfs::Open(const std::string& path) {
  return OpenFd(path, O_RDWR | O_CLOEXEC);
}

absl::StatusOr<bool> PosixVfs::Exists(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return true;
  // ENOTDIR: a component of the path is not a directory, so nothing can exist under it.
  if (errno == ENOENT || errno == ENOTDIR) return false;
  return IoError(errno, "stat", path);
}

absl::Status PosixVfs::Remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return IoError(errno, "unlink", path);
  return absl::OkStatus();
}

absl::Status PosixVfs::RenameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return absl::OkStatus();
  }
  // EINVAL: the file system cannot rename without replacing. A link fails on an existing name
  // just as well; a crash before the unlink leaves both names (vfs.h allows it).
  if (errno != EINVAL && errno != ENOSYS) return IoError(errno, "renameat2", from);
  if (::link(from.c_str(), to.c_str()) != 0) return IoError(errno, "link", to);
  if (::unlink(from.c_str()) != 0) return IoError(errno, "unlink", from);
  return absl::OkStatus();
}

absl::StatusOr<bool> PosixVfs::IsFileAt(File& file, const std::string& path) {
  struct stat open_st;
  if (::fstat(static_cast<PosixFile&>(file).fd(), &open_st) != 0) {
    return IoError(errno, "fstat", path);
  }
  struct stat path_st;
  if (::stat(path.c_str(), &path_st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return IoError(errno, "stat", path);
  }
  return open_st.st_dev == path_st.st_dev && open_st.st_ino == path_st.st_ino;
}

absl::Status PosixVfs::SyncDir(const std::string& path) {
  const std::string dir = DirOf(path);
  int fd;
  do {
    fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return IoError(errno, "open", dir);
  // As in Sync, EINTR counts as a failure: a retry could report OK for a lost entry.
  absl::Status status;
  if (::fsync(fd) != 0) status = IoError(errno, "fsync", dir);
  ::close(fd);
  return status;
}

Vfs* DefaultVfs() {
  // Never destroyed, so Files may outlive static destruction at exit.
  static PosixVfs* const vfs = new PosixVfs();
  return vfs;
}

}  // namespace persy::vfs
