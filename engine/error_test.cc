#include "engine/error.h"

#include <cerrno>

#include <gtest/gtest.h>

#include "vfs/io_error.h"

namespace persy {
namespace {

TEST(ErrorTest, MakeErrorCarriesCodeAndPersyError) {
  absl::Status s = MakeError(Error::kSegmentNotFound, "segment \"x\" not found");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorOf(s), Error::kSegmentNotFound);
  EXPECT_EQ(s.message(), "segment \"x\" not found");
}

TEST(ErrorTest, CanonicalCodes) {
  EXPECT_EQ(MakeError(Error::kVersionConflict, "").code(), absl::StatusCode::kAborted);
  EXPECT_EQ(MakeError(Error::kLockTimeout, "").code(), absl::StatusCode::kAborted);
  EXPECT_EQ(MakeError(Error::kAlreadyInUse, "").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(MakeError(Error::kDataLoss, "").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(MakeError(Error::kRecordTooBig, "").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeError(Error::kFileAlreadyExists, "").code(), absl::StatusCode::kAlreadyExists);
}

TEST(ErrorTest, UntaggedAndOkAreNone) {
  EXPECT_EQ(ErrorOf(absl::OkStatus()), Error::kNone);
  EXPECT_EQ(ErrorOf(absl::NotFoundError("x")), Error::kNone);
}

TEST(ErrorTest, IoErrorFromKeepsCode) {
  absl::Status io = IoErrorFrom(absl::ResourceExhaustedError("disk full"));
  EXPECT_EQ(io.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrorOf(io), Error::kIo);
  EXPECT_EQ(ErrorOf(IoErrorFrom(absl::DataLossError("page 3: checksum"))), Error::kDataLoss);
  // EIO has the code kDataLoss, but it is the device's error, not damage found in the file.
  absl::Status eio = IoErrorFrom(vfs::IoError(EIO, "fdatasync", "/f"));
  EXPECT_EQ(eio.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ErrorOf(eio), Error::kIo);
  // Already tagged statuses pass through.
  absl::Status tagged = MakeError(Error::kRecordNotFound, "x");
  EXPECT_EQ(ErrorOf(IoErrorFrom(tagged)), Error::kRecordNotFound);
}

TEST(ErrorTest, EveryErrorHasAName) {
  for (int e = 0; e <= static_cast<int>(Error::kLast); ++e) {
    EXPECT_NE(ErrorName(static_cast<Error>(e)), "?");
  }
}

}  // namespace
}  // namespace persy
