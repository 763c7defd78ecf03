// Tests of the journal (journal.h, journal_format.h) over the simulated disk.
//
// Method. Every test writes through a PageFile over a SimVfs file, with a reserve callback that
// hands out increasing page ids from 100, as the engine's allocator hands out free pages. The
// key test (JournalCrashTest) appends records, syncing after most, cuts the power at a random
// event inside an append or sync, crashes with the default harsh damage (unsynced writes kept,
// dropped or torn per 512-byte sector, in any order), and recovers: what a reader returns must be
// a prefix of what was appended that contains every record whose sync returned OK. The journal
// then continues at the reader's end with a new epoch, as the engine does after its recovery
// checkpoint, and every earlier round must still read back exactly as it was recovered.

#include "engine/internal/journal.h"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "engine/internal/journal_format.h"
#include "engine/internal/page_file.h"
#include "tools/test_seed.h"
#include "vfs/sim_vfs.h"

namespace persy::internal {

void PrintTo(const JournalPosition& p, std::ostream* os) {
  *os << "{page " << p.page << ", seq " << p.seq << ", offset " << p.offset << ", next "
      << p.next_page << "}";
}

namespace {

using vfs::IoKind;
using vfs::SimVfs;

constexpr char kPath[] = "journal.db";
constexpr PageId kHeadPage = 10;
constexpr uint64_t kEpoch = 7;

// Hands out page ids as the engine's allocator would: new ones, increasing from 100, or, once
// `rng` is set, half of the time one of `free` (pages the journal abandoned, to be reused).
struct Reserver {
  PageId next = 100;
  int calls = 0;
  std::vector<PageId> free;
  std::mt19937_64* rng = nullptr;

  PageId Take() {
    ++calls;
    if (rng != nullptr && !free.empty() && (*rng)() % 2 == 0) {
      const size_t i = (*rng)() % free.size();
      const PageId page = free[i];
      free.erase(free.begin() + static_cast<std::ptrdiff_t>(i));
      return page;
    }
    return next++;
  }
  JournalWriter::ReservePage Fn() {
    return [this]() -> absl::StatusOr<PageId> { return Take(); };
  }
};

// A simulated disk holding one file with a fresh, synced journal at kHeadPage.
struct Disk {
  explicit Disk(uint64_t seed) : sim(seed) {
    absl::StatusOr<std::unique_ptr<vfs::File>> f = sim.Create(kPath);
    EXPECT_TRUE(f.ok()) << f.status();
    file = std::make_unique<PageFile>(std::move(*f));
    absl::StatusOr<JournalPosition> h = StartJournal(*file, kHeadPage, reserve.Take(), /*seq=*/1, kEpoch);
    EXPECT_TRUE(h.ok()) << h.status();
    head = *h;
    EXPECT_TRUE(file->Sync().ok());
    EXPECT_TRUE(sim.SyncDir(kPath).ok());  // or a crash may undo the file's creation
  }

  void CrashAndReopen() {
    sim.Crash();
    file.reset();
    absl::StatusOr<std::unique_ptr<vfs::File>> f = sim.Open(kPath);
    ASSERT_TRUE(f.ok()) << f.status();
    file = std::make_unique<PageFile>(std::move(*f));
  }

  SimVfs sim;
  Reserver reserve;
  std::unique_ptr<PageFile> file;
  JournalPosition head;
};

struct ReadResult {
  std::vector<std::string> payloads;
  JournalPosition end;
  std::vector<PageId> pages;
};

// Reads every record from `head`, checking that lsns are consecutive from `first_lsn`.
absl::StatusOr<ReadResult> ReadAll(PageFile& file, JournalPosition head, uint64_t first_lsn,
                                   uint64_t epoch) {
  JournalReader reader(&file, head, first_lsn, epoch);
  ReadResult out;
  for (;;) {
    absl::StatusOr<std::optional<JournalRecord>> r = reader.Next();
    if (!r.ok()) return r.status();
    if (!r->has_value()) break;
    if ((*r)->lsn != first_lsn + out.payloads.size()) {
      return absl::InternalError(absl::StrCat("lsn ", (*r)->lsn, " at record ",
                                              out.payloads.size()));
    }
    out.payloads.push_back(std::move((*r)->payload));
  }
  // The end is sticky.
  absl::StatusOr<std::optional<JournalRecord>> again = reader.Next();
  if (!again.ok() || again->has_value()) return absl::InternalError("Next() after the end");
  out.end = reader.end();
  out.pages = reader.pages();
  return out;
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Sizes from 0 to 3 pages, with the small ones (most commits) more frequent.
std::string RandomPayload(std::mt19937_64& rng) {
  const uint64_t kind = rng() % 10;
  size_t n = 0;
  if (kind == 0) {
    n = 0;
  } else if (kind < 5) {
    n = 1 + rng() % 600;
  } else if (kind < 8) {
    n = 600 + rng() % 3500;
  } else {
    n = rng() % (3 * kPageSize + 1);
  }
  return RandomBytes(rng, n);
}

// Compares without printing megabytes on failure.
void ExpectSamePayloads(const std::vector<std::string>& got,
                        const std::vector<std::string>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i] == want[i]) << "record " << i << ": " << got[i].size() << " bytes, want "
                                   << want[i].size();
  }
}

