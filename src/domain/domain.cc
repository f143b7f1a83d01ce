#include "domain/domain.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/clock.h"
#include "common/log.h"
#include "common/strings.h"
#include "domain/layout.h"
#include "kapi/side_host.h"
#include "loader/dependency_walk.h"
#include "sfi/layout.h"
#include "sfi/runtime.h"

namespace side::domain {
namespace {

std::atomic<Domain*> g_active{nullptr};

Result<loader::ElfFile> read_elf(const DomainConfig& config, const std::string& path) {
  if (!config.read_file) return loader::ElfFile::read(path);
  auto text = config.read_file(path);
  if (!text) return text.error();
  return loader::ElfFile::parse(std::vector<uint8_t>(text->begin(), text->end()), path);
}

// The kernel ABI the modules are checked against: Module.symvers, for the vermagic the kernel-API layer (built
// against the same headers) carries.
Result<loader::KernelAbi> read_abi(const DomainConfig& config) {
  auto kapi_elf = read_elf(config, config.kapi_path);
  if (!kapi_elf) return make_error("kernel-API layer: " + kapi_elf.error().message);
  auto kapi_info = loader::read_module_info(*kapi_elf);
  if (!kapi_info) return kapi_info.error();
  if (!config.read_file) return loader::KernelAbi::load(config.symvers_path, kapi_info->get("vermagic"));
  auto text = config.read_file(config.symvers_path);
  if (!text) return text.error();
  return loader::KernelAbi::parse(*text, config.symvers_path, kapi_info->get("vermagic"));
}

}  // namespace

Domain* Domain::active() {
  return g_active.load();
}

Domain::Domain(const DomainConfig& config, loader::KernelAbi abi, Arena arena, PercpuAreas percpu)
    : config_(config),
      abi_(std::move(abi)),
      index_(config.modules_dir),
      space_(std::move(arena), std::move(percpu)),
      clock_(config.virtual_time),
      tx_(config.optimisations.batched_submit, config.tx_ring),
      signals_(*this, config.vcpus),
      vcpus_(config.softirq_doorbell, config.optimisations.streamlined_crossing ? config.spin_ns : 0) {}

Result<std::unique_ptr<Domain>> Domain::create(const DomainConfig& config) {
  if (config.vcpus < 3 || config.vcpus > kMaxVcpus) return make_error("a domain needs 3 to 8 virtual CPUs");
  auto abi = read_abi(config);
  if (!abi) return abi.error();
  if (config.sfi) {
    auto sfi = sfi::Runtime::start(config.vcpus);
    if (!sfi) return sfi.error();
  }
  // In sfi mode the arena and the per-cpu areas have their places in the window (the Domain stops the runtime).
  auto stop_sfi = [&](const Error& e) -> Error {
    if (config.sfi) sfi::Runtime::stop();
    return e;
  };
  auto arena = Arena::create(config.arena_bytes, config.arena_fd, config.sfi ? sfi::kArenaBase : 0, sfi::kArenaLimit);
  if (!arena) return stop_sfi(arena.error());
  auto percpu = PercpuAreas::create(config.vcpus, config.sfi ? sfi::kPercpuBase : 0);
  if (!percpu) return stop_sfi(percpu.error());

  Domain* expected = nullptr;
  std::unique_ptr<Domain> d(new Domain(config, std::move(*abi), std::move(*arena), std::move(*percpu)));
  if (!g_active.compare_exchange_strong(expected, d.get())) {
    // Not registered as active: the destructor must not tear down the other domain's state.
    return make_error("another driver domain is active in this process");
  }
  if (auto s = d->start(); !s) return s.error();
  return d;
}

// The private regions, the trampoline pool, the struct page array and the device windows.
Status Domain::reserve_regions() {
  space_.set_sfi(config_.sfi);
  SIDE_TRY(space_.reserve());
  // SIDE_PATCH_TRAPS=0 turns the rewriting off without a rebuild (comparisons, debugging); the environment reaches
  // domain processes too.
  if (const char* e = std::getenv("SIDE_PATCH_TRAPS"); e && std::strcmp(e, "0") == 0) config_.patch_traps = false;
  patcher_.set_enabled(config_.patch_traps);
  if (config_.patch_traps) {
    if (auto s = patcher_.reserve(); !s) {
      logf(LogLevel::kWarning, "side: device-access sites stay trapping: %s", s.error().message.c_str());
    }
  }
  return devices_.reserve();
}

Status Domain::start() {
  SIDE_TRY(reserve_regions());
  set_signal_classifier(&signals_);
  SIDE_TRY(become_vcpu(0, space_.percpu().base(0)));
  SIDE_TRY(space_.build_host_stubs());
  SIDE_TRY(load_kapi());
  VcpuThreads::Work work;
  work.init = [this](unsigned cpu) { return init_secondary_vcpu(cpu); };
  work.before_round = config_.on_softirq_round;
  work.tick = [this] {
    uint64_t next_ns = 0;
    if (!faulty()) call([&] { next_ns = entries_.tick(); });
    return next_ns;
  };
  work.round = [this](uint32_t events) { return faulty() ? 0 : softirq_round(events); };
  work.run_work = [this] {
    if (entries_.run_work && !faulty()) call([&] { entries_.run_work(); });
  };
  return vcpus_.start(std::move(work));
}

Domain::~Domain() {
  vcpus_.stop();
  Domain* self = this;
  if (g_active.compare_exchange_strong(self, nullptr)) {
    set_signal_classifier(nullptr);
    leave_vcpu();
  }
  if (config_.sfi) sfi::Runtime::stop();
}

Status Domain::load_kapi() {
  auto elf = read_elf(config_, config_.kapi_path);
  if (!elf) return elf.error();
  auto info = loader::read_module_info(*elf);
  if (!info) return info.error();
  loader::LoadOptions options;
  options.export_all_globals = true;
  space_.set_linking_kapi(true);
  auto mod = loader::load_module(*elf, *info, space_, options);
  space_.set_linking_kapi(false);
  if (!mod) return make_error("kernel-API layer: " + mod.error().message);
  const loader::LoadedModule* kapi = space_.modules().add(std::move(*mod));
  auto entries = KapiEntries::bind(*kapi);
  if (!entries) return entries.error();
  entries_ = *entries;
  if (config_.sfi) SIDE_TRY(sfi_after_kapi(*kapi));

  const PercpuAreas& percpu = space_.percpu();
  std::vector<unsigned long> bases;
  for (unsigned i = 0; i < percpu.nr_cpus(); ++i) bases.push_back(percpu.base(i));
  int rc = -1;
  bool ok = call([&] {
    rc = entries_.init(percpu.nr_cpus(), bases.data());
    if (rc == 0) rc = entries_.cpu_init(0);
  });
  if (!ok) return make_error("kernel-API layer faulted during initialisation");
  if (rc != 0) return make_error("kernel-API layer initialisation failed: error " + std::to_string(rc));
  return {};
}

// On the thread of vCPU 1 or 2, as it starts: it becomes that vCPU and the kernel-API layer sets up its per-cpu
// state. Every vCPU is initialised before the domain is handed out, so what it allocates is not mistaken for what
// drivers allocate.
bool Domain::init_secondary_vcpu(unsigned cpu) {
  int rc = -1;
  if (!become_vcpu(cpu, space_.percpu().base(cpu)) || !call([&] { rc = entries_.cpu_init(cpu); }) || rc != 0) {
    logf(LogLevel::kError, "side: virtual CPU %u: the kernel-API layer's set-up failed (error %d)", cpu, rc);
    return false;
  }
  return true;
}

// One round of vCPU 1: interrupts, softirqs, then a batch of transmissions; all in one guarded call, so that a
// fault anywhere abandons the round. No lock is held across the guarded call (a fault would skip its release).
uint32_t Domain::softirq_round(uint32_t events) {
  const bool want_tx = tx_.ready();
  const uint64_t irqs = irqs_.take_pending();
  if (!irqs && !want_tx && !(events & (VcpuThreads::kEventSoftirq | VcpuThreads::kEventIrq))) return 0;
  int more = 0;
  call([&] {
    if (entries_.irq) irqs_.deliver(irqs, [&](uint32_t irq) { return entries_.irq(irq) != 0; });
    if (entries_.softirq) more = entries_.softirq();
    if (want_tx) tx_.submit(entries_.xmit);
    // Completions the driver did while transmitting (and frames it received) are processed now.
    if (entries_.softirq && want_tx) more |= entries_.softirq();
  });
  check_irq_storm();
  // Frames not taken (a full batch, or a fault) are still queued, in order; a stopped queue waits for tx_wake.
  if (tx_.ready()) more = 1;
  return more ? VcpuThreads::kEventSoftirq : 0;
}

void Domain::check_irq_storm() {
  auto storm = irqs_.storm(monotonic_ns());
  if (storm && !faulty()) record_fault(SIDE_FAULT_IRQ_STORM, *storm, 0);
}

bool Domain::call(GuardedFn fn, void* arg) {
  if (faulty()) return false;
  std::atomic<uint64_t>* busy = nullptr;
  const int cpu = current_vcpu();
  if (config_.busy_since_ns && cpu >= 0 && cpu < 3 && config_.busy_since_ns[cpu].load() == 0) {
    busy = &config_.busy_since_ns[cpu];
    busy->store(monotonic_ns());
  }
  patcher_.call_entered();
  bool ok = run_guarded(fn, arg);
  patcher_.call_left();
  if (busy) busy->store(0);
  return ok;
}

DomainCounters Domain::counters() const {
  const auto irqs = irq_stats();
  const auto t = trap_stats();
  return {irqs.delivered, irqs.handled, t.traps_emulated, t.patched_accesses, t.sites_patched, t.sites_refused};
}

// ---- module loading -----------------------------------------------------------------------------------------

Result<loader::OpenedModule> Domain::open_module(const std::string& name_or_path) {
  // The gate of every load (dependencies included): nothing of the image is looked at before it is passed.
  if (config_.before_driver_code) {
    if (auto s = config_.before_driver_code(); !s) return make_error("cannot enter the sandbox: " + s.error().message);
  }
  if (!config_.open_module) return loader::open_module(index_, name_or_path);
  auto elf = config_.open_module(name_or_path);
  if (!elf) return elf.error();
  auto info = loader::read_module_info(*elf);
  if (!info) return info.error();
  return loader::OpenedModule{std::move(*elf), std::move(*info), ""};
}

Result<const loader::LoadedModule*> Domain::load(const LoadRequest& request) {
  if (faulty()) return make_error("the domain is faulty: no more driver code runs in it");
  loader::DependencyWalk walk;
  walk.open = [this](const std::string& name) { return open_module(name); };
  walk.present = [this](const std::string& name) { return find_module(name) != nullptr; };
  std::vector<std::string> loaded;
  walk.visit = [&](loader::OpenedModule& m, bool root) {
    // The parameters are the driver's; missing symbols are allowed in its dependencies if they are in it.
    Status s = load_one(m, root ? request : LoadRequest{m.info.name, "", request.allow_missing});
    if (s) loaded.push_back(m.info.name);
    return s;
  };
  auto root = walk.run(request.module);
  if (!root) {
    unload_group(loaded);  // a refused load leaves nothing behind: what it loaded goes, newest first
    return root.error();
  }
  loaded_with_[*root] = std::move(loaded);
  const loader::LoadedModule* m = find_module(*root);
  if (!m) return make_error(*root + ": not loaded");
  return m;
}

// Checks one module against the ABI, links it into the address space, gives it its parameters and runs its init.
Status Domain::load_one(loader::OpenedModule& module, const LoadRequest& request) {
  if (faulty()) return make_error("the domain is faulty: no more driver code runs in it");
  if (config_.check_abi) {
    SIDE_TRY(abi_.check(module.info, [this](const std::string& s) { return space_.modules().export_crc(s); }));
  }
  if (space_.modules().full()) return make_error("too many modules in one domain");
  loader::LoadOptions options;
  options.allow_missing = request.allow_missing;
  sfi::CheckAbi check{};
  if (config_.sfi) {
    // sfi: the driver's code is rewritten with a check before every write (src/sfi/translate.h).
    auto abi = sfi_check_abi();
    if (!abi) return abi.error();
    check = *abi;
    options.sfi = &check;
  }
  auto mod = loader::load_module(module.elf, module.info, space_, options);
  if (!mod) return mod.error();
  loader::LoadedModule* m = space_.modules().add(std::move(*mod));
  if (!m) return make_error("too many modules in one domain");
  patcher_.add_module(*m);
  if (config_.sfi) sfi_module_loaded(*m, true);
  if (!m->missing.empty()) {
    logf(LogLevel::kWarning, "side: %s: %zu unimplemented kernel symbols; calling one is a driver fault",
         m->name.c_str(), m->missing.size());
  }
  return run_module_init(*m, request.params);
}

// Parameters, as insmod passes them (the kernel's parse_args runs even without any, so do we), then init.
Status Domain::run_module_init(loader::LoadedModule& m, const std::string& params) {
  std::string args = params;
  int rc = 0;
  if (!call([&] { rc = entries_.parse_params(m.name.c_str(), args.data(), m.params, m.nr_params); })) {
    return make_error(m.name + ": faulted while parsing parameters");
  }
  if (rc != 0) return make_error(m.name + ": invalid module parameters (error " + std::to_string(rc) + ")");
  if (!m.init) return {};
  int ret = 0;
  // Through the layer: in sfi mode its indirect call is the checked crossing onto the driver stack.
  auto via = reinterpret_cast<int (*)(uint64_t)>(entries_.find("side_kapi_call_init"));
  if (!via) return make_error("the kernel-API layer has no side_kapi_call_init");
  if (!call([&] { ret = via(m.init); }))
    return make_error(m.name + ": driver fault in init: " + faults_.last_message());
  if (ret != 0) return make_error(m.name + ": init failed with error " + std::to_string(ret));
  return {};
}

Status Domain::unload(const std::string& name) {
  SIDE_TRY(unload_one(name));
  auto group = loaded_with_.extract(find_module_name(name));
  if (!group.empty()) unload_group(group.mapped());
  return {};
}

// Newest first, each module nothing loaded uses any more; one that cannot go stays (it is still in use).
void Domain::unload_group(const std::vector<std::string>& names) {
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    if (find_module(*it) && !space_.modules().user_of(*it)) (void)unload_one(*it);
  }
}

