// A small JSON writer for side's machine-readable output (strings are escaped; numbers are integers).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace side::cli {

// The "schema" member of each command's document: its name and version, and the file in docs/schemas/ that
// describes it. A change that removes, renames or retypes a member bumps the version.
inline constexpr const char* kRunSchema = "side-run/1";
inline constexpr const char* kInjectSchema = "side-inject/1";
inline constexpr const char* kBenchSchema = "side-bench/1";
inline constexpr const char* kStatusSchema = "side-status/1";
inline constexpr const char* kDevicesSchema = "side-devices/1";
inline constexpr const char* kConformanceSchema = "side-conformance/1";

class Json {
 public:
  Json& object_begin() { return open('{'); }
  Json& object_end() { return close('}'); }
  Json& array_begin() { return open('['); }
  Json& array_end() { return close(']'); }
  Json& key(const std::string& k) {
    comma();
    escaped(k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  Json& value(const std::string& v) { return comma(), escaped(v), *this; }
  Json& value(const char* v) { return value(std::string(v)); }
  Json& value(bool v) { return comma(), out_ += v ? "true" : "false", *this; }
  Json& value(uint64_t v) { return comma(), out_ += std::to_string(v), *this; }
  Json& value(uint32_t v) { return value(uint64_t{v}); }
  Json& value(int v) { return comma(), out_ += std::to_string(v), *this; }
  Json& value(int64_t v) { return comma(), out_ += std::to_string(v), *this; }
  Json& value(double v);
  Json& null() { return comma(), out_ += "null", *this; }
  template <class T>
  Json& field(const std::string& k, const T& v) {
    return key(k).value(v);
  }
  const std::string& str() const { return out_; }

 private:
  Json& open(char c) {
    comma();
    out_ += c;
    first_.push_back(true);
    return *this;
  }
  Json& close(char c) {
    out_ += c;
    first_.pop_back();
    return *this;
  }
  void comma() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
    }
  }
  void escaped(const std::string& s);

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace side::cli
