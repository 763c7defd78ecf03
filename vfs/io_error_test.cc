// Tests of the errno -> absl::Status mapping that every Vfs reports errors through.

#include "vfs/io_error.h"

#include <cerrno>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace persy::vfs {
namespace {

using ::testing::HasSubstr;

struct Mapping {
  int err;
  absl::StatusCode code;
};

TEST(IoErrorTest, MapsErrnoToCanonicalCode) {
  const Mapping kMappings[] = {
      {EIO, absl::StatusCode::kDataLoss},
      {ENOSPC, absl::StatusCode::kResourceExhausted},
      {EDQUOT, absl::StatusCode::kResourceExhausted},
      {ENOENT, absl::StatusCode::kNotFound},
      {EEXIST, absl::StatusCode::kAlreadyExists},
      {EACCES, absl::StatusCode::kPermissionDenied},
      {EPERM, absl::StatusCode::kPermissionDenied},
      {EROFS, absl::StatusCode::kPermissionDenied},
      {EINVAL, absl::StatusCode::kInvalidArgument},
      {EWOULDBLOCK, absl::StatusCode::kFailedPrecondition},
      // Anything the engine has no specific answer to is an internal error.
      {EBADF, absl::StatusCode::kInternal},
      {EMFILE, absl::StatusCode::kInternal},
      {12345, absl::StatusCode::kInternal},
  };
  for (const Mapping& m : kMappings) {
    const absl::Status s = IoError(m.err, "pwrite", "/db/file", 0);
    EXPECT_EQ(s.code(), m.code) << "errno " << m.err << ": " << s;
  }
}

TEST(IoErrorTest, MessageNamesCallPathOffsetAndErrno) {
  const absl::Status s = IoError(EIO, "pwrite", "/db/file", 4096);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("pwrite"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("/db/file"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("4096"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("EIO"));
}

TEST(IoErrorTest, MessageOmitsOffsetWhenThereIsNone) {
  const absl::Status s = IoError(ENOENT, "open", "/db/file");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("open /db/file"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("ENOENT"));
  EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr("offset")));
}

TEST(IoErrorTest, OffsetZeroIsNamed) {
  // 0 is a real offset, unlike kNoOffset.
  const absl::Status s = IoError(EIO, "pread", "f", 0);
  EXPECT_THAT(std::string(s.message()), HasSubstr("at offset 0"));
}

TEST(IoErrorTest, UnknownErrnoKeepsItsNumber) {
  const absl::Status s = IoError(12345, "fdatasync", "/db/file");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), HasSubstr("fdatasync /db/file"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("12345"));
}

}  // namespace
}  // namespace persy::vfs
