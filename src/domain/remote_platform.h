// The Platform of a domain process: every device access and network event becomes a message to the supervisor
// over the shared channel (ipc/channel.h). Reads and DMA mappings wait for their answer on the calling virtual
// CPU's own reply ring (spinning briefly first); register writes are posted.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>

#include "domain/platform.h"
#include "ipc/adaptive_spin.h"
#include "ipc/channel.h"
#include "ipc/codec.h"

namespace side::domain {

class RemotePlatform final : public Platform {
 public:
  struct Options {
    uint64_t spin_ns = 50'000;  // how long a vCPU spins for a reply before it sleeps
    // How long at most a read of a register copy spins for the supervisor to carry out the writes posted before it,
    // before it asks the device instead (and sleeps for the answer); less while such spins have not paid lately.
    uint64_t copy_wait_ns = 20'000;
    // DMA address pre-translation (ipc/optimisations.h): maps and unmaps are posted, not awaited. `arena_bytes`
    // lets the domain refuse what the supervisor would refuse, so the driver still gets its error at once.
    bool posted_dma = true;
    uint64_t arena_bytes = 0;
  };
  RemotePlatform(ipc::Channel& channel, Options options) : ch_(channel), options_(options) {
    reply_spins_.fill(ipc::AdaptiveSpin(options.spin_ns));
    copy_spins_.fill(ipc::AdaptiveSpin(options.copy_wait_ns));
  }

  Result<uint32_t> config_read(uint32_t dev, uint32_t offset, unsigned width) override;
  Status config_write(uint32_t dev, uint32_t offset, unsigned width, uint32_t value) override;
  Result<uint64_t> bar_read(uint32_t dev, int bar, uint64_t offset, unsigned width) override;
  Status bar_write(uint32_t dev, int bar, uint64_t offset, unsigned width, uint64_t value) override;
  int dma_map(uint32_t dev, uint64_t phys, uint64_t size, int dir) override;
  int dma_unmap(uint32_t dev, uint64_t phys, uint64_t size, int dir) override;
  int netdev_register(const side_netdev_info& info) override;
  void netdev_unregister(uint64_t token) override;
  void netdev_carrier(uint64_t token, bool on) override;
  void netdev_changed(const side_netdev_info& info) override;
  void netdev_tx_wake(uint64_t token, uint32_t queue) override;
  void netdev_rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) override;
  void block_done(uint64_t tag, int32_t status) override;

  // An event for the supervisor (any thread), encoded by the codec. Waits a bounded time for room; false if it could
  // not be sent (or the declaration refuses it).
  template <class M>
  bool send(const typename M::Args& args, std::span<const uint8_t> payload = {}) {
    auto h = ipc::encode<M>(args, payload);
    return h && send_event(*h, payload);
  }
  // The answer to a control request.
  void reply(uint64_t cookie, const ipc::ControlAnswer& answer);

 private:
  bool send_event(const side_msg& msg, std::span<const uint8_t> payload);
  // A device request of declaration M from the calling vCPU; with `want_reply`, waits for the answer.
  // `copies`: for a posted write, the register copies whose later reads wait for it (copies_waiting_for).
  template <class M>
  Result<ipc::DeviceReply::Args> device_request(const typename M::Args& args, bool want_reply, uint32_t copies = 0);
  Result<ipc::DeviceReply::Args> device_exchange(const side_msg& request, bool want_reply, uint32_t copies);

  // A DMA permission change: posted on the event ring (so every vCPU's changes stay in one order) with DMA address
  // pre-translation, else a device request that waits for the supervisor's answer.
  int dma_change(bool map, uint32_t dev, uint64_t phys, uint64_t size, int dir);
  // Register copies (ipc::RegisterShadow). A read may be answered from a copy only once the writes posted before
  // it, from any vCPU, have been carried out: a PCI read completes behind the posted writes before it, and drivers
  // rely on that, not only for the value read (a read after a write to another register is how a driver flushes
  // its writes: e1000 masks its interrupts with IMC and reads STATUS, and must find them masked once the read
  // returns). The one exception is a write to a register the model declared private (kShadowPrivate, e1000's
  // EECD): nothing but a read of that register can see it, so only that copy's reads wait for it. Each vCPU notes,
  // per copy, the cookie of its last write that copy's reads wait for (`stale_`, before the write is pushed); the
  // copy may be read once the supervisor's `served` cookie of every vCPU has passed that vCPU's note (its ring is
  // served in order, and the copies refreshed before `served` moves). Until then the reader waits for the
  // supervisor, briefly, and otherwise asks the device.
  std::optional<uint32_t> shadowed(uint32_t dev, int bar, uint64_t offset, unsigned width);
  bool copy_current(unsigned index) const;
  bool wait_for_copy(unsigned index);
  // The copies whose reads wait for a write to (dev, bar, offset) of `width` bytes, one bit per entry: its own
  // alone if the register is private, else all (and all for a config write).
  uint32_t copies_waiting_for(uint32_t dev, int bar, uint64_t offset, unsigned width) const;
  static constexpr uint32_t kAllCopies = ~0u;
  std::array<std::array<std::atomic<uint64_t>, ipc::kChannelVcpus>, ipc::kRegisterShadows> stale_{};
  // How long each vCPU spins for a reply; each is used only by its own vCPU's thread.
  std::array<ipc::AdaptiveSpin, ipc::kChannelVcpus> reply_spins_{};
  // How long each vCPU spins for its copy's writes to be carried out (wait_for_copy); likewise its own.
  std::array<ipc::AdaptiveSpin, ipc::kChannelVcpus> copy_spins_{};
  std::atomic<uint64_t> shadow_reads_{0};

 public:
  // Device reads answered from a register copy, without a crossing.
  uint64_t shadow_reads() const { return shadow_reads_.load(std::memory_order_relaxed); }

  ipc::Channel& ch_;
  const Options options_;
  std::mutex events_mutex_;
  std::mutex rx_mutex_;
  std::atomic<uint64_t> cookies_{1};
};

}  // namespace side::domain
