// The journal: records appended as checksummed frames to a chain of journal pages in the
// database file, and read back after a crash (docs/format.md, "Journal", "Commit", "Recovery").
//
// A record is an opaque byte string with a sequence number (lsn); the engine's commit record is
// one. JournalWriter appends records and never syncs: the engine syncs once per commit, and a
// record is durable when that sync returns OK. JournalReader walks the chain from a head and
// returns the complete records, in order, stopping at the first frame that is missing, torn,
// stale or of another incarnation: that is the end of the journal, not an error.
//
// What the writer guarantees, so that a crash at any point leaves every synced record intact:
//   - A frame starts at a fresh sector after the previous one and is never rewritten, so the
//     torn write of a later frame cannot damage a committed one.
//   - A journal page's header sector is written once, together with its first frame, and names
//     its successor, reserved up front; it is never updated once the page holds frames, so a
//     torn header write cannot cut the chain in front of committed frames. (A page entered only
//     by records a crash lost holds no committed frame: the writer continuing at the reader's
//     end enters it again and writes its header anew, possibly naming another successor.)
//   - Each frame carries lsn, epoch and frame index and checksums them with its page's id and
//     sequence number, so a stale frame (from a commit that crashed before its sync, or from an
//     earlier use of the page) never validates where the reader looks, as long as the engine
//     moves to a new epoch (set_epoch) before writing after a recovery.
//
// Positions. A JournalPosition names the page holding the next frame, its sequence number, the
// offset of the next frame and the page's reserved successor. An offset at which no sector is
// left (kPageSize) means the page is full: the next frame goes at kFirstFrameOffset of
// `next_page`, after that page's header.
//
// Thread-safety: JournalWriter and JournalReader are only accessed by one thread at a time (the
// engine holds its commit lock around the writer; recovery is single-threaded). StartJournal is
// as safe as PageFile::WriteAt.
// Lifetime: the PageFile passed to a writer or reader must outlive it.

#ifndef ENGINE_INTERNAL_JOURNAL_H_
#define ENGINE_INTERNAL_JOURNAL_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/internal/journal_format.h"
#include "engine/internal/page.h"
#include "engine/internal/page_file.h"

namespace persy::internal {

struct JournalPosition {
  PageId page = kNoPage;       // the journal page holding the next frame
  uint64_t seq = 0;            // its sequence number
  uint32_t offset = 0;         // where the next frame goes (multiple of 512, in [512, 4096])
  PageId next_page = kNoPage;  // the successor already reserved in `page`'s header

  bool operator==(const JournalPosition&) const = default;
};

// Starts a brand-new journal in `page` (at file creation and at every checkpoint): writes its
// header sector (sequence `seq`, next = `next_page`, `epoch`: that of the frames to come) and
// no frames. Returns the position of the first frame. Does not sync.
// Thread-safety: like PageFile::WriteAt.
[[nodiscard]] absl::StatusOr<JournalPosition> StartJournal(PageFile& file, PageId page,
                                                           PageId next_page, uint64_t seq,
                                                           uint64_t epoch);

// Appends records at the tail of the journal.
// Only accessed by one thread at a time (the engine holds its commit lock).
class JournalWriter {
 public:
  // Hands out the successor of each journal page the writer enters (its header names it).
  using ReservePage = std::function<absl::StatusOr<PageId>()>;

  // Continues the journal at `tail` (from StartJournal, JournalReader::end() or a checkpoint's
  // head); the next record gets `next_lsn` and its frames carry `epoch`.
  // REQUIRES: tail.offset is a multiple of kJournalSectorSize in [kFirstFrameOffset, kPageSize];
  // tail.next_page is the successor named in tail.page's header.
  JournalWriter(PageFile* file, JournalPosition tail, uint64_t next_lsn, uint64_t epoch);

  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Appends one record: splits `payload` into frames, writes them, and the header sector of
  // each new journal page it enters, whose successor comes from reserve_page(); returns the
  // record's lsn. Does NOT sync. Every reserve_page() call happens before the first write, so
  // a failure to reserve writes nothing.
  // On error nothing about the writer changes (position, next lsn, pages); pages handed out by
  // reserve_page() during the failed call are not recorded. After a write error the PageFile
  // refuses every later write (sticky failure), so the engine stops writing anyway.
  [[nodiscard]] absl::StatusOr<uint64_t> Append(absl::string_view payload,
                                                const ReservePage& reserve_page);

