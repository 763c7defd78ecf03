// The README's example, compiled and run as a test so that it stays true.
// Usage: quickstart <path of a database file>

#include <cstdio>
#include <string>

#include "engine/persy.h"

namespace {

absl::Status Run(const std::string& path) {
  auto db = persy::Persy::OpenOrCreate(path, persy::Config(), [](persy::Transaction& tx) {
    if (absl::Status s = tx.CreateSegment("users"); !s.ok()) return s;
    // name -> the ids of the users of that name
    return tx.CreateIndex<std::string, persy::RecordId>("users_by_name",
                                                         persy::ValueMode::kCluster);
  });
  if (!db.ok()) return db.status();
  auto tx = (*db)->Begin();
  if (!tx.ok()) return tx.status();
  absl::StatusOr<persy::RecordId> id = (*tx)->Insert("users", "alice");
  if (!id.ok()) return id.status();
  if (absl::Status s = (*tx)->Put<std::string, persy::RecordId>("users_by_name", "alice", *id);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = (*tx)->Commit(); !s.ok()) return s;  // durable when it returns
  auto bytes = (*db)->Read("users", *id);
  if (!bytes.ok()) return bytes.status();
  auto alices = (*db)->Get<std::string, persy::RecordId>("users_by_name", "alice");
  if (!alices.ok()) return alices.status();
  std::printf("%s -> %s, %zu named alice\n", id->ToString().c_str(),
              bytes->value_or("<none>").c_str(), alices->size());
  return persy::RecordId::Parse(id->ToString()).status();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: quickstart <database file>\n");
    return 2;
  }
  absl::Status s = Run(argv[1]);
  if (!s.ok()) {
    std::fprintf(stderr, "quickstart: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
