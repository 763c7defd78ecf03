// A multithreaded history test (run under TSan by tools/test.sh): threads move money between
// accounts in random transactions, committed in one call or prepared and then committed or
// rolled back, or rolled back, while readers take snapshots. The history is checked:
//   - no lost committed write: the total never changes, and every committed transfer moved it;
//   - no dirty read: no reader ever sees a value a transaction wrote that did not commit;
//   - snapshots are stable and atomic: a snapshot's accounts (and the index mirroring them)
//     always sum to the total, and read the same twice with commits in between.

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/persy.h"
#include "engine/test_util.h"
#include "tools/test_seed.h"
#include "vfs/sim_vfs.h"

namespace persy {
namespace {

using ::persy::testing::MustBegin;
using ::persy::testing::MustCreate;
using vfs::SimVfs;

constexpr char kPath[] = "/db/history.persy";
constexpr int kAccounts = 12;
constexpr int64_t kStart = 1000;

// An account's record: "<balance>:<tag of the transaction that wrote it>".
struct Account {
  int64_t balance = 0;
  std::string tag;
};

Account Parse(std::string_view bytes) {
  std::vector<std::string> parts = absl::StrSplit(std::string(bytes), ':');
  Account a;
  EXPECT_EQ(parts.size(), 2u) << bytes;
  EXPECT_TRUE(parts.size() == 2 && absl::SimpleAtoi(parts[0], &a.balance)) << bytes;
  if (parts.size() == 2) a.tag = parts[1];
  return a;
}

// Tags of transactions by outcome, from all threads.
struct Outcomes {
  std::mutex mu;
  std::set<std::string> committed{"init"};
  std::set<std::string> aborted;
  std::set<std::string> seen;  // tags readers saw
  void Add(std::set<std::string> Outcomes::*which, const std::string& tag) {
    std::lock_guard<std::mutex> lock(mu);
    (this->*which).insert(tag);
  }
};

TEST(HistoryTest, TransfersWithPreparedTransactionsAndSnapshots) {
  const uint64_t seed = persy::testing::TestSeed();
  SimVfs sim(seed);
  Config config;
  config.lock_timeout = std::chrono::milliseconds(20);
  config.strategy = TxStrategy::kVersionOnRead;
  auto db = MustCreate(sim, kPath, config);
  std::vector<RecordId> ids;
  {
    auto tx = MustBegin(*db);
    ASSERT_OK(tx->CreateSegment("accounts"));
    ASSERT_OK(tx->CreateIndex<uint64_t, int64_t>("balances", ValueMode::kReplace));
    for (int i = 0; i < kAccounts; ++i) {
      auto id = tx->Insert("accounts", absl::StrCat(kStart, ":init"));
      ASSERT_OK(id);
      ids.push_back(*id);
      ASSERT_OK(tx->Put<uint64_t, int64_t>("balances", i, kStart));
    }
    ASSERT_OK(tx->Commit());
  }
  Outcomes outcomes;
  std::atomic<int> counts[5] = {};  // committed, prepared+committed, prepared+rolled back,
                                    // rolled back, failed a check or a lock
  std::vector<std::thread> threads;
  constexpr int kWriters = 4;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(seed * 31 + w);
      for (int n = 0; n < 120; ++n) {
        const std::string tag = absl::StrCat("w", w, "-", n);
        auto tx = MustBegin(*db, ::persy::testing::WithId(tag));
        const size_t from = rng() % kAccounts;
        const size_t to = (from + 1 + rng() % (kAccounts - 1)) % kAccounts;
        auto a = tx->Read("accounts", ids[from]);
        auto b = tx->Read("accounts", ids[to]);
        ASSERT_OK(a);
        ASSERT_OK(b);
        const Account fa = Parse(**a);
        const Account fb = Parse(**b);
        outcomes.Add(&Outcomes::seen, fa.tag);
        outcomes.Add(&Outcomes::seen, fb.tag);
        const int64_t amount = static_cast<int64_t>(rng() % 50);
        ASSERT_OK(tx->Update("accounts", ids[from], absl::StrCat(fa.balance - amount, ":", tag)));
        ASSERT_OK(tx->Update("accounts", ids[to], absl::StrCat(fb.balance + amount, ":", tag)));
        ASSERT_OK(tx->Put<uint64_t, int64_t>("balances", from, fa.balance - amount));
        ASSERT_OK(tx->Put<uint64_t, int64_t>("balances", to, fb.balance + amount));
        const int way = rng() % 10;
        absl::Status result;
        int outcome = 4;
        if (way < 5) {
          result = tx->Commit();
          outcome = 0;
        } else if (way < 9) {
          auto prepared = tx->Prepare();
          result = prepared.status();
          if (prepared.ok()) {
            if (way < 8) {
              result = (*prepared)->Commit();
              outcome = 1;
            } else {
              ASSERT_OK((*prepared)->Rollback());
              result = MakeError(Error::kTransactionFinished, "rolled back");
              outcome = 2;
            }
          }
        } else {
          ASSERT_OK(tx->Rollback());
          result = MakeError(Error::kTransactionFinished, "rolled back");
          outcome = 3;
        }
        if (result.ok()) {
          outcomes.Add(&Outcomes::committed, tag);
        } else {
          const Error e = ErrorOf(result);
          ASSERT_TRUE(e == Error::kVersionConflict || e == Error::kLockTimeout ||
                      e == Error::kTransactionFinished)
              << result;
          if (e != Error::kTransactionFinished) outcome = 4;
          outcomes.Add(&Outcomes::aborted, tag);
        }
        ++counts[outcome];
      }
    });
  }
  std::atomic<int> snapshots{0};
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto snapshot = db->TakeSnapshot();
        ASSERT_OK(snapshot);
        std::map<RecordId, std::string> first;
        for (int pass = 0; pass < 2; ++pass) {
          std::map<RecordId, std::string> seen;
          int64_t total = 0;
          ASSERT_OK((*snapshot)->Scan("accounts", [&](RecordId id, std::string_view bytes) {
            const Account a = Parse(bytes);
            total += a.balance;
            outcomes.Add(&Outcomes::seen, a.tag);
            seen.emplace(id, std::string(bytes));
            return true;
          }));
          ASSERT_EQ(total, kAccounts * kStart);
          int64_t indexed = 0;
          ASSERT_OK(((*snapshot)->Range<uint64_t, int64_t>(
              "balances", IndexBound::Unbounded(), IndexBound::Unbounded(), Direction::kForward,
              [&](const uint64_t&, const std::vector<int64_t>& v) {
                for (int64_t x : v) indexed += x;
                return true;
              })));
          ASSERT_EQ(indexed, kAccounts * kStart);
          if (pass == 0) {
            first = std::move(seen);
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
          } else {
            ASSERT_EQ(seen, first);
          }
        }
        ++snapshots;
      }
    });
  }
  for (std::thread& t : threads) t.join();

  int64_t total = 0;
  ASSERT_OK(db->Scan("accounts", [&](RecordId, std::string_view bytes) {
    const Account a = Parse(bytes);
    total += a.balance;
    outcomes.Add(&Outcomes::seen, a.tag);
    return true;
  }));
  EXPECT_EQ(total, kAccounts * kStart);
  for (const std::string& tag : outcomes.seen) {
    EXPECT_EQ(outcomes.committed.count(tag), 1u) << "read the uncommitted write of " << tag;
    EXPECT_EQ(outcomes.aborted.count(tag), 0u) << tag;
  }
  EXPECT_EQ(snapshots.load(), 50);
  // Every way was taken, and enough committed to make the check mean something.
  for (int c = 0; c < 4; ++c) EXPECT_GT(counts[c].load(), 0) << "outcome " << c;
  EXPECT_GT(counts[0].load() + counts[1].load(), 100);
  std::printf("committed %d, prepared+committed %d, prepared+rolled back %d, rolled back %d, "
              "conflicts %d; %d snapshots\n",
              counts[0].load(), counts[1].load(), counts[2].load(), counts[3].load(),
              counts[4].load(), snapshots.load());
  ASSERT_OK(db->CheckIntegrity());
}

}  // namespace
}  // namespace persy
