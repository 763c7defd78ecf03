// Length-checked encoding of the variable-size structures (catalog blob, journal records):
// appenders onto a std::string and a reader that fails instead of reading past the end.
// Integers are little-endian (page.h).
// Thread-safety: ByteReader is used by one thread at a time.

#ifndef ENGINE_INTERNAL_BYTES_H_
#define ENGINE_INTERNAL_BYTES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/internal/page.h"

namespace persy::internal {

inline void AppendU8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }
inline void AppendU32(std::string& out, uint32_t v) {
  char buf[4];
  PutU32(buf, v);
  out.append(buf, 4);
}
inline void AppendU64(std::string& out, uint64_t v) {
  char buf[8];
  PutU64(buf, v);
  out.append(buf, 8);
}
// [u32 length][bytes]. REQUIRES: bytes.size() < 2^32.
inline void AppendString(std::string& out, std::string_view bytes) {
  AppendU32(out, static_cast<uint32_t>(bytes.size()));
  out.append(bytes);
}

// Each call returns false, consuming nothing, if the data ends too soon.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}
  bool U8(uint8_t& v) { return Take(1, [&](const char* p) { v = static_cast<uint8_t>(*p); }); }
  bool U16(uint16_t& v) { return Take(2, [&](const char* p) { v = GetU16(p); }); }
  bool U32(uint32_t& v) { return Take(4, [&](const char* p) { v = GetU32(p); }); }
  bool U64(uint64_t& v) { return Take(8, [&](const char* p) { v = GetU64(p); }); }
  bool Bytes(size_t n, std::string& out) {
    return Take(n, [&](const char* p) { out.assign(p, n); });
  }
  // `n` bytes in place, valid as long as the data is.
  bool View(size_t n, std::string_view& out) {
    return Take(n, [&](const char* p) { out = std::string_view(p, n); });
  }
  // The inverse of AppendString.
  bool String(std::string& out) {
    const size_t start = pos_;
    uint32_t n = 0;
    if (U32(n) && Bytes(n, out)) return true;
    pos_ = start;
    return false;
  }
  bool done() const { return pos_ == data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }

 private:
  template <typename F>
  bool Take(size_t n, F f) {
    if (data_.size() - pos_ < n) return false;
    f(data_.data() + pos_);
    pos_ += n;
    return true;
  }
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace persy::internal

#endif  // ENGINE_INTERNAL_BYTES_H_
