#include "domain/domain.h"

#include <asm/prctl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "common/log.h"
#include "common/strings.h"
#include "domain/host_services.h"
#include "domain/layout.h"
#include "kapi/side_host.h"

namespace side::domain {
namespace {

constexpr size_t kMaxModules = 64;
constexpr uint16_t kBugFlagWarning = 1 << 0;
constexpr uint16_t kBugFlagOnce = 1 << 1;
constexpr uint64_t kTickNs = 1'000'000'000 / 250;  // Debian's CONFIG_HZ=250

std::atomic<Domain*> g_active{nullptr};
thread_local int t_vcpu = -1;

Result<loader::ElfFile> read_elf(const DomainConfig& config, const std::string& path) {
  if (!config.read_file) return loader::ElfFile::read(path);
  auto text = config.read_file(path);
  if (!text) return text.error();
  return loader::ElfFile::parse(std::vector<uint8_t>(text->begin(), text->end()), path);
}

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

int set_gs_base(uint64_t base) {
  return static_cast<int>(syscall(SYS_arch_prctl, ARCH_SET_GS, base));
}

}  // namespace

const char* fault_kind_name(int kind) {
  switch (kind) {
    case SIDE_FAULT_MEMORY:
      return "memory fault";
    case SIDE_FAULT_ILLEGAL_INSTRUCTION:
      return "illegal instruction";
    case SIDE_FAULT_BUG:
      return "BUG";
    case SIDE_FAULT_MISSING_SYMBOL:
      return "unimplemented kernel symbol";
    case SIDE_FAULT_BAD_ARGUMENT:
      return "invalid argument to a kernel service";
    case SIDE_FAULT_STACK_CORRUPTION:
      return "stack corruption";
    case SIDE_FAULT_PANIC:
      return "panic";
    case SIDE_FAULT_DEADLOCK:
      return "deadlock";
    case SIDE_FAULT_RESOURCE_LIMIT:
      return "resource limit";
    case SIDE_FAULT_IOMMU:
      return "IOMMU fault";
    case SIDE_FAULT_HUNG:
      return "hung driver";
    case SIDE_FAULT_SYSCALL:
      return "forbidden system call";
    case SIDE_FAULT_DOMAIN_DIED:
      return "domain died";
    case SIDE_FAULT_PROTOCOL:
      return "invalid message from the domain";
    case SIDE_FAULT_IRQ_STORM:
      return "interrupt storm";
    default:
      return "fault";
  }
}

int Domain::current_vcpu() {
  return t_vcpu;
}

Domain* Domain::active() {
  return g_active.load();
}

Domain::Domain(const DomainConfig& config, loader::KernelAbi abi, Arena arena, PercpuAreas percpu)
    : config_(config),
      abi_(std::move(abi)),
      index_(config.modules_dir),
      arena_(std::move(arena)),
      percpu_(std::move(percpu)),
      tx_(config.tx_ring ? std::make_unique<TxQueue>(*config.tx_ring) : std::make_unique<TxQueue>()) {
  modules_.reserve(kMaxModules);
  if (config.softirq_doorbell) softirq_bell_ = ipc::Doorbell(config.softirq_doorbell);
}

Result<std::unique_ptr<Domain>> Domain::create(const DomainConfig& config) {
  if (config.vcpus < 3 || config.vcpus > kMaxVcpus) return make_error("a domain needs 3 to 8 virtual CPUs");
  // The kernel-API layer was built against the headers: its vermagic is the ABI's.
  auto kapi_elf = read_elf(config, config.kapi_path);
  if (!kapi_elf) return make_error("kernel-API layer: " + kapi_elf.error().message);
  auto kapi_info = loader::read_module_info(*kapi_elf);
  if (!kapi_info) return kapi_info.error();
  Result<loader::KernelAbi> abi = make_error("");
  if (config.read_file) {
    auto text = config.read_file(config.symvers_path);
    if (!text) return text.error();
    abi = loader::KernelAbi::parse(*text, config.symvers_path, kapi_info->get("vermagic"));
  } else {
    abi = loader::KernelAbi::load(config.symvers_path, kapi_info->get("vermagic"));
  }
  if (!abi) return abi.error();
  auto arena = Arena::create(config.arena_bytes, config.arena_fd);
  if (!arena) return arena.error();
  auto percpu = PercpuAreas::create(config.vcpus);
  if (!percpu) return percpu.error();

  Domain* expected = nullptr;
  std::unique_ptr<Domain> d(new Domain(config, std::move(*abi), std::move(*arena), std::move(*percpu)));
  if (!g_active.compare_exchange_strong(expected, d.get())) {
    // Not registered as active: the destructor must not tear down the other domain's state.
    return make_error("another driver domain is active in this process");
  }
  if (auto s = d->start(); !s) return s.error();
  return d;
}

Status Domain::start() {
  SIDE_TRY(private_.reserve());
  // SIDE_PATCH_TRAPS=0 turns the rewriting off without a rebuild (comparisons, debugging); the environment reaches
  // domain processes too.
  if (const char* e = std::getenv("SIDE_PATCH_TRAPS"); e && std::strcmp(e, "0") == 0) config_.patch_traps = false;
  patcher_.set_enabled(config_.patch_traps);
  if (config_.patch_traps) {
    if (auto s = patcher_.reserve(); !s) {
      logf(LogLevel::kWarning, "side: device-access sites stay trapping: %s", s.error().message.c_str());
    }
  }
  vmemmap_bytes_ = arena_.nr_pages() * kStructPageSize;
  vmemmap_ = mmap(nullptr, vmemmap_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (vmemmap_ == MAP_FAILED) {
    vmemmap_ = nullptr;
    return make_error("cannot map the struct page array");
  }
  SIDE_TRY(io_.reserve());
  for (unsigned i = 0; i < config_.vcpus; ++i) decode_caches_.push_back(std::make_unique<emulation::DecodeCache>());
  set_signal_classifier(this);
  SIDE_TRY(attach_vcpu(0));
  SIDE_TRY(host_stubs_.build(private_));
  SIDE_TRY(load_kapi());
  softirq_thread_ = std::thread([this] { softirq_loop(); });
  worker_thread_ = std::thread([this] { worker_loop(); });
  // Every virtual CPU is initialised before the domain is handed out, so what it allocates is not mistaken for
  // what drivers allocate.
  while (vcpus_ready_.load() >= 0 && vcpus_ready_.load() < 2) std::this_thread::yield();
  if (vcpus_ready_.load() < 0) return make_error("a virtual CPU failed to initialise");
  return {};
}

void Domain::stop_threads() {
  stopping_ = true;
  softirq_bell_.ring(kEventStop);
  worker_bell_.ring(kEventStop);
  if (softirq_thread_.joinable()) softirq_thread_.join();
  if (worker_thread_.joinable()) worker_thread_.join();
}

Domain::~Domain() {
  stop_threads();

  Domain* self = this;
  if (g_active.compare_exchange_strong(self, nullptr)) {
    set_signal_classifier(nullptr);
    if (t_vcpu >= 0) {
      set_gs_base(0);
      t_vcpu = -1;
    }
  }
  if (vmemmap_) munmap(vmemmap_, vmemmap_bytes_);
}

uint64_t Domain::vmemmap_base() const {
  return reinterpret_cast<uint64_t>(vmemmap_) - (kArenaPhysBase / kPageSize) * kStructPageSize;
}

Status Domain::attach_vcpu(unsigned cpu) {
  uint64_t base = percpu_.base(cpu);
  uint64_t canary;
  if (getrandom(&canary, sizeof canary, 0) != sizeof canary) canary = monotonic_ns() * 0x9e3779b97f4a7c15ull;
  std::memcpy(reinterpret_cast<void*>(base + kPercpuCanaryOffset), &canary, sizeof canary);
  if (set_gs_base(base) != 0) return make_error(std::string("arch_prctl(ARCH_SET_GS): ") + std::strerror(errno));
  if (!install_alternate_signal_stack()) return make_error("cannot install an alternate signal stack");
  t_vcpu = static_cast<int>(cpu);
  return {};
}

Status Domain::load_kapi() {
  auto elf = read_elf(config_, config_.kapi_path);
  if (!elf) return elf.error();
  auto info = loader::read_module_info(*elf);
  if (!info) return info.error();
  loader::LoadOptions options;
  options.export_all_globals = true;
  resolving_kapi_ = true;
  auto mod = loader::load_module(*elf, *info, *this, options);
  resolving_kapi_ = false;
  if (!mod) return make_error("kernel-API layer: " + mod.error().message);
  modules_.push_back(std::make_unique<loader::LoadedModule>(std::move(*mod)));
  kapi_ = modules_.back().get();

  auto entry = [&](const char* name) -> uint64_t {
    auto it = kapi_->entry_points.find(name);
    return it == kapi_->entry_points.end() ? 0 : it->second;
  };
  uint64_t init = entry("side_kapi_init"), cpu_init = entry("side_kapi_cpu_init");
  if (!init || !cpu_init || !entry("side_kapi_tick") || !entry("side_kapi_parse_params")) {
    return make_error("kernel-API layer lacks its side_kapi_* entry points");
  }
  auto bind = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(entry(name));
  };
  bind(entries_.tick, "side_kapi_tick");
  bind(entries_.irq, "side_kapi_irq");
  bind(entries_.softirq, "side_kapi_softirq");
  bind(entries_.run_work, "side_kapi_run_work");
  bind(entries_.xmit, "side_kapi_xmit");
  bind(entries_.pci_probe, "side_kapi_pci_probe");
  bind(entries_.pci_remove, "side_kapi_pci_remove");
  bind(entries_.netdev_open, "side_kapi_netdev_open");
  bind(entries_.netdev_close, "side_kapi_netdev_close");
  bind(entries_.netdev_stats, "side_kapi_netdev_stats");
  bind(entries_.set_mtu, "side_kapi_netdev_set_mtu");
  bind(entries_.set_mac, "side_kapi_netdev_set_mac");
  bind(entries_.set_rx_mode, "side_kapi_netdev_set_rx_mode");
  bind(entries_.ethtool, "side_kapi_netdev_ethtool");
  std::vector<unsigned long> bases;
  for (unsigned i = 0; i < percpu_.nr_cpus(); ++i) bases.push_back(percpu_.base(i));
  int rc = -1;
  bool ok = call([&] {
    rc = reinterpret_cast<int (*)(unsigned, const unsigned long*)>(init)(percpu_.nr_cpus(), bases.data());
    if (rc == 0) rc = reinterpret_cast<int (*)(unsigned)>(cpu_init)(0);
  });
  if (!ok) return make_error("kernel-API layer faulted during initialisation");
  if (rc != 0) return make_error("kernel-API layer initialisation failed: error " + std::to_string(rc));
  return {};
}

void Domain::softirq_loop() {
  auto cpu_init = reinterpret_cast<int (*)(unsigned)>(kapi_->entry_points.at("side_kapi_cpu_init"));
  int rc = -1;
  if (auto s = attach_vcpu(1); !s || !call([&] { rc = cpu_init(1); }) || rc != 0) {
    logf(LogLevel::kError, "side: virtual CPU 1 failed to initialise (error %d)", rc);
    vcpus_ready_ = -1;
    return;
  }
  ++vcpus_ready_;
  uint64_t next_tick = monotonic_ns() + kTickNs;
  uint32_t carried = 0;  // work left over from the last round
  const uint64_t spin_ns = config_.optimisations.streamlined_crossing ? config_.spin_ns : 0;
  while (!stopping_.load()) {
    uint64_t now = monotonic_ns();
    uint32_t events = carried ? carried | softirq_bell_.take()
                              : softirq_bell_.wait(std::min(spin_ns, next_tick > now ? next_tick - now : 0),
                                                   next_tick > now ? next_tick - now : 0);
    carried = 0;
    if (stopping_.load()) break;
    if (config_.on_softirq_round) config_.on_softirq_round();
    now = monotonic_ns();
    if (now >= next_tick) {
      next_tick = now + kTickNs;
      events |= kEventSoftirq;  // a tick runs timers; what they schedule runs in the same round
      if (!faulty_.load()) call([&] { entries_.tick(); });
    }
    if (!faulty_.load()) carried = softirq_round(events);
  }
  set_gs_base(0);
  t_vcpu = -1;
}

// One round of vCPU 1: interrupts, softirqs, then a batch of transmissions; all in one guarded call, so that a
// fault anywhere abandons the round. No lock is held across the guarded call (a fault would skip its release).
uint32_t Domain::softirq_round(uint32_t events) {
  const bool want_tx = !tx_blocked_.load() && !tx_->empty();
  const size_t batch = config_.optimisations.batched_submit ? kTxBatch : 1;
  uint64_t irqs = irq_pending_.exchange(0);
  if (!irqs && !want_tx && !(events & (kEventSoftirq | kEventIrq))) return 0;
  int more = 0;
  call([&] {
    for (uint32_t irq = 0; irqs; ++irq, irqs >>= 1) {
      if (!(irqs & 1) || !entries_.irq) continue;
      irqs_delivered_.fetch_add(1, std::memory_order_relaxed);
      ++storm_delivered_;
      if (entries_.irq(irq))
        irqs_handled_.fetch_add(1, std::memory_order_relaxed);
      else
        ++storm_unclaimed_;
    }
    if (entries_.softirq) more = entries_.softirq();
    auto xmit = [&](uint64_t netdev, std::span<const uint8_t> frame, bool more_follow) {
      return entries_.xmit(netdev, frame.data(), static_cast<uint32_t>(frame.size()), more_follow ? 1 : 0);
    };
    // A stopped queue: wait for the driver to wake it (tx_wake); the frame it refused stays first.
    if (want_tx && entries_.xmit && tx_->transmit(batch, xmit)) tx_blocked_ = true;
    // Completions the driver did while transmitting (and frames it received) are processed now.
    if (entries_.softirq && want_tx) more |= entries_.softirq();
  });
  // An interrupt storm: a line that keeps firing while no handler claims it (the kernel's "nobody cared").
  // Or simply more interrupts than the domain's limit: a NIC with interrupt moderation raises a few thousand a
  // second, e1000 at most 20000 (its InterruptThrottleRate).
  if (uint64_t now = monotonic_ns(); now - storm_window_start_ns_ > 1'000'000'000) {
    storm_window_start_ns_ = now;
    storm_unclaimed_ = storm_delivered_ = 0;
  } else if (!faulty_.load() && storm_unclaimed_ > kStormUnclaimed) {
    record_fault(SIDE_FAULT_IRQ_STORM,
                 std::to_string(storm_unclaimed_) + " interrupts within a second that no handler claimed", 0);
  } else if (!faulty_.load() && storm_delivered_ > kStormRate) {
    record_fault(SIDE_FAULT_IRQ_STORM,
                 std::to_string(storm_delivered_) + " interrupts within a second, over the domain's limit", 0);
  }
  // Frames not taken (a full batch, a stopped queue, or a fault) are still queued, in order.
  if (!tx_->empty() && !tx_blocked_.load()) more = 1;
  return more ? kEventSoftirq : 0;
}

void Domain::worker_loop() {
  auto cpu_init = reinterpret_cast<int (*)(unsigned)>(kapi_->entry_points.at("side_kapi_cpu_init"));
  int rc = -1;
  if (auto s = attach_vcpu(2); !s || !call([&] { rc = cpu_init(2); }) || rc != 0) {
    logf(LogLevel::kError, "side: virtual CPU 2 failed to initialise (error %d)", rc);
    vcpus_ready_ = -1;
    return;
  }
  ++vcpus_ready_;
  while (!stopping_.load()) {
    uint32_t events = worker_bell_.wait(0, kTickNs * 25);
    if (stopping_.load()) break;
    if (events && entries_.run_work && !faulty_.load()) call([&] { entries_.run_work(); });
  }
  set_gs_base(0);
  t_vcpu = -1;
}

void Domain::kick_softirq() {
  softirq_bell_.ring(kEventSoftirq);
}

void Domain::kick_worker() {
  worker_bell_.ring(1);
}

bool Domain::call(GuardedFn fn, void* arg) {
  if (faulty_.load()) return false;
  std::atomic<uint64_t>* busy = nullptr;
  if (config_.busy_since_ns && t_vcpu >= 0 && t_vcpu < 3 && config_.busy_since_ns[t_vcpu].load() == 0) {
    busy = &config_.busy_since_ns[t_vcpu];
    busy->store(monotonic_ns());
  }
  patcher_.call_entered();
  bool ok = run_guarded(fn, arg);
  patcher_.call_left();
  if (busy) busy->store(0);
  return ok;
}

// ---- module loading -----------------------------------------------------------------------------------------

Result<const loader::LoadedModule*> Domain::load(const LoadRequest& request) {
  std::vector<std::string> chain;
  auto r = load_one(request, chain);
  if (!r) return r.error();
  return static_cast<const loader::LoadedModule*>(*r);
}

Result<loader::LoadedModule*> Domain::load_one(const LoadRequest& request, std::vector<std::string>& chain) {
  if (faulty_.load()) return make_error("the domain is faulty: no more driver code runs in it");
  // The gate of every load (dependencies included): nothing of the image is looked at before it is passed.
  if (config_.before_driver_code) {
    if (auto s = config_.before_driver_code(); !s) return make_error("cannot enter the sandbox: " + s.error().message);
  }
  Result<loader::ElfFile> elf = make_error("");
  if (config_.open_module) {
    elf = config_.open_module(request.module);
  } else {
    auto path = index_.resolve(request.module);
    if (!path) return path.error();
    elf = loader::ElfFile::read(*path);
  }
  if (!elf) return elf.error();
  auto info = loader::read_module_info(*elf);
  if (!info) return info.error();
  if (const auto* existing = find_module(info->name)) return const_cast<loader::LoadedModule*>(existing);
  if (std::find(chain.begin(), chain.end(), info->name) != chain.end()) {
    return make_error(info->name + ": circular module dependency");
  }
  chain.push_back(info->name);
  for (const std::string& dep : info->depends()) {
    if (find_module(dep)) continue;
    LoadRequest dep_request{dep, "", request.allow_missing};
    auto loaded = load_one(dep_request, chain);
    if (!loaded) return make_error(info->name + ": cannot load dependency " + dep + ": " + loaded.error().message);
  }
  chain.pop_back();
  if (config_.check_abi) {
    SIDE_TRY(abi_.check(*info, [this](const std::string& symbol) -> std::optional<uint32_t> {
      for (const auto* m : modules()) {
        if (auto it = m->crcs.find(symbol); it != m->crcs.end()) return it->second;
      }
      return std::nullopt;
    }));
  }
  if (modules_.size() >= kMaxModules) return make_error("too many modules in one domain");

  loader::LoadOptions options;
  options.allow_missing = request.allow_missing;
  auto mod = loader::load_module(*elf, *info, *this, options);
  if (!mod) return mod.error();
  {
    std::lock_guard lock(mutex_);
    modules_.push_back(std::make_unique<loader::LoadedModule>(std::move(*mod)));
  }
  loader::LoadedModule* m = modules_.back().get();
  patcher_.add_module(*m);
  if (!m->missing.empty()) {
    logf(LogLevel::kWarning, "side: %s: %zu unimplemented kernel symbols; calling one is a driver fault",
         m->name.c_str(), m->missing.size());
  }

  // Parameters, as insmod passes them (the kernel's parse_args runs even without any, so do we).
  std::string args = request.params;
  auto parse = reinterpret_cast<int (*)(const char*, char*, uint64_t, unsigned)>(
      kapi_->entry_points.at("side_kapi_parse_params"));
  int rc = 0;
  if (!call([&] { rc = parse(m->name.c_str(), args.data(), m->params, m->nr_params); })) {
    return make_error(m->name + ": faulted while parsing parameters");
  }
  if (rc != 0) return make_error(m->name + ": invalid module parameters (error " + std::to_string(rc) + ")");

  if (m->init) {
    int ret = 0;
    auto init = reinterpret_cast<int (*)()>(m->init);
    if (!call([&] { ret = init(); })) {
      return make_error(m->name + ": driver fault in init: " + (faults_.empty() ? "" : faults_.back().message));
    }
    if (ret != 0) return make_error(m->name + ": init failed with error " + std::to_string(ret));
  }
  return m;
}

Status Domain::unload(const std::string& name) {
  const loader::LoadedModule* m = find_module(name);
  if (!m || m == kapi_) return make_error(name + ": not loaded");
  for (const auto* other : modules()) {
    for (const std::string& dep : other->info.depends()) {
      if (dep == normalize_module_name(name)) return make_error(name + ": in use by " + other->name);
    }
  }
  if (m->exit) {
    auto exit = reinterpret_cast<void (*)()>(m->exit);
    if (!call([&] { exit(); })) return make_error(name + ": driver fault in exit");
  }
  std::lock_guard lock(mutex_);
  for (auto& p : modules_) {
    if (p.get() == m) p->name = "(unloaded) " + p->name;
  }
  return {};
}

const loader::LoadedModule* Domain::find_module(const std::string& name) const {
  std::string n = normalize_module_name(name);
  std::lock_guard lock(mutex_);
  for (const auto& m : modules_) {
    if (m.get() != kapi_ && normalize_module_name(m->name) == n) return m.get();
  }
  return nullptr;
}

std::vector<const loader::LoadedModule*> Domain::modules() const {
  std::lock_guard lock(mutex_);
  std::vector<const loader::LoadedModule*> out;
  for (const auto& m : modules_) {
    if (m.get() != kapi_ && !m->name.starts_with("(unloaded)")) out.push_back(m.get());
  }
  return out;
}

std::vector<PciDriver> Domain::pci_drivers() const {
  std::lock_guard lock(mutex_);
  return pci_drivers_;
}

std::optional<PciDriver> Domain::match_pci_driver(uint16_t vendor, uint16_t device, uint16_t subvendor,
                                                  uint16_t subdevice, uint32_t class_code) const {
  std::lock_guard lock(mutex_);
  for (const auto& d : pci_drivers_) {
    for (const auto& id : d.ids) {
      if (id.matches(vendor, device, subvendor, subdevice, class_code)) return d;
    }
  }
  return std::nullopt;
}

std::vector<FaultReport> Domain::faults() const {
  std::lock_guard lock(mutex_);
  return faults_;
}

// Module images never move and the vector never reallocates (reserved), so lookups by address from a signal
// handler need no lock.
const loader::LoadedModule* Domain::module_at(uint64_t addr) const {
  for (size_t i = 0; i < modules_.size(); ++i) {
    if (modules_[i]->contains(addr)) return modules_[i].get();
  }
  return nullptr;
}

std::optional<std::string> Domain::symbolize(uint64_t addr, bool with_offset) const {
  addr = patcher_.origin(addr);  // a return address in a trampoline names the call it stands for
  const loader::LoadedModule* m = module_at(addr);
  if (!m) return std::nullopt;
  auto s = m->symbolize(addr);
  if (!s) return std::nullopt;
  std::string out = *s;
  if (!with_offset) out = out.substr(0, out.find('+'));
  if (m != kapi_) out += " [" + m->name + "]";
  return out;
}

// ---- LoadEnvironment ----------------------------------------------------------------------------------------

Result<uint64_t> Domain::allocate_image(uint64_t size) {
  return private_.allocate_image(size);
}

Status Domain::protect_image(uint64_t addr, uint64_t size, bool write, bool exec) {
  return private_.protect(addr, size, PROT_READ | (write ? PROT_WRITE : 0) | (exec ? PROT_EXEC : 0));
}

Result<uint64_t> Domain::allocate_percpu(uint64_t size, uint64_t align) {
  uint64_t off = percpu_.allocate(size, align);
  if (!off) return make_error("per-cpu area exhausted");
  return off;
}

void Domain::init_percpu(uint64_t offset, std::span<const uint8_t> init) {
  percpu_.initialize(offset, init);
}

std::optional<uint64_t> Domain::resolve(const std::string& name) {
  if (resolving_kapi_) return host_stubs_.address(name);
  if (auto it = kapi_->exports.find(name); it != kapi_->exports.end()) return it->second;
  for (const auto* m : modules()) {
    if (auto it = m->exports.find(name); it != m->exports.end()) return it->second;
  }
  // The kernel's fixed_percpu_data sits at offset 0 of every per-cpu area; side reserves that space.
  if (name == "fixed_percpu_data") return 0;
  return std::nullopt;
}

Result<uint64_t> Domain::missing_symbol_address(const std::string& name) {
  return private_.missing_symbol_address(name);
}

// ---- faults -------------------------------------------------------------------------------------------------

void Domain::record_fault(int kind, const std::string& message, uint64_t address) {
  FaultReport r;
  r.kind = kind;
  r.kind_name = fault_kind_name(kind);
  r.message = message;
  r.address = address;
  if (address) r.location = symbolize(address).value_or(hex(address));
  logf(LogLevel::kError, "side: driver fault (%s): %s%s%s", r.kind_name.c_str(), message.c_str(),
       r.location.empty() ? "" : " at ", r.location.c_str());
  faulty_ = true;
  std::lock_guard lock(mutex_);
  faults_.push_back(std::move(r));
}

void Domain::fault(int kind, const char* message, uint64_t caller) {
  record_fault(kind, message, caller);
  abandon_guarded_call();
}

SignalAction Domain::handle_bug(const loader::LoadedModule& mod, uint64_t rip, ucontext_t* context) {
  const loader::BugSite* site = mod.find_bug(rip);
  std::string where = site && !site->file.empty() ? site->file + ":" + std::to_string(site->line) : "unknown";
  if (site && (site->flags & kBugFlagWarning)) {
    bool quiet = false;
    if (site->flags & kBugFlagOnce) {
      std::lock_guard lock(mutex_);
      quiet = std::find(warned_once_.begin(), warned_once_.end(), rip) != warned_once_.end();
      if (!quiet) warned_once_.push_back(rip);
    }
    if (!quiet) {
      logf(LogLevel::kWarning, "WARNING: CPU: %d PID: %d at %s %s", t_vcpu, t_vcpu + 1, where.c_str(),
           symbolize(rip).value_or(hex(rip)).c_str());
      logf(LogLevel::kWarning, "---[ end trace %016llx ]---", static_cast<unsigned long long>(0));
    }
    context->uc_mcontext.gregs[REG_RIP] += 2;  // past the ud2, as the kernel's report_bug() does for WARN
    return SignalAction::kResume;
  }
  logf(LogLevel::kError, "kernel BUG at %s!", where.c_str());
  record_fault(SIDE_FAULT_BUG, "kernel BUG at " + where, rip);
  return SignalAction::kAbandon;
}

// An instruction fetch from a code page that a patch had flipped writable for a moment is fetched again, once per
// patch: the same fetch faulting again with no patch in between is the driver's own doing (a fault).
bool Domain::retry_disturbed_fetch(const siginfo_t* info, const ucontext_t* context) {
  // A fetch disturbed by a patch is retried; one that faults again with no patch in between is retried a few
  // times more (the faulting thread may have been resumed while the pages were still being flipped back under
  // load), then it is the driver's: its own code made non-executable is a fault, not an endless retry.
  constexpr unsigned kRetriesWithoutPatch = 64;
  thread_local uint64_t last_addr = 0, last_seq = 0;
  thread_local unsigned same = 0;
  const auto addr = reinterpret_cast<uint64_t>(info->si_addr);
  if (info->si_code != SEGV_ACCERR || addr != static_cast<uint64_t>(context->uc_mcontext.gregs[REG_RIP])) return false;
  const std::optional<uint64_t> seq = private_.wait_for_patch(addr);
  if (!seq) return false;
  if (addr == last_addr && *seq == last_seq) {
    if (++same > kRetriesWithoutPatch) return false;
    sched_yield();
    return true;
  }
  last_addr = addr;
  last_seq = *seq;
  same = 0;
  return true;
}

SignalAction Domain::classify(int sig, siginfo_t* info, ucontext_t* context) {
  if (sig == SIGTRAP) {
    if (auto a = patcher_.on_breakpoint(context)) {
      if (*a == SignalAction::kResume) patcher_.after_trap(context);
      return *a;
    }
  }
  if (sig == SIGSEGV && retry_disturbed_fetch(info, context)) return SignalAction::kResume;
  // A fault in a trampoline is the driver's, at the instruction the trampoline stands for.
  const uint64_t rip = patcher_.origin(static_cast<uint64_t>(context->uc_mcontext.gregs[REG_RIP]));
  const uint64_t rsp = static_cast<uint64_t>(context->uc_mcontext.gregs[REG_RSP]);
  const auto addr = reinterpret_cast<uint64_t>(info->si_addr);

  // A call into a missing symbol's slot faults with RIP inside the slot; the return address names the caller.
  if (std::string sym = private_.missing_symbol_at(rip); !sym.empty()) {
    uint64_t caller = 0;
    if (module_at(rsp) == nullptr) std::memcpy(&caller, reinterpret_cast<const void*>(rsp), sizeof caller);
    record_fault(SIDE_FAULT_MISSING_SYMBOL, "call to unimplemented kernel function " + sym + "()", caller);
    return SignalAction::kAbandon;
  }
  const loader::LoadedModule* mod = module_at(rip);
  if (!mod || !mod->in_text(rip)) return SignalAction::kNotOurs;

  switch (sig) {
    case SIGILL: {
      const auto* code = reinterpret_cast<const uint8_t*>(rip);
      if (code[0] == 0x0f && code[1] == 0x0b) return handle_bug(*mod, rip, context);
      record_fault(SIDE_FAULT_ILLEGAL_INSTRUCTION, "invalid opcode", rip);
      return SignalAction::kAbandon;
    }
    case SIGSEGV:
      if (io_.in_region(addr) || info->si_code == SI_KERNEL) {
        if (SignalAction a = emulate_device_access(info, context, *mod); a != SignalAction::kNotOurs) return a;
      }
      if (std::string sym = private_.missing_symbol_at(addr); !sym.empty()) {
        record_fault(SIDE_FAULT_MISSING_SYMBOL, "access to unimplemented kernel symbol " + sym, rip);
        return SignalAction::kAbandon;
      }
      if (info->si_code == SI_KERNEL) {
        record_fault(SIDE_FAULT_ILLEGAL_INSTRUCTION,
                     "general protection fault (privileged instruction or "
                     "non-canonical address)",
                     rip);
        return SignalAction::kAbandon;
      }
      record_fault(SIDE_FAULT_MEMORY, "unable to handle page fault for address: " + hex(addr), rip);
      return SignalAction::kAbandon;
    case SIGFPE:
      record_fault(SIDE_FAULT_ILLEGAL_INSTRUCTION, "divide error", rip);
      return SignalAction::kAbandon;
    case SIGSYS: {
      char message[96];
      std::snprintf(message, sizeof message, "system call %d refused by the domain's sandbox", info->si_syscall);
      record_fault(SIDE_FAULT_SYSCALL, message, rip);
      return SignalAction::kAbandon;
    }
    default:
      record_fault(SIDE_FAULT_MEMORY, std::string("signal ") + strsignal(sig), rip);
      return SignalAction::kAbandon;
  }
}

// ---- host services ------------------------------------------------------------------------------------------

uint64_t Domain::clock_ns() const {
  return monotonic_ns() + static_cast<uint64_t>(clock_skew_ns_.load());
}

void Domain::delay_ns(uint64_t ns) {
  if (config_.virtual_time) {
    clock_skew_ns_ += static_cast<int64_t>(ns);
    return;
  }
  if (ns < 50'000) {
    uint64_t until = monotonic_ns() + ns;
    while (monotonic_ns() < until) {
    }
    return;
  }
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  nanosleep(&ts, nullptr);
}

int Domain::register_pci_driver(uint64_t driver, const char* name, const side_pci_id* ids, unsigned n) {
  PciDriver d;
  d.driver = driver;
  d.name = name;
  const loader::LoadedModule* m = module_at(driver);
  d.module = m ? m->name : "";
  for (unsigned i = 0; i < n; ++i) {
    d.ids.push_back(
        {ids[i].vendor, ids[i].device, ids[i].subvendor, ids[i].subdevice, ids[i].class_code, ids[i].class_mask});
  }
  std::lock_guard lock(mutex_);
  for (const auto& existing : pci_drivers_) {
    if (existing.name == d.name) return -16;  // -EBUSY: a driver of that name is registered already
  }
  pci_drivers_.push_back(std::move(d));
  return 0;
}

void Domain::unregister_pci_driver(uint64_t driver) {
  std::lock_guard lock(mutex_);
  std::erase_if(pci_drivers_, [&](const PciDriver& d) { return d.driver == driver; });
}

}  // namespace side::domain
