// Tests of the index API over the simulated disk: every call's semantics and errors, the value
// modes, ordering of every key type through the engine, the transaction view, commit checks
// between transactions, durability across reopen and crashes, and concurrent commits into one
// index (run under TSan by tools/test.sh).

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/persy.h"
#include "engine/test_util.h"
#include "tools/test_seed.h"
#include "vfs/sim_vfs.h"

namespace persy {
namespace {

using vfs::SimVfs;

constexpr char kPath[] = "/db/index.persy";

using ::persy::testing::MustBegin;

// The values of a u64 -> string index's key, through the typed Get of a Persy or Transaction.
template <typename H>
std::vector<std::string> Values(H& h, std::string_view index, uint64_t key) {
  absl::StatusOr<std::vector<std::string>> v = h.template Get<uint64_t, std::string>(index, key);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : std::vector<std::string>();
}

std::unique_ptr<Persy> MustCreate(SimVfs& sim, const Config& config = Config()) {
  return ::persy::testing::MustCreate(sim, kPath, config);
}

uint64_t FileSize(SimVfs& sim) {
  auto file = sim.Open(kPath);
  EXPECT_TRUE(file.ok());
  return file.ok() ? *(*file)->Size() : 0;
}

TxOptions With(TxStrategy strategy) {
  TxOptions options;
  options.strategy = strategy;
  return options;
}

// The whole index as (key, values) pairs, through Range outside transactions, forward; and
// checks that backward gives the reverse.
using U64Dump = std::vector<std::pair<uint64_t, std::vector<std::string>>>;
U64Dump DumpU64(Persy& db, std::string_view index) {
  U64Dump out;
  absl::Status s = db.Range<uint64_t, std::string>(
      index, IndexBound::Unbounded(), IndexBound::Unbounded(), Direction::kForward,
      [&](const uint64_t& k, const std::vector<std::string>& v) {
        out.emplace_back(k, v);
        return true;
      });
  EXPECT_TRUE(s.ok()) << s;
  U64Dump back;
  s = db.Range<uint64_t, std::string>(index, IndexBound::Unbounded(), IndexBound::Unbounded(),
                                      Direction::kBackward,
                                      [&](const uint64_t& k, const std::vector<std::string>& v) {
                                        back.emplace_back(k, v);
                                        return true;
                                      });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(U64Dump(back.rbegin(), back.rend()), out);
  return out;
}

TEST(IndexTest, CreateListExistsDropAndTheirErrors) {
  SimVfs sim(1);
  auto db = MustCreate(sim);
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->CreateIndex<uint64_t, std::string>("by_id", ValueMode::kReplace));
  ASSERT_OK(tx->CreateIndex("names", IndexType::kString, IndexType::kRecordId, ValueMode::kCluster));
  EXPECT_ERR(Error::kIndexAlreadyExists, tx->CreateIndex("by_id", IndexType::kU8, IndexType::kU8, ValueMode::kReplace));
  EXPECT_ERR(Error::kInvalidArgument, tx->CreateIndex("", IndexType::kU8, IndexType::kU8, ValueMode::kReplace));
  EXPECT_ERR(Error::kInvalidArgument, tx->CreateIndex(std::string(256, 'n'), IndexType::kU8, IndexType::kU8,
                             ValueMode::kReplace));
  EXPECT_ERR(Error::kCannotDropIndexCreatedInTx, tx->DropIndex("by_id"));
  EXPECT_ERR(Error::kIndexNotFound, tx->DropIndex("nope"));
  EXPECT_TRUE(*tx->ExistsIndex("names"));
  EXPECT_FALSE(*db->ExistsIndex("names")) << "not committed yet";
  ASSERT_OK(tx->Commit());
  EXPECT_ERR(Error::kTransactionFinished, tx->ListIndexes());

  absl::StatusOr<std::vector<IndexInfo>> list = db->ListIndexes();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0], (IndexInfo{"by_id", 1, IndexType::kU64, IndexType::kString,
                                   ValueMode::kReplace}));
  EXPECT_EQ((*list)[1], (IndexInfo{"names", 2, IndexType::kString, IndexType::kRecordId,
                                   ValueMode::kCluster}));
  // An index and a segment may share a name.
  tx = MustBegin(*db);
  ASSERT_OK(tx->CreateSegment("by_id"));
  ASSERT_OK(tx->DropIndex("names"));
  EXPECT_FALSE(*tx->ExistsIndex("names"));
  EXPECT_ERR(Error::kIndexNotFound, tx->Put("names", std::string("a"), RecordId(1, 1)));
  ASSERT_OK(tx->CreateIndex("names", IndexType::kU8, IndexType::kU8, ValueMode::kReplace));
  ASSERT_OK(tx->Commit());
  list = db->ListIndexes();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].key_type, IndexType::kU8);
  EXPECT_EQ((*list)[1].id, 3u) << "ids are never reused";
  ASSERT_OK(db->CheckIntegrity());
}

