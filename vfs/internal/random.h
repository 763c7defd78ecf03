// A small deterministic random generator for the simulated disk.
//
// SimVfs must replay the same faults from the same seed on every machine and compiler, so it
// cannot use <random>'s distributions, whose algorithms the standard leaves to each library.
// SplitMix64 is tiny, fast and statistically good enough to choose faults.
// Only accessed by one thread at a time.

#ifndef VFS_INTERNAL_RANDOM_H_
#define VFS_INTERNAL_RANDOM_H_

#include <cstddef>
#include <cstdint>

namespace persy::vfs {

class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  // Returns a value in [0, n). REQUIRES: n > 0.
  uint64_t Uniform(uint64_t n) {
    // Rejection sampling removes the modulo bias of Next() % n.
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do {
      v = Next();
    } while (v >= limit);
    return v % n;
  }

  // Returns a value in [0, 1).
  double Double() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // Returns true with probability p (p <= 0 never, p >= 1 always).
  bool Bernoulli(double p) { return Double() < p; }

  // Fills dst[0, n) with random bytes.
  void Fill(char* dst, size_t n) {
    for (size_t i = 0; i < n; ++i) dst[i] = static_cast<char>(Next());
  }

 private:
  uint64_t state_;
};

}  // namespace persy::vfs

#endif  // VFS_INTERNAL_RANDOM_H_
