// The vfio-user operations a PCI device client needs, typed: each builds its request with the codec, exchanges it
// over the connection and decodes (validates) the reply. A reply the codec refuses breaks the connection: a server
// that sent one is not trusted with anything further.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/fd.h"
#include "common/result.h"
#include "devices/vfio_user/codec.h"
#include "devices/vfio_user/connection.h"

namespace side::vfio_user {

class Client {
 public:
  Client(Fd socket, std::chrono::milliseconds timeout) : conn_(std::move(socket), timeout) {}

  // VERSION, then DEVICE_GET_INFO and every region's and interrupt type's info: what the device is.
  Status negotiate();
  const VersionInfo& version() const { return version_; }
  const DeviceInfo& device_info() const { return device_; }
  // Info of region `index` (< device_info().num_regions), as negotiate() found it.
  const RegionInfo& region(uint32_t index) const { return regions_.at(index); }
  // Info of interrupt type `index`; count 0 when the server has none of that type.
  IrqInfo irq(uint32_t index) const { return index < irqs_.size() ? irqs_[index] : IrqInfo{index, 0, 0}; }

  // Region accesses of 1..8 bytes inside the region (checked here, before anything is sent). A write is posted
  // (no_reply) when `posted`: ordered before every later command, its failure unseen.
  Result<uint64_t> read(uint32_t region, uint64_t offset, unsigned width);
  Status write(uint32_t region, uint64_t offset, unsigned width, uint64_t value, bool posted);

  // Interrupts of type `index`: `eventfd` signalled for vector `vector`; disable_irqs stops them all.
  Status set_irq_eventfd(uint32_t index, uint32_t vector, int eventfd);
  // `eventfds[i]` signalled for vector `start + i`: as many SET_IRQS as the server's max_msg_fds requires.
  Status set_irq_eventfds(uint32_t index, uint32_t start, std::span<const int> eventfds);
  // Masks (or unmasks) vectors [start, start + count) at the server: only for a type it reports maskable.
  Status mask_irqs(uint32_t index, uint32_t start, uint32_t count, bool mask);
  Status disable_irqs(uint32_t index);

  // The device may reach [iova, iova + size) through the server's mapping of `fd` at `fd_offset`.
  Status dma_map(int fd, uint64_t fd_offset, uint64_t iova, uint64_t size, bool writable);
  Status dma_unmap(uint64_t iova, uint64_t size);
  Status reset();

  Connection& connection() { return conn_; }

 private:
  // Exchanges and decodes: a decode failure breaks the connection.
  template <class Decode>
  auto exchange(Command command, const std::vector<uint8_t>& body, Decode decode, std::span<const int> fds = {})
      -> decltype(decode(std::span<const uint8_t>{}));
  Status discover_device();
  Status set_irqs(uint32_t flags, uint32_t index, uint32_t start, uint32_t count, std::span<const int> fds);
  Status check_access(uint32_t region, uint64_t offset, unsigned width) const;

  Connection conn_;
  VersionInfo version_;
  DeviceInfo device_;
  std::vector<RegionInfo> regions_;
  std::vector<IrqInfo> irqs_;
};

}  // namespace side::vfio_user
