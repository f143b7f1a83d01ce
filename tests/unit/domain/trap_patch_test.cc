// Rewriting of trapping device-access sites (domain/trap_patcher.h), end to end: a test module performs accesses of
// many instruction forms on a fake device, and every value read and written is checked through many iterations,
// with and without rewriting, from one and from two virtual CPUs at once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <array>
#include <cstring>
#include <mutex>
#include <vector>

#include "common/log.h"
#include "domain/domain.h"
#include "domain/driver_signals.h"
#include "domain/layout.h"
#include "domain/platform.h"

namespace {

using side::Result;
using side::Status;
using side::domain::Domain;

constexpr uint64_t kBarPhys = 0xfeb00000;
constexpr uint64_t kCounter = 0x40, kFailing = 0x44, kDataPort = 0x60, kPerCpu = 0x80;
constexpr uint64_t kPortBase = 0xc000;

// A register file. 0x40 counts its reads; 0x44 fails on demand; writes to 0x80 + 4 * cpu must count up from 0.
class FakeDevice final : public side::domain::Platform {
 public:
  Result<uint32_t> config_read(uint32_t, uint32_t, unsigned) override { return 0u; }
  Status config_write(uint32_t, uint32_t, unsigned, uint32_t) override { return {}; }
  Result<uint64_t> bar_read(uint32_t, int, uint64_t offset, unsigned width) override {
    std::lock_guard lock(mutex_);
    if (offset + width > regs.size()) return side::make_error("outside the BAR");
    ++reads[offset];
    if (offset == kCounter) return counter++ & side_mask(width);
    if (offset == kFailing && fail) return side::make_error("the device refuses");
    uint64_t v = 0;
    std::memcpy(&v, regs.data() + offset, width);
    return v;
  }
  Status bar_write(uint32_t, int, uint64_t offset, unsigned width, uint64_t value) override {
    std::lock_guard lock(mutex_);
    if (offset + width > regs.size()) return side::make_error("outside the BAR");
    ++writes[offset];
    if (offset == kDataPort) data_port.push_back(static_cast<uint32_t>(value));
    if (offset >= kPerCpu && offset < kPerCpu + 32) {
      uint32_t expected = static_cast<uint32_t>(writes[offset] - 1);
      if (value != expected) ++out_of_order;
    }
    std::memcpy(regs.data() + offset, &value, width);
    return {};
  }
  int dma_map(uint32_t, uint64_t, uint64_t, int) override { return 0; }
  int dma_unmap(uint32_t, uint64_t, uint64_t, int) override { return 0; }
  int netdev_register(const side_netdev_info&) override { return 0; }
  void netdev_unregister(uint64_t) override {}
  void netdev_carrier(uint64_t, bool) override {}
  void netdev_changed(const side_netdev_info&) override {}
  void netdev_tx_wake(uint64_t, uint32_t) override {}
  void netdev_rx(uint64_t, std::span<const uint8_t>, uint32_t) override {}

  template <class T>
  void set(uint64_t offset, T v) {
    std::lock_guard lock(mutex_);
    std::memcpy(regs.data() + offset, &v, sizeof v);
  }
  template <class T>
  T get(uint64_t offset) {
    std::lock_guard lock(mutex_);
    T v;
    std::memcpy(&v, regs.data() + offset, sizeof v);
    return v;
  }
  static uint64_t side_mask(unsigned width) { return width >= 8 ? ~0ull : (1ull << (8 * width)) - 1; }

  std::mutex mutex_;
  std::array<uint8_t, 0x1000> regs{};
  std::array<uint64_t, 0x1000> reads{}, writes{};
  uint64_t counter = 0;
  uint64_t out_of_order = 0;
  std::vector<uint32_t> data_port;  // every value written to kDataPort, in order
  bool fail = false;
};

class MmioDomain {
 public:
  explicit MmioDomain(bool patch) {
    side::set_log_sink([this](side::LogLevel, std::string_view line) {
      std::lock_guard lock(mutex_);
      log_ += std::string(line) + "\n";
    });
    side::domain::DomainConfig config;
    config.kapi_path = SIDE_TEST_KAPI;
    config.symvers_path = SIDE_TEST_SYMVERS;
    config.modules_dir = SIDE_TEST_MODULES_DIR;
    config.patch_traps = patch;
    auto d = Domain::create(config);
    if (!d) {
      ADD_FAILURE() << d.error().message;
      return;
    }
    domain = std::move(*d);
    domain->set_platform(&device);
    side_pci_device_info info{};
    info.device = 1;
    info.vendor_id = 0x1234;
    info.device_id = 0x5678;
    info.bars[0] = side_pci_bar{kBarPhys, 0x1000, 0, 0};
    info.bars[1] = side_pci_bar{kPortBase, 0x100, 1, 0};  // ports: the same register file
    if (auto s = domain->attach_device(info); !s) ADD_FAILURE() << s.error().message;
    auto m =
        domain->load({std::string(SIDE_TEST_MODULES_DIR) + "/side_test_mmio.ko", "phys=" + std::to_string(kBarPhys)});
    if (!m) {
      ADD_FAILURE() << m.error().message << log();
      return;
    }
    module = *m;
  }
  ~MmioDomain() {
    domain.reset();
    side::set_log_sink(nullptr);
  }
  uint64_t symbol(const std::string& name) const {
    for (const auto& s : module->symbols) {
      if (s.name == name) return s.address;
    }
    ADD_FAILURE() << "no symbol " << name;
    return 0;
  }
  std::string log() {
    std::lock_guard lock(mutex_);
    return log_;
  }

