#include "vfs/io_error.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace persy::vfs {
namespace {

constexpr char kErrnoPayload[] = "persy.dev/errno";

absl::StatusCode CodeFor(int err) {
  switch (err) {
    case EIO:
      // The device could not read or write: what is on it may be damaged.
      return absl::StatusCode::kDataLoss;
    case ENOSPC:
    case EDQUOT:
      return absl::StatusCode::kResourceExhausted;
    case ENOENT:
      return absl::StatusCode::kNotFound;
    case EEXIST:
      return absl::StatusCode::kAlreadyExists;
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::StatusCode::kPermissionDenied;
    case EINVAL:
    case EFBIG:
    case ENAMETOOLONG:
      return absl::StatusCode::kInvalidArgument;
    case EWOULDBLOCK:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

const char* ErrnoName(int err) {
  switch (err) {
    case EIO: return "EIO";
    case ENOSPC: return "ENOSPC";
    case EDQUOT: return "EDQUOT";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EROFS: return "EROFS";
    case EINVAL: return "EINVAL";
    case EFBIG: return "EFBIG";
    case EWOULDBLOCK: return "EWOULDBLOCK";
    default: return "errno";
  }
}

}  // namespace

absl::Status CheckRange(absl::string_view call, absl::string_view path, uint64_t offset,
                        uint64_t length) {
  if (offset <= kMaxFileOffset && length <= kMaxFileOffset - offset) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(call, " ", path, " at offset ", offset,
                                                 ": offset + length ", length,
                                                 " does not fit in off_t"));
}

absl::Status IoError(int err, absl::string_view call, absl::string_view path, int64_t offset) {
  std::string where = offset == kNoOffset ? std::string(path)
                                          : absl::StrCat(path, " at offset ", offset);
  absl::Status status(CodeFor(err), absl::StrCat(call, " ", where, ": ", std::strerror(err),
                                                 " [", ErrnoName(err), " ", err, "]"));
  status.SetPayload(kErrnoPayload, absl::Cord(std::to_string(err)));
  return status;
}

std::optional<int> ErrnoOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kErrnoPayload);
  int err = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &err)) return std::nullopt;
  return err;
}

}  // namespace persy::vfs
