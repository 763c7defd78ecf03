// PosixVfs: the Vfs over the operating system's files, as described in vfs.h.
//
// Thread-safety: Safe for concurrent use by multiple threads, and so are its Files.
//
// How the contract maps onto POSIX:
//   ReadAt / WriteAt  pread / pwrite, retried on EINTR and after short transfers
//   Sync              fdatasync; on failure the File is poisoned (see File::Sync)
//   Size / Truncate   fstat / ftruncate
//   Create / Open     open(O_CREAT|O_EXCL|O_RDWR|O_CLOEXEC, 0644) / open(O_RDWR|O_CLOEXEC)
//   Remove            unlink
//   SyncDir           fsync of the directory opened with O_RDONLY|O_DIRECTORY
//   Lock              flock(LOCK_EX|LOCK_NB)
//
// Restrictions/caveats:
// - Lock uses flock, which belongs to the open file description, not to the process: a second
//   File on the same path conflicts even in the same process, which is what the contract asks
//   for. A child created by fork() shares the parent's descriptors and so keeps the lock held
//   until it exits or execs (descriptors are O_CLOEXEC). flock on NFS is emulated with fcntl
//   locks by Linux and does not conflict within one process there.
// - For "/name" the directory SyncDir syncs is "/" (the part before the last '/' is empty).
// - Offsets and sizes must fit in off_t; larger ones fail with kInvalidArgument.

#ifndef VFS_POSIX_VFS_H_
#define VFS_POSIX_VFS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vfs/vfs.h"

namespace persy::vfs {

class PosixVfs final : public Vfs {
 public:
  PosixVfs() = default;
  ~PosixVfs() override = default;

  absl::StatusOr<std::unique_ptr<File>> Create(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path) override;
  absl::StatusOr<bool> Exists(const std::string& path) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status RenameNoReplace(const std::string& from, const std::string& to) override;
  absl::StatusOr<bool> IsFileAt(File& file, const std::string& path) override;
  absl::Status SyncDir(const std::string& path) override;
};

}  // namespace persy::vfs

#endif  // VFS_POSIX_VFS_H_
