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
//
// The Domain composes one part per job and runs driver code (guarded calls on virtual CPUs):
//   AddressSpace     regions, arena, per-cpu areas, the loaded modules (ModuleTable); what the loader links against
//   VcpuThreads      vCPUs 1 and 2: ticks, softirq rounds, the worker; vcpu.h says which vCPU a thread is
//   FaultLog         the faults recorded; DriverSignals decides what a driver's signal means
//   DomainClock      the domain's (virtual) time
//   PciDriverTable   the PCI drivers registered, and which binds a device
//   DeviceAccess     attached PCI functions, ioremap windows, accesses routed to the Platform, received frames
//   InterruptLines   asserted lines, delivery counts, storm detection
//   TransmitQueue    frames waiting for the driver's transmit, in place in a ring
//   KapiEntries      the kernel-API layer's entry points
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "domain/address_space.h"
#include "domain/device_access.h"
#include "domain/domain_clock.h"
#include "domain/domain_counters.h"
#include "domain/driver_signals.h"
#include "domain/fault_log.h"
#include "domain/faults.h"
#include "domain/interrupt_lines.h"
#include "domain/kapi_entries.h"
#include "domain/pci_driver_table.h"
#include "domain/platform.h"
#include "domain/transmit_queue.h"
#include "domain/trap_patcher.h"
#include "domain/vcpu.h"
#include "domain/vcpu_threads.h"
#include "ipc/optimisations.h"
#include "kapi/side_host.h"
#include "loader/dependency_walk.h"
#include "loader/module_index.h"
#include "loader/module_loader.h"
#include "loader/symvers.h"
#include "sfi/check_abi.h"

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
  // --isolation sfi (src/sfi): the domain's writable memory in the sfi window, rights granted as memory is handed
  // out, drivers linked against the checked thunks and exports, driver code on driver stacks with shadow stacks,
  // and its system calls refused.
  bool sfi = false;
};

struct LoadRequest {
  LoadRequest(std::string module, std::string params = "", bool allow_missing = false)
      : module(std::move(module)), params(std::move(params)), allow_missing(allow_missing) {}
  std::string module;  // name or path
  std::string params;  // "name=value ..." for this module only
  bool allow_missing = false;
};

class Domain final {
 public:
  static Result<std::unique_ptr<Domain>> create(const DomainConfig& config);
  ~Domain();
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;

  // ---- modules (domain.cc) ----
  // Loads a module and, first, every module it depends on; runs its init. Returns the loaded module.
  Result<const loader::LoadedModule*> load(const LoadRequest& request);
  // Runs a module's exit function (if it has one) and forgets it; then, newest first, the modules its load brought
  // in that nothing else uses any more (as modprobe -r does).
  Status unload(const std::string& name);
  const loader::LoadedModule* find_module(const std::string& name) const { return space_.modules().find(name); }
  std::vector<const loader::LoadedModule*> modules() const { return space_.modules().drivers(); }
  const loader::LoadedModule* driver_module() const;  // the last module loaded
  // "symbol+0xoff/0xsize [module]" for an address in any loaded module, or nullopt.
  std::optional<std::string> symbolize(uint64_t addr, bool with_offset = true) const;
  const loader::KernelAbi& abi() const { return abi_; }
  // Once every module is loaded: the kernel ABI's tables are not needed again (a later load is refused).
  void forget_abi() { abi_ = loader::KernelAbi{}; }

  // ---- the parts ----
  AddressSpace& address_space() { return space_; }
  const AddressSpace& address_space() const { return space_; }
  const Arena& arena() const { return space_.arena(); }
  bool sfi() const { return config_.sfi; }
  Arena& arena_mut() { return space_.arena(); }
  const PrivateMemory& private_memory() const { return space_.private_memory(); }
  PrivateMemory& private_mut() { return space_.private_memory(); }
  const PercpuAreas& percpu() const { return space_.percpu(); }
  PercpuAreas& percpu_areas() { return space_.percpu(); }
  uint64_t vmemmap_base() const { return space_.vmemmap_base(); }
  uint64_t vmemmap_address() const { return space_.vmemmap_address(); }
  DeviceAccess& device_access() { return devices_; }
  TrapPatcher& patcher() { return patcher_; }
  FaultLog& fault_log() { return faults_; }

  // ---- running driver code ----
  // Runs kernel-API or driver code on the calling thread (a virtual CPU). False if a driver fault abandoned it.
  bool call(GuardedFn fn, void* arg);
  template <class F>
  bool call(F&& f) {
    return call([](void* p) { (*static_cast<F*>(p))(); }, &f);
  }
  // Stops virtual CPUs 1 and 2 (no more interrupts, softirqs, timers or work); the domain stays inspectable.
  void shutdown() { vcpus_.stop(); }
  // The virtual CPU the calling thread is, or -1.
  static int current_vcpu() { return domain::current_vcpu(); }
  static bool on_vcpu(int cpu) { return current_vcpu() == cpu; }
  // The active domain of this process, if any (host services need it).
  static Domain* active();

  // ---- faults ----
  std::vector<FaultReport> faults() const { return faults_.all(); }
  bool faulty() const { return faults_.faulty(); }
  // Records a fault and abandons the current guarded call. It takes a plain string because the call unwinds with
  // siglongjmp: no C++ object may be alive in the frames it skips.
  [[noreturn]] void fault(int kind, const char* message, uint64_t caller);
  void record_fault(int kind, const std::string& message, uint64_t address);
  // Fault injection (fault_injector.cc): does SIDE_INJECT_* to the driver; says what it did.
  Result<std::string> inject(int type, uint64_t seed);