TEST(JournalFormatTest, PageHeaderRoundTripAndEveryFlippedBitIsCaught) {
  char buf[kJournalPageHeaderSize];
  EncodeJournalPageHeader(JournalPageHeader{12, 34, 56, 78}, buf);
  std::optional<JournalPageHeader> h = DecodeJournalPageHeader(buf);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->page, 12u);
  EXPECT_EQ(h->seq, 34u);
  EXPECT_EQ(h->next, 56u);
  EXPECT_EQ(h->epoch, 78u);
  EXPECT_EQ(std::memcmp(buf, "PJNL", 4), 0);
  for (size_t bit = 0; bit < kJournalPageHeaderSize * 8; ++bit) {
    char copy[kJournalPageHeaderSize];
    std::memcpy(copy, buf, sizeof(copy));
    copy[bit / 8] = static_cast<char>(copy[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_FALSE(DecodeJournalPageHeader(copy).has_value()) << "bit " << bit;
  }
  char zeros[kJournalPageHeaderSize] = {};
  EXPECT_FALSE(DecodeJournalPageHeader(zeros).has_value());
}

TEST(JournalFormatTest, FrameRoundTripAndDamage) {
  const std::string payload = "a frame's payload, checksummed with its page's id and seq";
  std::vector<char> buf(FrameSpan(payload.size()));
  ASSERT_EQ(buf.size(), kJournalSectorSize);
  FrameHeader h;
  h.payload_length = static_cast<uint32_t>(payload.size());
  h.lsn = 5;
  h.epoch = 9;
  h.index = 3;
  h.last = true;
  EncodeFrame(h, 20, 4, payload, buf.data());
  EXPECT_EQ(std::memcmp(buf.data(), "PJFR", 4), 0);
  for (size_t i = kFrameHeaderSize + payload.size(); i < buf.size(); ++i) {
    ASSERT_EQ(buf[i], 0) << "padding byte " << i;
  }

  std::optional<FrameHeader> d = DecodeFrame(buf.data(), buf.size(), 20, 4);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->payload_length, payload.size());
  EXPECT_EQ(d->lsn, 5u);
  EXPECT_EQ(d->epoch, 9u);
  EXPECT_EQ(d->index, 3u);
  EXPECT_TRUE(d->last);
  EXPECT_EQ(std::string(buf.data() + kFrameHeaderSize, payload.size()), payload);

  // The same bytes in another page, or in another incarnation of the page, are not a frame.
  EXPECT_FALSE(DecodeFrame(buf.data(), buf.size(), 21, 4).has_value());
  EXPECT_FALSE(DecodeFrame(buf.data(), buf.size(), 20, 5).has_value());
  // Every bit of header and payload is covered.
  for (size_t bit = 0; bit < (kFrameHeaderSize + payload.size()) * 8; ++bit) {
    std::vector<char> copy = buf;
    copy[bit / 8] = static_cast<char>(copy[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_FALSE(DecodeFrame(copy.data(), copy.size(), 20, 4).has_value()) << "bit " << bit;
  }
  // A payload that does not fit in the bytes left in the page is rejected before it is read
  // (under ASan, reading past `exact` would be reported).
  std::vector<char> exact(buf.begin(), buf.begin() + kFrameHeaderSize + payload.size() - 1);
  EXPECT_FALSE(DecodeFrame(exact.data(), exact.size(), 20, 4).has_value());
  std::vector<char> huge = buf;
  PutU32(huge.data() + 4, 0xffffffffu);
  EXPECT_FALSE(DecodeFrame(huge.data(), huge.size(), 20, 4).has_value());
  EXPECT_FALSE(DecodeFrame(buf.data(), kFrameHeaderSize - 1, 20, 4).has_value());
}

TEST(JournalFormatTest, Placement) {
  EXPECT_EQ(kMaxFramePayload, 3544u);
  EXPECT_EQ(FrameSpan(0), 512u);
  EXPECT_EQ(FrameSpan(472), 512u);
  EXPECT_EQ(FrameSpan(473), 1024u);
  EXPECT_TRUE(FrameFitsAt(kPageSize - kJournalSectorSize));
  EXPECT_FALSE(FrameFitsAt(kPageSize));
  EXPECT_EQ(FrameRoomAt(kPageSize - kJournalSectorSize), 472u);
}

TEST(JournalTest, EmptyJournal) {
  Disk disk(1);
  EXPECT_EQ(disk.head, (JournalPosition{kHeadPage, 1, kFirstFrameOffset, 100}));
  absl::StatusOr<ReadResult> r = ReadAll(*disk.file, disk.head, 1, kEpoch);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->payloads.empty());
  EXPECT_EQ(r->end, disk.head);
  EXPECT_EQ(r->pages, (std::vector<PageId>{kHeadPage, 100}));
}

TEST(JournalTest, RoundTripOfRandomSizes) {
  const uint64_t seed = persy::testing::TestSeed();
  std::mt19937_64 rng(seed);
  Disk disk(seed);
  JournalWriter writer(disk.file.get(), disk.head, 1, kEpoch);
  std::vector<std::string> written;
  for (int i = 0; i < 300; ++i) {
    written.push_back(RandomPayload(rng));
    absl::StatusOr<uint64_t> lsn = writer.Append(written.back(), disk.reserve.Fn());
    ASSERT_TRUE(lsn.ok()) << lsn.status();
    EXPECT_EQ(*lsn, static_cast<uint64_t>(i + 1));
  }
  EXPECT_EQ(writer.next_lsn(), 301u);
  absl::StatusOr<ReadResult> r = ReadAll(*disk.file, disk.head, 1, kEpoch);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectSamePayloads(r->payloads, written);
  EXPECT_EQ(r->end, writer.position());
  EXPECT_EQ(r->pages, writer.pages());

  // Once synced, all of it survives a crash.
  ASSERT_TRUE(disk.file->Sync().ok());
  disk.CrashAndReopen();
  r = ReadAll(*disk.file, disk.head, 1, kEpoch);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectSamePayloads(r->payloads, written);
  EXPECT_EQ(r->end, writer.position());
}

// Sizes around every boundary (a frame filling one sector, a page, several pages), at shifted
// starting offsets, and the extremes: empty records and a 1 MiB one.
TEST(JournalTest, BoundarySizesEmptyAndHugeRecords) {
  Disk disk(2);
  JournalWriter writer(disk.file.get(), disk.head, 1, kEpoch);
  std::vector<std::string> written;
  std::mt19937_64 rng(2);
  const std::vector<size_t> sizes = {0,    1,    471,  472,  473,     983,     984,     985,
                                     3031, 3032, 3033, 3543, 3544,    3545,    2 * 3544,
                                     7089, 4096, 8192, 0,    0,       1 << 20, 3 * 3544 + 1};
  for (size_t shift : {size_t{0}, size_t{1}, size_t{500}, size_t{2000}, size_t{3500}}) {
    for (size_t n : sizes) {
      for (size_t len : {shift, n}) {
        written.push_back(RandomBytes(rng, len));
        ASSERT_TRUE(writer.Append(written.back(), disk.reserve.Fn()).ok());
      }
    }
  }
  absl::StatusOr<ReadResult> r = ReadAll(*disk.file, disk.head, 1, kEpoch);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectSamePayloads(r->payloads, written);
  EXPECT_EQ(r->end, writer.position());
}

// A writer continuing at a reader's end, wherever it falls (mid-page, one sector before the end
// of a page, or a full page), extends the journal seamlessly; a reader may also start there.
TEST(JournalTest, WriterContinuesAtReaderEnd) {
  std::mt19937_64 rng(3);
  enum Filler { kNone, kSmall, kToPageEnd, kToLastSector, kPastNextPageEnd };
  for (Filler filler : {kNone, kSmall, kToPageEnd, kToLastSector, kPastNextPageEnd}) {
    SCOPED_TRACE(filler);
    Disk disk(4);
    std::vector<std::string> written;
    JournalPosition filled;
    {
      JournalWriter writer(disk.file.get(), disk.head, 1, kEpoch);
      for (int i = 0; i < 5; ++i) {
        written.push_back(RandomPayload(rng));
        ASSERT_TRUE(writer.Append(written.back(), disk.reserve.Fn()).ok());
      }
      const uint32_t at = writer.position().offset;
      const size_t room = FrameFitsAt(at) ? FrameRoomAt(at) : 0;
      size_t n = 0;
      switch (filler) {
        case kNone: break;
        case kSmall: n = 100; break;
        case kToPageEnd: n = room; break;
        case kToLastSector: n = room > kJournalSectorSize ? room - kJournalSectorSize : 0; break;
        case kPastNextPageEnd: n = room + kMaxFramePayload; break;
      }
      if (filler != kNone) {
        written.push_back(RandomBytes(rng, n));
        ASSERT_TRUE(writer.Append(written.back(), disk.reserve.Fn()).ok());
      }
      filled = writer.position();
    }
    if (filler == kToPageEnd || filler == kPastNextPageEnd) {
      EXPECT_EQ(filled.offset, kPageSize);
    }
    absl::StatusOr<ReadResult> first = ReadAll(*disk.file, disk.head, 1, kEpoch);
    ASSERT_TRUE(first.ok()) << first.status();
    ExpectSamePayloads(first->payloads, written);
    EXPECT_EQ(first->end, filled);

    const size_t old_count = written.size();
    JournalWriter writer(disk.file.get(), first->end, 1 + old_count, kEpoch);
    for (int i = 0; i < 5; ++i) {
      written.push_back(RandomPayload(rng));
      ASSERT_TRUE(writer.Append(written.back(), disk.reserve.Fn()).ok());
    }
    absl::StatusOr<ReadResult> all = ReadAll(*disk.file, disk.head, 1, kEpoch);
    ASSERT_TRUE(all.ok()) << all.status();
    ExpectSamePayloads(all->payloads, written);
    EXPECT_EQ(all->end, writer.position());
    // A head at the old end (as a checkpoint would record it) reads the new records only.
    absl::StatusOr<ReadResult> tail = ReadAll(*disk.file, first->end, 1 + old_count, kEpoch);
    ASSERT_TRUE(tail.ok()) << tail.status();
    ExpectSamePayloads(tail->payloads,
                       std::vector<std::string>(written.begin() + old_count, written.end()));
    EXPECT_EQ(tail->end, writer.position());
  }
}

// Each page entered names a successor reserved right then; headers are written once, no sector
// is ever written twice, and pages() tracks what the engine must keep reserved.
TEST(JournalTest, PagesChainThroughReservedSuccessors) {
  Disk disk(5);
  JournalWriter writer(disk.file.get(), disk.head, 1, kEpoch);
  EXPECT_EQ(writer.pages(), (std::vector<PageId>{kHeadPage, 100}));
  std::mt19937_64 rng(5);
  ASSERT_TRUE(writer.Append(RandomBytes(rng, 100), disk.reserve.Fn()).ok());
  EXPECT_EQ(disk.reserve.calls, 1);  // StartJournal's successor only: still in the head page
  ASSERT_TRUE(writer.Append(RandomBytes(rng, 4 * kMaxFramePayload), disk.reserve.Fn()).ok());
  ASSERT_TRUE(writer.Append(RandomBytes(rng, 10), disk.reserve.Fn()).ok());
  // The head page had room for part of the big record; it entered 100, 101, 102 and 103.
  EXPECT_EQ(disk.reserve.calls, 5);
  EXPECT_EQ(writer.pages(), (std::vector<PageId>{kHeadPage, 100, 101, 102, 103, 104}));
  EXPECT_EQ(writer.position().page, 103u);
  EXPECT_EQ(writer.position().seq, 5u);
  EXPECT_EQ(writer.position().next_page, 104u);

  PageId page = kHeadPage;
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    PageBuf buf;
    ASSERT_TRUE(disk.file->ReadRaw(page, buf).ok());
    std::optional<JournalPageHeader> h = DecodeJournalPageHeader(buf.data());
    ASSERT_TRUE(h.has_value()) << "page " << page;
    EXPECT_EQ(h->page, page);
    EXPECT_EQ(h->seq, seq);
    page = h->next;
  }
  EXPECT_EQ(page, 104u);

  // Never rewrite a sector: a torn rewrite could destroy a committed frame or header.
  std::map<uint64_t, int> writes_per_sector;
  for (const vfs::IoEvent& e : disk.sim.events()) {
    if (e.kind != IoKind::kWrite) continue;
    ASSERT_EQ(e.offset % kJournalSectorSize, 0u);
    for (uint64_t s = e.offset / kJournalSectorSize; s * kJournalSectorSize < e.offset + e.length;
         ++s) {
      ++writes_per_sector[s];
    }
  }
  for (const auto& [sector, count] : writes_per_sector) {
    EXPECT_EQ(count, 1) << "sector " << sector;
  }

  absl::StatusOr<ReadResult> r = ReadAll(*disk.file, disk.head, 1, kEpoch);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->pages, writer.pages());

  // A checkpoint moved the head to the current page: the pages before it are free.
  writer.ForgetPagesBefore(writer.position().seq);
  EXPECT_EQ(writer.pages(), (std::vector<PageId>{103, 104}));
}

