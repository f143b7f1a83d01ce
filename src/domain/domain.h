// A driver domain: the address space, virtual CPUs and kernel-API layer in which unmodified kernel modules run.
//
// A Domain reserves its fixed regions, creates its DMA-able arena and per-cpu areas, makes the creating thread
// virtual CPU 0, loads the kernel-API layer and initialises it, and starts virtual CPU 1 (softirq: jiffies, timers,
// interrupts, NAPI, transmit) and virtual CPU 2 (the workqueue worker). Modules are then loaded by name or path, with
// their dependencies, their parameters and their init function. Any fault in driver code is contained: the call that
// hit it returns an error, the fault is recorded, and the domain is marked faulty and runs no more driver code.
//
// One domain is active per process (the fixed regions allow no more). In the default isolation mode the domain
// lives alone in its own sandboxed process; in-process mode runs it inside the supervisor as a baseline.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "domain/arena.h"
#include "domain/faults.h"
#include "domain/host_stubs.h"
#include "domain/io_windows.h"
#include "domain/percpu.h"
#include "domain/platform.h"
#include "domain/private_memory.h"
#include "domain/trap_patcher.h"
#include "domain/tx_queue.h"
#include "emulation/decode_cache.h"
#include "ipc/doorbell.h"
#include "ipc/optimisations.h"
#include "kapi/side_host.h"
#include "loader/module_index.h"
#include "loader/module_loader.h"
#include "loader/symvers.h"

namespace side::domain {

struct DomainConfig {
  std::string kapi_path;     // the kernel-API layer module
  std::string symvers_path;  // Module.symvers of the kernel ABI
  std::string modules_dir;   // where module names are looked up
  unsigned vcpus = 3;  // CPU 0: the creating thread; CPU 1: softirq (ticks, interrupts, NAPI, xmit); CPU 2: worker
  uint64_t arena_bytes = 64ull << 20;
  bool virtual_time = true;  // driver delays advance a virtual clock instead of waiting
  bool check_abi = true;
  bool patch_traps = true;  // rewrite trapping device-access sites into direct calls (trap_patcher.h)

  // Domain processes: modules come from images the supervisor handed over (no paths), a sandbox goes up before
  // any byte of a module image is parsed, and vCPU 1 sleeps on a doorbell the supervisor rings.
  std::function<Result<loader::ElfFile>(const std::string& name_or_path)> open_module;  // default: by path
  std::function<Result<std::string>(const std::string& path)> read_file;  // kapi and symvers; default: the file
  int arena_fd = -1;  // a memfd of arena_bytes the supervisor created; default: the domain creates one
  // Called at the start of every load(), before the module's image is parsed, relocated, given its parameters or
  // initialised (the rule: no byte of driver-supplied code or data is called or trusted before the domain is
  // sandboxed). Must be idempotent; failing refuses the load. Unset: the unisolated in-process baseline.
  std::function<Status()> before_driver_code;
  std::atomic<uint32_t>* softirq_doorbell = nullptr;  // default: a private word
  ipc::Ring* tx_ring = nullptr;  // frames to transmit, filled by the supervisor; default: a private queue (submit_tx)
  std::function<void()> on_softirq_round;  // on vCPU 1 before each round (outside guarded calls)
  uint64_t spin_ns = 20'000;               // how long vCPU 1 spins for work before sleeping
  ipc::Optimisations optimisations;        // streamlined crossing: vCPU 1 spins; batched submit: xmit_more batches
  std::atomic<uint64_t>* busy_since_ns = nullptr;  // per vCPU (3): when it entered driver code, for a watchdog
};

struct FaultReport {
  int kind = 0;
  std::string kind_name;
  std::string message;
  uint64_t address = 0;  // driver location, 0 if unknown
  std::string location;  // "symbol+0xoff/0xsize [module]" when known
};

struct PciDriver {
  uint64_t driver = 0;  // struct pci_driver in the domain
  std::string name;
  std::string module;
  std::vector<loader::PciId> ids;
};

struct LoadRequest {
  LoadRequest(std::string module, std::string params = "", bool allow_missing = false)
      : module(std::move(module)), params(std::move(params)), allow_missing(allow_missing) {}
  std::string module;  // name or path
  std::string params;  // "name=value ..." for this module only
  bool allow_missing = false;
};

class Domain final : public loader::LoadEnvironment, public SignalClassifier {
 public:
  static Result<std::unique_ptr<Domain>> create(const DomainConfig& config);
  ~Domain() override;
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;

