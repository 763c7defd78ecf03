#include "engine/internal/page_file.h"

#include <cassert>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"

namespace persy::internal {
namespace {

// off_t's maximum, which every Vfs enforces (vfs/io_error.h). Checked here too so that a bad
// argument is rejected before any I/O and does not make the file's failure sticky.
constexpr uint64_t kMaxOffset = uint64_t{INT64_MAX};

absl::Status CheckPageId(absl::string_view call, PageId id) {
  if (id <= kMaxPageId) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(call, " page ", id, ": past the largest page id ", kMaxPageId));
}

// Reads page `id` into `page`, zero-filling what lies past the end of the file. Returns how many
// bytes came from the file: 0 means the page is wholly past the end. Taking that from the read
// itself, rather than from a separate Size call, leaves no window in which a concurrent write
// could extend the file between the two.
absl::StatusOr<size_t> ReadPage(vfs::File& file, PageId id, PageBuf& page) {
  if (absl::Status s = CheckPageId("read", id); !s.ok()) return s;
  page.bytes.fill(0);  // ReadAt leaves bytes past the end of the file unchanged
  return file.ReadAt(id * kPageSize, kPageSize, page.data());
}

}  // namespace

PageFile::PageFile(std::unique_ptr<vfs::File> file) : file_(std::move(file)) {
  assert(file_ != nullptr);
}

absl::Status PageFile::ReadRaw(PageId id, PageBuf& page) {
  return ReadPage(*file_, id, page).status();
}

absl::Status PageFile::Read(PageId id, PageBuf& page) {
  absl::StatusOr<size_t> got = ReadPage(*file_, id, page);
  if (!got.ok()) return got.status();
  if (*got == 0) return absl::OkStatus();  // wholly past the end: a free page (page_source.h)
  return VerifyPage(id, page);
}

absl::Status PageFile::Write(PageId id, const PageBuf& page) {
  if (absl::Status s = CheckPageId("write", id); !s.ok()) return s;
  if (absl::Status s = CheckNotFailed(); !s.ok()) return s;
  return Record(file_->WriteAt(id * kPageSize, absl::string_view(page.data(), kPageSize)));
}

absl::Status PageFile::WriteAt(uint64_t offset, absl::string_view data) {
  if (offset > kMaxOffset || data.size() > kMaxOffset - offset) {
    return absl::InvalidArgumentError(absl::StrCat("write at offset ", offset, ": ",
                                                   data.size(), " bytes do not fit in off_t"));
  }
  if (absl::Status s = CheckNotFailed(); !s.ok()) return s;
  return Record(file_->WriteAt(offset, data));
}

absl::Status PageFile::Sync() {
  if (absl::Status s = CheckNotFailed(); !s.ok()) return s;
  return Record(file_->Sync());
}

absl::StatusOr<uint64_t> PageFile::PageCount() {
  absl::StatusOr<uint64_t> size = file_->Size();
  if (!size.ok()) return size.status();
  return *size / kPageSize + (*size % kPageSize != 0 ? 1 : 0);
}

absl::Status PageFile::Truncate(uint64_t pages) {
  if (pages > kMaxPageId + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncate to ", pages, " pages: past the largest page id ", kMaxPageId));
  }
  if (absl::Status s = CheckNotFailed(); !s.ok()) return s;
  return Record(file_->Truncate(pages * kPageSize));
}

absl::Status PageFile::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

absl::Status PageFile::CheckNotFailed() const { return failed(); }

absl::Status PageFile::Record(absl::Status s) {
  if (!s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (failed_.ok()) failed_ = s;
  }
  return s;
}

}  // namespace persy::internal
