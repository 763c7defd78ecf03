// Require: the model's check of its own preconditions. A misuse of the model is a bug in the
// harness, not in the engine: it stops at once, saying what was misused.
// Thread-safety: a pure function.

#ifndef MODEL_REQUIRE_H_
#define MODEL_REQUIRE_H_

#include <cstdio>
#include <cstdlib>

namespace persy::model {

inline void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "persy::model::Model misused: %s\n", what);
    std::abort();
  }
}

}  // namespace persy::model

#endif  // MODEL_REQUIRE_H_