TEST(JournalTest, ReaderWithAnotherEpochSeesNothing) {
  Disk disk(6);
  JournalWriter writer(disk.file.get(), disk.head, 1, kEpoch);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(writer.Append("record", disk.reserve.Fn()).ok());
  for (uint64_t epoch : {kEpoch - 1, kEpoch + 1}) {
    absl::StatusOr<ReadResult> r = ReadAll(*disk.file, disk.head, 1, epoch);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->payloads.empty());
    EXPECT_EQ(r->end, disk.head);
  }
  // And another first lsn sees nothing either.
  absl::StatusOr<ReadResult> r = ReadAll(*disk.file, disk.head, 2, kEpoch);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->payloads.empty());
}

// Whatever sits where the next frame would go is the end unless it is exactly the next frame:
// a well-formed frame of an older epoch (a commit that crashed before its sync), of another
// lsn or index, or checksummed for another page, and plain garbage.
TEST(JournalTest, StaleAndGarbageFramesPastTheEndAreIgnored) {
  struct Case {
    const char* name;
    uint64_t epoch;
    uint64_t lsn_delta;
    uint32_t index;
    PageId page_delta;
    bool garbage;
  };
  const Case cases[] = {
      {"older epoch", kEpoch - 1, 0, 0, 0, false}, {"newer epoch", kEpoch + 1, 0, 0, 0, false},
      {"next lsn", kEpoch, 1, 0, 0, false},        {"older lsn", kEpoch, ~uint64_t{0}, 0, 0, false},
      {"index 1", kEpoch, 0, 1, 0, false},         {"other page", kEpoch, 0, 0, 1, false},
      {"garbage", kEpoch, 0, 0, 0, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Disk disk(7);
    JournalWriter writer(disk.file.get(), disk.head, 1, kEpoch);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(writer.Append("committed", disk.reserve.Fn()).ok());
    const JournalPosition end = writer.position();

    std::string sector(kJournalSectorSize, '\0');
    if (c.garbage) {
      std::mt19937_64 rng(7);
      sector = RandomBytes(rng, kJournalSectorSize);
      std::memcpy(sector.data(), "PJFR", 4);
    } else {
      FrameHeader h;
      h.payload_length = 5;
      h.lsn = writer.next_lsn() + c.lsn_delta;
      h.epoch = c.epoch;
      h.index = c.index;
      h.last = true;
      EncodeFrame(h, end.page + c.page_delta, end.seq, "stale", sector.data());
    }
    ASSERT_TRUE(disk.file->WriteAt(end.page * kPageSize + end.offset, sector).ok());

    absl::StatusOr<ReadResult> r = ReadAll(*disk.file, disk.head, 1, kEpoch);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->payloads.size(), 3u);
    EXPECT_EQ(r->end, end);
  }
}

