// Config: the settings of an open database.
// Thread-safety: a plain value.

#ifndef ENGINE_CONFIG_H_
#define ENGINE_CONFIG_H_

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace persy {

// How a transaction's commit treats records that other transactions changed meanwhile.
enum class TxStrategy {
  // The last commit wins: a record updated by two transactions holds the later commit's bytes.
  kLastWriterWins,
  // Commit fails with VersionConflict if a record this transaction updated or deleted was
  // changed by another commit after this transaction first updated or deleted it. (A change
  // between its read and its update is not caught: for read-modify-write, kVersionOnRead.)
  kVersionOnWrite,
  // Like kVersionOnWrite, and also for every record this transaction read: a change after its
  // first read of it fails the commit.
  kVersionOnRead,
};

struct Config {
  // The page cache holds at most this many bytes of pages (at least 64 KiB).
  size_t cache_size_bytes = 32 << 20;
  // How long a commit waits for the commit lock before failing with LockTimeout.
  std::chrono::milliseconds lock_timeout = std::chrono::seconds(60);
  // The default strategy of transactions; TxOptions can override it.
  TxStrategy strategy = TxStrategy::kLastWriterWins;
  // A checkpoint runs after a commit once the journal holds more than this many bytes.
  uint64_t checkpoint_journal_bytes = 16 << 20;
  // Group commit: when the last group of commits showed that several threads commit at once,
  // the thread that leads the next group first waits, at most this long and at most as long as
  // the last sync took, for as many commits to queue as the last group held, so that they share
  // its sync instead of waiting for the one after it. It polls for the first 250 us of the
  // wait, yielding its processor to the threads it waits for, then sleeps. A lone committer
  // never waits; zero turns the wait off.
  std::chrono::microseconds group_commit_wait = std::chrono::microseconds(200);
};

}  // namespace persy

#endif  // ENGINE_CONFIG_H_
