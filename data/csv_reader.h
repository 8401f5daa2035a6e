// CsvReader: RFC 4180 records (quoted fields may hold the delimiter, doubled quotes and newlines), read
// one record at a time with the line it started on, for error messages that say where.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "common/progress_meter.h"

namespace hllm::data {

class CsvReader {
 public:
  // Throws InputError when the file cannot be opened. `progress` (optional) counts the bytes read.
  CsvReader(const std::string& path, char delimiter = ',', bool quoting = true, ProgressMeter* progress = nullptr);

  // Reads the next record into *fields; false at the end of the file. Throws InputError naming the file
  // and line for an unterminated quote or text after a closing quote.
  bool next(std::vector<std::string>* fields);

  int line() const { return record_line_; }  // 1-based line where the last record started
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ifstream in_;
  char delimiter_;
  bool quoting_;
  bool read_line(std::string* line);
  ProgressMeter* progress_;
  std::string line_buffer_;  // the last line read, its buffer reused
  int line_ = 0;
  int record_line_ = 0;
};

}  // namespace hllm::data
