// Commit throughput against the disk's own sync rate, in one run (Google Benchmark).
//
//   BM_RawSync            a 4 KiB pwrite then fdatasync, in a loop: what the disk allows
//   BM_Commit/threads:N   N threads each committing small transactions (one 100-byte insert)
//                         into one database on the same disk, over the POSIX file layer
//   BM_CommitNoGather/threads:N   the same with Config::group_commit_wait = 0
//
// Run: tools/bench.sh (the disk's latency drifts, so repetitions are interleaved; see
// docs/benchmarks.md)
// ($BENCH_DIR picks the directory of the files; default /tmp). docs/benchmarks.md holds the
// figures and how to read them.

#include <fcntl.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "engine/persy.h"

namespace {

std::string BenchDir() {
  const char* dir = std::getenv("BENCH_DIR");
  return dir != nullptr ? dir : "/tmp";
}

void BM_RawSync(benchmark::State& state) {
  const std::string path = BenchDir() + "/persy_bench_raw";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    state.SkipWithError("cannot open the raw file");
    return;
  }
  char page[4096] = {};
  uint64_t i = 0;
  for (auto _ : state) {
    page[0] = static_cast<char>(i);
    if (pwrite(fd, page, sizeof(page), static_cast<off_t>((i++ % 256) * sizeof(page))) !=
            static_cast<ssize_t>(sizeof(page)) ||
        fdatasync(fd) != 0) {
      state.SkipWithError("write or sync failed");
      break;
    }
  }
  close(fd);
  unlink(path.c_str());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawSync)->UseRealTime();

// One database shared by the threads of a run; the first thread opens it, the last closes it.
std::mutex db_mu;
std::unique_ptr<persy::Persy> db;

// N threads committing into one database opened with `config`.
void RunCommits(benchmark::State& state, const persy::Config& config) {
  const std::string path = BenchDir() + "/persy_bench_commit.persy";
  if (state.thread_index() == 0) {
    std::lock_guard<std::mutex> lock(db_mu);
    std::remove(path.c_str());
    auto opened = persy::Persy::OpenOrCreate(path, config, [](persy::Transaction& tx) {
      return tx.CreateSegment("s");
    });
    if (!opened.ok()) {
      state.SkipWithError(opened.status().ToString().c_str());
      return;
    }
    db = std::move(*opened);
  }
  const std::string bytes(100, 'x');
  for (auto _ : state) {
    auto tx = db->Begin();
    if (!tx.ok() || !(*tx)->Insert("s", bytes).ok() || !(*tx)->Commit().ok()) {
      state.SkipWithError("commit failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    std::lock_guard<std::mutex> lock(db_mu);
    db.reset();
    std::remove(path.c_str());
  }
}

void BM_Commit(benchmark::State& state) { RunCommits(state, persy::Config()); }
BENCHMARK(BM_Commit)->Threads(1)->Threads(2)->Threads(4)->Threads(8)->Threads(16)->UseRealTime();

// The same without the group commit's gathering wait (Config::group_commit_wait = 0): what the
// wait is worth, measured in the same run.
void BM_CommitNoGather(benchmark::State& state) {
  persy::Config config;
  config.group_commit_wait = std::chrono::microseconds(0);
  RunCommits(state, config);
}
BENCHMARK(BM_CommitNoGather)->Threads(2)->Threads(8)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
