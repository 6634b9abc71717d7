// Runs a libFuzzer target without libFuzzer, so `bazel test` (gcc) exercises
// every fuzz target: first each file of the seed corpus given as arguments,
// then a bounded number of deterministic mutations of those seeds. Real
// coverage-guided fuzzing runs with clang via scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                         input.size());
}

std::string Mutate(std::string input, std::mt19937& gen) {
  static const char kInteresting[] = ":/[]%.\\-_*?\"{}\n\0\xff 0123456789";
  int edits = 1 + gen() % 4;
  for (int i = 0; i < edits; ++i) {
    size_t at = input.empty() ? 0 : gen() % (input.size() + 1);
    char c = gen() % 2 ? static_cast<char>(gen() % 256)
                       : kInteresting[gen() % (sizeof(kInteresting) - 1)];
    switch (gen() % 3) {
      case 0:
        input.insert(at, 1, c);
        break;
      case 1:
        if (at < input.size()) input.erase(at, 1);
        break;
      default:
        if (at < input.size()) input[at] = c;
    }
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> seeds = {""};
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    seeds.push_back(text.str());
  }
  for (const std::string& seed : seeds) Run(seed);
  std::mt19937 gen(20261123);
  constexpr int kMutations = 20000;
  for (int i = 0; i < kMutations; ++i) {
    Run(Mutate(seeds[gen() % seeds.size()], gen));
  }
  std::cout << "replayed " << seeds.size() << " seeds and " << kMutations
            << " mutations without a crash" << std::endl;
  return 0;
}
