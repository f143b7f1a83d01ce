// A capture of every frame on a wire, in the classic pcap format (LINKTYPE_ETHERNET, microsecond timestamps), so
// that tcpdump, tshark and wireshark read it. Thread-safe: both directions of the wire write to one file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "common/result.h"

namespace side::net {

class PcapWriter {
 public:
  static Result<std::unique_ptr<PcapWriter>> create(const std::string& path);
  ~PcapWriter();
  void write(std::span<const uint8_t> frame);
  uint64_t frames() const;

 private:
  explicit PcapWriter(FILE* f) : f_(f) {}
  mutable std::mutex mu_;
  FILE* f_;
  uint64_t frames_ = 0;
};

}  // namespace side::net