  const JournalPosition& position() const { return position_; }
  uint64_t next_lsn() const { return next_lsn_; }
  uint64_t epoch() const { return epoch_; }

  // After a checkpoint, frames carry the new file-header counter.
  void set_epoch(uint64_t epoch) { epoch_ = epoch; }

  // The journal pages the writer is responsible for, by increasing sequence number: the tail
  // page given at construction, every page entered since, and the reserved successor of the
  // current page; less those dropped by ForgetPagesBefore. The engine keeps them reserved.
  std::vector<PageId> pages() const;

  // Drops the pages with a sequence number below `seq`: a checkpoint moved the head to the page
  // with sequence number `seq`, so the earlier ones are free. REQUIRES: seq <= position().seq.
  void ForgetPagesBefore(uint64_t seq);

 private:
  // Constant after construction.
  PageFile* const file_;

  JournalPosition position_;
  uint64_t next_lsn_;
  uint64_t epoch_;
  std::vector<std::pair<uint64_t, PageId>> pages_;  // (seq, page) entered, by increasing seq
};

struct JournalRecord {
  uint64_t lsn = 0;
  std::string payload;
};

// Reads the records of a journal from its head.
// Only accessed by one thread at a time.
class JournalReader {
 public:
  // Reads from `head` (the file header's journal head: page, sequence number, offset; its
  // next_page is ignored and taken from the page's header). The first record must have
  // `first_lsn` and every frame must carry `epoch`.
  JournalReader(PageFile* file, JournalPosition head, uint64_t first_lsn, uint64_t epoch);

  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  // Returns the next complete record, or std::nullopt at the end of the journal: the first frame
  // that is missing, invalid, or of another lsn, epoch or index, or a next page whose header is
  // invalid or names another id or sequence number. Damage past the end is the end, not an
  // error. Errors: what reading the file returns; kInvalidArgument if the head offset is not a
  // frame position; kDataLoss if the head page's own header is invalid or of another sequence
  // number (the checkpoint that recorded the head synced it, so that is damage to synced data,
  // not a crash artifact). After an error the reader's position is unchanged.
  [[nodiscard]] absl::StatusOr<std::optional<JournalRecord>> Next();

  // Valid after Next() returned nullopt: where a writer continues, i.e. the position right
  // after the last complete record. A record whose last frame is missing is discarded and the
  // writer overwrites it from its first frame (those frames were never synced: a record is
  // committed only when all its frames are).
  JournalPosition end() const { return position_; }

  // The journal pages from the head page to end().page, and end().next_page: every page the
  // writer continuing at end() depends on, which the engine must keep reserved. (A page the
  // reader looked into past end() but that holds no complete record is not included unless it
  // is end().next_page; the writer rewrites its header with a fresh successor when it enters it.)
  std::vector<PageId> pages() const;

 private:
  // Reads page `id` into buf_ unless it is there already.
  absl::Status Load(PageId id);
  // Marks the end of the journal reached; returns nullopt for Next() to return.
  std::optional<JournalRecord> End();

  // Constant after construction.
  PageFile* const file_;
  const uint64_t epoch_;

  bool started_ = false;  // the head page's header has been read and checked
  bool done_ = false;     // Next() returned nullopt
  JournalPosition position_;
  uint64_t next_lsn_;
  std::vector<PageId> pages_;  // from the head page to position_.page
  PageBuf buf_;
  PageId buf_page_ = kNoPage;  // the page whose bytes buf_ holds
};

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_JOURNAL_H_
