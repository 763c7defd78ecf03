// A real process killed at random moments: a child process commits in a loop over the POSIX
// file layer, telling the parent through a pipe each commit that returned; the parent kills it
// with SIGKILL after a random delay, reopens the file (recovering it), and checks that every
// commit the child saw return is there, whole, and that the file passes the integrity check.
// Rounds continue on the same file, so recovery runs after recovery. The first round's child is
// killed within a few ms, often while it creates the file: then there is no file, and the next
// child takes over the creation file left behind.
//
// Each commit i inserts a record "commit <i>" and puts i -> its id into an index; the check
// reads both ways. A second test does the same with transactions prepared and committed, or
// left in doubt, and checks what recovery finds in doubt.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/persy.h"
#include "tools/test_seed.h"

namespace persy {
namespace {

absl::Status Init(Transaction& tx) {
  if (absl::Status s = tx.CreateSegment("commits"); !s.ok()) return s;
  return tx.CreateIndex<uint64_t, RecordId>("by_number", ValueMode::kReplace);
}

// The child: commits forever from `first`, writing each committed number to `out`.
[[noreturn]] void Child(const std::string& path, uint64_t first, int out) {
  auto db = Persy::OpenOrCreate(path, Config(), Init);
  if (!db.ok()) {
    std::fprintf(stderr, "child: open: %s\n", db.status().ToString().c_str());
    _exit(2);
  }
  for (uint64_t i = first;; ++i) {
    auto tx = (*db)->Begin();
    if (!tx.ok()) _exit(3);
    absl::StatusOr<RecordId> id = (*tx)->Insert("commits", absl::StrCat("commit ", i));
    if (!id.ok()) _exit(4);
    if (!(*tx)->Put<uint64_t, RecordId>("by_number", i, *id).ok()) _exit(5);
    if (!(*tx)->Commit().ok()) _exit(6);
    if (write(out, &i, sizeof(i)) != sizeof(i)) _exit(7);
  }
}

// Runs `child(out)` in a forked process for a random while, kills it with SIGKILL mid-stride,
// and returns all it wrote to `out`. Fails the test if the child ended by itself. The while is
// 20 to 220 ms (past its open and recovery, mostly), or with `early` at most 5 ms (often within
// the creation of the file).
template <typename Child>
std::string RunAndKill(std::mt19937_64& rng, bool early, const Child& child) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  EXPECT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    child(fds[1]);
    _exit(1);  // children loop until killed
  }
  close(fds[1]);
  usleep(static_cast<useconds_t>(early ? rng() % 5000 : 20000 + rng() % 200000));
  kill(pid, SIGKILL);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status)) << "the child ended by itself, status " << status;
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) out.append(buf, n);
  close(fds[0]);
  return out;
}

