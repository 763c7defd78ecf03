// PageFile: page-granular I/O over the one file of a database, and the sticky-failure rule.
//
// Every engine read and write of the file goes through here: pages by id (page `id` lives at
// byte id * kPageSize, docs/format.md "Layout"), and raw byte ranges for the structures that are
// not whole pages (journal frames, header sectors).
//
// Sticky failure. Once any Write, WriteAt, Sync or Truncate has failed, the state of the file
// since the last successful Sync is unknown: a failed write may have written any prefix, and a
// failed sync may have persisted any subset of the pending writes while reads still return all
// of them (vfs.h, "fsyncgate"). Retrying cannot repair that, and carrying on would commit on top
// of pages the disk may not hold. So every later write-type call returns the first failure's
// status unchanged, without reaching the file; reads keep working, so that an error can still be
// reported and the database closed. This is the engine's one place for that rule.
// (An argument PageFile rejects before any I/O, a page id past kMaxPageId or a byte range past
// off_t, is kInvalidArgument: not a failure of the file, so it does not make it sticky.)
//
// Ownership: the PageFile owns its vfs::File.
// Thread-safety: safe for concurrent use by multiple threads (vfs::File is; the sticky status
// has its own mutex). Concurrent writes to the same page leave it holding one of the values.

#ifndef ENGINE_INTERNAL_PAGE_FILE_H_
#define ENGINE_INTERNAL_PAGE_FILE_H_

#include <cstdint>
#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/internal/page.h"
#include "vfs/vfs.h"

namespace persy::internal {

// The largest page id whose bytes fit below the largest file offset (off_t's maximum, which
// every Vfs enforces). Checked before computing id * kPageSize, which would otherwise wrap
// around and address another page.
inline constexpr PageId kMaxPageId = (uint64_t{INT64_MAX} / kPageSize) - 1;

class PageFile {
 public:
  // REQUIRES: file != nullptr.
  explicit PageFile(std::unique_ptr<vfs::File> file);

  PageFile(const PageFile&) = delete;
  PageFile& operator=(const PageFile&) = delete;

  // Reads the kPageSize bytes of page `id` into `page`, unverified. Bytes past the end of the
  // file read as zero, whether the page is wholly or partly past it.
  [[nodiscard]] absl::Status ReadRaw(PageId id, PageBuf& page);

  // Reads page `id` and verifies it (VerifyPage: kDataLoss naming the page). A page wholly past
  // the end of the file is all zeros and OK (page_source.h); a page partly past it is within
  // the file, so it must verify, and will not.
  [[nodiscard]] absl::Status Read(PageId id, PageBuf& page);

  // Writes `page` as page `id`. Not durable until Sync.
  [[nodiscard]] absl::Status Write(PageId id, const PageBuf& page);

  // Writes `data` at byte `offset`: for journal frames and header sectors. Not durable until
  // Sync.
  [[nodiscard]] absl::Status WriteAt(uint64_t offset, absl::string_view data);

  // Makes every completed write and truncate durable (vfs::File::Sync).
  [[nodiscard]] absl::Status Sync();

  // The file size in pages, rounded up (a partial last page counts).
  [[nodiscard]] absl::StatusOr<uint64_t> PageCount();

  // Sets the file size to `pages` pages. Not durable until Sync.
  [[nodiscard]] absl::Status Truncate(uint64_t pages);

  // The first failure of a write-type call, or OK.
  absl::Status failed() const;

  // The underlying file, for calls PageFile does not wrap (Lock, Size). Writing through it
  // bypasses the sticky-failure rule: don't.
  vfs::File& file() { return *file_; }

 private:
  // Returns the sticky failure, if any.
  absl::Status CheckNotFailed() const;
  // Records `s` as the sticky failure if it is the first one; returns `s`.
  absl::Status Record(absl::Status s);

  // Constant after construction.
  const std::unique_ptr<vfs::File> file_;

  mutable std::mutex mu_;
  absl::Status failed_;  // GUARDED_BY(mu_): the first failed write-type call, if any
};

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_PAGE_FILE_H_
