// A real process killed at random moments: a child process commits in a loop over the POSIX
// file layer, telling the parent through a pipe each commit that returned; the parent kills it
// with SIGKILL after a random delay, reopens the file (recovering it), and checks that every
// commit the child saw return is there, whole, and that the file passes the integrity check.
// Rounds continue on the same file, so recovery runs after recovery.
//
// Each commit i inserts a record "commit <i>" and puts i -> its id into an index; the check
// reads both ways.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

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

TEST(KillTest, EveryReturnedCommitSurvivesSigkill) {
  const uint64_t seed = persy::testing::TestSeed();
  std::mt19937_64 rng(seed);
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/kill.persy";
  std::remove(path.c_str());
  uint64_t next = 1;  // the first number the next child commits
  size_t total_returned = 0;
  for (int round = 0; round < 8; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      Child(path, next, fds[1]);
    }
    close(fds[1]);
    // Let it commit for a while (after its open and recovery), then kill it mid-stride.
    usleep(static_cast<useconds_t>(20000 + rng() % 200000));
    kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended by itself, status " << status;
    std::vector<uint64_t> returned;
    uint64_t i = 0;
    while (read(fds[0], &i, sizeof(i)) == sizeof(i)) returned.push_back(i);
    close(fds[0]);

    auto db = Persy::Open(path);
    ASSERT_TRUE(db.ok()) << "round " << round << ": " << db.status() << " (seed " << seed << ")";
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

}  // namespace
}  // namespace persy