  // Loads a module and, first, every module it depends on; runs its init. Returns the loaded module.
  Result<const loader::LoadedModule*> load(const LoadRequest& request);
  // Runs a module's exit function (if it has one) and forgets it.
  Status unload(const std::string& name);

  const loader::LoadedModule* find_module(const std::string& name) const;
  std::vector<const loader::LoadedModule*> modules() const;
  std::vector<PciDriver> pci_drivers() const;
  // The first registered driver whose id table matches the device, as the PCI core binds them; nullopt if none.
  std::optional<PciDriver> match_pci_driver(uint16_t vendor, uint16_t device, uint16_t subvendor, uint16_t subdevice,
                                            uint32_t class_code) const;
  std::vector<FaultReport> faults() const;
  bool faulty() const { return faulty_.load(); }
  const loader::KernelAbi& abi() const { return abi_; }
  const Arena& arena() const { return arena_; }
  const PrivateMemory& private_memory() const { return private_; }
  const PercpuAreas& percpu() const { return percpu_; }

  // "symbol+0xoff/0xsize [module]" for an address in any loaded module, or nullopt.
  std::optional<std::string> symbolize(uint64_t addr, bool with_offset = true) const;

  // Runs kernel-API or driver code on the calling thread (a virtual CPU). False if a driver fault abandoned it.
  bool call(GuardedFn fn, void* arg);
  template <class F>
  bool call(F&& f) {
    return call([](void* p) { (*static_cast<F*>(p))(); }, &f);
  }

  // Host services (the side_host_* functions forward here).
  // Records a fault and abandons the current guarded call. It takes a plain string because the call unwinds with
  // siglongjmp: no C++ object may be alive in the frames it skips.
  [[noreturn]] void fault(int kind, const char* message, uint64_t caller);
  void record_fault(int kind, const std::string& message, uint64_t address);
  uint64_t clock_ns() const;
  void delay_ns(uint64_t ns);
  int register_pci_driver(uint64_t driver, const char* name, const side_pci_id* ids, unsigned n);
  void unregister_pci_driver(uint64_t driver);
  PercpuAreas& percpu_areas() { return percpu_; }
  Arena& arena_mut() { return arena_; }
  PrivateMemory& private_mut() { return private_; }
  uint64_t vmemmap_base() const;
  uint64_t vmemmap_address() const { return reinterpret_cast<uint64_t>(vmemmap_); }

