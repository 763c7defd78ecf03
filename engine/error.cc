#include "engine/error.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "vfs/io_error.h"

namespace persy {
namespace {

// The payload that carries the persy error through absl::Status.
constexpr char kPayloadUrl[] = "persy.dev/error";

absl::StatusCode CodeFor(Error error) {
  switch (error) {
    case Error::kNone: return absl::StatusCode::kOk;
    case Error::kSegmentNotFound:
    case Error::kRecordNotFound:
    case Error::kFileNotFound:
    case Error::kIndexNotFound:
    case Error::kTransactionNotFound:
      return absl::StatusCode::kNotFound;
    case Error::kSegmentAlreadyExists:
    case Error::kFileAlreadyExists:
    case Error::kIndexAlreadyExists:
    case Error::kIndexDuplicateKey:
      return absl::StatusCode::kAlreadyExists;
    case Error::kInvalidId:
    case Error::kInvalidArgument:
    case Error::kRecordTooBig:
    case Error::kIndexTypeMismatch:
    case Error::kKeyTooBig:
    case Error::kValueTooBig:
      return absl::StatusCode::kInvalidArgument;
    case Error::kAlreadyInUse:
    case Error::kNotPersyFile:
    case Error::kCannotDropSegmentCreatedInTx:
    case Error::kCannotDropIndexCreatedInTx:
    case Error::kTransactionFinished:
    case Error::kFailed:
      return absl::StatusCode::kFailedPrecondition;
    case Error::kVersionConflict:
    case Error::kLockTimeout:
      return absl::StatusCode::kAborted;
    case Error::kDataLoss:
      return absl::StatusCode::kDataLoss;
    case Error::kIo:
      return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kUnknown;
}

absl::Status Tag(absl::Status status, Error error) {
  status.SetPayload(kPayloadUrl, absl::Cord(std::to_string(static_cast<int>(error))));
  return status;
}

}  // namespace

absl::Status MakeError(Error error, absl::string_view message) {
  return Tag(absl::Status(CodeFor(error), message), error);
}

absl::Status IoErrorFrom(const absl::Status& status) {
  if (status.ok() || ErrorOf(status) != Error::kNone) return status;
  // An error the operating system reported (even EIO, whose code is kDataLoss) is Io; a
  // kDataLoss without an errno is damage the engine found itself (a checksum, a bad page).
  const bool damage = status.code() == absl::StatusCode::kDataLoss &&
                      !vfs::ErrnoOf(status).has_value();
  return Tag(status, damage ? Error::kDataLoss : Error::kIo);
}

Error ErrorOf(const absl::Status& status) {
  if (status.ok()) return Error::kNone;
  absl::optional<absl::Cord> payload = status.GetPayload(kPayloadUrl);
  int value = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &value) || value < 0 ||
      value > static_cast<int>(Error::kLast)) {
    return Error::kNone;
  }
  return static_cast<Error>(value);
}

std::string_view ErrorName(Error error) {
  switch (error) {
    case Error::kNone: return "None";
    case Error::kSegmentNotFound: return "SegmentNotFound";
    case Error::kSegmentAlreadyExists: return "SegmentAlreadyExists";
    case Error::kRecordNotFound: return "RecordNotFound";
    case Error::kInvalidId: return "InvalidId";
    case Error::kInvalidArgument: return "InvalidArgument";
    case Error::kAlreadyInUse: return "AlreadyInUse";
    case Error::kNotPersyFile: return "NotPersyFile";
    case Error::kFileAlreadyExists: return "FileAlreadyExists";
    case Error::kFileNotFound: return "FileNotFound";
    case Error::kCannotDropSegmentCreatedInTx: return "CannotDropSegmentCreatedInTx";
    case Error::kVersionConflict: return "VersionConflict";
    case Error::kLockTimeout: return "LockTimeout";
    case Error::kRecordTooBig: return "RecordTooBig";
    case Error::kTransactionFinished: return "TransactionFinished";
    case Error::kDataLoss: return "DataLoss";
    case Error::kIo: return "Io";
    case Error::kFailed: return "Failed";
    case Error::kIndexNotFound: return "IndexNotFound";
    case Error::kIndexAlreadyExists: return "IndexAlreadyExists";
    case Error::kCannotDropIndexCreatedInTx: return "CannotDropIndexCreatedInTx";
    case Error::kIndexTypeMismatch: return "IndexTypeMismatch";
    case Error::kIndexDuplicateKey: return "IndexDuplicateKey";
    case Error::kKeyTooBig: return "KeyTooBig";
    case Error::kValueTooBig: return "ValueTooBig";
    case Error::kTransactionNotFound: return "TransactionNotFound";
  }
  return "?";
}

}  // namespace persy
