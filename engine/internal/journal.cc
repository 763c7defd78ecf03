#include "engine/internal/journal.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace persy::internal {
namespace {

uint64_t ByteOffset(PageId page, uint32_t offset) { return page * kPageSize + offset; }

bool IsFramePosition(uint32_t offset) {
  return offset % kJournalSectorSize == 0 && offset >= kFirstFrameOffset && offset <= kPageSize;
}

}  // namespace

absl::StatusOr<JournalPosition> StartJournal(PageFile& file, PageId page, PageId next_page,
                                             uint64_t seq, uint64_t epoch) {
  if (page > kMaxPageId || next_page > kMaxPageId || page == next_page) {
    return absl::InvalidArgumentError(
        absl::StrCat("start journal: bad pages ", page, " -> ", next_page));
  }
  // The whole header sector, zero-padded, so that a page that held something else before leaves
  // no old bytes in the sector the header claims.
  std::string sector(kJournalSectorSize, '\0');
  EncodeJournalPageHeader(
      JournalPageHeader{page, seq, next_page, static_cast<uint32_t>(epoch)}, sector.data());
  if (absl::Status s = file.WriteAt(ByteOffset(page, 0), sector); !s.ok()) return s;
  return JournalPosition{page, seq, kFirstFrameOffset, next_page};
}

JournalWriter::JournalWriter(PageFile* file, JournalPosition tail, uint64_t next_lsn,
                             uint64_t epoch)
    : file_(file), position_(tail), next_lsn_(next_lsn), epoch_(epoch) {
  pages_.emplace_back(tail.seq, tail.page);
}

absl::StatusOr<uint64_t> JournalWriter::Append(absl::string_view payload,
                                               const ReservePage& reserve_page) {
  if (!IsFramePosition(position_.offset) || position_.page > kMaxPageId) {
    return absl::FailedPreconditionError(absl::StrCat(
        "journal append: bad position page ", position_.page, " offset ", position_.offset));
  }
  // One write per journal page the record touches: its frame in that page, preceded by the
  // page's header sector when the record enters the page.
  struct Write {
    JournalPosition at;  // the frame's page, sequence number, offset and the page's successor
    bool enters_page;
    size_t begin;   // the frame's slice of `payload`
    size_t length;
  };

  // Plan every frame, and reserve every successor, before writing anything: a failure to
  // reserve then leaves the disk untouched. Were it to fail after some frames were written, a
  // retry would write frames of the same lsn, epoch and index again, with possibly different
  // payload, and a crash could leave a record stitched together from both attempts.
  std::vector<Write> plan;
  JournalPosition pos = position_;
  size_t done = 0;
  do {
    bool enters_page = false;
    if (!FrameFitsAt(pos.offset)) {
      if (pos.next_page > kMaxPageId) {
        return absl::FailedPreconditionError(
            absl::StrCat("journal append: page ", pos.page, " has no successor"));
      }
      absl::StatusOr<PageId> next = reserve_page();
      if (!next.ok()) return next.status();
      if (*next > kMaxPageId || *next == pos.next_page) {
        return absl::InternalError(absl::StrCat("journal append: reserved bad page ", *next));
      }
      pos = JournalPosition{pos.next_page, pos.seq + 1, kFirstFrameOffset, *next};
      enters_page = true;
    }
    // A non-last frame fills its page, so the next one starts the next page.
    const size_t length = std::min(FrameRoomAt(pos.offset), payload.size() - done);
    plan.push_back(Write{pos, enters_page, done, length});
    done += length;
    // Frames start at a fresh sector after the previous one: rewriting a sector that holds a
    // committed frame could tear it and destroy a record whose sync already returned.
    pos.offset += static_cast<uint32_t>(FrameSpan(length));
  } while (done < payload.size());

  const uint64_t lsn = next_lsn_;
  std::string buf;
  for (size_t i = 0; i < plan.size(); ++i) {
    const Write& w = plan[i];
    // The header sector is written exactly once, with the page's first frame, and already
    // names the successor. Updating it later (to link a successor lazily) would rewrite a
    // sector the page's committed frames depend on; a torn rewrite would cut the chain there.
    const size_t header_bytes = w.enters_page ? kFirstFrameOffset : 0;
    buf.assign(header_bytes + FrameSpan(w.length), '\0');
    if (w.enters_page) {
      EncodeJournalPageHeader(JournalPageHeader{w.at.page, w.at.seq, w.at.next_page,
                                                static_cast<uint32_t>(epoch_)},
                              buf.data());
    }
    FrameHeader h;
    h.payload_length = static_cast<uint32_t>(w.length);
    h.lsn = lsn;
    h.epoch = epoch_;
    h.index = static_cast<uint32_t>(i);
    h.last = i + 1 == plan.size();
    EncodeFrame(h, w.at.page, w.at.seq, payload.substr(w.begin, w.length),
                buf.data() + header_bytes);
    const uint64_t at = ByteOffset(w.at.page, w.enters_page ? 0 : w.at.offset);
    if (absl::Status s = file_->WriteAt(at, buf); !s.ok()) return s;
  }

  for (const Write& w : plan) {
    if (w.enters_page) pages_.emplace_back(w.at.seq, w.at.page);
  }
  position_ = pos;
  ++next_lsn_;
  return lsn;
}