  FakeDevice device;  // outlives the domain
  std::unique_ptr<Domain> domain;
  const side::loader::LoadedModule* module = nullptr;

 private:
  std::mutex mutex_;
  std::string log_;
};

// Runs every form `iterations` times and checks each value read and written. Returns false on a mismatch.
void run_forms(MmioDomain& d, int iterations) {
  auto forms = reinterpret_cast<void (*)(uint32_t, uint64_t*)>(d.symbol("side_mmio_forms"));
  ASSERT_NE(forms, nullptr);
  uint32_t or_reg = 0;
  d.device.set<uint32_t>(0x24, 0);
  for (int i = 0; i < iterations; ++i) {
    const uint32_t v = static_cast<uint32_t>(i) * 0x01010101u + (i > iterations / 2 ? 0x100 : 0);
    d.device.set<uint32_t>(0x10, 1000u + i);
    d.device.set<uint16_t>(0x18, static_cast<uint16_t>(i * 7));
    d.device.set<uint8_t>(0x1c, 0);
    d.device.set<uint8_t>(0x20, static_cast<uint8_t>(i));
    d.device.set<uint32_t>(0x28, 3u * i);
    d.device.set<uint32_t>(0x2c, static_cast<uint32_t>(i));
    d.device.set<uint32_t>(0x30, 5u * i);
    uint64_t counter_before;
    {
      std::lock_guard lock(d.device.mutex_);
      counter_before = d.device.counter;
    }
    uint64_t out[8] = {};
    ASSERT_TRUE(d.domain->call([&] { forms(v, out); })) << d.log();
    const uint32_t m = v & 0x100;
    const bool zf = (or_reg | m) == 0;
    or_reg |= m;
    ASSERT_EQ(out[0], 1000u + i + 3) << "iteration " << i;
    ASSERT_EQ(d.device.get<uint32_t>(0x14), v) << "iteration " << i;
    ASSERT_EQ(out[1], 0xabcd0000u | static_cast<uint16_t>(i * 7)) << "iteration " << i;
    ASSERT_EQ(d.device.get<uint8_t>(0x1c), 0x5a) << "iteration " << i;
    ASSERT_EQ(out[2], static_cast<uint8_t>(i)) << "iteration " << i;
    ASSERT_EQ(out[3], zf ? 1u : 0u) << "iteration " << i;
    ASSERT_EQ(d.device.get<uint32_t>(0x24), or_reg) << "iteration " << i;
    ASSERT_EQ(out[4], 6u * i) << "iteration " << i;
    ASSERT_EQ(out[5], static_cast<uint32_t>(i) + 3) << "iteration " << i;
    ASSERT_EQ(out[6], counter_before) << "iteration " << i;
    ASSERT_EQ(out[7], 5u * i + 3) << "iteration " << i;
    ASSERT_EQ(d.device.get<uint32_t>(0x48), static_cast<uint32_t>(counter_before)) << "iteration " << i;
  }
}

constexpr int kIterations = 3000;
// Sites that are rewritten (one with a prefix), the refused one and how often it runs per iteration.
constexpr uint64_t kPatchableSites = 9, kRefusedSites = 1, kRefusedRuns = 2;

TEST(TrapPatch, EveryFormReadsAndWritesExactlyAndTrapsAFewTimesPerSite) {
  MmioDomain d(/*patch=*/true);
  ASSERT_TRUE(d.module);
  const auto before = d.domain->trap_stats();
  run_forms(d, kIterations);
  const auto s = d.domain->trap_stats();
  EXPECT_EQ(s.sites_patched, kPatchableSites);
  EXPECT_EQ(s.prefix_sites, 1u);
  EXPECT_EQ(s.sites_pending, 0u);
  EXPECT_EQ(s.sites_refused, kRefusedSites);
  EXPECT_EQ(s.refused_branch_target, kRefusedSites);
  // Per iteration: the refused site traps (twice), and so does the access the movq site's trampoline relocated.
  // Everything else traps a few times per site (kTrapsBeforeRewrite, perhaps a few int3 hits before the jump goes
  // in), then never again.
  constexpr uint64_t kFirstTraps = side::domain::TrapPatcher::kTrapsBeforeRewrite;
  const uint64_t traps = s.traps_emulated - before.traps_emulated;
  EXPECT_GE(traps, (kRefusedRuns + 1) * kIterations + kFirstTraps * kPatchableSites);
  EXPECT_LE(traps, (kRefusedRuns + 1) * kIterations + (kFirstTraps + 3) * kPatchableSites);
  EXPECT_EQ(s.trampoline_traps, static_cast<uint64_t>(kIterations - kFirstTraps + 1));
  EXPECT_GE(s.patched_accesses, kPatchableSites * (kIterations - kFirstTraps - 3));
  EXPECT_EQ(s.patched_accesses + traps, (kPatchableSites + kRefusedRuns + 1) * kIterations);
  EXPECT_TRUE(d.domain->faults().empty()) << d.log();
}

TEST(TrapPatch, SwitchedOffEveryAccessTraps) {
  MmioDomain d(/*patch=*/false);
  ASSERT_TRUE(d.module);
  run_forms(d, 500);
  const auto s = d.domain->trap_stats();
  EXPECT_EQ(s.sites_patched, 0u);
  EXPECT_EQ(s.patched_accesses, 0u);
  EXPECT_EQ(s.traps_emulated, 500u * (kPatchableSites + kRefusedRuns + 1));
}

TEST(TrapPatch, TwoVcpusHammeringTheSameSitesWhileTheyAreRewritten) {
  for (int round = 0; round < 3; ++round) {
    MmioDomain d(/*patch=*/true);
    ASSERT_TRUE(d.module);
    auto both = reinterpret_cast<int (*)(int)>(d.symbol("side_mmio_hammer_both"));
    constexpr int n = 20000;
    int rc = -1;
    ASSERT_TRUE(d.domain->call([&] { rc = both(n); })) << d.log();
    EXPECT_EQ(rc, 0);
    std::lock_guard lock(d.device.mutex_);
    EXPECT_EQ(d.device.reads[kCounter], 2u * n) << "round " << round;
    EXPECT_EQ(d.device.counter, 2u * n);
    EXPECT_EQ(d.device.writes[kPerCpu + 0], static_cast<uint64_t>(n));  // vCPU 0
    EXPECT_EQ(d.device.writes[kPerCpu + 8], static_cast<uint64_t>(n));  // vCPU 2, the workqueue
    EXPECT_EQ(d.device.out_of_order, 0u);
    const auto s = d.domain->trap_stats();
    EXPECT_EQ(s.sites_patched, 2u);
    EXPECT_EQ(s.prefix_sites, 1u);
    // Until the other vCPU has passed a quiescent point the site traps on its int3 (correct, but slow). With two
    // shared cores that vCPU may be descheduled for a whole time slice, so only a bound far below "every access
    // traps" (2n) is asserted.
    EXPECT_LE(s.traps_emulated, static_cast<uint64_t>(n) / 2)
        << "round " << round << ": " << s.breakpoint_traps << " at an int3, " << s.stale_breakpoints << " stale";
    // Every access went exactly one way: trapped or through a trampoline.
    EXPECT_EQ(s.patched_accesses + s.traps_emulated, static_cast<uint64_t>(4 * n));
    EXPECT_TRUE(d.domain->faults().empty()) << d.log();
  }
}

TEST(TrapPatch, AFailingAccessFromARewrittenSiteIsARecordedFault) {
  MmioDomain d(/*patch=*/true);
  ASSERT_TRUE(d.module);
  auto read = reinterpret_cast<uint32_t (*)()>(d.symbol("side_mmio_read_failing"));
  d.device.set<uint32_t>(kFailing, 0x1234);
  for (int i = 0; i < 10; ++i) {
    uint32_t v = 0;
    ASSERT_TRUE(d.domain->call([&] { v = read(); }));
    ASSERT_EQ(v, 0x1234u);
  }
  const auto before = d.domain->trap_stats();
  ASSERT_EQ(before.sites_patched, 1u);
  d.device.fail = true;
  bool returned = false;
  EXPECT_FALSE(d.domain->call([&] {
    read();
    returned = true;
  }));
  EXPECT_FALSE(returned);
  const auto after = d.domain->trap_stats();
  EXPECT_EQ(after.traps_emulated, before.traps_emulated);  // it went through the trampoline
  EXPECT_EQ(after.patched_accesses, before.patched_accesses + 1);
  auto faults = d.domain->faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_MEMORY);
  EXPECT_NE(faults[0].message.find("the device refuses"), std::string::npos) << faults[0].message;
  EXPECT_NE(faults[0].location.find("side_mmio_read_failing+"), std::string::npos) << faults[0].location;
  EXPECT_TRUE(d.domain->faulty());
}

