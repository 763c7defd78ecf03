// Many threads on one handle, each with its own transactions, checked against read committed:
// a reader only ever sees values that were committed (no dirty reads, no torn records), and
// after all threads finish, every committed write is there (no lost writes). Run it under
// --config=tsan to check the locking as well.

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "engine/persy.h"
#include "tools/test_seed.h"
#include "vfs/sim_vfs.h"

namespace persy {
namespace {

constexpr int kWriters = 4;
constexpr int kRecordsPerWriter = 8;
constexpr int kRounds = 60;

// A value names its writer and round and is long enough to span pages when the round is odd,
// so a torn read would show.
std::string Value(int writer, int round) {
  std::string head = absl::StrCat("w", writer, "r", round, ":");
  return head + std::string(round % 2 == 1 ? 6000 : 50, static_cast<char>('a' + round % 26));
}

TEST(ConcurrencyTest, ReadCommittedAndNoLostWrites) {
  vfs::SimVfs sim(persy::testing::TestSeed());
  sim.set_record_events(false);
  Config config;
  config.cache_size_bytes = 256 << 10;
  config.checkpoint_journal_bytes = 256 << 10;
  auto db = Persy::Create("/db/concurrent.persy", config, &sim);
  ASSERT_TRUE(db.ok()) << db.status();
  Persy& persy = **db;

  std::vector<std::vector<RecordId>> ids(kWriters);
  {
    auto tx = persy.Begin();
    ASSERT_TRUE((*tx)->CreateSegment("s").ok());
    for (int w = 0; w < kWriters; ++w) {
      for (int r = 0; r < kRecordsPerWriter; ++r) ids[w].push_back(*(*tx)->Insert("s", Value(w, 0)));
    }
    ASSERT_TRUE((*tx)->Commit().ok());
  }

  std::atomic<int> committed_round[kWriters];
  for (auto& c : committed_round) c = 0;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int round = 1; round <= kRounds; ++round) {
        auto tx = persy.Begin();
        bool ok = tx.ok();
        for (int r = 0; ok && r < kRecordsPerWriter; ++r) {
          ok = (*tx)->Update("s", ids[w][r], Value(w, round)).ok();
        }
        // A concurrent transaction sees the last committed round, not this one.
        ok = ok && (*tx)->Commit().ok();
        if (!ok) {
          ++failures;
          return;
        }
        committed_round[w] = round;
      }
    });
  }
  for (int reader = 0; reader < 2; ++reader) {
    threads.emplace_back([&, reader] {
      while (!done) {
        for (int w = 0; w < kWriters; ++w) {
          const int floor = committed_round[w];
          auto tx = persy.Begin();
          auto value = reader == 0 ? persy.Read("s", ids[w][0]) : (*tx)->Read("s", ids[w][0]);
          const int ceiling = committed_round[w] + 1;  // at most one commit in flight
          bool seen_ok = false;
          if (value.ok() && value->has_value()) {
            for (int round = floor; round <= ceiling && !seen_ok; ++round) {
              seen_ok = **value == Value(w, round);
            }
          }
          if (!seen_ok) ++failures;
        }
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  done = true;
  for (size_t i = kWriters; i < threads.size(); ++i) threads[i].join();
  EXPECT_EQ(failures.load(), 0);
  for (int w = 0; w < kWriters; ++w) {
    for (RecordId id : ids[w]) EXPECT_EQ(*persy.Read("s", id), Value(w, kRounds));
  }
}

}  // namespace
}  // namespace persy
