#include "devices/vfio_user/client.h"

#include <algorithm>

namespace side::vfio_user {

template <class Decode>
auto Client::exchange(Command command, const std::vector<uint8_t>& body, Decode decode, std::span<const int> fds)
    -> decltype(decode(std::span<const uint8_t>{})) {
  auto reply = conn_.call(command, body, fds);
  if (!reply) return reply.error();
  auto decoded = decode(std::span<const uint8_t>(*reply));
  if (!decoded) conn_.fail(decoded.error().message);
  return decoded;
}

Status Client::negotiate() {
  // A server that cannot say what it serves is of no use: any failure here ends the connection.
  Status s = discover_device();
  if (!s) conn_.fail(s.error().message);
  return s;
}

Status Client::discover_device() {
  auto v = exchange(Command::kVersion, encode_version(kDefaultMaxDataXfer),
                    [](auto b) { return decode_version(b, kDefaultMaxDataXfer); });
  if (!v) return v.error();
  version_ = *v;
  auto d = exchange(Command::kDeviceGetInfo, encode_device_info(), [](auto b) { return decode_device_info(b); });
  if (!d) return d.error();
  device_ = *d;
  regions_.clear();
  for (uint32_t i = 0; i < device_.num_regions; ++i) {
    auto r = exchange(Command::kDeviceGetRegionInfo, encode_region_info(i),
                      [i](auto b) { return decode_region_info(b, i); });
    if (!r) return r.error();
    regions_.push_back(*r);
  }
  irqs_.clear();
  for (uint32_t i = 0; i < device_.num_irqs; ++i) {
    auto q = exchange(Command::kDeviceGetIrqInfo, encode_irq_info(i), [i](auto b) { return decode_irq_info(b, i); });
    if (!q) return q.error();
    irqs_.push_back(*q);
  }
  return {};
}

Status Client::check_access(uint32_t region, uint64_t offset, unsigned width) const {
  if (region >= regions_.size()) return make_error("no region " + std::to_string(region));
  if (width == 0 || width > 8 || width > version_.max_data_xfer) return make_error("bad access width");
  const uint64_t size = regions_[region].size;
  if (offset >= size || width > size - offset) return make_error("access outside region " + std::to_string(region));
  return {};
}

Result<uint64_t> Client::read(uint32_t region, uint64_t offset, unsigned width) {
  SIDE_TRY(check_access(region, offset, width));
  uint8_t data[8] = {};
  auto s = exchange(Command::kRegionRead, encode_region_read(region, offset, width),
                    [&](auto b) { return decode_region_read(b, region, offset, std::span<uint8_t>(data, width)); });
  if (!s) return s.error();
  uint64_t v = 0;
  for (unsigned i = 0; i < width; ++i) v |= uint64_t{data[i]} << (8 * i);
  return v;
}

Status Client::write(uint32_t region, uint64_t offset, unsigned width, uint64_t value, bool posted) {
  SIDE_TRY(check_access(region, offset, width));
  uint8_t data[8];
  for (unsigned i = 0; i < 8; ++i) data[i] = static_cast<uint8_t>(value >> (8 * i));
  auto body = encode_region_write(region, offset, std::span<const uint8_t>(data, width));
  if (posted) return conn_.post(Command::kRegionWrite, body);
  return exchange(Command::kRegionWrite, body, [&](auto b) { return decode_region_write(b, region, offset, width); });
}

Status Client::set_irq_eventfd(uint32_t index, uint32_t vector, int eventfd) {
  const int fds[1] = {eventfd};
  return set_irq_eventfds(index, vector, fds);
}

Status Client::set_irqs(uint32_t flags, uint32_t index, uint32_t start, uint32_t count, std::span<const int> fds) {
  SIDE_TRY(check_set_irqs(irq(index), flags, start, count, fds.size()));
  return exchange(
      Command::kDeviceSetIrqs, encode_set_irqs(flags, index, start, count),
      [](auto b) { return decode_empty(b, Command::kDeviceSetIrqs); }, fds);
}

Status Client::set_irq_eventfds(uint32_t index, uint32_t start, std::span<const int> eventfds) {
  if (!(irq(index).flags & kIrqInfoEventfd))
    return make_error("the server has no eventfd interrupts of type " + std::to_string(index));
  const size_t per_message = std::min<size_t>(version_.max_msg_fds, kMaxSendFds);
  if (per_message == 0 && !eventfds.empty()) return make_error("the server takes no descriptors");
  for (size_t done = 0; done < eventfds.size();) {
    const size_t n = std::min(per_message, eventfds.size() - done);
    SIDE_TRY(set_irqs(kIrqSetDataEventfd | kIrqSetActionTrigger, index, static_cast<uint32_t>(start + done),
                      static_cast<uint32_t>(n), eventfds.subspan(done, n)));
    done += n;
  }
  return {};
}

Status Client::mask_irqs(uint32_t index, uint32_t start, uint32_t count, bool mask) {
  return set_irqs(kIrqSetDataNone | (mask ? kIrqSetActionMask : kIrqSetActionUnmask), index, start, count, {});
}

Status Client::disable_irqs(uint32_t index) {
  if (irq(index).count == 0) return {};
  return set_irqs(kIrqSetDataNone | kIrqSetActionTrigger, index, 0, 0, {});
}

Status Client::dma_map(int fd, uint64_t fd_offset, uint64_t iova, uint64_t size, bool writable) {
  const uint32_t flags = kDmaFlagRead | (writable ? kDmaFlagWrite : 0);
  const int fds[1] = {fd};
  return exchange(
      Command::kDmaMap, encode_dma_map(flags, fd_offset, iova, size),
      [](auto b) { return decode_empty(b, Command::kDmaMap); }, fds);
}

Status Client::dma_unmap(uint64_t iova, uint64_t size) {
  return exchange(Command::kDmaUnmap, encode_dma_unmap(iova, size),
                  [&](auto b) { return decode_dma_unmap(b, iova, size); });
}

Status Client::reset() {
  return exchange(Command::kDeviceReset, {}, [](auto b) { return decode_empty(b, Command::kDeviceReset); });
}

}  // namespace side::vfio_user