TEST(IndexTest, ValueModes) {
  SimVfs sim(2);
  auto db = MustCreate(sim);
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->CreateIndex<uint64_t, std::string>("replace", ValueMode::kReplace));
  ASSERT_OK(tx->CreateIndex<uint64_t, std::string>("exclusive", ValueMode::kExclusive));
  ASSERT_OK(tx->CreateIndex<uint64_t, std::string>("cluster", ValueMode::kCluster));
  for (const char* index : {"replace", "exclusive", "cluster"}) {
    ASSERT_OK(tx->Put<uint64_t, std::string>(index, 1, "a"));
  }
  ASSERT_OK(tx->Put<uint64_t, std::string>("replace", 1, "b"));
  EXPECT_EQ(Values(*tx, "replace", 1), std::vector<std::string>{"b"});
  EXPECT_ERR(Error::kIndexDuplicateKey, tx->Put<uint64_t, std::string>("exclusive", 1, "b"));
  ASSERT_OK(tx->Put<uint64_t, std::string>("exclusive", 1, "a")) << "the same value again";
  EXPECT_EQ(Values(*tx, "exclusive", 1), std::vector<std::string>{"a"});
  ASSERT_OK(tx->Put<uint64_t, std::string>("cluster", 1, "c"));
  ASSERT_OK(tx->Put<uint64_t, std::string>("cluster", 1, "b"));
  ASSERT_OK(tx->Put<uint64_t, std::string>("cluster", 1, "a"));
  EXPECT_EQ(Values(*tx, "cluster", 1),
            (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_OK(tx->Commit());
  EXPECT_EQ(Values(*db, "cluster", 1),
            (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Values(*db, "replace", 1), std::vector<std::string>{"b"});

  tx = MustBegin(*db);
  ASSERT_OK(tx->Remove("cluster", uint64_t{1}, IndexValue(std::string("b"))));
  ASSERT_OK(tx->Remove("cluster", uint64_t{1}, IndexValue(std::string("zz"))));  // absent: fine
  ASSERT_OK(tx->Remove("exclusive", uint64_t{1}));
  ASSERT_OK(tx->Put<uint64_t, std::string>("exclusive", 1, "z")) << "free after the remove";
  ASSERT_OK(tx->Remove("replace", uint64_t{1}));
  ASSERT_OK(tx->Remove("replace", uint64_t{7}));
  ASSERT_OK(tx->Commit());
  EXPECT_EQ(Values(*db, "cluster", 1), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(Values(*db, "exclusive", 1), std::vector<std::string>{"z"});
  EXPECT_TRUE(Values(*db, "replace", 1).empty());
  ASSERT_OK(db->CheckIntegrity());
}

TEST(IndexTest, TypesSizesAndTheirErrors) {
  SimVfs sim(3);
  auto db = MustCreate(sim);
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->CreateIndex<std::string, ByteString>("s", ValueMode::kReplace));
  EXPECT_ERR(Error::kIndexTypeMismatch, tx->Put("s", uint64_t{1}, ByteString{"x"}));
  EXPECT_ERR(Error::kIndexTypeMismatch, tx->Put("s", std::string("k"), std::string("x")));
  EXPECT_ERR(Error::kIndexTypeMismatch, tx->Get("s", ByteString{"k"}));
  EXPECT_ERR(Error::kIndexTypeMismatch, (tx->Get<std::string, std::string>("s", "k")))
      << "the typed Get checks the value type too";
  EXPECT_ERR(Error::kIndexTypeMismatch, tx->Range("s", IndexBound::Included(int32_t{1}), IndexBound::Unbounded(),
                       Direction::kForward, [](auto&, auto&) { return true; }));
  EXPECT_ERR(Error::kIndexTypeMismatch, tx->Remove("s", std::string("k"), IndexValue(std::string("v"))));
  EXPECT_ERR(Error::kKeyTooBig, tx->Put("s", std::string(kMaxIndexKeySize + 1, 'k'), ByteString{"v"}));
  EXPECT_ERR(Error::kValueTooBig, tx->Put("s", std::string("k"), ByteString{std::string(kMaxIndexValueSize + 1, 'v')}));
  EXPECT_ERR(Error::kKeyTooBig, tx->Get("s", std::string(kMaxIndexKeySize + 1, 'k')));
  ASSERT_OK(tx->Put("s", std::string(kMaxIndexKeySize, 'k'),
                    ByteString{std::string(kMaxIndexValueSize, 'v')}));
  ASSERT_OK(tx->Commit());
  EXPECT_EQ((*db->Get<std::string, ByteString>("s", std::string(kMaxIndexKeySize, 'k')))[0].bytes,
            std::string(kMaxIndexValueSize, 'v'));
}

// Every key type through the engine: a range gives the keys in the documented order.
TEST(IndexTest, EveryKeyTypeOrders) {
  SimVfs sim(4);
  auto db = MustCreate(sim);
  auto check = [&](std::string name, std::vector<IndexValue> keys_in_order) {
    SCOPED_TRACE(name);
    const IndexType type = TypeOf(keys_in_order[0]);
    auto tx = MustBegin(*db);
    ASSERT_OK(tx->CreateIndex(name, type, IndexType::kU32, ValueMode::kReplace));
    // Put in a shuffled order.
    std::vector<size_t> order(keys_in_order.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
    for (size_t i : order) ASSERT_OK(tx->Put(name, keys_in_order[i], uint32_t(i)));
    ASSERT_OK(tx->Commit());
    std::vector<uint32_t> seen;
    ASSERT_OK(db->Range(name, IndexBound::Unbounded(), IndexBound::Unbounded(),
                        Direction::kForward, [&](const IndexValue&, const std::vector<IndexValue>& v) {
                          seen.push_back(std::get<uint32_t>(v[0]));
                          return true;
                        }));
    std::vector<uint32_t> want(keys_in_order.size());
    for (size_t i = 0; i < want.size(); ++i) want[i] = static_cast<uint32_t>(i);
    EXPECT_EQ(seen, want);
  };
  using F = std::numeric_limits<double>;
  using G = std::numeric_limits<float>;
  check("u8", {uint8_t{0}, uint8_t{1}, uint8_t{255}});
  check("u16", {uint16_t{0}, uint16_t{256}, uint16_t{65535}});
  check("u32", {uint32_t{0}, uint32_t{1} << 31, ~uint32_t{0}});
  check("u64", {uint64_t{0}, uint64_t{255}, uint64_t{256}, ~uint64_t{0}});
  check("u128", {u128{0}, u128{1} << 64, ~u128{0}});
  check("i8", {int8_t{-128}, int8_t{-1}, int8_t{0}, int8_t{127}});
  check("i16", {int16_t{-32768}, int16_t{-1}, int16_t{0}, int16_t{1}});
  check("i32", {int32_t{INT32_MIN}, int32_t{-1}, int32_t{0}, int32_t{INT32_MAX}});
  check("i64", {int64_t{INT64_MIN}, int64_t{-256}, int64_t{-1}, int64_t{0}, int64_t{INT64_MAX}});
  check("i128", {-(i128{1} << 100), i128{-1}, i128{0}, i128{1} << 100});
  check("f32", {-G::infinity(), -1.5f, -G::denorm_min(), -0.0f, 0.0f, G::denorm_min(), 2.0f,
                G::infinity(), G::quiet_NaN()});
  check("f64", {-F::infinity(), -1e300, -0.0, 0.0, 1e-300, 1.0, F::infinity(), F::quiet_NaN()});
  check("string", {std::string(""), std::string("a"), std::string("ab"), std::string("b"),
                   std::string("\x80")});
  check("bytes", {ByteString{""}, ByteString{std::string(1, '\0')}, ByteString{"\xff"}});
  check("record_id", {RecordId(1, 2), RecordId(1, 300), RecordId(2, 0)});
  // All NaNs are one key.
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->Put("f64", -F::quiet_NaN(), uint32_t{99}));
  EXPECT_EQ((*tx->Get<double, uint32_t>("f64", F::quiet_NaN())), std::vector<uint32_t>{99});
  EXPECT_EQ((*tx->Get<double, uint32_t>("f64", -0.0)), std::vector<uint32_t>{2});
}

TEST(IndexTest, RangeBoundsDirectionsAndTheTransactionView) {
  SimVfs sim(5);
  auto db = MustCreate(sim);
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->CreateIndex<uint64_t, std::string>("i", ValueMode::kCluster));
  for (uint64_t k = 10; k <= 50; k += 10) ASSERT_OK(tx->Put<uint64_t, std::string>("i", k, "c"));
  ASSERT_OK(tx->Commit());
  tx = MustBegin(*db);
  ASSERT_OK(tx->Put<uint64_t, std::string>("i", 25, "t"));   // new key
  ASSERT_OK(tx->Put<uint64_t, std::string>("i", 30, "t"));   // joins a committed key
  ASSERT_OK(tx->Remove("i", uint64_t{40}));                  // hides a committed key
  auto keys = [&](IndexBound from, IndexBound to, Direction d) {
    std::vector<std::pair<uint64_t, size_t>> out;
    absl::Status s = tx->Range<uint64_t, std::string>(
        "i", from, to, d, [&](const uint64_t& k, const std::vector<std::string>& v) {
          out.emplace_back(k, v.size());
          return true;
        });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  };
  using P = std::vector<std::pair<uint64_t, size_t>>;
  EXPECT_EQ(keys(IndexBound::Unbounded(), IndexBound::Unbounded(), Direction::kForward),
            (P{{10, 1}, {20, 1}, {25, 1}, {30, 2}, {50, 1}}));
  EXPECT_EQ(keys(IndexBound::Included(uint64_t{20}), IndexBound::Excluded(uint64_t{50}),
                 Direction::kForward),
            (P{{20, 1}, {25, 1}, {30, 2}}));
  EXPECT_EQ(keys(IndexBound::Excluded(uint64_t{20}), IndexBound::Included(uint64_t{50}),
                 Direction::kBackward),
            (P{{50, 1}, {30, 2}, {25, 1}}));
  EXPECT_EQ(keys(IndexBound::Included(uint64_t{30}), IndexBound::Included(uint64_t{30}),
                 Direction::kBackward),
            (P{{30, 2}}));
  EXPECT_TRUE(keys(IndexBound::Included(uint64_t{31}), IndexBound::Included(uint64_t{29}),
                   Direction::kForward).empty()) << "from after to";
  EXPECT_TRUE(keys(IndexBound::Excluded(uint64_t{30}), IndexBound::Excluded(uint64_t{30}),
                   Direction::kForward).empty());
  // Stopping early.
  int calls = 0;
  ASSERT_OK(tx->Range("i", IndexBound::Unbounded(), IndexBound::Unbounded(), Direction::kBackward,
                      [&](const IndexValue&, const std::vector<IndexValue>&) { return ++calls < 2; }));
  EXPECT_EQ(calls, 2);
  // Others do not see the transaction's changes until it commits.
  EXPECT_EQ(DumpU64(*db, "i").size(), 5u);
  ASSERT_OK(tx->Commit());
  EXPECT_EQ(DumpU64(*db, "i"),
            (U64Dump{{10, {"c"}}, {20, {"c"}}, {25, {"t"}}, {30, {"c", "t"}}, {50, {"c"}}}));
}

TEST(IndexTest, CommitChecksBetweenTransactions) {
  SimVfs sim(6);
  auto db = MustCreate(sim);
  auto setup = MustBegin(*db);
  ASSERT_OK(setup->CreateIndex<uint64_t, std::string>("x", ValueMode::kExclusive));
  ASSERT_OK(setup->CreateIndex<uint64_t, std::string>("c", ValueMode::kCluster));
  ASSERT_OK(setup->CreateIndex<uint64_t, std::string>("r", ValueMode::kReplace));
  ASSERT_OK(setup->Commit());

  // Exclusive: two transactions put different values under one key; the second commit fails.
  auto a = MustBegin(*db);
  auto b = MustBegin(*db);
  ASSERT_OK(a->Put<uint64_t, std::string>("x", 1, "a"));
  ASSERT_OK(b->Put<uint64_t, std::string>("x", 1, "b"));
  ASSERT_OK(a->Commit());
  EXPECT_EQ(Values(*b, "x", 1), std::vector<std::string>{"b"})
      << "a transaction sees its own put";
  EXPECT_ERR(Error::kIndexDuplicateKey, b->Commit());
  EXPECT_EQ(Values(*db, "x", 1), std::vector<std::string>{"a"});

  // The commit replays every put of an exclusive index, even one a later remove undid.
  a = MustBegin(*db);
  b = MustBegin(*db);
  ASSERT_OK(a->Put<uint64_t, std::string>("x", 2, "a"));
  ASSERT_OK(a->Remove("x", uint64_t{2}));
  ASSERT_OK(b->Put<uint64_t, std::string>("x", 2, "b"));
  ASSERT_OK(b->Commit());
  EXPECT_ERR(Error::kIndexDuplicateKey, a->Commit());

  // Cluster, last writer wins: concurrent puts of different values are both kept.
  a = MustBegin(*db);
  b = MustBegin(*db);
  ASSERT_OK(a->Put<uint64_t, std::string>("c", 1, "a"));
  ASSERT_OK(b->Put<uint64_t, std::string>("c", 1, "b"));
  ASSERT_OK(a->Commit());
  ASSERT_OK(b->Commit());
  EXPECT_EQ(Values(*db, "c", 1), (std::vector<std::string>{"a", "b"}));

  // Version on write: a key changed meanwhile is a conflict.
  a = MustBegin(*db, With(TxStrategy::kVersionOnWrite));
  b = MustBegin(*db);
  ASSERT_OK(a->Put<uint64_t, std::string>("r", 5, "a"));
  ASSERT_OK(b->Put<uint64_t, std::string>("r", 5, "b"));
  ASSERT_OK(b->Commit());
  EXPECT_ERR(Error::kVersionConflict, a->Commit());
  // ... and a key nobody else touched is not.
  a = MustBegin(*db, With(TxStrategy::kVersionOnWrite));
  b = MustBegin(*db);
  ASSERT_OK(a->Put<uint64_t, std::string>("r", 6, "a"));
  ASSERT_OK(b->Put<uint64_t, std::string>("r", 7, "b"));
  ASSERT_OK(b->Commit());
  ASSERT_OK(a->Commit());

  // Version on read: a key read with Get and changed meanwhile is a conflict.
  a = MustBegin(*db, With(TxStrategy::kVersionOnRead));
  EXPECT_EQ(Values(*a, "r", 6), std::vector<std::string>{"a"});
  ASSERT_OK(a->Put<uint64_t, std::string>("r", 8, "z"));
  b = MustBegin(*db);
  ASSERT_OK(b->Remove("r", uint64_t{6}));
  ASSERT_OK(b->Commit());
  EXPECT_ERR(Error::kVersionConflict, a->Commit());
  EXPECT_TRUE(Values(*db, "r", 8).empty()) << "nothing of a failed commit";

  // Dropped meanwhile.
  a = MustBegin(*db);
  ASSERT_OK(a->Put<uint64_t, std::string>("c", 9, "a"));
  b = MustBegin(*db);
  ASSERT_OK(b->DropIndex("c"));
  ASSERT_OK(b->Commit());
  EXPECT_ERR(Error::kIndexNotFound, a->Commit());
  // Created meanwhile.
  a = MustBegin(*db);
  b = MustBegin(*db);
  ASSERT_OK(a->CreateIndex<uint8_t, uint8_t>("new", ValueMode::kReplace));
  ASSERT_OK(b->CreateIndex<uint8_t, uint8_t>("new", ValueMode::kCluster));
  ASSERT_OK(a->Commit());
  EXPECT_ERR(Error::kIndexAlreadyExists, b->Commit());
  ASSERT_OK(db->CheckIntegrity());
}

TEST(IndexTest, SurvivesReopenAndSpaceIsReused) {
  SimVfs sim(7);
  Config config;
  config.cache_size_bytes = 64 << 10;
  auto db = MustCreate(sim, config);
  auto tx = MustBegin(*db);
  ASSERT_OK(tx->CreateIndex<uint64_t, std::string>("i", ValueMode::kCluster));
  ASSERT_OK(tx->Commit());
  std::map<uint64_t, std::vector<std::string>> model;
  for (int round = 0; round < 20; ++round) {
    tx = MustBegin(*db);
    for (uint64_t k = 0; k < 500; ++k) {
      const uint64_t key = round * 500 + k;
      ASSERT_OK(tx->Put<uint64_t, std::string>("i", key, std::string(100, 'v')));
      model[key] = {std::string(100, 'v')};
    }
    ASSERT_OK(tx->Commit());
  }
  ASSERT_OK(db->CheckIntegrity());
  const uint64_t full = FileSize(sim);
  ASSERT_OK(db->Close());
  db.reset();
  db = std::move(*Persy::Open(kPath, config, &sim));
  EXPECT_EQ(DumpU64(*db, "i").size(), model.size());
  // Remove all but a few: the tree shrinks and the file gives the space back at a checkpoint.
  tx = MustBegin(*db);
  for (uint64_t k = 0; k < 10000; ++k) {
    if (k % 1000 != 0) {
      ASSERT_OK(tx->Remove("i", k));
    }
  }
  ASSERT_OK(tx->Commit());
  ASSERT_OK(db->CheckIntegrity());
  ASSERT_OK(db->Close());
  EXPECT_LT(FileSize(sim), full / 4) << "freed index pages were given back";
  db.reset();
  db = std::move(*Persy::Open(kPath, config, &sim));
  EXPECT_EQ(DumpU64(*db, "i").size(), 10u);
  // Dropping the index frees the rest.
  tx = MustBegin(*db);
  ASSERT_OK(tx->DropIndex("i"));
  ASSERT_OK(tx->Commit());
  ASSERT_OK(db->CheckIntegrity());
}

// The state of index "i" (u64 -> string, cluster) as a map.
using State = std::map<uint64_t, std::vector<std::string>>;
State Snapshot(Persy& db) {
  State out;
  for (auto& [k, v] : DumpU64(db, "i")) out[k] = v;
  return out;
}

// One index-heavy commit: puts and removes of random keys, with long values so that nodes split
// and merge; `after` is the expected state if it commits.
absl::Status IndexStep(Persy& db, uint64_t seed, int step, const State& before, State* after) {
  std::mt19937_64 rng(seed * 1000 + step);
  *after = before;
  absl::StatusOr<std::unique_ptr<Transaction>> tx = db.Begin();
  if (!tx.ok()) return tx.status();
  for (int i = 0; i < 60; ++i) {
    const uint64_t key = rng() % 200;
    if (rng() % 3 == 0) {
      if (absl::Status s = (*tx)->Remove("i", key); !s.ok()) return s;
      after->erase(key);
    } else {
      std::string value(50 + rng() % 400, static_cast<char>('a' + rng() % 26));
      if (absl::Status s = (*tx)->Put<uint64_t, std::string>("i", key, value); !s.ok()) return s;
      auto& values = (*after)[key];
      if (std::find(values.begin(), values.end(), value) == values.end()) {
        values.insert(std::lower_bound(values.begin(), values.end(), value), value);
      }
    }
  }
  return (*tx)->Commit();
}

// A crash at every I/O event of an index-heavy commit, with the harsh default damage: after
// recovery the index is exactly as before or after that commit, and after if it returned.
TEST(IndexTest, CrashAtEveryEventOfAnIndexCommit) {
  const uint64_t seed = persy::testing::TestSeed();
  Config config;
  config.checkpoint_journal_bytes = 64 << 10;
  for (int target : {2, 5}) {
    for (uint64_t k = 1;; ++k) {
      SimVfs sim(seed + k);
      sim.set_record_events(false);
      auto db = MustCreate(sim, config);
      {
        auto tx = MustBegin(*db);
        ASSERT_OK(tx->CreateIndex<uint64_t, std::string>("i", ValueMode::kCluster));
        ASSERT_OK(tx->Commit());
      }
      State state;
      for (int step = 0; step < target; ++step) {
        State next;
        ASSERT_OK(IndexStep(*db, seed, step, state, &next));
        state = next;
      }
      sim.PowerOffAfter(k);
      State next;
      absl::Status committed = IndexStep(*db, seed, target, state, &next);
      const bool power_lost = sim.powered_off();
      db.reset();
      sim.Crash();
      auto reopened = Persy::Open(kPath, config, &sim);
      ASSERT_TRUE(reopened.ok()) << "target " << target << " k " << k << ": "
                                 << reopened.status() << " (seed " << seed << ")";
      absl::Status integrity = (*reopened)->CheckIntegrity();
      ASSERT_TRUE(integrity.ok()) << "target " << target << " k " << k << ": " << integrity;
      State seen = Snapshot(**reopened);
      if (committed.ok()) {
        ASSERT_EQ(seen, next) << "a returned commit was lost: target " << target << " k " << k;
      } else {
        ASSERT_TRUE(seen == state || seen == next)
            << "partial commit: target " << target << " k " << k << " (seed " << seed << ")";
      }
      if (!power_lost) break;
    }
  }
}

// A flipped bit anywhere in a file holding an index: opening, ranging and the integrity check
// give the committed entries or DataLoss, never other entries.
TEST(IndexTest, BitRotGivesDataLossNotWrongEntries) {
  const uint64_t seed = persy::testing::TestSeed();
  int data_loss = 0;
  for (uint64_t round = 0; round < 30; ++round) {
    SimVfs sim(seed + round);
    auto db = MustCreate(sim);
    {
      auto tx = MustBegin(*db);
      ASSERT_OK(tx->CreateIndex<uint64_t, std::string>("i", ValueMode::kCluster));
      ASSERT_OK(tx->Commit());
    }
    State state;
    for (int step = 0; step < 4; ++step) {
      State next;
      ASSERT_OK(IndexStep(*db, seed + round, step, state, &next));
      state = next;
    }
    ASSERT_OK(db->Close());
    db.reset();
    const uint64_t size = sim.DurableImage(kPath)->size();
    std::mt19937_64 rng(seed + round);
    ASSERT_OK(sim.FlipDurableBit(kPath, rng() % (size * 8)));
    sim.Crash();
    auto reopened = Persy::Open(kPath, Config(), &sim);
    if (!reopened.ok()) {
      EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss) << reopened.status();
      ++data_loss;
      continue;
    }
    State seen;
    absl::Status s = (*reopened)->Range<uint64_t, std::string>(
        "i", IndexBound::Unbounded(), IndexBound::Unbounded(), Direction::kForward,
        [&](const uint64_t& k, const std::vector<std::string>& v) {
          seen[k] = v;
          return true;
        });
    absl::Status integrity = (*reopened)->CheckIntegrity();
    if (!s.ok() || !integrity.ok()) {
      for (const absl::Status& e : {s, integrity}) {
        if (!e.ok()) {
          EXPECT_EQ(e.code(), absl::StatusCode::kDataLoss) << e;
        }
      }
      ++data_loss;
      continue;
    }
    EXPECT_EQ(seen, state) << "round " << round << " (seed " << seed << ")";
  }
  std::printf("bit rot: %d of 30 rounds reported DataLoss, the rest were harmless\n", data_loss);
}

