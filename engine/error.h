// Persy error codes: what every public call can return, and how to tell them apart.
//
// Every fallible call returns absl::Status or absl::StatusOr<T>. The canonical code says what
// kind of failure it is (kNotFound, kAborted, kDataLoss, ...); ErrorOf() says exactly which
// persy error it is, so that callers can switch on it. Each public function's comment lists the
// persy errors it can return.
//
// Thread-safety: pure functions; safe for concurrent use.

#ifndef ENGINE_ERROR_H_
#define ENGINE_ERROR_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace persy {

enum class Error {
  kNone = 0,                      // OK, or a status that did not come from persy
  kSegmentNotFound,               // kNotFound
  kSegmentAlreadyExists,          // kAlreadyExists
  kRecordNotFound,                // kNotFound
  kInvalidId,                     // kInvalidArgument: a record id of another segment, or unparsable
  kInvalidArgument,               // kInvalidArgument: a name or transaction id too long, ...
  kAlreadyInUse,                  // kFailedPrecondition: the file is open in another handle or process
  kNotPersyFile,                  // kFailedPrecondition: the file is not a persy file
  kFileAlreadyExists,             // kAlreadyExists: Create() of an existing file
  kFileNotFound,                  // kNotFound: Open() of a missing file
  kCannotDropSegmentCreatedInTx,  // kFailedPrecondition
  kVersionConflict,               // kAborted: a record changed since this transaction read or wrote it
  kLockTimeout,                   // kAborted: the commit lock was not had within Config::lock_timeout
  kRecordTooBig,                  // kInvalidArgument: more than kMaxRecordSize bytes
  kTransactionFinished,           // kFailedPrecondition: the transaction was committed or rolled back
  kDataLoss,                      // kDataLoss: damage in the file, naming the page
  kIo,                            // the file layer's code: an I/O error (EIO, ENOSPC, ...)
  kFailed,                        // kFailedPrecondition: an earlier write or sync failed; reopen
  kIndexNotFound,                 // kNotFound
  kIndexAlreadyExists,            // kAlreadyExists
  kCannotDropIndexCreatedInTx,    // kFailedPrecondition
  kIndexTypeMismatch,             // kInvalidArgument: a key or value of another type than the index's
  kIndexDuplicateKey,             // kAlreadyExists: an exclusive index's key already has another value
  kKeyTooBig,                     // kInvalidArgument: an index key over kMaxIndexKeySize bytes
  kValueTooBig,                   // kInvalidArgument: an index value over kMaxIndexValueSize bytes
  kTransactionNotFound,           // kNotFound: no transaction in doubt has this transaction id
  kLast = kTransactionNotFound,
};

// Returns a status with the canonical code for `error` and `message`, tagged with `error`.
absl::Status MakeError(Error error, absl::string_view message);

// Tags an untagged status of the engine's internals: Error::kIo (keeping its code) if the
// operating system reported it, Error::kDataLoss for damage found in the file.
absl::Status IoErrorFrom(const absl::Status& status);

// Returns the persy error of `status`: kNone for OK or untagged statuses.
Error ErrorOf(const absl::Status& status);

// The error's name, e.g. "SegmentNotFound".
std::string_view ErrorName(Error error);

}  // namespace persy

#endif  // ENGINE_ERROR_H_
