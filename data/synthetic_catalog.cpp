#include "data/synthetic_catalog.h"

#include <cmath>
#include <sstream>
#include <vector>

#include "common/error.h"

namespace hllm::data {
namespace {

// splitmix64: a small generator whose output is the same everywhere (std:: distributions are not).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

struct Category {
  const char* name;
  const char* nouns[4];
  const char* brands[3];
};

const Category kCategories[] = {
    {"hiking gear", {"backpack", "tent", "trekking poles", "water filter"}, {"Summit", "Trailhead", "Ridgeway"}},
    {"jazz records", {"vinyl album", "live recording", "box set", "remaster"}, {"Blue Note", "Verve", "Impulse"}},
    {"kitchen tools", {"chef knife", "cast iron pan", "whisk", "cutting board"}, {"Ironclad", "Larder", "Hearth"}},
    {"science fiction", {"novel", "short story collection", "space opera", "anthology"}, {"Nova", "Orbit", "Tor"}},
    {"running shoes", {"trail shoe", "racing flat", "road trainer", "stability shoe"}, {"Stride", "Pacer", "Tempo"}},
    {"board games", {"strategy game", "party game", "card game", "co-op game"}, {"Meeple", "Dicehouse", "Tabletop"}},
    {"skin care", {"moisturizer", "serum", "sunscreen", "cleanser"}, {"Dermis", "Glow", "Pure"}},
    {"coffee", {"espresso beans", "pour-over kit", "grinder", "cold brew"}, {"Roastery", "Crema", "Bean"}},
    {"gardening", {"pruning shears", "seed kit", "planter", "watering can"}, {"Greenleaf", "Rootstock", "Bloom"}},
    {"photography", {"prime lens", "tripod", "camera bag", "flash"}, {"Aperture", "Shutter", "Focal"}},
    {"yoga", {"yoga mat", "block set", "strap", "bolster"}, {"Lotus", "Asana", "Zen"}},
    {"history books", {"biography", "war history", "ancient history", "memoir"}, {"Penguin", "Vintage", "Knopf"}},
};
constexpr int64_t kNumCategories = sizeof(kCategories) / sizeof(kCategories[0]);

const char* const kAdjectives[] = {"lightweight", "classic", "premium", "compact", "durable", "vintage",
                                   "everyday", "professional", "handmade", "limited edition"};
const char* const kColors[] = {"black", "red", "forest green", "navy", "sand", "white", "orange"};
const char* const kMaterials[] = {"cotton", "steel", "bamboo", "recycled plastic", "leather", "paper", "wool"};

template <size_t N>
const char* pick(const char* const (&list)[N], Random& random) {
  return list[random.below(static_cast<int64_t>(N))];
}

}  // namespace

SyntheticOptions parse_synthetic_options(const std::string& text) {
  SyntheticOptions options;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    const auto eq = part.find('=');
    if (eq == std::string::npos) throw InputError("--synthetic: expected key=value, got '" + part + "'");
    const std::string key = part.substr(0, eq);
    const std::string value = part.substr(eq + 1);
    int64_t number = 0;
    try {
      size_t used = 0;
      number = std::stoll(value, &used);
      if (used != value.size() || number < 0) throw std::invalid_argument(value);
    } catch (const std::exception&) {
      throw InputError("--synthetic: '" + key + "' needs a non-negative integer, got '" + value + "'");
    }
    if (key == "users") options.users = number;
    else if (key == "items") options.items = number;
    else if (key == "seed") options.seed = static_cast<uint64_t>(number);
    else if (key == "min_history") options.min_history = static_cast<int>(number);
    else if (key == "max_history") options.max_history = static_cast<int>(number);
    else throw InputError("--synthetic: unknown key '" + key + "' (users, items, seed, min_history, max_history)");
  }
  if (options.users < 1 || options.items < 2) throw InputError("--synthetic: needs users >= 1 and items >= 2");
  if (options.min_history < 3 || options.max_history < options.min_history) {
    throw InputError("--synthetic: needs 3 <= min_history <= max_history");
  }
  return options;
}

RawCatalog make_synthetic_catalog(const SyntheticOptions& options) {
  Random random(options.seed);
  RawCatalog catalog;
  catalog.source = "synthetic";
  catalog.text_keys = {"title", "description", "category", "brand"};

  // Items: round-robin over categories; popularity ~ 1 / rank within its category (Zipf-like).
  std::vector<std::vector<int64_t>> items_of(kNumCategories);
  std::vector<double> weight(options.items);
  for (int64_t i = 0; i < options.items; ++i) {
    const int64_t c = i % kNumCategories;
    const Category& category = kCategories[c];
    const char* noun = category.nouns[random.below(4)];
    const char* brand = category.brands[random.below(3)];
    const char* adjective = pick(kAdjectives, random);
    const char* color = pick(kColors, random);
    const char* material = pick(kMaterials, random);
    RawItem item;
    item.id = "item" + std::to_string(i + 1);
    std::ostringstream title, description;
    title << brand << " " << adjective << " " << noun;
    description << "A " << adjective << " " << noun << " for " << category.name << " fans, made of " << material
                << ", in " << color << ". Model " << (100 + random.below(900)) << ".";
    item.fields = {{"title", title.str()}, {"description", description.str()}, {"category", category.name},
                   {"brand", brand}};
    catalog.items.push_back(std::move(item));
    weight[i] = 1.0 / static_cast<double>(1 + items_of[c].size());
    items_of[c].push_back(i);
  }

  // Users: 2-3 favourite categories; each step stays in the current one (p = 0.7) or moves to another
  // favourite, and picks an item there by popularity.
  for (int64_t u = 0; u < options.users; ++u) {
    const int favourites = 2 + static_cast<int>(random.below(2));
    std::vector<int64_t> liked;
    while (static_cast<int>(liked.size()) < favourites) {
      const int64_t c = random.below(kNumCategories);
      bool seen = false;
      for (const auto l : liked) seen = seen || l == c;
      if (!seen && !items_of[c].empty()) liked.push_back(c);
      if (static_cast<int64_t>(liked.size()) >= std::min<int64_t>(kNumCategories, options.items)) break;
    }
    const int length = options.min_history + static_cast<int>(random.below(options.max_history - options.min_history + 1));
    int64_t current = liked[0];
    int64_t time = 1600000000 + random.below(86400 * 365);
    for (int step = 0; step < length; ++step) {
      if (random.unit() > 0.7) current = liked[random.below(static_cast<int64_t>(liked.size()))];
      const auto& pool = items_of[current];
      double total = 0;
      for (const auto i : pool) total += weight[i];
      double target = random.unit() * total;
      int64_t chosen = pool.back();
      for (const auto i : pool) {
        target -= weight[i];
        if (target <= 0) {
          chosen = i;
          break;
        }
      }
      time += 3600 + random.below(86400 * 7);
      catalog.add_interaction("user" + std::to_string(u + 1), "item" + std::to_string(chosen + 1), time);
    }
  }
  return catalog;
}

}  // namespace hllm::data
