// Fuzzes the safetensors parser with mutated files: every input must either parse into a header whose
// ranges lie inside the file (checked by reading every byte of every tensor) or raise InputError. Any
// other exception, or a crash, fails. scripts/fuzz_safetensors.sh runs it under AddressSanitizer.
//
//   safetensors_fuzz [ITERATIONS] [SEED]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/io/safetensors_file.h"

namespace {

using hllm::io::StDtype;

// A valid file image with a few tensors of different dtypes and shapes.
std::vector<uint8_t> valid_image(std::mt19937_64& random) {
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  uint64_t offset = 0;
  const char* dtypes[] = {"F32", "BF16", "I64", "U8"};
  const int sizes[] = {4, 2, 8, 1};
  const int count = 1 + static_cast<int>(random() % 4);
  for (int i = 0; i < count; ++i) {
    const int d = static_cast<int>(random() % 4);
    const int rows = 1 + static_cast<int>(random() % 5), cols = 1 + static_cast<int>(random() % 7);
    const uint64_t bytes = static_cast<uint64_t>(rows) * cols * sizes[d];
    header += ",\"t" + std::to_string(i) + "\":{\"dtype\":\"" + dtypes[d] + "\",\"shape\":[" + std::to_string(rows) +
              "," + std::to_string(cols) + "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += "}";
  std::vector<uint8_t> image(8);
  for (int i = 0; i < 8; ++i) image[i] = static_cast<uint8_t>(static_cast<uint64_t>(header.size()) >> (8 * i));
  image.insert(image.end(), header.begin(), header.end());
  for (uint64_t i = 0; i < offset; ++i) image.push_back(static_cast<uint8_t>(random()));
  return image;
}

void mutate(std::vector<uint8_t>& image, std::mt19937_64& random) {
  const char* tokens[] = {"-1", "18446744073709551615", "4611686018427387904", "[", "]", "{", "}", "\"F32\"",
                          "\"X9\"", "null", "1e999", ",", ":", "\"data_offsets\"", "\"shape\"", "0"};
  const int rounds = 1 + static_cast<int>(random() % 4);
  for (int r = 0; r < rounds && !image.empty(); ++r) {
    switch (random() % 6) {
      case 0:  // flip a byte anywhere
        image[random() % image.size()] ^= static_cast<uint8_t>(1 + random() % 255);
        break;
      case 1:  // truncate
        image.resize(random() % image.size());
        break;
      case 2: {  // a new header length
        const uint64_t n = random() % 4 == 0 ? random() : random() % (image.size() + 16);
        for (int i = 0; i < 8 && i < static_cast<int>(image.size()); ++i) image[i] = static_cast<uint8_t>(n >> (8 * i));
        break;
      }
      case 3: {  // splice a JSON token into the header region
        const std::string token = tokens[random() % (sizeof(tokens) / sizeof(tokens[0]))];
        const size_t at = 8 + random() % std::max<size_t>(1, image.size() > 8 ? image.size() - 8 : 1);
        if (at <= image.size()) image.insert(image.begin() + at, token.begin(), token.end());
        break;
      }
      case 4: {  // overwrite a digit in the header with another digit
        for (int tries = 0; tries < 16 && image.size() > 8; ++tries) {
          const size_t at = 8 + random() % (image.size() - 8);
          if (image[at] >= '0' && image[at] <= '9') {
            image[at] = static_cast<uint8_t>('0' + random() % 10);
            break;
          }
        }
        break;
      }
      default:  // append junk
        for (int i = 0; i < 1 + static_cast<int>(random() % 32); ++i) image.push_back(static_cast<uint8_t>(random()));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 10000;
  const unsigned long long seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  std::mt19937_64 random(seed);
  long accepted = 0, rejected = 0;
  for (long i = 0; i < iterations; ++i) {
    auto image = valid_image(random);
    if (i % 10 != 0) mutate(image, random);  // one in ten stays valid: the parser must accept those
    // Exact-size heap copy, so AddressSanitizer sees any read past the end.
    std::unique_ptr<uint8_t[]> bytes(new uint8_t[std::max<size_t>(1, image.size())]);
    if (!image.empty()) std::memcpy(bytes.get(), image.data(), image.size());
    try {
      const auto header = hllm::io::parse_safetensors(bytes.get(), image.size(), "fuzz input");
      unsigned checksum = 0;
      for (const auto& tensor : header.tensors) {
        for (uint64_t b = tensor.begin; b < tensor.end; ++b) checksum += bytes[header.data_offset + b];
      }
      (void)checksum;
      ++accepted;
    } catch (const hllm::InputError&) {
      ++rejected;
      if (i % 10 == 0) {
        std::fprintf(stderr, "iteration %ld: a valid file was rejected\n", i);
        return 1;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "iteration %ld: unexpected exception: %s\n", i, e.what());
      return 1;
    }
  }
  std::printf("safetensors fuzz: %ld inputs, %ld accepted, %ld rejected with InputError, no crash\n", iterations,
              accepted, rejected);
  return 0;
}
