// Maps an errno value to the canonical absl::Status that every Vfs returns for it.
//
// PosixVfs reports real errors through this, and SimVfs reports injected ones through it too,
// so an engine test against the simulated disk sees exactly the status a real disk would give.
// Thread-safety: a pure function, safe for concurrent use.

#ifndef VFS_IO_ERROR_H_
#define VFS_IO_ERROR_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace persy::vfs {

// The offset to pass when an error has none.
inline constexpr int64_t kNoOffset = -1;

// The largest file offset any Vfs accepts: off_t's. Offsets are uint64_t in the interface but
// off_t in the kernel, where a larger one would turn negative and fail with a confusing EINVAL,
// or worse, succeed somewhere else; every implementation rejects the same ranges.
inline constexpr uint64_t kMaxFileOffset = INT64_MAX;

// Returns OK if [offset, offset + length) ends at or below kMaxFileOffset, and otherwise
// kInvalidArgument naming `call`, `path` and the range.
absl::Status CheckRange(absl::string_view call, absl::string_view path, uint64_t offset,
                        uint64_t length);

// The errno an IoError status carries, if `status` came from IoError.
std::optional<int> ErrnoOf(const absl::Status& status);

// Returns the status for `err` (an errno value) from `call` on `path`, e.g.
// "pwrite /db/file at offset 4096: Input/output error [EIO]". The codes are those listed in
// vfs.h: EIO -> kDataLoss, ENOSPC/EDQUOT -> kResourceExhausted, ENOENT -> kNotFound, and so on.
// The status carries `err` as a payload (ErrnoOf), so that callers can tell an error the
// operating system reported from damage they detected themselves.
// REQUIRES: err != 0.
absl::Status IoError(int err, absl::string_view call, absl::string_view path,
                     int64_t offset = kNoOffset);

}  // namespace persy::vfs

#endif  // VFS_IO_ERROR_H_