  // ---- block devices (block_calls.cc) ----
  // Hands one request to disk `disk`'s queue; its completion goes to the platform (Platform::block_done) with
  // `tag`. `segs` is the request's pieces as the message carried them (16 bytes each, not necessarily aligned).
  Status block_submit(uint32_t disk, uint32_t op, uint64_t sector, uint32_t nr_sectors, std::span<const uint8_t> segs,
                      uint64_t tag);

  // ---- host services (the side_host_* functions forward here) ----
  uint64_t clock_ns() const { return clock_.now_ns(); }
  void delay_ns(uint64_t ns) { clock_.delay_ns(ns); }
  int register_pci_driver(uint64_t driver, const char* name, const side_pci_id* ids, unsigned n);
  void unregister_pci_driver(uint64_t driver) { pci_drivers_.remove(driver); }
  std::vector<PciDriver> pci_drivers() const { return pci_drivers_.list(); }
  // The first registered driver whose id table matches the device, as the PCI core binds them; nullopt if none.
  std::optional<PciDriver> match_pci_driver(uint16_t vendor, uint16_t device, uint16_t subvendor, uint16_t subdevice,
                                            uint32_t class_code) const {
    return pci_drivers_.match(vendor, device, subvendor, subdevice, class_code);
  }
  void* ioremap(uint64_t phys, uint64_t size) { return devices_.ioremap(phys, size); }
  bool iounmap(uint64_t addr) { return devices_.iounmap(addr); }
  Result<uint64_t> io_read(uint64_t addr, unsigned width) { return devices_.read(addr, width); }
  Status io_write(uint64_t addr, unsigned width, uint64_t value) { return devices_.write(addr, width, value); }
  void kick_softirq() { vcpus_.kick_softirq(VcpuThreads::kEventSoftirq); }
  void kick_worker() { vcpus_.kick_worker(); }
  void irq_attach(uint32_t irq, bool attached) { irqs_.set_attached(irq, attached); }
  void tx_wake(uint64_t netdev, uint32_t queue);

  // ---- devices and network devices (device_calls.cc) ----
  // Where device accesses and network events go. Set before attaching devices; must outlive the domain's use.
  void set_platform(Platform* platform) { devices_.set_platform(platform); }
  Platform* platform() const { return devices_.platform(); }
  // Received frames go here when set, else to the platform (any thread).
  void set_frame_receiver(FrameReceiver* receiver) { devices_.set_frame_receiver(receiver); }
  // Makes a PCI function reachable from the domain (its BARs through ioremap and port I/O).
  Status attach_device(const side_pci_device_info& info) { return devices_.attach(info); }
  // Binds an attached device to the first registered driver that matches it and runs the driver's probe (on the
  // calling thread, which must be vCPU 0). Returns the pci_dev token.
  Result<uint64_t> probe(uint32_t device);
  Status remove(uint64_t pdev);
  // Runs kernel-API entry point `entry` (by name) on vCPU 0 as `what`: `body` calls it (given its address) and
  // returns 0 or a negative errno. An error says why: no such entry, a driver fault, or the errno.
  Status run_entry(const char* what, const std::string& entry, const std::function<int(uint64_t)>& body);
  // An interrupt line was asserted (any thread); its handlers run on vCPU 1.
  void raise_irq(uint32_t irq);
  // Queues a frame for transmission through `netdev` (any thread); vCPU 1 submits queued frames in batches.
  // False when the queue is full: try again after Platform::netdev_tx_wake or a moment later. (A domain whose
  // queue is the channel's transmit ring, DomainConfig::tx_ring, is fed by the supervisor: always false.)
  bool submit_tx(uint64_t netdev, std::span<const uint8_t> frame, const side_tx_offload& offload = {});
  using IrqStats = InterruptLines::Stats;
  IrqStats irq_stats() const { return irqs_.stats(); }
  // Trapped device accesses and the rewriting of their sites.
  TrapStats trap_stats() const { return patcher_.stats(); }
  // Both, as reports and a domain process's channel carry them.
  DomainCounters counters() const;

 private:
  Domain(const DomainConfig& config, loader::KernelAbi abi, Arena arena, PercpuAreas percpu);
  Status start();
  Status reserve_regions();
  Status load_kapi();
  Status unload_one(const std::string& name);
  void unload_group(const std::vector<std::string>& names);
  std::string find_module_name(const std::string& name) const;
  bool init_secondary_vcpu(unsigned cpu);
  Status load_one(loader::OpenedModule& module, const LoadRequest& request);
  Status run_module_init(loader::LoadedModule& m, const std::string& params);
  Result<loader::OpenedModule> open_module(const std::string& name_or_path);
  Status require_vcpu0(const char* what) const;
  uint32_t softirq_round(uint32_t events);
  void check_irq_storm();
  // sfi_domain.cc: what sfi mode adds at each step.
  Status sfi_after_kapi(const loader::LoadedModule& kapi);
  Result<sfi::CheckAbi> sfi_check_abi() const;
  void sfi_module_loaded(const loader::LoadedModule& m, bool on);

  DomainConfig config_;
  loader::KernelAbi abi_;
  loader::ModuleIndex index_;
  AddressSpace space_;
  TrapPatcher patcher_{*this, space_.private_memory()};
  FaultLog faults_;
  DomainClock clock_;
  PciDriverTable pci_drivers_;
  std::map<std::string, std::vector<std::string>> loaded_with_;  // module -> what its load() loaded, in order
  DeviceAccess devices_;
  InterruptLines irqs_;
  TransmitQueue tx_;
  KapiEntries entries_;
  DriverSignals signals_;
  VcpuThreads vcpus_;
};

}  // namespace side::domain