// At the end of a page the reader follows `next` only to a header of exactly that id and the
// next sequence number: a header left by an earlier use of the page is not followed.
// (seq_delta 1 is the control: the hand-made page is then the real successor.)
TEST(JournalTest, StaleSuccessorHeaderIsTheEnd) {
  for (uint64_t seq_delta : {uint64_t{0}, uint64_t{2}, uint64_t{1}}) {
    SCOPED_TRACE(seq_delta);
    Disk disk(8);
    JournalWriter writer(disk.file.get(), disk.head, 1, kEpoch);
    std::mt19937_64 rng(8);
    // Exactly fills the head page: the next frame goes to page 100.
    ASSERT_TRUE(writer.Append(RandomBytes(rng, kMaxFramePayload), disk.reserve.Fn()).ok());
    const JournalPosition end = writer.position();
    ASSERT_EQ(end.offset, kPageSize);
    ASSERT_EQ(end.next_page, 100u);
    // A complete page 100 of another sequence number, with a frame that is right for it.
    std::string page(kFirstFrameOffset + kJournalSectorSize, '\0');
    EncodeJournalPageHeader(JournalPageHeader{100, end.seq + seq_delta, 999, static_cast<uint32_t>(kEpoch)}, page.data());
    FrameHeader h;
    h.lsn = 2;
    h.epoch = kEpoch;
    h.last = true;
    EncodeFrame(h, 100, end.seq + seq_delta, "", page.data() + kFirstFrameOffset);
    ASSERT_TRUE(disk.file->WriteAt(100 * kPageSize, page).ok());

    absl::StatusOr<ReadResult> r = ReadAll(*disk.file, disk.head, 1, kEpoch);
    ASSERT_TRUE(r.ok()) << r.status();
    if (seq_delta == 1) {
      EXPECT_EQ(r->payloads.size(), 2u);
      EXPECT_EQ(r->end, (JournalPosition{100, 2, kFirstFrameOffset + kJournalSectorSize, 999}));
      EXPECT_EQ(r->pages, (std::vector<PageId>{kHeadPage, 100, 999}));
      continue;
    }
    EXPECT_EQ(r->payloads.size(), 1u);
    EXPECT_EQ(r->end, end);
    EXPECT_EQ(r->pages, (std::vector<PageId>{kHeadPage, 100}));
  }
}

