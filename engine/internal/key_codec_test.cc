// Tests of the key codec: for every type, the order of the encoded bytes is the documented
// order (checked against a typed comparison written here from index.h's words), decoding gives
// the value back, and bytes of the wrong width are kDataLoss.

#include "engine/internal/key_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tools/test_seed.h"

namespace persy::internal {
namespace {

template <typename F>
int CompareFloats(F a, F b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) - std::isnan(b);
  if (a < b) return -1;
  if (a > b) return 1;
  return std::signbit(b) - std::signbit(a);  // -0 before +0
}

// index.h's order, per type.
int TypedCompare(const IndexValue& a, const IndexValue& b) {
  EXPECT_EQ(a.index(), b.index());
  return std::visit(
      [&b](const auto& x) -> int {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_floating_point_v<T>) {
          return CompareFloats(x, y);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return x.compare(y) < 0 ? -1 : (x == y ? 0 : 1);
        } else if constexpr (std::is_same_v<T, ByteString>) {
          return x.bytes.compare(y.bytes) < 0 ? -1 : (x == y ? 0 : 1);
        } else {
          return x < y ? -1 : (y < x ? 1 : 0);
        }
      },
      a);
}

int Sign(int c) { return (c > 0) - (c < 0); }

// Interesting values of each type, and random ones.
std::vector<IndexValue> Samples(IndexType type, std::mt19937_64& rng) {
  std::vector<IndexValue> out;
  auto add_ints = [&](auto zero) {
    using T = decltype(zero);
    for (T v : {std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), T{0}, T{1},
                static_cast<T>(-1), static_cast<T>(std::numeric_limits<T>::max() / 2)}) {
      out.emplace_back(std::in_place_type<T>, v);
    }
    for (int i = 0; i < 40; ++i) {
      T v = static_cast<T>((static_cast<u128>(rng()) << 64) | rng());
      out.emplace_back(std::in_place_type<T>, v);
    }
  };
  auto add_floats = [&](auto zero) {
    using T = decltype(zero);
    using L = std::numeric_limits<T>;
    for (T v : {T{0}, -T{0}, L::infinity(), -L::infinity(), L::quiet_NaN(), -L::quiet_NaN(),
                L::denorm_min(), -L::denorm_min(), L::min(), L::max(), L::lowest(), T{1},
                T{-1}, T{0.5}}) {
      out.emplace_back(std::in_place_type<T>, v);
    }
    for (int i = 0; i < 40; ++i) {
      out.emplace_back(std::in_place_type<T>,
                       static_cast<T>(std::ldexp(static_cast<double>(rng() % 2001) - 1000.0,
                                                 static_cast<int>(rng() % 40) - 20)));
    }
  };
  auto strings = [&]() {
    std::vector<std::string> s = {"", "a", "ab", "abc", "b", std::string(1, '\0'),
                                  std::string(2, '\0'), "\xff", "\x7f", "\x80",
                                  std::string(512, 'z')};
    for (int i = 0; i < 40; ++i) {
      std::string r(rng() % 6, '\0');
      for (char& c : r) c = static_cast<char>("a\0\xff\x80"[rng() % 4]);
      s.push_back(r);
    }
    return s;
  };
  switch (type) {
    case IndexType::kU8: add_ints(uint8_t{}); break;
    case IndexType::kU16: add_ints(uint16_t{}); break;
    case IndexType::kU32: add_ints(uint32_t{}); break;
    case IndexType::kU64: add_ints(uint64_t{}); break;
    case IndexType::kU128: add_ints(u128{}); break;
    case IndexType::kI8: add_ints(int8_t{}); break;
    case IndexType::kI16: add_ints(int16_t{}); break;
    case IndexType::kI32: add_ints(int32_t{}); break;
    case IndexType::kI64: add_ints(int64_t{}); break;
    case IndexType::kI128: add_ints(i128{}); break;
    case IndexType::kF32: add_floats(float{}); break;
    case IndexType::kF64: add_floats(double{}); break;
    case IndexType::kString:
      for (std::string& s : strings()) out.emplace_back(std::in_place_type<std::string>, s);
      break;
    case IndexType::kBytes:
      for (std::string& s : strings()) out.emplace_back(std::in_place_type<ByteString>, ByteString{s});
      break;
    case IndexType::kRecordId:
      for (uint64_t seg : {0ull, 1ull, 0xffffffffull}) {
        for (uint64_t n : {0ull, 1ull, 255ull, 256ull, ~0ull}) {
          out.emplace_back(std::in_place_type<RecordId>, RecordId(static_cast<uint32_t>(seg), n));
        }
      }
      break;
  }
  return out;
}

