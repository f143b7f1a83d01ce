// A PCI function served by a vfio-user server (another process: QEMU's device models, say) and driven through the
// same pci::PciDevice interface as side's own models. The supervisor is the device's firmware and its host:
//   - configuration and BAR accesses become REGION_READ/REGION_WRITE messages (BAR writes posted, no reply);
//   - a BAR access reaches the server only while its decode bit is set in COMMAND (the machine's firmware assigns
//     non-overlapping addresses; the driver's pci_enable_device sets the bits), as on a real bus;
//   - DMA: the domain's DMA memory (its arena memfd) is the one mapping the server gets, at the bus addresses the
//     domain uses, so the device reaches that memory and nothing else;
//   - interrupts: the server signals an eventfd per vector; a thread turns each signal into an interrupt request
//     edge or, while the driver's kernel has MSI or MSI-X on, into the message it programmed for that vector
//     (pci::MessageInterrupts follows the capability and table writes, which still reach the server: it emulates the
//     table, its masks and pending bits). Every vector's eventfd is registered when the device starts, so no
//     interrupt is raised before the server knows where it goes. A server's MSI-X vector 0 and INTx share one
//     eventfd slot (libvfio-user), and QEMU offers no MSI vectors when the device has MSI-X yet signals MSI on slot
//     0: vector 0 is one eventfd, and what it means follows the mode the driver's kernel chose. INTx is
//     edge-signalled over vfio-user (the server reports rising edges only); it is made level-triggered again from
//     Status.Interrupt: an edge whose line has fallen by then is dropped, a line still asserted kLevelRecheck after
//     an interrupt interrupts again;
//   - reset: DEVICE_RESET and COMMAND cleared; a broken connection, or a server whose interrupt line stays high
//     after the reset (no rising edge would ever come again), is replaced by a fresh one (`reconnect`).
// A server that does not answer in time, closes or sends what the codec refuses is a device fault (reported once
// through the context's device_fault, counted); accesses then read all-ones until a reset reconnects.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/token_bucket.h"
#include "devices/pci/message_interrupts.h"
#include "devices/pci/pci_device.h"
#include "devices/vfio_user/client.h"
#include "devices/vfio_user/model_quirks.h"

namespace side::vfio_user {

// What a server's config space and regions say the function is.
struct Discovered {
  pci::Identity identity;
  std::array<pci::BarSpec, pci::kNumBars> bars{};
  uint32_t config_size = 0;
  pci::MessageInterrupts messages;  // MSI / MSI-X layout from the capability list
};
// Reads the identity and BAR kinds from config space and the BAR sizes from region info. A BAR whose size is not a
// power of two the PCI rules allow (memory 16 B..1 GiB, I/O 4..256 B) is an error: the server lies about it.
Result<Discovered> discover(Client& client);

// `value`, read from config space at `offset` (`width` bytes), with the byte at config offset `at` replaced by
// `byte` when the access covers it: what the firmware shows of a field it presents differently from the server.
uint32_t overlay_config_byte(uint32_t offset, unsigned width, uint32_t value, uint32_t at, uint8_t byte);

class VfioUserDevice : public pci::PciDevice {
 public:
  // How long an INTx line may stay asserted after an interrupt, with no new edge, before it interrupts again.
  static constexpr std::chrono::milliseconds kLevelRecheck{50};
  // How often an INTx line is looked at with no interrupt outstanding: an assertion whose edge the server never
  // signalled is then an interrupt this much late, not a device silent for good.
  static constexpr std::chrono::milliseconds kIdleLevelCheck{200};
  // At most this many interrupts a second from one device, after a burst: a server that signals without pause (a
  // broken or hostile one) costs the supervisor and the domain a bounded share of a CPU. Its eventfds count the
  // signals meanwhile, so a throttled interrupt is delayed, not lost. Real NICs stay far below (e1000's ITR default
  // allows 8000/s).
  static constexpr double kInterruptsPerSecond = 50000, kInterruptBurst = 64;

  // A fresh, negotiated client for the same device (a restarted server).
  using Reconnect = std::function<Result<std::unique_ptr<Client>>()>;

