// Fuzzes the engine against the reference model: the input decodes into a sequence of the
// shared operation vocabulary (model/ops.h) - transactions on records and indexes, commits,
// prepares and the decisions of prepared transactions, snapshots and their reads, crashes,
// crashes inside a commit, prepare or decision, injected I/O errors, reopens, and the ways of
// recovering transactions left in doubt (cut short by a power-off) - which the executor
// (model/executor.h) runs on the model and on the engine over a simulated disk, comparing every
// result, the recovered state and the integrity check. Any difference aborts with the ops.
//
// Input: byte 0 picks whether the sequence starts with the prelude (segments "s0", "s1" and
// indexes "i0", "i1" created; byte 1 picks the indexes' types), bytes 2-9 seed the disk, the rest
// is DecodeOps. FUZZ_VERBOSE=1 prints the operations.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "model/executor.h"
#include "model/ops.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using persy::model::Op;
  if (size < 10) return 0;
  std::vector<Op> ops;
  if (data[0] % 4 != 0) ops = persy::model::Prelude(data[1] % persy::model::kIndexSpecCount);
  persy::model::ExecutorOptions options;
  std::memcpy(&options.seed, data + 2, sizeof(options.seed));
  std::vector<Op> decoded = persy::model::DecodeOps(data + 10, size - 10);
  ops.insert(ops.end(), decoded.begin(), decoded.end());
  if (std::getenv("FUZZ_VERBOSE") != nullptr) {
    std::fprintf(stderr, "seed %llu\n%s\n", static_cast<unsigned long long>(options.seed),
                 persy::model::ToString(ops).c_str());
  }
  absl::Status s = persy::model::RunOps(options, ops);
  if (!s.ok()) {
    std::fprintf(stderr, "engine_ops_fuzz: the engine differs from the model (disk seed %llu):\n"
                 "%s\n%s\n", static_cast<unsigned long long>(options.seed),
                 s.ToString().c_str(), persy::model::ToString(ops).c_str());
    std::abort();
  }
  return 0;
}
