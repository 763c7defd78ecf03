// The journal's bytes on disk: page header sector and frame codec (docs/format.md, "Journal").
//
// A journal page is not a sealed page (page.h): its first 512-byte sector holds this header,
//
//   [0, 4)    magic "PJNL"
//   [4, 8)    zero
//   [8, 16)   page id
//   [16, 24)  sequence number (the previous journal page's + 1)
//   [24, 32)  next journal page, reserved when this page is started
//   [32, 40)  XXH3-64 of bytes [0, 32)
//
// and frames follow, each starting at a 512-byte boundary and padded with zeros to the next one:
//
//   [0, 4)    magic "PJFR"
//   [4, 8)    payload length
//   [8, 16)   lsn of the record
//   [16, 24)  epoch: the file-header counter in force when the frame was written
//   [24, 28)  frame index within the record
//   [28, 29)  flags: bit 0 = last frame of the record; the other bits are zero
//   [29, 32)  zero
//   [32, 40)  XXH3-64 of bytes [0, 32), the journal page's id and sequence number (u64 each),
//             and the payload
//   [40, ...) payload
//
// A frame goes at the current offset if at least one sector is left in the page, otherwise at
// offset 512 of the next page. All integers are little-endian.
//
// Thread-safety: constants and pure functions over caller-owned buffers.

#ifndef ENGINE_INTERNAL_JOURNAL_FORMAT_H_
#define ENGINE_INTERNAL_JOURNAL_FORMAT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "absl/strings/string_view.h"
#include "engine/internal/page.h"

