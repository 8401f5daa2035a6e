// Readers of the raw formats hllm_prepare accepts. Each returns a RawCatalog or throws InputError that
// names the file and line.
//
//  hllm_csv   : HLLM's CSV (RFC 4180). Interactions with header item_id,user_id,timestamp (any order, more
//               columns ignored); items with item_id and text columns (every other column is text).
//  recbole    : RecBole atomic files, tab-separated with typed headers (user_id:token, movie_title:token_seq…).
//  amazon2018 : Amazon Review Data 2018: gzip'd JSON lines of reviews (reviewerID, asin, unixReviewTime)
//               and of metadata (asin, title, description[], category[], brand…). Duplicate metadata lines
//               keep the first; HTML in fields is reduced to its text.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "common/progress_meter.h"
#include "data/raw_catalog.h"

namespace hllm::data {

// `progress` (optional) counts the bytes read of both files (of a gzip'd file, its compressed bytes).
RawCatalog read_hllm_csv(const std::string& interactions_path, const std::string& items_path,
                         ProgressMeter* progress = nullptr);
RawCatalog read_recbole(const std::string& inter_path, const std::string& item_path, ProgressMeter* progress = nullptr);
RawCatalog read_amazon2018(const std::string& reviews_path, const std::string& meta_path,
                           ProgressMeter* progress = nullptr);

// The items file alone (new items, embedded by hllm_embed from their text): the same columns and checks.
void read_hllm_csv_items(const std::string& items_path, RawCatalog* catalog, ProgressMeter* progress = nullptr);
void read_recbole_items(const std::string& item_path, RawCatalog* catalog, ProgressMeter* progress = nullptr);
void read_amazon2018_metadata(const std::string& meta_path, RawCatalog* catalog, ProgressMeter* progress = nullptr);
// One of the three above by the format's name; false (nothing read) for another name.
bool read_items_file(const std::string& format, const std::string& items_path, RawCatalog* catalog);

// Timestamps are integer seconds of magnitude at most 2^53: text is read through a double, exact up to there,
// and HSTU's time differences then stay far inside int64 (a larger value would wrap, or turn 2^64 - 1 into -1).
constexpr int64_t kMaxTimestampMagnitude = int64_t{1} << 53;

// "881250949" or "881250949.0" -> 881250949; anything else throws InputError naming where.
int64_t parse_timestamp(const std::string& text, const std::string& where);
// A JSON integer timestamp (Amazon's unixReviewTime, --users lines); anything else throws InputError
// "<where>: <key> ...".
int64_t json_timestamp(const nlohmann::json& value, const std::string& where, const std::string& key);

// Text of an HTML fragment: tags removed, common entities decoded, whitespace collapsed.
std::string html_to_text(const std::string& html);

}  // namespace hllm::data
