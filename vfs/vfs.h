// The file layer: every byte the engine reads or writes passes through a Vfs.
//
// The engine never calls pread, pwrite or fsync itself. Because all I/O takes this one narrow
// path, a test can put a simulated disk (SimVfs) underneath and lose, tear, misdirect and fail
// writes exactly as a real disk and kernel can, and replay every fault from a seed.
//
// Implementations: PosixVfs (the real thing), MemVfs (in memory, the engine's in-memory mode),
// SimVfs (in memory, with crashes and faults). All three pass vfs_contract_test.
//
// Thread-safety: Vfs and File objects are safe for concurrent use by multiple threads. Two
// concurrent writes to overlapping ranges leave each byte holding one of the written values.
//
// Errors are absl::Status with canonical codes, the same from every implementation:
//   kNotFound            the file does not exist (Open, Remove, RenameNoReplace's `from`)
//   kAlreadyExists       the file exists (Create, RenameNoReplace's `to`)
//   kFailedPrecondition  the file is locked by another File (Lock), or the File is poisoned
//                        by an earlier failed Sync (see Sync)
//   kUnavailable         the call cannot reach the disk (SimVfs only): the File was opened
//                        before a simulated crash, or the simulated disk is powered off
//   kResourceExhausted   no space left on the device (ENOSPC, EDQUOT)
//   kPermissionDenied    EACCES, EPERM, EROFS
//   kInvalidArgument     an offset or length out of range
//   kDataLoss            the device reported an I/O error (EIO): the data may be damaged
//   kInternal            any other failure of the operating system
// Messages name the call, the path and, where there is one, the offset.
//
// Durability, in one paragraph: WriteAt and Truncate change what later reads see at once, but
// nothing is durable until Sync on that file returns OK. After a crash, each write or truncate
// since the last successful Sync may be wholly present, absent, or torn at sector granularity
// (some sectors written, some not, some holding garbage), in any order; the file size may be any
// size it had since that Sync. A new file's directory entry is durable only after SyncDir; a
// removed file may reappear after a crash until SyncDir. Durable data never changes afterwards,
// except by device faults that only checksums can catch.

#ifndef VFS_VFS_H_
#define VFS_VFS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace persy::vfs {

// The unit a device writes atomically, in the absence of torn writes. SimVfs tears and
// corrupts writes at this granularity by default; the engine aligns what it must not tear.
inline constexpr size_t kDefaultSectorSize = 512;

// An open file. Closing happens in the destructor, which also releases a lock taken by Lock().
// Safe for concurrent use by multiple threads.
class File {
 public:
  File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  virtual ~File() = default;

  // Reads up to `n` bytes at `offset` into `dst[0, n)`. Returns the number of bytes read, which
  // is less than `n` only when `offset + n` is past the end of the file (0 at or past the end).
  // Bytes of `dst` past the returned count are left unchanged.
  // REQUIRES: `dst` has room for `n` bytes.
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n, char* dst) = 0;

  // Writes `data` at `offset`, extending the file if needed; a gap between the old end and
  // `offset` reads as zeros. On success every byte was written (short writes are retried); on
  // error an unknown prefix of `data` may have been written. Not durable until Sync.
  virtual absl::Status WriteAt(uint64_t offset, absl::string_view data) = 0;

  // Makes every completed WriteAt and Truncate on this file durable, together with the file
  // size (fdatasync). Does not make a new file's directory entry durable: see Vfs::SyncDir.
  //
  // If Sync fails, the writes since the last successful Sync are in an unknown state: any
  // subset of them may be durable, and retrying cannot fix it (the kernel may have dropped the
  // dirty pages while reads still return them). So the File is poisoned: every later WriteAt,
  // Truncate and Sync on it returns the first failure's error. Reads still work.
  virtual absl::Status Sync() = 0;

  // Returns the current size of the file in bytes, including unsynced changes.
  virtual absl::StatusOr<uint64_t> Size() = 0;

  // Sets the file size to `size`, cutting or zero-extending it. Not durable until Sync.
  virtual absl::Status Truncate(uint64_t size) = 0;

  // Takes an exclusive lock on the file for as long as this File lives. Fails with
  // kFailedPrecondition, message "already in use", if another File holds the lock, whether it
  // belongs to another process or to this one. Calling it twice on the same File is a no-op.
  virtual absl::Status Lock() = 0;
};

// A namespace of files. Paths are passed through unchanged; the directory of a path is the part
// before its last '/' (or "." if it has none). Safe for concurrent use by multiple threads.
class Vfs {
 public:
  Vfs() = default;
  Vfs(const Vfs&) = delete;
  Vfs& operator=(const Vfs&) = delete;
  virtual ~Vfs() = default;

  // Creates a new, empty file and opens it for reading and writing. Fails with kAlreadyExists
  // if `path` exists. The new entry is durable only after SyncDir(path).
  virtual absl::StatusOr<std::unique_ptr<File>> Create(const std::string& path) = 0;

  // Opens an existing file for reading and writing. Fails with kNotFound if it does not exist.
  virtual absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path) = 0;

  // Returns whether `path` exists.
  virtual absl::StatusOr<bool> Exists(const std::string& path) = 0;

  // Removes the file. Open Files of it keep working. Fails with kNotFound if it does not exist.
  // The removal is durable only after SyncDir(path).
  virtual absl::Status Remove(const std::string& path) = 0;

  // Renames `from` to `to`, never replacing a file: fails with kAlreadyExists if `to` exists,
  // kNotFound if `from` does not. Open Files of it keep working, and keep its lock (their
  // messages still name `from`). Both names are in the same directory. Until SyncDir, a crash
  // may undo the rename, or half of it: afterwards either name, both or neither may hold the
  // file (POSIX promises no more; the link-and-unlink fallback can leave both).
  virtual absl::Status RenameNoReplace(const std::string& from, const std::string& to) = 0;

  // Returns whether `path` now names the file `file` is open on (false if `path` does not
  // exist, or names another file). REQUIRES: `file` was returned by this Vfs.
  virtual absl::StatusOr<bool> IsFileAt(File& file, const std::string& path) = 0;

  // Makes durable every create, remove and rename so far in the directory that contains `path`.
  virtual absl::Status SyncDir(const std::string& path) = 0;
};

// Returns a Vfs over the operating system's files. The object lives for the whole process.
Vfs* DefaultVfs();

}  // namespace persy::vfs

#endif  // VFS_VFS_H_