// The fixed-size reports of `bytes`, in order (a torn last one is dropped).
template <typename T>
std::vector<T> Reports(const std::string& bytes) {
  std::vector<T> out(bytes.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

// Whether a round's child was killed while creating the file (before any round made it): then
// there is no file, and nothing returned. Fails the test if the file is missing otherwise.
bool KilledWhileCreating(const absl::Status& opened, bool created, size_t reported, int round) {
  if (ErrorOf(opened) != Error::kFileNotFound) return false;
  EXPECT_FALSE(created) << "round " << round << ": the file is gone";
  EXPECT_EQ(reported, 0u) << "round " << round << ": the file is missing, yet steps returned";
  std::printf("round %d: killed while creating the file, which is not there\n", round);
  return true;
}

TEST(KillTest, EveryReturnedCommitSurvivesSigkill) {
  const uint64_t seed = persy::testing::TestSeed();
  std::mt19937_64 rng(seed);
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/kill.persy";
  std::remove(path.c_str());
  uint64_t next = 1;  // the first number the next child commits
  size_t total_returned = 0;
  bool created = false;  // whether a child has created the file
  for (int round = 0; round < 8; ++round) {
    const std::vector<uint64_t> returned =
        Reports<uint64_t>(RunAndKill(rng, /*early=*/round == 0,
                                     [&](int out) { Child(path, next, out); }));
    if (::testing::Test::HasFailure()) return;

    auto db = Persy::Open(path);
    if (KilledWhileCreating(db.status(), created, returned.size(), round)) continue;
    ASSERT_TRUE(db.ok()) << "round " << round << ": " << db.status() << " (seed " << seed << ")";
    created = true;
    ASSERT_TRUE((*db)->CheckIntegrity().ok()) << "round " << round;
    for (uint64_t n : returned) {
      auto ids = (*db)->Get<uint64_t, RecordId>("by_number", n);
      ASSERT_TRUE(ids.ok()) << ids.status();
      ASSERT_EQ(ids->size(), 1u) << "commit " << n << " returned but is gone (round " << round
                                 << ", seed " << seed << ")";
      auto bytes = (*db)->Read("commits", (*ids)[0]);
      ASSERT_TRUE(bytes.ok() && bytes->has_value()) << "commit " << n;
      EXPECT_EQ(**bytes, absl::StrCat("commit ", n));
    }
    // A commit that was durable but not yet reported may be there too; the next child goes on
    // after whatever is there, so numbers stay unique.
    uint64_t highest = next - 1;
    absl::Status ranged = (*db)->Range<uint64_t, RecordId>(
        "by_number", IndexBound::Unbounded(), IndexBound::Unbounded(), Direction::kBackward,
        [&](const uint64_t& k, const std::vector<RecordId>&) {
          highest = k;
          return false;
        });
    ASSERT_TRUE(ranged.ok()) << ranged;
    if (!returned.empty()) {
      EXPECT_GE(highest, returned.back());
    }
    EXPECT_LE(highest, (returned.empty() ? next - 1 : returned.back()) + 1)
        << "at most the one commit in flight beyond those reported";
    next = highest + 1;
    total_returned += returned.size();
    std::printf("round %d: %zu commits returned before SIGKILL\n", round, returned.size());
  }
  EXPECT_GT(total_returned, 0u) << "no commit returned before a kill: nothing was checked";
  std::remove(path.c_str());
}

// What the two-phase child reports: the transaction number and what returned.
struct Report {
  uint64_t number = 0;
  uint64_t what = 0;  // 0: committed (in one call or after its prepare), 1: prepared
};

// The two-phase child: transaction i (id "tx-<i>") commits in one call if i % 3 == 0; else it
// is prepared, then committed if i % 3 == 1, or left in doubt if i % 3 == 2 (its handle is
// leaked, so that nothing rolls it back). Each step that returned is reported.
[[noreturn]] void TwoPhaseChild(const std::string& path, uint64_t first, int out) {
  auto db = Persy::OpenOrCreate(path, Config(), Init);
  if (!db.ok()) _exit(2);
  auto report = [&](uint64_t i, uint64_t what) {
    const Report r{i, what};
    if (write(out, &r, sizeof(r)) != sizeof(r)) _exit(7);
  };
  for (uint64_t i = first;; ++i) {
    TxOptions options;
    options.transaction_id = absl::StrCat("tx-", i);
    auto tx = (*db)->Begin(options);
    if (!tx.ok()) _exit(3);
    absl::StatusOr<RecordId> id = (*tx)->Insert("commits", absl::StrCat("commit ", i));
    if (!id.ok()) _exit(4);
    if (!(*tx)->Put<uint64_t, RecordId>("by_number", i, *id).ok()) _exit(5);
    if (i % 3 == 0) {
      if (!(*tx)->Commit().ok()) _exit(6);
      report(i, 0);
      continue;
    }
    auto prepared = (*tx)->Prepare();
    if (!prepared.ok()) _exit(8);
    report(i, 1);
    if (i % 3 == 1) {
      if (!(*prepared)->Commit().ok()) _exit(9);
      report(i, 0);
    } else {
      prepared->release();  // left in doubt on purpose
    }
  }
}

// Transactions prepared by a process killed with SIGKILL are in doubt after it, exactly those
// (and at most the one in flight); a recovery decides them, alternately commit and rollback.
TEST(KillTest, PreparedTransactionsAreInDoubtAfterSigkill) {
  const uint64_t seed = persy::testing::TestSeed();
  std::mt19937_64 rng(seed);
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/kill2pc.persy";
  std::remove(path.c_str());
  uint64_t next = 1;
  size_t in_doubt_total = 0;
  bool created = false;
  for (int round = 0; round < 6; ++round) {
    const std::string bytes = RunAndKill(rng, /*early=*/round == 0,
                                         [&](int out) { TwoPhaseChild(path, next, out); });
    if (::testing::Test::HasFailure()) return;
    std::map<uint64_t, uint64_t> reported;  // number -> 0 committed / 1 prepared only
    uint64_t last = next - 1;
    for (const Report& r : Reports<Report>(bytes)) {
      auto [it, inserted] = reported.emplace(r.number, r.what);
      if (!inserted) it->second = std::min(it->second, r.what);
      last = std::max(last, r.number);
    }

    auto recovery = Persy::Recover(path);
    if (KilledWhileCreating(recovery.status(), created, reported.size(), round)) continue;
    created = true;
    ASSERT_TRUE(recovery.ok()) << "round " << round << ": " << recovery.status();
    std::set<uint64_t> in_doubt;
    for (const RecoverEntry& e : (*recovery)->List()) {
      uint64_t n = 0;
      ASSERT_TRUE(absl::SimpleAtoi(e.transaction_id.substr(3), &n))
          << e.transaction_id;
      in_doubt.insert(n);
      auto it = reported.find(n);
      // In doubt: reported prepared and not committed, or the one in flight.
      EXPECT_TRUE((it != reported.end() && it->second == 1) || n == last + 1)
          << "tx-" << n << " is in doubt (round " << round << ", seed " << seed << ")";
    }
    for (const auto& [n, what] : reported) {
      if (n % 3 == 2) {
        EXPECT_EQ(in_doubt.count(n), 1u) << "prepared tx-" << n << " is not in doubt";
      }
    }
    // Decide: even numbers commit, odd ones roll back.
    for (uint64_t n : in_doubt) {
      const std::string id = absl::StrCat("tx-", n);
      ASSERT_TRUE((n % 2 == 0 ? (*recovery)->Commit(id) : (*recovery)->Rollback(id)).ok());
    }
    auto db = (*recovery)->Finish();
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->CheckIntegrity().ok()) << "round " << round;
    for (uint64_t n = next; n <= last + 1; ++n) {
      auto ids = (*db)->Get<uint64_t, RecordId>("by_number", n);
      ASSERT_TRUE(ids.ok()) << ids.status();
      auto it = reported.find(n);
      if (in_doubt.count(n) != 0) {
        EXPECT_EQ(ids->size(), n % 2 == 0 ? 1u : 0u) << "decided tx-" << n;
      } else if (it != reported.end() && it->second == 0) {
        EXPECT_EQ(ids->size(), 1u) << "committed tx-" << n << " is gone";
      }
    }
    in_doubt_total += in_doubt.size();
    std::printf("round %d: %zu transactions reported, %zu in doubt after SIGKILL\n", round,
                reported.size(), in_doubt.size());
    next = last + 2;  // past the one that may have been in flight
  }
  EXPECT_GT(in_doubt_total, 0u) << "nothing was in doubt: nothing was checked";
  std::remove(path.c_str());
}

}  // namespace
}  // namespace persy
