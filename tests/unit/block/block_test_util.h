// What the block tests share: a scratch directory, patterned blocks that say where they belong, commands run with
// their output captured, and whether a tool is installed.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace side::block::test {

// A fresh directory under /tmp, removed with its contents.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/side-block-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Byte `i` of the block at `offset`: a function of the seed, the offset and i, so a block read from the wrong
// place, or a stale one, never matches.
inline uint8_t pattern_byte(uint32_t seed, uint64_t offset, size_t i) {
  uint64_t x = (offset + i) * 0x9e3779b97f4a7c15ull ^ (uint64_t{seed} << 32 | seed);
  x ^= x >> 29;
  return static_cast<uint8_t>(x ^ (x >> 8));
}

inline std::vector<uint8_t> pattern(uint32_t seed, uint64_t offset, size_t length) {
  std::vector<uint8_t> v(length);
  for (size_t i = 0; i < length; ++i) v[i] = pattern_byte(seed, offset, i);
  return v;
}

// Runs `command` through the shell; returns its output (stdout and stderr) and sets its exit status.
inline std::string run(const std::string& command, int* status) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) {
    *status = -1;
    return out;
  }
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int rc = ::pclose(p);
  *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

inline bool have_tool(const std::string& name) {
  int status = 0;
  run("command -v " + name, &status);
  return status == 0;
}

inline std::vector<uint8_t> read_file(const std::string& path) {
  std::vector<uint8_t> v;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    std::array<uint8_t, 65536> buf;
    while (size_t n = std::fread(buf.data(), 1, buf.size(), f)) v.insert(v.end(), buf.begin(), buf.begin() + n);
    std::fclose(f);
  }
  return v;
}

inline bool write_file(const std::string& path, const std::vector<uint8_t>& data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace side::block::test