  // `client` is negotiated and `found` is what discover() said of it. Call start() before use.
  VfioUserDevice(const pci::DeviceContext& context, std::string name, const Discovered& found,
                 std::unique_ptr<Client> client, Reconnect reconnect);
  ~VfioUserDevice() override;

  // Interrupt eventfd, DMA memory, and the interrupt thread. On failure the device is unusable.
  Status start();

  // Config space shows `revision` (offset 0x08) instead of the server's, as firmware that presents a model under
  // another revision of the same chip would (QEMU's RTL8139C+, which implements the RTL8139C's mode too, as an
  // RTL8139C). Every other field is the server's.
  void present_revision(uint8_t revision);
  // Another bound than kInterruptsPerSecond/kInterruptBurst (tests).
  void limit_interrupt_rate(double per_second, double burst);
  // What side does beyond the protocol for this model (model_quirks.h): registers written back after some writes,
  // writes that wait for the server.
  void set_quirks(ModelQuirks quirks);

  uint32_t config_read(uint32_t offset, unsigned width) override;
  void config_write(uint32_t offset, unsigned width, uint32_t value) override;
  uint64_t bar_read(int bar, uint64_t offset, unsigned width) override;
  void bar_write(int bar, uint64_t offset, unsigned width, uint64_t value) override;
  void reset() override;
  void set_dma_memory(const pci::DmaMemory& memory) override;
  NamedCounters model_counters() const override;

  // The current connection is broken (a fault was reported); the next reset() reconnects.
  bool server_failed() const;

 protected:
  // Called with the device lock held after a reconnect replaced the client: subclasses re-attach what hangs off
  // the server (a QEMU device's frame socket).
  virtual void reconnected() {}
  std::mutex& device_mutex() const { return mu_; }
  // Ends the interrupt thread (idempotent). A subclass whose members own the server calls it first in its
  // destructor: a signal handled while the server is being stopped would read from a dead connection and report a
  // device fault for a device that is merely going away.
  void stop_interrupts();

 private:
  Status attach_locked();  // interrupts and DMA memory to the current client
  void fault_locked(const std::string& what);
  bool usable_locked();
  void irq_loop();
  bool signal_vector(uint32_t vector, bool watching);
  bool recheck_intx(bool idle);
  uint64_t ns_until_interrupt_allowed();
  bool sleep_unless_stopped(uint64_t ns);
  Status make_vector_fds();
  std::optional<bool> intx_asserted_locked();
  bool deliver_intx_locked(bool again);
  void reconnect_locked();
  void rewrite_register_locked(int bar, const RegisterRewrite& r);

  const std::string name_;
  std::function<void(const std::string&)> device_fault_;
  Reconnect reconnect_;
  const pci::Identity identity_;
  const uint32_t config_size_;
  mutable std::mutex mu_;
  std::unique_ptr<Client> client_;
  pci::DmaMemory dma_;
  bool dma_mapped_ = false;
  bool faulted_ = false;
  std::optional<uint8_t> revision_;  // shown instead of the server's (present_revision)
  ModelQuirks quirks_;
  TokenBucket interrupt_rate_{kInterruptsPerSecond, kInterruptBurst};
  pci::MessageInterrupts messages_;
  uint32_t msix_fds_ = 0, msi_fds_ = 0;  // vectors registered as MSI-X / MSI (0: the server has none)
  std::vector<Fd> vectors_;              // eventfd per vector; [0] is also INTx
  Fd stop_;                              // eventfd that ends irq_loop
  std::thread irq_thread_;
  std::atomic<uint64_t> reads_{0}, writes_{0}, irqs_{0}, stale_irqs_{0}, reasserted_irqs_{0}, faults_{0},
      reconnects_{0}, refused_{0}, quirk_rewrites_{0}, throttled_irqs_{0}, waited_writes_{0};
  std::atomic<uint64_t> messages_sent_{0}, spurious_{0};
  std::atomic<uint64_t> stuck_lines_{0};
  std::atomic<uint64_t> edgeless_irqs_{0};  // INTx found asserted with no edge signalled (kIdleLevelCheck)  // resets
                                            // that left the interrupt line high (a fresh server followed)
};

}  // namespace side::vfio_user