// rep outsl/insl move data between a port and the driver's buffer, in the arena (kmalloc) or on the vCPU's stack,
// element by element in order; a buffer anywhere else (the module's own data) is refused before the port sees it.
TEST(TrapPatch, StringPortIoMovesTheDriversBuffersAndNothingElse) {
  MmioDomain d(/*patch=*/true);
  ASSERT_TRUE(d.module);
  auto string_io = reinterpret_cast<int (*)(int, uint32_t*)>(d.symbol("side_mmio_string_io"));
  constexpr int n = 37;
  std::vector<uint32_t> out(n + 8);
  uint64_t counter_before;
  {
    std::lock_guard lock(d.device.mutex_);
    counter_before = d.device.counter;
  }
  int rc = -1;
  ASSERT_TRUE(d.domain->call([&] { rc = string_io(n, out.data()); })) << d.log();
  ASSERT_EQ(rc, 0);
  std::vector<uint32_t> written;
  for (uint32_t i = 0; i < n; ++i) written.push_back(0x1000 + i);
  for (uint32_t i = 0; i < 8; ++i) written.push_back(0x2000 + i);
  {
    std::lock_guard lock(d.device.mutex_);
    EXPECT_EQ(d.device.data_port, written);
  }
  for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], static_cast<uint32_t>(counter_before + i)) << i;

  auto wild = reinterpret_cast<void (*)()>(d.symbol("side_mmio_string_io_wild"));
  bool returned = false;
  EXPECT_FALSE(d.domain->call([&] {
    wild();
    returned = true;
  }));
  EXPECT_FALSE(returned);
  {
    std::lock_guard lock(d.device.mutex_);
    EXPECT_EQ(d.device.data_port.size(), written.size()) << "the module's data reached the port";
  }
  auto faults = d.domain->faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_NE(faults[0].location.find("side_mmio_string_io_wild+"), std::string::npos) << faults[0].location;
  EXPECT_TRUE(d.domain->faulty());
}