  // ---- devices and network devices (device_calls.cc) ----
  // Where device accesses and network events go. Set before attaching devices; must outlive the domain's use.
  void set_platform(Platform* platform) { platform_.store(platform); }
  Platform* platform() const { return platform_.load(); }
  // Received frames go here when set, else to the platform (any thread).
  void set_frame_receiver(FrameReceiver* r) { receiver_.store(r); }
  FrameReceiver* frame_receiver() const { return receiver_.load(); }
  // Makes a PCI function reachable from the domain (its BARs through ioremap and port I/O).
  Status attach_device(const side_pci_device_info& info);
  // Binds an attached device to the first registered driver that matches it and runs the driver's probe (on the
  // calling thread, which must be vCPU 0). Returns the pci_dev token.
  Result<uint64_t> probe(uint32_t device);
  Status remove(uint64_t pdev);
  // dev_open()/dev_close() of a registered network device; statistics as the driver reports them (vCPU 0).
  Status open(uint64_t netdev);
  Status close(uint64_t netdev);
  Result<side_netdev_stats> stats(uint64_t netdev);
  // Configuration as the host's stack changes it, and what ethtool shows (vCPU 0). Errors carry the errno.
  Status set_mtu(uint64_t netdev, uint32_t mtu);
  Status set_mac(uint64_t netdev, const std::array<uint8_t, 6>& mac);
  Status set_rx_mode(uint64_t netdev, uint32_t flags, const std::vector<std::array<uint8_t, 6>>& multicast);
  Result<side_ethtool_info> ethtool(uint64_t netdev);
  // An interrupt line was asserted (any thread); its handlers run on vCPU 1.
  void raise_irq(uint32_t irq);
  // Queues a frame for transmission through `netdev` (any thread); vCPU 1 submits queued frames in batches.
  // False when the queue is full: try again after Platform::netdev_tx_wake or a moment later. (A domain whose
  // queue is the channel's transmit ring, DomainConfig::tx_ring, is fed by the supervisor: always false.)
  bool submit_tx(uint64_t netdev, std::span<const uint8_t> frame);
  struct IrqStats {
    uint64_t delivered = 0, handled = 0;
  };
  IrqStats irq_stats() const { return {irqs_delivered_.load(), irqs_handled_.load()}; }
  // Trapped device accesses and the rewriting of their sites.
  TrapStats trap_stats() const { return patcher_.stats(); }

  // Fault injection (fault_injector.cc): does SIDE_INJECT_* to the driver; says what it did.
  Result<std::string> inject(int type, uint64_t seed);
  const loader::LoadedModule* driver_module() const;  // the last module loaded

  // Host-service backends.
  void* ioremap(uint64_t phys, uint64_t size);
  bool iounmap(uint64_t addr);
  Result<uint64_t> io_read(uint64_t addr, unsigned width);
  Status io_write(uint64_t addr, unsigned width, uint64_t value);
  void kick_softirq();
  void kick_worker();
  void irq_attach(uint32_t irq, bool attached);
  void tx_wake(uint64_t netdev, uint32_t queue);

  // Stops virtual CPUs 1 and 2 (no more interrupts, softirqs, timers or work); the domain stays inspectable.
  void shutdown() { stop_threads(); }

  // The virtual CPU the calling thread is, or -1.
  static int current_vcpu();
  static bool on_vcpu(int cpu) { return current_vcpu() == cpu; }

  // The active domain of this process, if any (host services need it).
  static Domain* active();

  // loader::LoadEnvironment
  Result<uint64_t> allocate_image(uint64_t size) override;
  Status protect_image(uint64_t addr, uint64_t size, bool write, bool exec) override;
  Result<uint64_t> allocate_percpu(uint64_t size, uint64_t align) override;
  void init_percpu(uint64_t offset, std::span<const uint8_t> init) override;
  std::optional<uint64_t> resolve(const std::string& name) override;
  Result<uint64_t> missing_symbol_address(const std::string& name) override;

  // SignalClassifier
  SignalAction classify(int sig, siginfo_t* info, ucontext_t* context) override;

 private:
  Domain(const DomainConfig& config, loader::KernelAbi abi, Arena arena, PercpuAreas percpu);
  Status start();
  bool retry_disturbed_fetch(const siginfo_t* info, const ucontext_t* context);
  Status attach_vcpu(unsigned cpu);
  Status load_kapi();
  Result<loader::LoadedModule*> load_one(const LoadRequest& request, std::vector<std::string>& chain);
  const loader::LoadedModule* module_at(uint64_t addr) const;
  SignalAction handle_bug(const loader::LoadedModule& mod, uint64_t rip, ucontext_t* context);
  SignalAction emulate_device_access(siginfo_t* info, ucontext_t* context, const loader::LoadedModule& mod);
  Status require_vcpu0(const char* what) const;
  void softirq_loop();
  void worker_loop();
  uint32_t softirq_round(uint32_t events);
  void stop_threads();