// A record whose last frame (or the header of a page it entered) never reached the disk is
// dropped whole; the end is its first frame, where the next writer overwrites it.
TEST(JournalTest, PartialRecordIsDroppedAndOverwritten) {
  for (bool lose_header : {false, true}) {
    SCOPED_TRACE(lose_header ? "successor header lost" : "last frame lost");
    Disk disk(9);
    std::mt19937_64 rng(9);
    std::vector<std::string> written;
    JournalWriter writer(disk.file.get(), disk.head, 1, kEpoch);
    for (int i = 0; i < 2; ++i) {
      written.push_back(RandomBytes(rng, 1000));
      ASSERT_TRUE(writer.Append(written.back(), disk.reserve.Fn()).ok());
    }
    const JournalPosition start = writer.position();
    // Three frames: the rest of the head page, page 100, and 200 bytes in page 101.
    ASSERT_TRUE(writer
                    .Append(RandomBytes(rng, FrameRoomAt(start.offset) + kMaxFramePayload + 200),
                            disk.reserve.Fn())
                    .ok());
    ASSERT_EQ(writer.position().page, 101u);
    const uint64_t lost = 101 * kPageSize + (lose_header ? 0 : kFirstFrameOffset);
    ASSERT_TRUE(disk.file->WriteAt(lost, std::string(kJournalSectorSize, '\0')).ok());

    absl::StatusOr<ReadResult> r = ReadAll(*disk.file, disk.head, 1, kEpoch);
    ASSERT_TRUE(r.ok()) << r.status();
    ExpectSamePayloads(r->payloads, written);
    EXPECT_EQ(r->end, start);
    EXPECT_EQ(r->pages, (std::vector<PageId>{kHeadPage, 100}));

    // The engine continues at the end in a new epoch (after its recovery checkpoint).
    JournalWriter next(disk.file.get(), r->end, 3, kEpoch + 1);
    const std::string replacement = RandomBytes(rng, 2 * kMaxFramePayload);
    ASSERT_TRUE(next.Append(replacement, disk.reserve.Fn()).ok());
    absl::StatusOr<ReadResult> after = ReadAll(*disk.file, r->end, 3, kEpoch + 1);
    ASSERT_TRUE(after.ok()) << after.status();
    ExpectSamePayloads(after->payloads, {replacement});
    EXPECT_EQ(after->end, next.position());
    // The records before it are untouched.
    absl::StatusOr<ReadResult> before = ReadAll(*disk.file, disk.head, 1, kEpoch);
    ASSERT_TRUE(before.ok()) << before.status();
    ExpectSamePayloads(before->payloads, written);
  }
}

