#include "devices/vfio_user/codec.h"

#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

namespace side::vfio_user {
namespace {

// Little-endian fields at fixed offsets; a reader never goes past its span (callers check sizes first, and a
// read beyond the end yields 0 rather than touching memory).
class Writer {
 public:
  explicit Writer(size_t reserve) { out_.reserve(reserve); }
  Writer& u16(uint16_t v) { return put(v, 2); }
  Writer& u32(uint32_t v) { return put(v, 4); }
  Writer& u64(uint64_t v) { return put(v, 8); }
  Writer& bytes(std::span<const uint8_t> b) {
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  Writer& put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  std::vector<uint8_t> out_;
};

uint64_t le(std::span<const uint8_t> b, size_t offset, int n) {
  uint64_t v = 0;
  if (offset > b.size() || b.size() - offset < static_cast<size_t>(n)) return 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{b[offset + i]} << (8 * i);
  return v;
}
uint16_t u16(std::span<const uint8_t> b, size_t off) {
  return static_cast<uint16_t>(le(b, off, 2));
}
uint32_t u32(std::span<const uint8_t> b, size_t off) {
  return static_cast<uint32_t>(le(b, off, 4));
}
uint64_t u64(std::span<const uint8_t> b, size_t off) {
  return le(b, off, 8);
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

Error bad(Command c, const std::string& what) {
  return make_error(std::string("vfio-user ") + to_string(c) + " reply: " + what);
}

Status exact_size(std::span<const uint8_t> body, Command c, size_t want) {
  if (body.size() != want) {
    return bad(c, std::to_string(body.size()) + " bytes where " + std::to_string(want) + " are due");
  }
  return {};
}

// A capability value: an unsigned integer in [lo, hi].
Result<uint32_t> capability(const nlohmann::json& caps, const char* name, uint32_t lo, uint32_t hi, uint32_t dflt) {
  auto it = caps.find(name);
  if (it == caps.end()) return dflt;
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
    return make_error(std::string("capability ") + name + " is not a non-negative integer");
  }
  const uint64_t v = it->get<uint64_t>();
  if (v < lo || v > hi) {
    return make_error(std::string("capability ") + name + " = " + std::to_string(v) + " is outside [" +
                      std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<uint32_t>(v);
}

Status decode_capabilities(std::span<const uint8_t> json_bytes, uint32_t our_max, VersionInfo& info) {
  if (json_bytes.size() > kMaxVersionJson)
    return make_error("capabilities longer than " + std::to_string(kMaxVersionJson));
  if (json_bytes.back() != 0) return make_error("capabilities are not NUL-terminated");
  const auto* begin = reinterpret_cast<const char*>(json_bytes.data());
  if (std::memchr(begin, 0, json_bytes.size() - 1)) return make_error("capabilities hold a NUL before their end");
  auto doc = nlohmann::json::parse(begin, begin + json_bytes.size() - 1, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return make_error("capabilities are not a JSON object");
  for (auto& [key, value] : doc.items()) {
    if (key != "capabilities") return make_error("unknown top-level key \"" + key.substr(0, 32) + "\"");
  }
  auto caps = doc.find("capabilities");
  if (caps == doc.end()) return {};
  if (!caps->is_object()) return make_error("\"capabilities\" is not an object");
  for (auto& [key, value] : caps->items()) {
    // The server may only answer with what the client proposed (vfio-user.rst, VERSION).
    if (key != "max_msg_fds" && key != "max_data_xfer_size")
      return make_error("capability \"" + key.substr(0, 32) + "\" was not proposed");
  }
  auto fds = capability(*caps, "max_msg_fds", 0, 1024, 1);
  if (!fds) return fds.error();
  auto xfer = capability(*caps, "max_data_xfer_size", 8, UINT32_MAX, kDefaultMaxDataXfer);
  if (!xfer) return xfer.error();
  info.max_msg_fds = *fds;
  info.max_data_xfer = std::min(*xfer, our_max);
  return {};
}

}  // namespace

const char* to_string(Command c) {
  switch (c) {
    case Command::kVersion:
      return "VERSION";
    case Command::kDmaMap:
      return "DMA_MAP";
    case Command::kDmaUnmap:
      return "DMA_UNMAP";
    case Command::kDeviceGetInfo:
      return "DEVICE_GET_INFO";
    case Command::kDeviceGetRegionInfo:
      return "DEVICE_GET_REGION_INFO";
    case Command::kDeviceGetRegionIoFds:
      return "DEVICE_GET_REGION_IO_FDS";
    case Command::kDeviceGetIrqInfo:
      return "DEVICE_GET_IRQ_INFO";
    case Command::kDeviceSetIrqs:
      return "DEVICE_SET_IRQS";
    case Command::kRegionRead:
      return "REGION_READ";
    case Command::kRegionWrite:
      return "REGION_WRITE";
    case Command::kDmaRead:
      return "DMA_READ";
    case Command::kDmaWrite:
      return "DMA_WRITE";
    case Command::kDeviceReset:
      return "DEVICE_RESET";
    case Command::kDirtyPages:
      return "DIRTY_PAGES";
  }
  return "unknown command";
}

std::array<uint8_t, kHeaderSize> encode_header(const Header& h) {
  std::array<uint8_t, kHeaderSize> out{};
  auto v = Writer(kHeaderSize).u16(h.id).u16(h.command).u32(h.size).u32(h.flags).u32(h.error).take();
  std::memcpy(out.data(), v.data(), kHeaderSize);
  return out;
}

Result<Header> decode_header(std::span<const uint8_t> b) {
  if (b.size() != kHeaderSize) return make_error("vfio-user header of " + std::to_string(b.size()) + " bytes");
  Header h{u16(b, 0), u16(b, 2), u32(b, 4), u32(b, 8), u32(b, 12)};
  if (h.size < kHeaderSize || h.size > kMaxMessageSize) {
    return make_error("vfio-user message size " + std::to_string(h.size) + " outside [16, " +
                      std::to_string(kMaxMessageSize) + "]");
  }
  if (h.flags & ~kKnownFlags) return make_error("vfio-user header with unknown flags " + hex(h.flags));
  const uint32_t type = h.flags & kFlagTypeMask;
  if (type != kTypeCommand && type != kTypeReply)
    return make_error("vfio-user message of type " + std::to_string(type));
  if (h.command == 0 || h.command > kMaxCommand) return make_error("vfio-user command " + std::to_string(h.command));
  return h;
}

Status check_reply(const Header& h, uint16_t id, Command command, uint32_t body_size) {
  const auto cmd = static_cast<Command>(h.command);
  if ((h.flags & kFlagTypeMask) != kTypeReply) {
    return make_error(std::string("vfio-user server sent a ") + to_string(cmd) + " command while " +
                      to_string(command) + " awaited its reply");
  }
  if (h.id != id || cmd != command) {
    return make_error(std::string("vfio-user reply ") + to_string(cmd) + " #" + std::to_string(h.id) +
                      " does not answer " + to_string(command) + " #" + std::to_string(id));
  }
  if (h.flags & kFlagNoReply) return bad(command, "carries the no_reply bit");
  if (h.flags & kFlagError) {
    if (body_size != 0) return bad(command, "an error reply with a body");
    return bad(command, std::string("server error ") +
                            (h.error ? std::to_string(h.error) + " (" + std::strerror(static_cast<int>(h.error)) + ")"
                                     : std::string("without errno")));
  }
  return {};
}

std::vector<uint8_t> encode_version(uint32_t max_data_xfer) {
  const std::string caps =
      "{\"capabilities\":{\"max_msg_fds\":1,\"max_data_xfer_size\":" + std::to_string(max_data_xfer) + "}}";
  Writer w(4 + caps.size() + 1);
  w.u16(kVersionMajor).u16(kVersionMinor);
  w.bytes({reinterpret_cast<const uint8_t*>(caps.c_str()), caps.size() + 1});
  return w.take();
}

std::vector<uint8_t> encode_device_info() {
  return Writer(kDeviceInfoSize).u32(kDeviceInfoSize).u32(0).u32(0).u32(0).take();
}

std::vector<uint8_t> encode_region_info(uint32_t index) {
  return Writer(kRegionInfoSize).u32(kRegionInfoSize).u32(0).u32(index).u32(0).u64(0).u64(0).take();
}

std::vector<uint8_t> encode_irq_info(uint32_t index) {
  return Writer(kIrqInfoSize).u32(kIrqInfoSize).u32(0).u32(index).u32(0).take();
}

std::vector<uint8_t> encode_set_irqs(uint32_t flags, uint32_t index, uint32_t start, uint32_t count) {
  return Writer(kSetIrqsSize).u32(kSetIrqsSize).u32(flags).u32(index).u32(start).u32(count).take();
}

Status check_set_irqs(const IrqInfo& info, uint32_t flags, uint32_t start, uint32_t count, size_t nfds) {
  const uint32_t action = flags & (kIrqSetActionMask | kIrqSetActionUnmask | kIrqSetActionTrigger);
  const uint32_t data = flags & (kIrqSetDataNone | kIrqSetDataBool | kIrqSetDataEventfd);
  const std::string what = "SET_IRQS of interrupt type " + std::to_string(info.index) + ": ";
  if (flags & ~(action | data)) return make_error(what + "unknown flags " + hex(flags));
  if (std::popcount(action) != 1 || (data != kIrqSetDataNone && data != kIrqSetDataEventfd))
    return make_error(what + "flags " + hex(flags) + " are not one action and one data type");
  if (count == 0) {
    if (start != 0 || action != kIrqSetActionTrigger || data != kIrqSetDataNone || nfds)
      return make_error(what + "count 0 is only the disable form");
    return {};
  }
  if (start >= info.count || count > info.count - start)
    return make_error(what + "vectors " + std::to_string(start) + "+" + std::to_string(count) + " of " +
                      std::to_string(info.count));
  if (data == kIrqSetDataEventfd ? nfds != count : nfds != 0)
    return make_error(what + std::to_string(nfds) + " descriptors for " + std::to_string(count) + " vectors");
  if (action != kIrqSetActionTrigger && !(info.flags & kIrqInfoMaskable))
    return make_error(what + "the type is not maskable");
  if (action != kIrqSetActionTrigger && data != kIrqSetDataNone) return make_error(what + "masking takes no data");
  return {};
}

std::vector<uint8_t> encode_region_read(uint32_t region, uint64_t offset, uint32_t count) {
  return Writer(kRegionAccessSize).u64(offset).u32(region).u32(count).take();
}

std::vector<uint8_t> encode_region_write(uint32_t region, uint64_t offset, std::span<const uint8_t> data) {
  Writer w(kRegionAccessSize + data.size());
  w.u64(offset).u32(region).u32(static_cast<uint32_t>(data.size())).bytes(data);
  return w.take();
}

std::vector<uint8_t> encode_dma_map(uint32_t flags, uint64_t fd_offset, uint64_t iova, uint64_t size) {
  return Writer(kDmaMapSize).u32(kDmaMapSize).u32(flags).u64(fd_offset).u64(iova).u64(size).take();
}

std::vector<uint8_t> encode_dma_unmap(uint64_t iova, uint64_t size) {
  return Writer(kDmaUnmapSize).u32(kDmaUnmapSize).u32(0).u64(iova).u64(size).take();
}

Result<VersionInfo> decode_version(std::span<const uint8_t> body, uint32_t our_max_data_xfer) {
  if (body.size() < 4) return bad(Command::kVersion, "shorter than its 4-byte version");
  VersionInfo info;
  info.major = u16(body, 0);
  info.minor = u16(body, 2);
  if (info.major != kVersionMajor || info.minor > kVersionMinor) {
    return bad(Command::kVersion,
               "version " + std::to_string(info.major) + "." + std::to_string(info.minor) + " where 0.0 or 0.1 is due");
  }
  info.max_data_xfer = std::min(kDefaultMaxDataXfer, our_max_data_xfer);
  if (body.size() > 4) {
    if (auto s = decode_capabilities(body.subspan(4), our_max_data_xfer, info); !s)
      return bad(Command::kVersion, s.error().message);
  }
  return info;
}

Result<DeviceInfo> decode_device_info(std::span<const uint8_t> body) {
  const Command c = Command::kDeviceGetInfo;
  SIDE_TRY(exact_size(body, c, kDeviceInfoSize));
  if (u32(body, 0) != kDeviceInfoSize) return bad(c, "argsz " + std::to_string(u32(body, 0)));
  DeviceInfo d{u32(body, 4), u32(body, 8), u32(body, 12)};
  if (!(d.flags & kDeviceFlagPci)) return bad(c, "not a PCI device (flags " + hex(d.flags) + ")");
  if (d.num_regions < kMinPciRegions || d.num_regions > kMaxRegions)
    return bad(c, std::to_string(d.num_regions) + " regions");
  if (d.num_irqs > kMaxIrqTypes) return bad(c, std::to_string(d.num_irqs) + " interrupt types");
  return d;
}

Result<RegionInfo> decode_region_info(std::span<const uint8_t> body, uint32_t index) {
  const Command c = Command::kDeviceGetRegionInfo;
  // The request's argsz (32) bounds the reply; a larger argsz in it says how much the capabilities would need.
  SIDE_TRY(exact_size(body, c, kRegionInfoSize));
  const uint32_t argsz = u32(body, 0);
  if (argsz < kRegionInfoSize || argsz > kMaxRegionInfoReply) return bad(c, "argsz " + std::to_string(argsz));
  RegionInfo r{u32(body, 8), u32(body, 4), u64(body, 16)};
  if (r.index != index) return bad(c, "for region " + std::to_string(r.index) + ", not " + std::to_string(index));
  if (r.flags & ~(kRegionFlagRead | kRegionFlagWrite | kRegionFlagMmap | kRegionFlagCaps))
    return bad(c, "unknown flags " + hex(r.flags));
  if (r.size >= (uint64_t{1} << 40)) return bad(c, "region size " + hex(r.size));
  return r;
}

Result<IrqInfo> decode_irq_info(std::span<const uint8_t> body, uint32_t index) {
  const Command c = Command::kDeviceGetIrqInfo;
  SIDE_TRY(exact_size(body, c, kIrqInfoSize));
  if (u32(body, 0) != kIrqInfoSize) return bad(c, "argsz " + std::to_string(u32(body, 0)));
  IrqInfo i{u32(body, 8), u32(body, 4), u32(body, 12)};
  if (i.index != index) return bad(c, "for interrupt type " + std::to_string(i.index));
  if (i.flags & ~(kIrqInfoEventfd | kIrqInfoMaskable | kIrqInfoAutomasked | kIrqInfoNoresize))
    return bad(c, "unknown flags " + hex(i.flags));
  if (i.count > kMaxIrqCount) return bad(c, std::to_string(i.count) + " vectors");
  // One INTx pin, one error and one request notification; MSI has at most 32 vectors (PCI 3.0 6.8.1.3).
  const uint32_t most = index == kIrqMsi ? 32 : index == kIrqMsix || index > kIrqReq ? kMaxIrqCount : 1;
  if (i.count > most) return bad(c, std::to_string(i.count) + " vectors of type " + std::to_string(index));
  return i;
}

Status decode_region_read(std::span<const uint8_t> body, uint32_t region, uint64_t offset, std::span<uint8_t> out) {
  const Command c = Command::kRegionRead;
  SIDE_TRY(exact_size(body, c, kRegionAccessSize + out.size()));
  if (u64(body, 0) != offset || u32(body, 8) != region || u32(body, 12) != out.size()) {
    return bad(c, "for region " + std::to_string(u32(body, 8)) + " at " + hex(u64(body, 0)) + ", " +
                      std::to_string(u32(body, 12)) + " bytes: not the access asked for");
  }
  std::memcpy(out.data(), body.data() + kRegionAccessSize, out.size());
  return {};
}

Status decode_region_write(std::span<const uint8_t> body, uint32_t region, uint64_t offset, uint32_t count) {
  const Command c = Command::kRegionWrite;
  SIDE_TRY(exact_size(body, c, kRegionAccessSize));
  if (u64(body, 0) != offset || u32(body, 8) != region || u32(body, 12) != count) {
    return bad(c, "for region " + std::to_string(u32(body, 8)) + " at " + hex(u64(body, 0)) + ", " +
                      std::to_string(u32(body, 12)) + " bytes: not the access asked for");
  }
  return {};
}

Status decode_dma_unmap(std::span<const uint8_t> body, uint64_t iova, uint64_t size) {
  const Command c = Command::kDmaUnmap;
  SIDE_TRY(exact_size(body, c, kDmaUnmapSize));
  if (u32(body, 0) != kDmaUnmapSize || u32(body, 4) != 0 || u64(body, 8) != iova || u64(body, 16) != size)
    return bad(c, "does not echo the mapping unmapped");
  return {};
}

Status decode_empty(std::span<const uint8_t> body, Command command) {
  return exact_size(body, command, 0);
}

}  // namespace side::vfio_user
