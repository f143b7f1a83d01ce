// A driver domain as the supervisor drives it, whatever the isolation: in this process (the unisolated baseline)
// or in a sandboxed domain process. The machine and the sessions are written against this interface only.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "domain/domain.h"
#include "domain/platform.h"
#include "ipc/codec.h"
#include "kapi/side_host.h"
#include "supervisor/control_thread.h"
#include "supervisor/crossing_counters.h"

namespace side::supervisor {

using domain::DomainCounters;

class DriverDomain {
 public:
  virtual ~DriverDomain() = default;

  virtual const char* isolation() const = 0;
  virtual int pid() const = 0;  // the process the driver runs in

  // The domain's DMA-able memory as the supervisor maps it (for the IOMMUs), and its bus-address base.
  virtual uint8_t* arena_base() const = 0;
  virtual uint64_t arena_size() const = 0;
  // The arena's memfd (owned by the domain), for devices served by another process; -1 if there is none.
  virtual int arena_fd() const { return -1; }

  // Where device accesses and network events from the domain go. Called once, before devices are attached.
  virtual void connect(domain::Platform* platform) = 0;
  // Where received frames go straight from the data path (the host side of the network device), skipping the
  // platform; null: through the platform. Any time, any thread.
  virtual void set_frame_receiver(domain::FrameReceiver* /*receiver*/) {}

  // Loads a module with its dependencies and runs its init. Returns the module's name.
  virtual Result<std::string> load(const domain::LoadRequest& request) = 0;

  // Every control operation (ipc/messages.h), encoded: the transport carries it to the domain's vCPU 0 and brings
  // back its answer. An in-process domain and a domain process are the two transports; a recovering domain records
  // and replays what the declarations say to.
  virtual Result<ipc::ControlAnswer> transact(const ipc::ControlRequest& request) = 0;

  // A control operation, typed: encoded and its answer decoded (and validated) by the codec.
  template <class Op>
  ipc::CallResultOf<Op> call(const typename Op::Args& args, std::span<const uint8_t> payload = {}) {
    auto request = ipc::make_request<Op>(args, payload);
    if (!request) return request.error();
    auto answer = transact(*request);
    if (!answer) return answer.error();
    return ipc::decode_reply<Op>(answer->status, answer->payload);
  }

  // The operations by name, for their callers.
  Status attach_device(const side_pci_device_info& info) {
    return call<ipc::AttachDevice>({info.device}, ipc::PayloadTraits<ipc::AttachDevice::Payload>::bytes(info));
  }
  Status unload(const std::string& name) {
    return call<ipc::Unload>({}, std::span(reinterpret_cast<const uint8_t*>(name.data()), name.size()));
  }
  Result<uint64_t> probe(uint32_t device) { return call<ipc::Probe>({device}); }  // the pci_dev token
  Status remove(uint64_t pdev) { return call<ipc::Remove>({pdev}); }
  Status open(uint64_t netdev) { return call<ipc::Open>({netdev}); }
  Status close(uint64_t netdev) { return call<ipc::Close>({netdev}); }
  Result<side_netdev_stats> stats(uint64_t netdev) { return call<ipc::Stats>({netdev}); }
  Status set_mtu(uint64_t netdev, uint32_t mtu) { return call<ipc::SetMtu>({netdev, mtu}); }
  Status set_mac(uint64_t netdev, const std::array<uint8_t, 6>& mac) {
    ipc::SetMac::Args a{netdev, {}};
    std::copy(mac.begin(), mac.end(), a.mac.bytes);
    return call<ipc::SetMac>(a);
  }
  Status set_rx_mode(uint64_t netdev, uint32_t flags, const std::vector<std::array<uint8_t, 6>>& mc) {
    static_assert(sizeof(std::array<uint8_t, 6>) == 6);
    return call<ipc::SetRxMode>({netdev, flags}, std::span(reinterpret_cast<const uint8_t*>(mc.data()), 6 * mc.size()));
  }
  Result<side_ethtool_info> ethtool(uint64_t netdev) { return call<ipc::Ethtool>({netdev}); }
  // Block devices: a disk's description, an arena buffer for data (its arena offset), and one request.
  Result<side_block_info> block_info(uint32_t disk) { return call<ipc::BlockInfo>({disk}); }
  Result<uint64_t> block_buffer(uint32_t order) { return call<ipc::BlockBuffer>({order}); }
  Status block_request(uint32_t disk, uint32_t op, uint64_t sector, uint32_t nr_sectors,
                       const std::vector<side_block_seg>& segs) {
    return call<ipc::BlockRequest>({disk, sector, op, nr_sectors},
                                   std::span(reinterpret_cast<const uint8_t*>(segs.data()), 16 * segs.size()));
  }
  // Fault injection inside the domain (SIDE_INJECT_* of ipc/protocol.h); says what was done.
  Result<std::string> inject(int type, uint64_t seed) { return call<ipc::Inject>({static_cast<uint32_t>(type), seed}); }
  // A fault the supervisor found (an IOMMU fault of the domain's device, say): the domain becomes faulty.
  virtual void report_fault(int kind, const std::string& message) = 0;

  // Entry `index` of the domain's register copies (ipc::RegisterShadow; the machine's, Machine::publish_shadows):
  // nothing where the driver reads the device directly (in-process).
  virtual void set_register_shadow(unsigned /*index*/, uint32_t /*key*/, uint32_t /*value*/) {}

