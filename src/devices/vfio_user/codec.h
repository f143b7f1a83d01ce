// The one encoder and decoder of vfio-user messages (protocol.h). Requests are built here; everything a server
// sends is checked here before the client uses it: the header (size bounds, known flag bits, type, command, the
// message id of the request it answers, the error bit) and every reply body (exact sizes, fields echoing the
// request, counts and flags in range, the VERSION capabilities' JSON). A server is untrusted, like a driver: no
// reply is reinterpreted in place, no length from it is used before it is bounded.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "devices/vfio_user/protocol.h"

namespace side::vfio_user {

struct Header {
  uint16_t id = 0;
  uint16_t command = 0;
  uint32_t size = 0;  // whole message, header included
  uint32_t flags = 0;
  uint32_t error = 0;
};

std::array<uint8_t, kHeaderSize> encode_header(const Header& h);
// A header as received: 16 bytes, a size in [16, kMaxMessageSize], only known flag bits, a command or reply type
// and a known command number.
Result<Header> decode_header(std::span<const uint8_t> bytes);
// The header answers the request (`id`, `command`): a reply, same id and command, without the no_reply bit. A
// reply with the error bit is turned into an error naming the command and the server's errno, if it gave one (an
// error reply carries no body).
Status check_reply(const Header& reply, uint16_t id, Command command, uint32_t body_size);

// ---- requests (bodies, without the header) ----------------------------------------------------------------------

// VERSION: 0.1 and what this client accepts: `max_data_xfer` bytes per access, at most 1 descriptor per message.
std::vector<uint8_t> encode_version(uint32_t max_data_xfer);
std::vector<uint8_t> encode_device_info();
std::vector<uint8_t> encode_region_info(uint32_t index);
std::vector<uint8_t> encode_irq_info(uint32_t index);
// SET_IRQS: `flags` (kIrqSet*), `count` vectors from `start`; eventfds, if any, go as SCM_RIGHTS beside it.
std::vector<uint8_t> encode_set_irqs(uint32_t flags, uint32_t index, uint32_t start, uint32_t count);
std::vector<uint8_t> encode_region_read(uint32_t region, uint64_t offset, uint32_t count);
std::vector<uint8_t> encode_region_write(uint32_t region, uint64_t offset, std::span<const uint8_t> data);
std::vector<uint8_t> encode_dma_map(uint32_t flags, uint64_t fd_offset, uint64_t iova, uint64_t size);
std::vector<uint8_t> encode_dma_unmap(uint64_t iova, uint64_t size);

// ---- replies ------------------------------------------------------------------------------------------------

struct VersionInfo {
  uint16_t major = 0, minor = 0;
  uint32_t max_msg_fds = 1;                      // descriptors the server accepts per message (default 1)
  uint32_t max_data_xfer = kDefaultMaxDataXfer;  // bytes per region access the server accepts
};
// The server's VERSION: major 0, minor <= ours, optional NUL-terminated JSON {"capabilities": {...}} naming only
// capabilities this client proposed, each a number in range. `our_max_data_xfer` bounds what is accepted.
Result<VersionInfo> decode_version(std::span<const uint8_t> body, uint32_t our_max_data_xfer);

struct DeviceInfo {
  uint32_t flags = 0;
  uint32_t num_regions = 0;
  uint32_t num_irqs = 0;
};
// A PCI device with at least the PCI regions (BARs, ROM, config), at most kMaxRegions and kMaxIrqTypes.
Result<DeviceInfo> decode_device_info(std::span<const uint8_t> body);

struct RegionInfo {
  uint32_t index = 0;
  uint32_t flags = 0;
  uint64_t size = 0;
};
// Echoes `index`, argsz consistent with the body, size < 2^40, flags only the known ones.
Result<RegionInfo> decode_region_info(std::span<const uint8_t> body, uint32_t index);

struct IrqInfo {
  uint32_t index = 0;
  uint32_t flags = 0;
  uint32_t count = 0;
};
Result<IrqInfo> decode_irq_info(std::span<const uint8_t> body, uint32_t index);
// A SET_IRQS this client is about to send, against what the server said of that interrupt type (`info`): exactly
// one action (mask, unmask, trigger) and one data type (none, eventfd; bool is never sent), [start, start + count)
// inside the type's vectors, `nfds` eventfds only with the eventfd data type and then exactly `count` of them,
// count 0 only as the disable form (trigger, none, start 0), masking only where the type is maskable. What the
// server would refuse, or misread, never leaves.
Status check_set_irqs(const IrqInfo& info, uint32_t flags, uint32_t start, uint32_t count, size_t nfds);

// REGION_READ's reply echoes offset, region and count and carries exactly `out.size()` data bytes, copied to out.
Status decode_region_read(std::span<const uint8_t> body, uint32_t region, uint64_t offset, std::span<uint8_t> out);
// REGION_WRITE's reply echoes offset, region and count, and no data.
Status decode_region_write(std::span<const uint8_t> body, uint32_t region, uint64_t offset, uint32_t count);
// DMA_UNMAP's reply echoes the request (argsz, flags, iova, size).
Status decode_dma_unmap(std::span<const uint8_t> body, uint64_t iova, uint64_t size);
// Replies with no body (DMA_MAP, SET_IRQS, DEVICE_RESET).
Status decode_empty(std::span<const uint8_t> body, Command command);

}  // namespace side::vfio_user
