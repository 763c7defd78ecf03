#include "tools/test_seed.h"

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace persy::testing {

uint64_t TestSeed() {
  uint64_t seed;
  if (const char* env = std::getenv("PERSY_SEED"); env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 0);
  } else {
    std::random_device device;
    seed = (static_cast<uint64_t>(device()) << 32) ^ device();
  }
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info == nullptr
                         ? "?"
                         : std::string(info->test_suite_name()) + "." + info->name();
  std::fprintf(stderr,
               "[seed] %s seed=%llu; replay: PERSY_SEED=%llu with --gtest_filter=%s "
               "(bazel: --test_env=PERSY_SEED=%llu --test_arg=--gtest_filter=%s)\n",
               name.c_str(), static_cast<unsigned long long>(seed),
               static_cast<unsigned long long>(seed), name.c_str(),
               static_cast<unsigned long long>(seed), name.c_str());
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

}  // namespace persy::testing