  // Hot path, any thread.
  virtual void raise_irq(uint32_t irq) = 0;
  // `offload`: the checksum insertion and TCP segmentation the frame asks of the driver (ipc::valid_tx_offload;
  // none by default); only a driver whose features allow them is given such frames (host::HostInterface).
  virtual bool submit_tx(uint64_t netdev, std::span<const uint8_t> frame, const side_tx_offload& offload = {}) = 0;
  // The transmit journal recovery requeues from: the last `count` frames submitted (successfully), as far as the
  // transport still holds them where it put them (a domain process's transmit ring keeps the latest ones until
  // their slots are reused). Calls take(i, frame, offload) for each one held, oldest first, `i` its place among the
  // `count` (0 the oldest); returns how many it found. None by default.
  using RecentFrame = std::function<void(size_t index, std::span<const uint8_t> frame, const side_tx_offload& offload)>;
  virtual size_t recent_tx(size_t /*count*/, const RecentFrame& /*take*/) { return 0; }

  virtual bool faulty() const = 0;
  // Called (on whichever thread found it) once the domain has become faulty, so that recovery starts at once
  // instead of at its next look. It must not call back into this domain. Replaces the previous listener.
  virtual void set_fault_listener(std::function<void()> /*listener*/) {}
  virtual std::vector<domain::FaultReport> faults() const = 0;
  // Interrupt counts the domain itself reports; nullopt where it reports none.
  virtual std::optional<DomainCounters> counters() const = 0;
  // What crossed between the supervisor and the domain's process, as the supervisor counted it; nullopt where
  // nothing crosses (in-process: a crossing is a function call).
  virtual std::optional<CrossingCounts> crossings() const { return std::nullopt; }
  // No more driver code runs; the domain can still be inspected.
  virtual void shutdown() = 0;
  // Ends the domain abruptly, as a crash would (SIGKILL of a domain process).
  virtual Status kill() = 0;
  // A spare domain (started with its log held) takes over: what its driver logged so far is printed now, marked
  // as the spare's (supervisor/domain_log.h). Nothing for a domain whose log was never held.
  virtual void release_log() {}
  // Frees everything the domain holds now, its object staying (faulty, inert) until its successor replaces it:
  // for domains that cannot coexist with that successor (in-process). Called once the devices are quiesced.
  virtual void release() {}
  // How many times the driver was restarted (a recovering domain); frames in flight at a restart may be lost.
  virtual unsigned generation() const { return 0; }
  // A restart is under way: the driver is not running yet.
  virtual bool recovering() const { return false; }
};

// The unisolated baseline: the domain lives in this process and its calling thread is virtual CPU 0; or, with
// `own_control_thread`, a thread of its own is (control_thread.h), and any thread may call it.
class InProcessDomain final : public DriverDomain {
 public:
  static Result<std::unique_ptr<InProcessDomain>> create(const domain::DomainConfig& config,
                                                         bool own_control_thread = false);
  ~InProcessDomain() override;

  const char* isolation() const override { return sfi_ ? "sfi" : "inproc"; }
  int pid() const override;
  uint8_t* arena_base() const override { return live() ? d_->arena().base() : nullptr; }
  uint64_t arena_size() const override { return live() ? d_->arena().size() : 0; }
  int arena_fd() const override { return live() ? d_->arena().fd() : -1; }
  void connect(domain::Platform* platform) override { d_->set_platform(platform); }
  void set_frame_receiver(domain::FrameReceiver* receiver) override {
    if (live()) d_->set_frame_receiver(receiver);
  }
  Result<std::string> load(const domain::LoadRequest& request) override;
  Result<ipc::ControlAnswer> transact(const ipc::ControlRequest& request) override;
  void report_fault(int kind, const std::string& message) override {
    if (live()) d_->record_fault(kind, message, 0);
  }
  void set_fault_listener(std::function<void()> listener) override {
    if (live()) d_->fault_log().set_listener(std::move(listener));
  }
  void raise_irq(uint32_t irq) override {
    if (live()) d_->raise_irq(irq);
  }
  bool submit_tx(uint64_t netdev, std::span<const uint8_t> frame, const side_tx_offload& offload = {}) override {
    return live() && d_->submit_tx(netdev, frame, offload);
  }
  bool faulty() const override { return !live() || d_->faulty(); }
  std::vector<domain::FaultReport> faults() const override { return live() ? d_->faults() : last_faults_; }
  std::optional<DomainCounters> counters() const override {
    return live() ? std::optional<DomainCounters>(d_->counters()) : std::nullopt;
  }
  void shutdown() override;
  // An sfi domain's driver is stopped (no more driver code runs); the plain baseline cannot be killed.
  Status kill() override;
  void release() override;

  domain::Domain& domain() { return *d_; }

 private:
  InProcessDomain(std::unique_ptr<domain::Domain> d, std::unique_ptr<ControlThread> control, bool sfi)
      : control_(std::move(control)), d_(std::move(d)), sfi_(sfi) {}
  // On the control thread when there is one, else on the caller's.
  void on_control(const std::function<void()>& job);
  void destroy_domain();

  std::unique_ptr<ControlThread> control_;  // outlives the domain, which it destroys
  bool live() const { return !released_.load(std::memory_order_acquire); }

  std::mutex d_mu_;  // held while d_ is emptied, and by kill() while it records its fault from its own thread
  std::unique_ptr<domain::Domain> d_;
  bool sfi_ = false;  // --isolation sfi (DomainConfig::sfi)
  std::atomic<bool> released_{false};
  std::vector<domain::FaultReport> last_faults_;  // what the domain recorded, once released
};

}  // namespace side::supervisor
