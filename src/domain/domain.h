// A driver domain: the address space, virtual CPUs and kernel-API layer in which unmodified kernel modules run.
//
// A Domain reserves its fixed regions, creates its DMA-able arena and per-cpu areas, makes the creating thread
// virtual CPU 0, loads the kernel-API layer and initialises it, and starts a tick thread (virtual CPU 1) that keeps
// jiffies moving. Modules are then loaded by name or path, with their dependencies, their parameters and their
// init function. Any fault in driver code is contained: the call that hit it returns an error, the fault is
// recorded, and the domain is marked faulty and runs no more driver code.
//
// One domain is active per process (the fixed regions allow no more). In the default isolation mode the domain
// lives alone in its own sandboxed process; in-process mode runs it inside the supervisor as a baseline.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "domain/arena.h"
#include "domain/faults.h"
#include "domain/percpu.h"
#include "domain/private_memory.h"
#include "kapi/side_host.h"
#include "loader/module_index.h"
#include "loader/module_loader.h"
#include "loader/symvers.h"

namespace side::domain {

struct DomainConfig {
  std::string kapi_path;     // the kernel-API layer module
  std::string symvers_path;  // Module.symvers of the kernel ABI
  std::string modules_dir;   // where module names are looked up
  unsigned vcpus = 2;        // CPU 0: the creating thread; CPU 1: the tick thread
  uint64_t arena_bytes = 64ull << 20;
  bool virtual_time = true;  // driver delays advance a virtual clock instead of waiting
  bool check_abi = true;
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
  Status attach_vcpu(unsigned cpu);
  Status load_kapi();
  Result<loader::LoadedModule*> load_one(const LoadRequest& request, std::vector<std::string>& chain);
  const loader::LoadedModule* module_at(uint64_t addr) const;
  SignalAction handle_bug(const loader::LoadedModule& mod, uint64_t rip, ucontext_t* context);
  void tick_loop();

  DomainConfig config_;
  loader::KernelAbi abi_;
  loader::ModuleIndex index_;
  PrivateMemory private_;
  Arena arena_;
  PercpuAreas percpu_;
  void* vmemmap_ = nullptr;
  uint64_t vmemmap_bytes_ = 0;
  bool resolving_kapi_ = false;

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<loader::LoadedModule>> modules_;  // kapi first, in load order
  loader::LoadedModule* kapi_ = nullptr;
  std::vector<PciDriver> pci_drivers_;
  std::vector<FaultReport> faults_;
  std::vector<uint64_t> warned_once_;
  std::atomic<bool> faulty_{false};

  std::atomic<int64_t> clock_skew_ns_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int> tick_state_{0};  // 0 starting, 1 running, -1 failed
  std::thread tick_thread_;
};

const char* fault_kind_name(int kind);

}  // namespace side::domain
