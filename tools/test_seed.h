// The seed of a randomized test, printed so that any failure can be replayed.
//
// Every randomized test takes its seed from here. It is $PERSY_SEED when set, and otherwise
// fresh for each run, so that CI explores new cases; either way it is printed with the command
// that replays it, and recorded as the test's "seed" property in the gtest XML.
// Safe for concurrent use by multiple threads.

#ifndef TOOLS_TEST_SEED_H_
#define TOOLS_TEST_SEED_H_

#include <cstdint>

namespace persy::testing {

// Returns the seed for the running gtest test and prints how to replay it.
uint64_t TestSeed();

}  // namespace persy::testing

#endif  // TOOLS_TEST_SEED_H_
