// Helpers for the engine's API tests: creating a database on the simulated disk, beginning a
// transaction, reading a file's size, and asserting a call's persy error by name.
//
//   auto db = MustCreate(sim, "/db/x.persy");
//   EXPECT_ERR(Error::kSegmentNotFound, tx->Insert("nope", "bytes"));

#ifndef ENGINE_TEST_UTIL_H_
#define ENGINE_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "engine/persy.h"
#include "tools/status_test_util.h"
#include "vfs/sim_vfs.h"

namespace persy::testing {

inline std::unique_ptr<Persy> MustCreate(vfs::SimVfs& sim, const std::string& path,
                                         const Config& config = Config()) {
  auto db = Persy::Create(path, config, &sim);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

inline std::unique_ptr<Transaction> MustBegin(Persy& db, const TxOptions& options = TxOptions()) {
  auto tx = db.Begin(options);
  EXPECT_TRUE(tx.ok()) << tx.status();
  return tx.ok() ? std::move(*tx) : nullptr;
}

// The size of the file at `path` as the simulated disk has it now (0, with a test failure, if it
// cannot be read).
inline uint64_t FileSize(vfs::SimVfs& sim, const std::string& path) {
  auto file = sim.Open(path);
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return 0;
  absl::StatusOr<uint64_t> size = (*file)->Size();
  EXPECT_TRUE(size.ok()) << size.status();
  return size.ok() ? *size : 0;
}

inline TxOptions WithId(std::string transaction_id) {
  TxOptions options;
  options.transaction_id = std::move(transaction_id);
  return options;
}

}  // namespace persy::testing

// The persy error of a call, compared by name so that a failure prints both.
#define EXPECT_ERR(error, ...)                                                   \
  EXPECT_EQ(::persy::ErrorName(::persy::ErrorOf(::persy::testing::StatusOf(__VA_ARGS__))), \
            ::persy::ErrorName(error))                                           \
      << #__VA_ARGS__

#endif  // ENGINE_TEST_UTIL_H_