TEST(JournalTest, DamagedHeadIsDataLossAndBadHeadIsInvalid) {
  Disk disk(10);
  {
    JournalPosition bad = disk.head;
    bad.offset = 100;
    JournalReader reader(disk.file.get(), bad, 1, kEpoch);
    EXPECT_EQ(reader.Next().status().code(), absl::StatusCode::kInvalidArgument);
  }
  {
    JournalPosition other = disk.head;
    other.seq = 2;
    JournalReader reader(disk.file.get(), other, 1, kEpoch);
    EXPECT_EQ(reader.Next().status().code(), absl::StatusCode::kDataLoss);
  }
  ASSERT_TRUE(disk.file->WriteAt(kHeadPage * kPageSize + 3, "x").ok());
  JournalReader reader(disk.file.get(), disk.head, 1, kEpoch);
  absl::StatusOr<std::optional<JournalRecord>> r = reader.Next();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("page 10"), absl::string_view::npos) << r.status();
}

// Random damage anywhere in the journal's pages never crashes the reader nor makes it fail:
// it returns a prefix of the records (those before the damage), nothing else.
TEST(JournalTest, GarbageNeverCrashesTheReader) {
  const uint64_t seed = persy::testing::TestSeed();
  std::mt19937_64 rng(seed);
  for (int iteration = 0; iteration < 60; ++iteration) {
    SCOPED_TRACE(iteration);
    Disk disk(rng());
    JournalWriter writer(disk.file.get(), disk.head, 1, kEpoch);
    std::vector<std::string> written;
    for (int i = 0; i < 12; ++i) {
      written.push_back(RandomPayload(rng));
      ASSERT_TRUE(writer.Append(written.back(), disk.reserve.Fn()).ok());
    }
    const std::vector<PageId> pages = writer.pages();
    const int damages = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < damages; ++i) {
      const PageId page = pages[rng() % pages.size()];
      const uint64_t sector = rng() % (kPageSize / kJournalSectorSize);
      std::string bytes;
      switch (rng() % 4) {
        case 0:  // one flipped byte
          bytes = std::string(1, static_cast<char>(1 + rng() % 255));
          break;
        case 1:  // a garbage sector
          bytes = RandomBytes(rng, kJournalSectorSize);
          break;
        case 2: {  // a frame header with the magic and a huge length
          bytes = RandomBytes(rng, kFrameHeaderSize);
          std::memcpy(bytes.data(), "PJFR", 4);
          PutU32(bytes.data() + 4, static_cast<uint32_t>(rng()));
          break;
        }
        default: {  // a page header pointing anywhere
          bytes = std::string(kJournalPageHeaderSize, '\0');
          EncodeJournalPageHeader(JournalPageHeader{page, rng() % 8, rng(), static_cast<uint32_t>(kEpoch)}, bytes.data());
          break;
        }
      }
      uint64_t at = page * kPageSize + sector * kJournalSectorSize;
      if (bytes.size() == 1) at += rng() % kJournalSectorSize;
      ASSERT_TRUE(disk.file->WriteAt(at, bytes).ok());
    }
    absl::StatusOr<ReadResult> r = ReadAll(*disk.file, disk.head, 1, kEpoch);
    if (!r.ok()) {
      // Only damage to the head page's own header may fail the read.
      EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
      continue;
    }
    ASSERT_LE(r->payloads.size(), written.size());
    ExpectSamePayloads(r->payloads,
                       std::vector<std::string>(written.begin(),
                                                written.begin() + r->payloads.size()));
  }
}

