// MemVfs: a Vfs whose files live in memory. It is the engine's in-memory mode: a database on a
// MemVfs behaves like one on disk, and vanishes with the MemVfs.
//
// Thread-safety: Safe for concurrent use by multiple threads, and so are its Files.
//
// It keeps the contract of vfs.h, with errors worded as PosixVfs words them, but has no crash
// model: Sync and SyncDir do nothing and return OK, because nothing is ever lost short of
// destroying the MemVfs. To test what survives a crash, use SimVfs.
//
// Restrictions/caveats:
// - There are no directories. A path is just a key: "a/b" and "a//b" are different files, and
//   SyncDir accepts any path.
// - Files may outlive the MemVfs; each keeps its own data alive.
// - Offsets and sizes are limited as in PosixVfs (they must fit in off_t, else
//   kInvalidArgument); a write or truncate that cannot get the memory fails with
//   kResourceExhausted, as a full disk would.

#ifndef VFS_MEM_VFS_H_
#define VFS_MEM_VFS_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vfs/vfs.h"

namespace persy::vfs {

class MemVfs final : public Vfs {
 public:
  MemVfs();
  ~MemVfs() override;

  absl::StatusOr<std::unique_ptr<File>> Create(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path) override;
  absl::StatusOr<bool> Exists(const std::string& path) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status RenameNoReplace(const std::string& from, const std::string& to) override;
  absl::StatusOr<bool> IsFileAt(File& file, const std::string& path) override;
  absl::Status SyncDir(const std::string& path) override;

 private:
  struct Node;     // One file's contents and lock, shared by its Files.
  class MemFile;  // A File open on a Node.

  std::mutex mu_;
  // State below is protected by mu_
  std::map<std::string, std::shared_ptr<Node>> files_;  // GUARDED_BY(mu_)
};

}  // namespace persy::vfs

#endif  // VFS_MEM_VFS_H_