IndexValue FirstSample(IndexType type) {
  std::mt19937_64 rng(1);
  return Samples(type, rng)[0];
}

TEST(KeyCodecTest, EncodedOrderIsTheDocumentedOrderForEveryType) {
  const uint64_t seed = persy::testing::TestSeed();
  std::mt19937_64 rng(seed);
  for (int t = 0; t < kIndexTypeCount; ++t) {
    const IndexType type = static_cast<IndexType>(t);
    SCOPED_TRACE(IndexTypeName(type));
    std::vector<IndexValue> values = Samples(type, rng);
    for (const IndexValue& a : values) {
      const std::string ea = EncodeIndexValue(a);
      for (const IndexValue& b : values) {
        ASSERT_EQ(Sign(CompareBytes(ea, EncodeIndexValue(b))), TypedCompare(a, b))
            << IndexValueToString(a) << " vs " << IndexValueToString(b);
      }
    }
  }
}

TEST(KeyCodecTest, DecodeGivesTheValueBack) {
  std::mt19937_64 rng(persy::testing::TestSeed());
  for (int t = 0; t < kIndexTypeCount; ++t) {
    const IndexType type = static_cast<IndexType>(t);
    for (const IndexValue& v : Samples(type, rng)) {
      absl::StatusOr<IndexValue> back = DecodeIndexValue(type, EncodeIndexValue(v));
      ASSERT_TRUE(back.ok()) << back.status();
      ASSERT_EQ(back->index(), v.index());
      EXPECT_EQ(TypedCompare(*back, v), 0) << IndexValueToString(v);
      EXPECT_EQ(EncodeIndexValue(*back), EncodeIndexValue(v));
    }
  }
}

TEST(KeyCodecTest, NaNIsOneKeyAfterInfinityAndReadsBackQuiet) {
  const float payload_nan = std::bit_cast<float>(uint32_t{0xffc00123});  // negative, payload
  EXPECT_EQ(EncodeIndexValue(payload_nan), EncodeIndexValue(std::numeric_limits<float>::quiet_NaN()));
  EXPECT_GT(CompareBytes(EncodeIndexValue(payload_nan),
                         EncodeIndexValue(std::numeric_limits<float>::infinity())), 0);
  absl::StatusOr<IndexValue> back = DecodeIndexValue(IndexType::kF32, EncodeIndexValue(payload_nan));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::bit_cast<uint32_t>(std::get<float>(*back)),
            std::bit_cast<uint32_t>(std::numeric_limits<float>::quiet_NaN()));
  EXPECT_LT(CompareBytes(EncodeIndexValue(-0.0), EncodeIndexValue(0.0)), 0);
}

TEST(KeyCodecTest, WrongWidthIsDataLoss) {
  for (int t = 0; t < kIndexTypeCount; ++t) {
    const IndexType type = static_cast<IndexType>(t);
    if (type == IndexType::kString || type == IndexType::kBytes) continue;
    const size_t width = EncodeIndexValue(FirstSample(type)).size();
    for (size_t n : {size_t{0}, width - 1, width + 1}) {
      EXPECT_EQ(DecodeIndexValue(type, std::string(n, 'x')).status().code(),
                absl::StatusCode::kDataLoss)
          << IndexTypeName(type) << " of " << n << " bytes";
    }
  }
  EXPECT_EQ(DecodeIndexValue(static_cast<IndexType>(99), "x").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace persy::internal