  DomainConfig config_;
  loader::KernelAbi abi_;
  loader::ModuleIndex index_;
  PrivateMemory private_;
  TrapPatcher patcher_{*this, private_};
  Arena arena_;
  PercpuAreas percpu_;
  void* vmemmap_ = nullptr;
  uint64_t vmemmap_bytes_ = 0;
  bool resolving_kapi_ = false;
  HostStubs host_stubs_;  // what the kernel-API layer's host imports resolve to

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<loader::LoadedModule>> modules_;  // kapi first, in load order
  loader::LoadedModule* kapi_ = nullptr;
  std::vector<PciDriver> pci_drivers_;
  std::vector<FaultReport> faults_;
  std::vector<uint64_t> warned_once_;
  std::atomic<bool> faulty_{false};

  std::atomic<int64_t> clock_skew_ns_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int> vcpus_ready_{0};  // secondary vCPUs initialised; -1 if one failed
  std::thread softirq_thread_;
  std::thread worker_thread_;

  // Entry points of the kernel-API layer (null if this layer lacks one: the operation then fails cleanly).
  struct KapiEntries {
    void (*tick)() = nullptr;
    int (*irq)(uint32_t) = nullptr;
    int (*softirq)() = nullptr;
    void (*run_work)() = nullptr;
    int (*xmit)(uint64_t, const void*, uint32_t, int) = nullptr;
    int (*pci_probe)(void*, const side_pci_device_info*, void**) = nullptr;
    void (*pci_remove)(void*) = nullptr;
    int (*netdev_open)(uint64_t) = nullptr;
    void (*netdev_close)(uint64_t) = nullptr;
    void (*netdev_stats)(uint64_t, side_netdev_stats*) = nullptr;
    int (*set_mtu)(uint64_t, uint32_t) = nullptr;
    int (*set_mac)(uint64_t, const unsigned char*) = nullptr;
    int (*set_rx_mode)(uint64_t, uint32_t, const unsigned char*, uint32_t) = nullptr;
    int (*ethtool)(uint64_t, side_ethtool_info*) = nullptr;
  } entries_;

  // Devices.
  std::atomic<Platform*> platform_{nullptr};
  std::atomic<FrameReceiver*> receiver_{nullptr};
  IoWindows io_;
  std::vector<side_pci_device_info> devices_;                           // guarded by mutex_
  std::vector<std::unique_ptr<emulation::DecodeCache>> decode_caches_;  // one per vCPU (signal handlers)
  std::atomic<uint64_t> irq_attached_{0};

  // Wake-ups of vCPU 1 and vCPU 2 (futex words).
  static constexpr uint32_t kEventIrq = 1, kEventSoftirq = 2, kEventTx = 4, kEventStop = 8;
  std::atomic<uint32_t> own_softirq_word_{0};
  std::atomic<uint32_t> worker_word_{0};
  ipc::Doorbell softirq_bell_{&own_softirq_word_};
  ipc::Doorbell worker_bell_{&worker_word_};
  std::atomic<uint64_t> irq_pending_{0};
  std::atomic<uint64_t> irqs_delivered_{0}, irqs_handled_{0};
  // Interrupt storm detection (vCPU 1 only): unclaimed interrupts in the current one-second window.
  uint64_t storm_window_start_ns_ = 0, storm_unclaimed_ = 0, storm_delivered_ = 0;
  static constexpr uint64_t kStormUnclaimed = 1000;
  static constexpr uint64_t kStormRate = 20000;

  // Transmit queue (host -> driver): vCPU 1 hands its frames to the driver in batches, straight from their slots
  // (tx_queue.h); a stopped driver queue blocks it until the driver wakes the queue.
  static constexpr size_t kTxBatch = 64;
  std::unique_ptr<TxQueue> tx_;
  std::atomic<bool> tx_blocked_{false};
};

const char* fault_kind_name(int kind);

}  // namespace side::domain
