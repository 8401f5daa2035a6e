#include "data/csv_reader.h"

#include <algorithm>

#include "common/error.h"

namespace hllm::data {

CsvReader::CsvReader(const std::string& path, char delimiter, bool quoting, ProgressMeter* progress)
    : path_(path), in_(path, std::ios::binary), delimiter_(delimiter), quoting_(quoting), progress_(progress) {
  if (!in_) throw InputError("cannot open '" + path + "'");
}

bool CsvReader::read_line(std::string* line) {
  if (!std::getline(in_, *line)) return false;
  ++line_;
  if (progress_) progress_->advance(static_cast<int64_t>(line->size()) + 1);
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return true;
}

bool CsvReader::next(std::vector<std::string>* fields) {
  std::string& line = line_buffer_;
  // Skip blank lines between records.
  do {
    if (!read_line(&line)) return false;
  } while (line.empty());
  record_line_ = line_;

  // Most records have no quote: split at the delimiters into the strings of the last record, whose
  // buffers are reused (no allocation per field).
  if (!quoting_ || line.find('"') == std::string::npos) {
    size_t count = 0, begin = 0;
    while (true) {
      const size_t end = std::min(line.find(delimiter_, begin), line.size());
      if (count == fields->size()) fields->emplace_back();
      (*fields)[count++].assign(line, begin, end - begin);
      if (end == line.size()) break;
      begin = end + 1;
    }
    fields->resize(count);
    return true;
  }

  fields->clear();

  std::string field;
  bool in_quotes = false;
  bool was_quoted = false;
  size_t i = 0;
  while (true) {
    if (i == line.size()) {
      if (in_quotes) {
        // A quoted field continues on the next line.
        if (!read_line(&line)) {
          throw InputError(path_ + ":" + std::to_string(record_line_) + ": unterminated quoted field");
        }
        field += '\n';
        i = 0;
        continue;
      }
      fields->push_back(field);
      return true;
    }
    const char c = line[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        field += c;
      }
    } else if (c == delimiter_) {
      fields->push_back(field);
      field.clear();
      was_quoted = false;
    } else if (quoting_ && c == '"' && field.empty() && !was_quoted) {
      in_quotes = true;
      was_quoted = true;
    } else if (quoting_ && was_quoted) {
      throw InputError(path_ + ":" + std::to_string(line_) + ": text after the closing quote of a field");
    } else {
      field += c;
    }
    ++i;
  }
}

}  // namespace hllm::data