namespace persy::internal {

// The unit a device writes atomically unless it tears (vfs::kDefaultSectorSize). Frames never
// share a sector, so that writing one never rewrites a sector holding another.
inline constexpr uint32_t kJournalSectorSize = 512;
inline constexpr size_t kJournalPageHeaderSize = 40;
inline constexpr size_t kFrameHeaderSize = 40;
// Where the first frame of a page goes: right after the header sector.
inline constexpr uint32_t kFirstFrameOffset = kJournalSectorSize;
// The largest payload one frame can carry (a frame at kFirstFrameOffset filling the page).
inline constexpr size_t kMaxFramePayload = kPageSize - kFirstFrameOffset - kFrameHeaderSize;

inline constexpr char kJournalPageMagic[4] = {'P', 'J', 'N', 'L'};
inline constexpr char kFrameMagic[4] = {'P', 'J', 'F', 'R'};
inline constexpr uint8_t kFrameFlagLast = 1;

// Whether a frame may start at `offset` of its page: at least one sector is left. Otherwise the
// next frame goes at kFirstFrameOffset of the next page.
inline bool FrameFitsAt(uint32_t offset) {
  return offset <= kPageSize - kJournalSectorSize;
}

// The payload room of a frame at `offset`. REQUIRES: FrameFitsAt(offset).
inline size_t FrameRoomAt(uint32_t offset) { return kPageSize - offset - kFrameHeaderSize; }

// The bytes a frame with `payload_length` bytes of payload occupies, padding included.
inline size_t FrameSpan(size_t payload_length) {
  const size_t n = kFrameHeaderSize + payload_length;
  return (n + kJournalSectorSize - 1) / kJournalSectorSize * kJournalSectorSize;
}

struct JournalPageHeader {
  PageId page = kNoPage;
  uint64_t seq = 0;
  PageId next = kNoPage;
  // The low 32 bits of the epoch of the writer that started the page. A reader follows a link
  // only into a page of its own epoch: after a crash, a writer that continues the journal (with
  // the next epoch) may start again a successor page that the crashed commit had started, and
  // frames of that lost commit left in it must not become reachable for a reader of the old
  // epoch (found by journal_test's crash test).
  uint32_t epoch = 0;
};

// Writes the kJournalPageHeaderSize bytes of `header` to `dst`.
inline void EncodeJournalPageHeader(const JournalPageHeader& header, char* dst) {
  std::memcpy(dst, kJournalPageMagic, 4);
  PutU32(dst + 4, header.epoch);
  PutU64(dst + 8, header.page);
  PutU64(dst + 16, header.seq);
  PutU64(dst + 24, header.next);
  PutU64(dst + 32, Checksum(dst, 32));
}

// Decodes the header at the start of a journal page; nullopt unless magic, reserved bytes and
// checksum are right. The caller checks the page id and sequence number it expects.
inline std::optional<JournalPageHeader> DecodeJournalPageHeader(const char* src) {
  if (std::memcmp(src, kJournalPageMagic, 4) != 0 || GetU64(src + 32) != Checksum(src, 32)) {
    return std::nullopt;
  }
  return JournalPageHeader{GetU64(src + 8), GetU64(src + 16), GetU64(src + 24), GetU32(src + 4)};
}

struct FrameHeader {
  uint32_t payload_length = 0;
  uint64_t lsn = 0;
  uint64_t epoch = 0;
  uint32_t index = 0;
  bool last = false;
};

// The frame checksum: bytes [0, 32) of the frame, then the id and sequence number of the journal
// page it is in, then the payload. Binding the frame to its page's incarnation means a frame
// left in a page by an earlier use of that page, or misdirected from another page, never
// validates where the reader looks. REQUIRES: payload.size() <= kMaxFramePayload.
inline uint64_t FrameChecksum(const char* header32, PageId page, uint64_t seq,
                              absl::string_view payload) {
  // Copied into one buffer because Checksum (page.h) hashes contiguous bytes; a frame is at
  // most a page, so this costs a memcpy per 4 KiB of journal.
  std::array<char, 32 + 16 + kMaxFramePayload> buf;
  std::memcpy(buf.data(), header32, 32);
  PutU64(buf.data() + 32, page);
  PutU64(buf.data() + 40, seq);
  if (!payload.empty()) std::memcpy(buf.data() + 48, payload.data(), payload.size());
  return Checksum(buf.data(), 48 + payload.size());
}

// Writes the frame (header, payload and zero padding: FrameSpan(payload.size()) bytes) to
// `dst`, for the journal page `page` with sequence number `seq`.
// REQUIRES: header.payload_length == payload.size() <= kMaxFramePayload.
inline void EncodeFrame(const FrameHeader& header, PageId page, uint64_t seq,
                        absl::string_view payload, char* dst) {
  std::memset(dst, 0, FrameSpan(payload.size()));
  std::memcpy(dst, kFrameMagic, 4);
  PutU32(dst + 4, header.payload_length);
  PutU64(dst + 8, header.lsn);
  PutU64(dst + 16, header.epoch);
  PutU32(dst + 24, header.index);
  dst[28] = static_cast<char>(header.last ? kFrameFlagLast : 0);
  PutU64(dst + 32, FrameChecksum(dst, page, seq, payload));
  if (!payload.empty()) std::memcpy(dst + kFrameHeaderSize, payload.data(), payload.size());
}

// Decodes the frame at `src`, which has `available` bytes up to the end of its page, in the
// journal page `page` with sequence number `seq`. Returns nullopt unless the magic, the reserved
// bits and bytes and the checksum are right and the payload fits in `available`: a garbage
// length never makes the caller read or allocate past the page. The payload is at
// src + kFrameHeaderSize.
inline std::optional<FrameHeader> DecodeFrame(const char* src, size_t available, PageId page,
                                              uint64_t seq) {
  if (available < kFrameHeaderSize || std::memcmp(src, kFrameMagic, 4) != 0) return std::nullopt;
  FrameHeader h;
  h.payload_length = GetU32(src + 4);
  h.lsn = GetU64(src + 8);
  h.epoch = GetU64(src + 16);
  h.index = GetU32(src + 24);
  const uint8_t flags = static_cast<uint8_t>(src[28]);
  h.last = (flags & kFrameFlagLast) != 0;
  if ((flags & ~kFrameFlagLast) != 0 || src[29] != 0 || src[30] != 0 || src[31] != 0 ||
      h.payload_length > available - kFrameHeaderSize || h.payload_length > kMaxFramePayload) {
    return std::nullopt;
  }
  const absl::string_view payload(src + kFrameHeaderSize, h.payload_length);
  if (GetU64(src + 32) != FrameChecksum(src, page, seq, payload)) return std::nullopt;
  return h;
}

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_JOURNAL_FORMAT_H_