// SQLite's method: fail the Nth write of an append, for N = 1, 2, ... until it succeeds.
TEST(JournalTest, WriteFaultMidAppendLeavesTheWriterUnchanged) {
  std::mt19937_64 rng(11);
  for (uint64_t nth = 1;; ++nth) {
    SCOPED_TRACE(nth);
    Disk disk(11 + nth);
    JournalWriter writer(disk.file.get(), disk.head, 1, kEpoch);
    std::vector<std::string> written;
    for (int i = 0; i < 3; ++i) {
      written.push_back(RandomBytes(rng, 700));
      ASSERT_TRUE(writer.Append(written.back(), disk.reserve.Fn()).ok());
    }
    ASSERT_TRUE(disk.file->Sync().ok());
    const JournalPosition position = writer.position();
    const uint64_t next_lsn = writer.next_lsn();
    const std::vector<PageId> pages = writer.pages();

    disk.sim.InjectFault(IoKind::kWrite, nth, EIO, /*persistent=*/false);
    const std::string big = RandomBytes(rng, 4 * kMaxFramePayload);
    absl::StatusOr<uint64_t> r = writer.Append(big, disk.reserve.Fn());
    if (r.ok()) {
      EXPECT_EQ(nth, 6u);  // 5 writes: the rest of the head page and 4 new pages
      break;
    }
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
    EXPECT_EQ(writer.position(), position);
    EXPECT_EQ(writer.next_lsn(), next_lsn);
    EXPECT_EQ(writer.pages(), pages);
    // The PageFile's failure is sticky: nothing more is written.
    EXPECT_FALSE(writer.Append("after", disk.reserve.Fn()).ok());
    EXPECT_EQ(writer.position(), position);

    // Only the synced records are certain; the failed one may have been written whole (a
    // failed write may write any prefix) but never partly.
    disk.CrashAndReopen();
    absl::StatusOr<ReadResult> read = ReadAll(*disk.file, disk.head, 1, kEpoch);
    ASSERT_TRUE(read.ok()) << read.status();
    if (read->payloads.size() == 4) written.push_back(big);
    ExpectSamePayloads(read->payloads, written);
  }
}

TEST(JournalTest, ReserveFailureWritesNothing) {
  Disk disk(12);
  JournalWriter writer(disk.file.get(), disk.head, 1, kEpoch);
  ASSERT_TRUE(writer.Append("first", disk.reserve.Fn()).ok());
  const JournalPosition position = writer.position();
  const std::vector<PageId> pages = writer.pages();
  const uint64_t writes = disk.sim.count(IoKind::kWrite);
  int calls = 0;
  auto failing = [&calls]() -> absl::StatusOr<PageId> {
    if (++calls == 2) return absl::ResourceExhaustedError("no space for the journal");
    return PageId{500} + calls;
  };
  absl::StatusOr<uint64_t> r = writer.Append(std::string(3 * kPageSize, 'x'), failing);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(disk.sim.count(IoKind::kWrite), writes);
  EXPECT_EQ(writer.position(), position);
  EXPECT_EQ(writer.pages(), pages);
  EXPECT_EQ(writer.next_lsn(), 2u);
  // Nothing went wrong with the file: the writer carries on.
  ASSERT_TRUE(writer.Append("second", disk.reserve.Fn()).ok());
  absl::StatusOr<ReadResult> read = ReadAll(*disk.file, disk.head, 1, kEpoch);
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSamePayloads(read->payloads, {"first", "second"});
}