// Threads commit into one cluster index at once, each its own values under shared keys, with
// readers ranging meanwhile: every committed value is there at the end (none lost), and a
// reader never sees a value of a transaction before its commit returned... (read committed:
// a value seen belongs to a committed or committing transaction).
TEST(IndexTest, ConcurrentCommitsIntoOneIndexLoseNothing) {
  SimVfs sim(8);
  auto db = MustCreate(sim);
  {
    auto tx = MustBegin(*db);
    ASSERT_OK(tx->CreateIndex<uint64_t, std::string>("i", ValueMode::kCluster));
    ASSERT_OK(tx->Commit());
  }
  constexpr int kWriters = 4;
  constexpr int kCommits = 25;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int c = 0; c < kCommits; ++c) {
        auto tx = db->Begin();
        if (!tx.ok()) { ++failures; return; }
        for (uint64_t k = 0; k < 10; ++k) {
          if (!(*tx)->Put<uint64_t, std::string>("i", k, absl::StrCat("w", w, "c", c)).ok()) {
            ++failures;
          }
        }
        if (!(*tx)->Commit().ok()) ++failures;
      }
    });
  }
  threads.emplace_back([&] {
    while (!done.load()) {
      size_t last = 0;
      absl::Status s = db->Range<uint64_t, std::string>(
          "i", IndexBound::Unbounded(), IndexBound::Unbounded(), Direction::kForward,
          [&](const uint64_t&, const std::vector<std::string>& v) {
            last = v.size();
            return true;
          });
      if (!s.ok()) ++failures;
    }
  });
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  done = true;
  threads.back().join();
  EXPECT_EQ(failures.load(), 0);
  for (uint64_t k = 0; k < 10; ++k) {
    EXPECT_EQ(Values(*db, "i", k).size(), size_t{kWriters * kCommits});
  }
  ASSERT_OK(db->CheckIntegrity());
}

}  // namespace
}  // namespace persy
