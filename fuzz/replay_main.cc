// A main() for fuzz targets outside libFuzzer: replays every file of the directories or files
// given as arguments, then random inputs from a seed ($PERSY_SEED, or fresh and printed), so
// that each target is also a regression test in every build configuration.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr int kDefaultRandomInputs = 2000;
constexpr size_t kMaxRandomSize = 512;

void RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
  int files = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg)) {
        RunFile(entry.path());
        ++files;
      }
    } else {
      RunFile(arg);
      ++files;
    }
  }
  uint64_t seed;
  if (const char* env = std::getenv("PERSY_SEED"); env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 0);
  } else {
    seed = std::random_device()();
  }
  std::fprintf(stderr, "[seed] %s seed=%llu; replay: PERSY_SEED=%llu %s\n", argv[0],
               static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed),
               argv[0]);
  // A target whose inputs are slow to run asks for fewer ($FUZZ_RANDOM_INPUTS, fuzz.bzl).
  int random_inputs = kDefaultRandomInputs;
  if (const char* env = std::getenv("FUZZ_RANDOM_INPUTS"); env != nullptr && *env != '\0') {
    random_inputs = std::atoi(env);
  }
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> input;
  for (int i = 0; i < random_inputs; ++i) {
    input.resize(rng() % kMaxRandomSize);
    for (uint8_t& b : input) b = static_cast<uint8_t>(rng());
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  if (files == 0) {
    std::fprintf(stderr, "replay: no corpus files found\n");
    return 1;
  }
  std::printf("replayed %d corpus files and %d random inputs: %d passed, 0 failed\n", files,
              random_inputs, files + random_inputs);
  return 0;
}