// The journal between one recovery and the next crash.
struct Segment {
  JournalPosition head;
  uint64_t first_lsn = 0;
  uint64_t epoch = 0;
  std::vector<std::string> records;  // as recovered
  JournalPosition end;
};

TEST(JournalCrashTest, EveryCommittedRecordSurvivesEveryCrash) {
  const uint64_t seed = persy::testing::TestSeed();
  std::mt19937_64 rng(seed);
  constexpr int kDisks = 100;
  constexpr int kRounds = 12;
  int recovered_unsynced = 0;  // how often a record not known durable survived anyway
  for (int d = 0; d < kDisks; ++d) {
    Disk disk(rng());
    disk.reserve.rng = &rng;
    std::vector<Segment> history;
    std::set<PageId> in_use;  // the pages of every segment in `history`
    JournalPosition tail = disk.head;
    uint64_t lsn = 1;
    uint64_t epoch = kEpoch;
    for (int round = 0; round < kRounds; ++round) {
      SCOPED_TRACE(absl::StrCat("seed ", seed, " disk ", d, " round ", round));
      JournalWriter writer(disk.file.get(), tail, lsn, epoch);
      std::vector<std::string> appended;  // every record Append was called for, in order
      size_t committed = 0;               // how many of them a sync made durable
      const uint64_t ops = 1 + rng() % 12;
      const uint64_t power_off_op = rng() % (ops + 1);  // == ops: crash with unsynced writes
      for (uint64_t op = 0; op < ops; ++op) {
        if (op == power_off_op) disk.sim.PowerOffAfter(1 + rng() % 6);
        appended.push_back(RandomPayload(rng));
        if (!writer.Append(appended.back(), disk.reserve.Fn()).ok()) break;
        if (rng() % 4 == 0) continue;  // not synced now: committed by a later sync, if any
        if (!disk.file->Sync().ok()) break;
        committed = appended.size();
      }
      disk.CrashAndReopen();

      // Every earlier round reads back exactly as it was recovered, and ends where it did:
      // writing after it, tearing and crashing again damaged none of it.
      for (const Segment& s : history) {
        absl::StatusOr<ReadResult> r = ReadAll(*disk.file, s.head, s.first_lsn, s.epoch);
        ASSERT_TRUE(r.ok()) << r.status();
        ExpectSamePayloads(r->payloads, s.records);
        EXPECT_EQ(r->end, s.end);
      }

      // This round: a prefix of what was appended, containing every committed record, whole.
      absl::StatusOr<ReadResult> r = ReadAll(*disk.file, tail, lsn, epoch);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_GE(r->payloads.size(), committed);
      ASSERT_LE(r->payloads.size(), appended.size());
      ExpectSamePayloads(r->payloads, std::vector<std::string>(
                                          appended.begin(),
                                          appended.begin() + r->payloads.size()));
      recovered_unsynced += static_cast<int>(r->payloads.size() - committed);
      ASSERT_FALSE(r->pages.empty());
      EXPECT_EQ(r->pages.front(), tail.page);
      EXPECT_EQ(r->pages.back(), r->end.next_page);

      history.push_back(Segment{tail, lsn, epoch, r->payloads, r->end});
      // Pages entered past the end by the lost records are free again, and the allocator may
      // hand them out as journal pages once more: their stale headers and frames must not
      // validate in their new place in the chain. (The engine would free the pages before the
      // head too; this test keeps them, to read every earlier round again.)
      in_use.insert(r->pages.begin(), r->pages.end());
      disk.reserve.free.clear();
      for (PageId p = 100; p < disk.reserve.next; ++p) {
        if (in_use.count(p) == 0) disk.reserve.free.push_back(p);
      }
      // The engine's recovery checkpoint moves the head to the end and increments the header
      // counter: frames written from now on carry a new epoch.
      tail = r->end;
      lsn += r->payloads.size();
      ++epoch;
    }
  }
  // The harsh damage keeps some unsynced writes, so the "may appear" side was exercised too.
  EXPECT_GT(recovered_unsynced, 0);
}

}  // namespace
}  // namespace persy::internal
