// A database past the first allocation group (127 MiB): the journal must start new groups as
// the file grows (docs/format.md, principle 6), including for one commit larger than the room
// left. Memory-backed to stay fast; run in every configuration but sized to take seconds.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/persy.h"

namespace persy {
namespace {

TEST(LargeTest, GrowsPastTheFirstGroup) {
  Config config;
  config.cache_size_bytes = 4 << 20;
  auto db = Persy::OpenInMemory(config);
  ASSERT_TRUE(db.ok()) << db.status();
  {
    auto tx = (*db)->Begin();
    ASSERT_TRUE((*tx)->CreateSegment("big").ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  std::vector<std::pair<RecordId, char>> ids;
  const std::string chunk(1 << 20, 'x');
  // 120 MiB in commits of 8 MiB, then one commit of 24 MiB across the group boundary.
  for (int commit = 0; commit < 16; ++commit) {
    auto tx = (*db)->Begin();
    const int records = commit < 15 ? 8 : 24;
    for (int i = 0; i < records; ++i) {
      const char tag = static_cast<char>('a' + (commit + i) % 26);
      std::string bytes = chunk;
      bytes[0] = tag;
      auto id = (*tx)->Insert("big", bytes);
      ASSERT_TRUE(id.ok()) << id.status();
      ids.emplace_back(*id, tag);
    }
    absl::Status s = (*tx)->Commit();
    ASSERT_TRUE(s.ok()) << "commit " << commit << ": " << s;
  }
  for (const auto& [id, tag] : ids) {
    auto bytes = (*db)->Read("big", id);
    ASSERT_TRUE(bytes.ok() && bytes->has_value()) << id;
    ASSERT_EQ((**bytes)[0], tag);
    ASSERT_EQ((*bytes)->size(), chunk.size());
  }
  absl::Status integrity = (*db)->CheckIntegrity();
  EXPECT_TRUE(integrity.ok()) << integrity;
}

}  // namespace
}  // namespace persy
