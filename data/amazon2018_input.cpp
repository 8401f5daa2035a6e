#include <zlib.h>

#include <nlohmann/json.hpp>

#include <set>

#include "common/error.h"
#include "common/json_input.h"
#include "data/input_formats.h"

namespace hllm::data {
namespace {

// Calls fn(json, line) for every line of a gzip'd (or plain) JSON-lines file; `progress` (optional) counts
// the file's bytes read (compressed: those the file's size is made of).
template <typename Fn>
void for_each_json_line(const std::string& path, ProgressMeter* progress, Fn fn) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw InputError("cannot open '" + path + "'");
  std::string line;
  char buffer[1 << 16];
  int line_number = 0;
  auto finish_line = [&] {
    ++line_number;
    if (line.empty()) return;
    nlohmann::json value;
    try {
      value = parse_json(line, path + ":" + std::to_string(line_number));
    } catch (const InputError&) {
      gzclose(file);
      throw;
    }
    fn(value, line_number);
    line.clear();
  };
  int64_t counted = 0;
  while (gzgets(file, buffer, sizeof(buffer)) != nullptr) {
    if (progress) {
      const int64_t offset = gzoffset(file);
      progress->advance(offset - counted);
      counted = offset;
    }
    line += buffer;
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      finish_line();
    }
  }
  int error = Z_OK;
  const char* message = gzerror(file, &error);
  if (error != Z_OK && error != Z_STREAM_END) {
    const std::string text = message ? message : "unknown";
    gzclose(file);
    throw InputError(path + ": damaged gzip stream after line " + std::to_string(line_number) + ": " + text);
  }
  if (!line.empty()) finish_line();
  gzclose(file);
}

std::string where(const std::string& path, int line) { return path + ":" + std::to_string(line); }

std::string required_string(const nlohmann::json& value, const char* key, const std::string& at) {
  const auto it = value.find(key);
  if (it == value.end() || !it->is_string() || it->get<std::string>().empty()) {
    throw InputError(at + ": missing or empty '" + std::string(key) + "'");
  }
  return it->get<std::string>();
}

// A string or a list of strings as one text (list items joined by spaces), HTML reduced to text.
std::string text_of(const nlohmann::json& value) {
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_array()) {
    for (const auto& part : value) {
      if (part.is_string()) text += (text.empty() ? "" : " ") + part.get<std::string>();
    }
  }
  return html_to_text(text);
}

}  // namespace

void read_amazon2018_metadata(const std::string& meta_path, RawCatalog* catalog, ProgressMeter* progress) {
  catalog->text_keys = {"title", "description", "category", "brand"};
  std::set<std::string> seen;
  for_each_json_line(meta_path, progress, [&](const nlohmann::json& meta, int line) {
    const std::string at = where(meta_path, line);
    if (!meta.is_object()) throw InputError(at + ": not a JSON object");
    RawItem item;
    item.id = required_string(meta, "asin", at);
    if (!seen.insert(item.id).second) return;  // duplicate metadata line: the first one stands
    for (const auto& key : catalog->text_keys) {
      const auto it = meta.find(key);
      item.fields.emplace_back(key, it == meta.end() ? "" : text_of(*it));
    }
    catalog->items.push_back(std::move(item));
  });
}

RawCatalog read_amazon2018(const std::string& reviews_path, const std::string& meta_path,
                           ProgressMeter* progress) {
  RawCatalog catalog;
  catalog.source = "amazon2018";
  for_each_json_line(reviews_path, progress, [&](const nlohmann::json& review, int line) {
    const std::string at = where(reviews_path, line);
    if (!review.is_object()) throw InputError(at + ": not a JSON object");
    const std::string user = required_string(review, "reviewerID", at);
    const std::string item = required_string(review, "asin", at);
    const auto time = review.find("unixReviewTime");
    if (time == review.end()) throw InputError(at + ": 'unixReviewTime' missing");
    catalog.add_interaction(user, item, json_timestamp(*time, at, "unixReviewTime"));
  });
  read_amazon2018_metadata(meta_path, &catalog, progress);
  return catalog;
}

}  // namespace hllm::data