std::vector<PageId> JournalWriter::pages() const {
  std::vector<PageId> out;
  out.reserve(pages_.size() + 1);
  for (const auto& [seq, page] : pages_) out.push_back(page);
  if (position_.next_page != kNoPage) out.push_back(position_.next_page);
  return out;
}

void JournalWriter::ForgetPagesBefore(uint64_t seq) {
  pages_.erase(std::remove_if(pages_.begin(), pages_.end(),
                              [seq](const auto& entry) { return entry.first < seq; }),
               pages_.end());
}

JournalReader::JournalReader(PageFile* file, JournalPosition head, uint64_t first_lsn,
                             uint64_t epoch)
    : file_(file), epoch_(epoch), position_(head), next_lsn_(first_lsn) {
  position_.next_page = kNoPage;
}

absl::Status JournalReader::Load(PageId id) {
  if (buf_page_ == id) return absl::OkStatus();
  buf_page_ = kNoPage;  // buf_ is undefined if the read fails
  if (absl::Status s = file_->ReadRaw(id, buf_); !s.ok()) return s;
  buf_page_ = id;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<JournalRecord>> JournalReader::Next() {
  if (done_) return std::nullopt;
  if (!started_) {
    if (!IsFramePosition(position_.offset) || position_.page > kMaxPageId) {
      return absl::InvalidArgumentError(absl::StrCat("journal head page ", position_.page,
                                                     " offset ", position_.offset,
                                                     " is not a frame position"));
    }
    if (absl::Status s = Load(position_.page); !s.ok()) return s;
    const std::optional<JournalPageHeader> h = DecodeJournalPageHeader(buf_.data());
    if (!h.has_value() || h->page != position_.page || h->seq != position_.seq) {
      return absl::DataLossError(absl::StrCat("journal head page ", position_.page,
                                              ": header is not that of sequence number ",
                                              position_.seq));
    }
    position_.next_page = h->next;
    pages_.assign(1, position_.page);
    started_ = true;
  }

  // Work on a copy: the record counts only once its last frame is found, and an I/O error
  // leaves the reader where it was.
  JournalPosition pos = position_;
  std::vector<PageId> entered;
  std::string payload;
  for (uint32_t index = 0;; ++index) {
    if (FrameFitsAt(pos.offset)) {
      if (absl::Status s = Load(pos.page); !s.ok()) return s;
    } else {
      // The frame is at the start of the successor, whose header must be exactly the one this
      // page reserved: a stale header left by an earlier use of the page has another sequence
      // number, a torn one fails its checksum.
      if (pos.next_page > kMaxPageId) return End();
      if (absl::Status s = Load(pos.next_page); !s.ok()) return s;
      const std::optional<JournalPageHeader> h = DecodeJournalPageHeader(buf_.data());
      if (!h.has_value() || h->page != pos.next_page || h->seq != pos.seq + 1 ||
          h->epoch != static_cast<uint32_t>(epoch_)) {
        return End();
      }
      pos = JournalPosition{h->page, h->seq, kFirstFrameOffset, h->next};
      entered.push_back(pos.page);
    }
    // DecodeFrame bounds the length by the room left in the page, so garbage never makes this
    // read past the page or grow `payload` beyond what valid frames carry.
    const char* frame = buf_.data() + pos.offset;
    const std::optional<FrameHeader> f =
        DecodeFrame(frame, kPageSize - pos.offset, pos.page, pos.seq);
    // A frame of another lsn, epoch or index is stale (an earlier crashed commit, an earlier
    // incarnation of the journal) or from the future of another record: the end either way.
    if (!f.has_value() || f->lsn != next_lsn_ || f->epoch != epoch_ || f->index != index) {
      return End();
    }
    payload.append(frame + kFrameHeaderSize, f->payload_length);
    pos.offset += static_cast<uint32_t>(FrameSpan(f->payload_length));
    if (f->last) break;
  }
  position_ = pos;
  pages_.insert(pages_.end(), entered.begin(), entered.end());
  return JournalRecord{next_lsn_++, std::move(payload)};
}

std::optional<JournalRecord> JournalReader::End() {
  done_ = true;
  return std::nullopt;
}

std::vector<PageId> JournalReader::pages() const {
  std::vector<PageId> out = pages_;
  if (started_ && position_.next_page != kNoPage) out.push_back(position_.next_page);
  return out;
}

}  // namespace persy::internal