// An instruction that starts at the end of one code page and runs on into the next faults at the next page's first
// byte, not at RIP, when a patch has that page flipped writable for a moment (seen as "unable to handle page fault
// for address: 0x60062000 at e1000_clean_rx_irq+0x27e", a call at 0xffe in its text): it is fetched again, as a
// fetch at RIP is, not a driver fault. A fault at any other address is still not a disturbed fetch.
TEST(TrapPatch, AFetchRunningIntoAPageBeingPatchedIsRetried) {
  MmioDomain d(/*patch=*/true);
  ASSERT_TRUE(d.module);
  auto& memory = d.domain->private_mut();
  auto code = memory.allocate_image(2 * side::domain::kPageSize);
  ASSERT_TRUE(code);
  ASSERT_TRUE(memory.protect(*code, 2 * side::domain::kPageSize, PROT_READ | PROT_EXEC));
  const uint64_t second_page = *code + side::domain::kPageSize;
  side::domain::DriverSignals signals(*d.domain, 3);
  auto fetch_fault = [&](uint64_t addr, uint64_t rip) {
    siginfo_t info{};
    info.si_signo = SIGSEGV;
    info.si_code = SEGV_ACCERR;
    info.si_addr = reinterpret_cast<void*>(addr);
    ucontext_t context{};
    context.uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(rip);
    return signals.classify(SIGSEGV, &info, &context);
  };
  EXPECT_EQ(fetch_fault(second_page, second_page - 2), side::domain::SignalAction::kResume);
  EXPECT_EQ(fetch_fault(second_page + 8, second_page - 2), side::domain::SignalAction::kNotOurs)
      << "not the first byte of the page the instruction runs into";
  EXPECT_FALSE(d.domain->faulty());
}

}  // namespace