std::string Domain::find_module_name(const std::string& name) const {
  return normalize_module_name(name);
}

Status Domain::unload_one(const std::string& name) {
  const loader::LoadedModule* m = find_module(name);
  if (!m) return make_error(name + ": not loaded");
  if (auto user = space_.modules().user_of(name)) return make_error(name + ": in use by " + *user);
  if (m->exit) {
    auto via = reinterpret_cast<void (*)(uint64_t)>(entries_.find("side_kapi_call_exit"));
    if (!via) return make_error("the kernel-API layer has no side_kapi_call_exit");
    if (!call([&] { via(m->exit); })) return make_error(name + ": driver fault in exit");
  }
  if (config_.sfi) sfi_module_loaded(*m, false);
  space_.modules().mark_unloaded(m);
  return {};
}

std::optional<std::string> Domain::symbolize(uint64_t addr, bool with_offset) const {
  // A return address in a trampoline names the call it stands for.
  addr = patcher_.origin(addr);
  // An address in translated code (sfi) names the original instruction, as objdump shows the .ko.
  if (const loader::LoadedModule* m = space_.modules().at(addr); m && !m->sfi_text.empty()) {
    if (auto origin = m->sfi_origin(addr)) return *origin + " [" + m->name + "]";
  }
  return space_.modules().symbolize(addr, with_offset);
}

// ---- faults and host services -------------------------------------------------------------------------------

void Domain::record_fault(int kind, const std::string& message, uint64_t address) {
  faults_.record(kind, message, address, address ? symbolize(address).value_or(hex(address)) : std::string());
}

void Domain::fault(int kind, const char* message, uint64_t caller) {
  record_fault(kind, message, caller);
  abandon_guarded_call();
}

int Domain::register_pci_driver(uint64_t driver, const char* name, const side_pci_id* ids, unsigned n) {
  const loader::LoadedModule* m = space_.modules().at(driver);
  return pci_drivers_.add(driver, name, m ? m->name : "", ids, n);
}

}  // namespace side::domain
