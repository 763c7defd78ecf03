#include "crashsim/explorer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "tools/test_seed.h"

namespace persy::crashsim {
namespace {

// Every crash point of two workloads, each with two disk seeds, and every recovery cut at each
// of its events: the engine agrees with the model at all of them. A fresh seed each run (printed;
// PERSY_SEED replays it, as does the command a failure prints).
TEST(ExplorerTest, EveryCrashPointAgreesWithTheModel) {
  ExploreOptions options;
  options.seed = persy::testing::TestSeed();
  options.workloads = 2;
  options.ops = 60;
  options.damage_seeds = 2;
  options.cut_recovery = true;
  ExploreStats stats;
  const absl::Status s = Explore(options, &stats);
  ASSERT_TRUE(s.ok()) << s.message();
  std::printf("%d commit calls, %d crash points, %d runs, %d recoveries cut short\n",
              stats.commit_calls, stats.crash_points, stats.runs, stats.recovery_cuts);
  // The prelude alone is a commit of several events, crashed at each of them.
  EXPECT_EQ(stats.workloads, 2);
  EXPECT_GE(stats.commit_calls, 2);
  EXPECT_GE(stats.crash_points, 2 * 2);
  EXPECT_GE(stats.runs, 2 * stats.crash_points);
  EXPECT_GT(stats.recovery_cuts, 0);
  EXPECT_GT(stats.coverage.commits, 0);
}

// Reopen's Close writes the journal's pages home and may shrink the file: it is a commit call
// like the others, crashed at each of its I/O events. The first seed whose workload 0 reopens is
// explored without cutting recovery, so that the crashes inside Close are what is checked.
TEST(ExplorerTest, CrashesInsideCloseAgreeWithTheModel) {
  ExploreOptions options;
  options.ops = 60;
  options.damage_seeds = 2;
  auto reopens = [](const std::vector<model::Op>& ops) {
    return std::any_of(ops.begin(), ops.end(),
                       [](const model::Op& op) { return op.kind == model::OpKind::kReopen; });
  };
  for (options.seed = 1; options.seed < 1000; ++options.seed) {
    if (reopens(Workload(options, 0))) break;
  }
  ASSERT_TRUE(reopens(Workload(options, 0))) << "no workload among 1,000 seeds reopens";
  ExploreStats stats;
  const absl::Status s = Explore(options, &stats);
  ASSERT_TRUE(s.ok()) << s.message();
  std::printf("seed %llu: %d crash points, %d closes crashed\n",
              static_cast<unsigned long long>(options.seed), stats.crash_points,
              stats.coverage.closes_cut);
  EXPECT_GE(stats.coverage.closes_cut, options.damage_seeds);
}

// A failure's replay runs that one run. (Call 0, the prelude's commit, crashed at its event 3,
// recovers with Persy::Open, whose I/O events the cut counts from its start.)
TEST(ExplorerTest, ReplayRunsOneRun) {
  ExploreOptions options;
  options.ops = 40;
  options.only_workload = 0;
  options.only_call = 0;
  options.only_event = 3;
  options.only_recovery_cut = 5;
  ExploreStats stats;
  ASSERT_TRUE(Explore(options, &stats).ok());
  EXPECT_EQ(stats.crash_points, 1);
  EXPECT_EQ(stats.runs, 1);
  EXPECT_EQ(stats.recovery_cuts, 1) << "Open takes more than 5 I/O events";
}

TEST(ExplorerTest, WorkloadsAreDeterministicAndDiffer) {
  ExploreOptions options;
  options.seed = 3;
  EXPECT_EQ(Workload(options, 0), Workload(options, 0));
  EXPECT_NE(Workload(options, 0), Workload(options, 1));
  EXPECT_EQ(Workload(options, 0).size(), model::Prelude().size() + 60);
  for (const model::Op& op : Workload(options, 0)) {
    EXPECT_NE(op.kind, model::OpKind::kCrash);
    EXPECT_NE(op.kind, model::OpKind::kCrashInNextCommit);
    EXPECT_NE(op.kind, model::OpKind::kInjectIoError);
    EXPECT_NE(op.kind, model::OpKind::kArmRecovery);
  }
}

TEST(ExplorerTest, RejectsOptionsOutOfRange) {
  ExploreStats stats;
  ExploreOptions options;
  options.workloads = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(Explore(options, &stats)));
  options = ExploreOptions();
  options.ops = 201;
  EXPECT_TRUE(absl::IsInvalidArgument(Explore(options, &stats)));
  options = ExploreOptions();
  options.only_recovery_cut = 64;
  EXPECT_TRUE(absl::IsInvalidArgument(Explore(options, &stats)));
}

}  // namespace
}  // namespace persy::crashsim
