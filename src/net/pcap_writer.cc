#include "net/pcap_writer.h"

#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace side::net {
namespace {

struct GlobalHeader {
  uint32_t magic = 0xa1b2c3d4;  // microsecond timestamps, native byte order
  uint16_t version_major = 2, version_minor = 4;
  int32_t thiszone = 0;
  uint32_t sigfigs = 0;
  uint32_t snaplen = 65535;
  uint32_t network = 1;  // LINKTYPE_ETHERNET
};

struct RecordHeader {
  uint32_t ts_sec, ts_usec, incl_len, orig_len;
};

}  // namespace

Result<std::unique_ptr<PcapWriter>> PcapWriter::create(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wbe");
  if (!f) return make_error("cannot write " + path + ": " + std::strerror(errno));
  GlobalHeader h;
  if (std::fwrite(&h, sizeof h, 1, f) != 1) {
    std::fclose(f);
    return make_error("cannot write " + path);
  }
  std::fflush(f);
  return std::unique_ptr<PcapWriter>(new PcapWriter(f));
}

PcapWriter::~PcapWriter() {
  std::fclose(f_);
}

void PcapWriter::write(std::span<const uint8_t> frame) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  uint32_t len = static_cast<uint32_t>(std::min<size_t>(frame.size(), 65535));
  RecordHeader r{static_cast<uint32_t>(tv.tv_sec), static_cast<uint32_t>(tv.tv_usec), len,
                 static_cast<uint32_t>(frame.size())};
  std::lock_guard lock(mu_);
  std::fwrite(&r, sizeof r, 1, f_);
  std::fwrite(frame.data(), 1, len, f_);
  std::fflush(f_);
  ++frames_;
}

uint64_t PcapWriter::frames() const {
  std::lock_guard lock(mu_);
  return frames_;
}

}  // namespace side::net
