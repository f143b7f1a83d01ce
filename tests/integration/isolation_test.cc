// Drivers in sandboxed domain processes: verified traffic, several domains at once with one of them killed, and
// hostile drivers whose forbidden acts are refused and reported.
#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "supervisor/domain_process.h"
#include "supervisor/nic_session.h"

namespace side::supervisor {
namespace {

domain::DomainConfig domain_config(const std::string& modules_dir) {
  domain::DomainConfig c;
  c.kapi_path = SIDE_TEST_KAPI;
  c.symvers_path = SIDE_TEST_SYMVERS;
  c.modules_dir = modules_dir;
  return c;
}

NicSessionConfig e1000_session(const std::string& isolation) {
  NicSessionConfig c;
  c.isolation = isolation;
  c.domain = domain_config(SIDE_TEST_MODULE_CACHE);
  c.executable = SIDE_BINARY;
  return c;
}

void expect_clean(const NicSessionReport& r, uint64_t packets) {
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.faults.empty());
  EXPECT_EQ(r.netdev, "eth0");
  EXPECT_EQ(r.traffic.tx.verified, packets);
  EXPECT_EQ(r.traffic.rx.verified, packets);
  EXPECT_EQ(r.traffic.errors(), 0u);
  // e1000 folds its hardware counters into its statistics from its 2-second watchdog: they may lag, never lead.
  EXPECT_LE(r.driver_stats.tx_packets, packets);
  EXPECT_LE(r.driver_stats.rx_packets, packets);
  EXPECT_EQ(r.iommu.faults, 0u);
  // Everything the driver mapped for DMA was unmapped by close and remove.
  EXPECT_EQ(r.dma_mappings_after_remove, 0u);
}

TEST(E1000Traffic, InProcessBothWaysVerified) {
  auto c = e1000_session("inproc");
  c.traffic.packets = 20000;
  auto r = run_nic_session(c);
  expect_clean(r, 20000);
  EXPECT_EQ(r.domain_pid, r.supervisor_pid);
}

TEST(E1000Traffic, DomainProcessBothWaysVerified) {
  auto c = e1000_session("process");
  c.traffic.packets = 20000;
  auto r = run_nic_session(c);
  expect_clean(r, 20000);
  EXPECT_NE(r.domain_pid, r.supervisor_pid);
  EXPECT_GT(r.domain_pid, 0);
}

TEST(E1000Traffic, SmallestAndLargestFramesWithoutCopybreak) {
  for (size_t size : {60u, 1514u}) {
    auto c = e1000_session("process");
    c.params = "copybreak=0";
    c.traffic.packets = 3000;
    c.traffic.frame_size = size;
    auto r = run_nic_session(c);
    expect_clean(r, 3000);
    EXPECT_EQ(r.traffic.tx.bytes, 3000 * size);
  }
}

TEST(Isolation, KillingOneDomainLeavesTheOtherRunning) {
  std::atomic<bool> a_killed{false};
  std::atomic<uint64_t> b_at_kill{0};
  NicSessionReport a, b;
  auto ca = e1000_session("process");
  ca.recover = false;  // isolation alone: A stays dead
  ca.traffic.duration_s = 3;
  ca.kill_after_s = 1;
  ca.traffic.on_tick = [&](double elapsed, const TrafficResult&) {
    if (elapsed >= 1) a_killed = true;
  };
  auto cb = e1000_session("process");
  cb.mac[5] = 0x57;
  cb.traffic.duration_s = 3;
  cb.traffic.on_tick = [&](double, const TrafficResult& so_far) {
    if (a_killed && b_at_kill == 0) b_at_kill = so_far.tx.verified + so_far.rx.verified + 1;
  };
  std::thread ta([&] { a = run_nic_session(ca); });
  std::thread tb([&] { b = run_nic_session(cb); });
  ta.join();
  tb.join();
  // A died and was reported as such, without taking anything else down.
  ASSERT_FALSE(a.faults.empty());
  EXPECT_EQ(a.faults[0].kind, SIDE_FAULT_DOMAIN_DIED);
  EXPECT_NE(a.faults[0].message.find("killed by signal"), std::string::npos) << a.faults[0].message;
  EXPECT_TRUE(a.traffic.domain_faulted);
  // B kept going after A's death, and everything it moved is verified.
  EXPECT_TRUE(b.ok()) << b.error;
  EXPECT_EQ(b.traffic.errors(), 0u);
  ASSERT_GT(b_at_kill.load(), 0u);
  EXPECT_GT(b.traffic.tx.verified + b.traffic.rx.verified, b_at_kill.load() + 1000);
  EXPECT_EQ(b.traffic.tx.verified, b.traffic.tx.sent);
  EXPECT_EQ(b.traffic.rx.verified, b.traffic.rx.sent);
}

TEST(Recovery, AKilledDomainIsReplacedAndTrafficGoesOn) {
  auto c = e1000_session("process");
  c.traffic.packets = 60000;
  c.kill_after_s = 0.3;
  auto r = run_nic_session(c);
  ASSERT_EQ(r.recoveries.size(), 1u) << r.error;
  const auto& rec = r.recoveries[0];
  EXPECT_TRUE(rec.ok) << rec.error;
  EXPECT_EQ(rec.kind, SIDE_FAULT_DOMAIN_DIED);
  EXPECT_GT(rec.total_ms, 0);
  EXPECT_GE(rec.total_ms, rec.reload_ms + rec.restart_ms);
  EXPECT_TRUE(r.ok()) << r.error;
  // Every frame the host submitted reached the wire (requeued across the restart), in order and intact.
  EXPECT_EQ(r.traffic.tx.verified, 60000u);
  EXPECT_EQ(r.traffic.tx.lost, 0u);
  EXPECT_EQ(r.traffic.errors(), 0u);
  // Received frames in flight inside the dead driver are lost; everything else arrived.
  EXPECT_EQ(r.traffic.rx.verified + r.traffic.rx.lost, 60000u);
  EXPECT_LE(r.traffic.rx.lost, 256u);
  EXPECT_EQ(r.dma_mappings_after_remove, 0u);
}

// The supervisor's descriptors, threads and memory, and the IOMMU's mappings, after many restarts are where they
// were after the first few.
int count_entries(const char* dir) {
  int n = 0;
  if (DIR* d = opendir(dir)) {
    while (readdir(d)) ++n;
    closedir(d);
  }
  return n;
}

long rss_kib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  char line[256];
  long kib = 0;
  while (f && std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "VmRSS: %ld", &kib) == 1) break;
  }
  if (f) std::fclose(f);
  return kib;
}

TEST(Recovery, ManyRestartsLeakNothing) {
#if defined(__SANITIZE_ADDRESS__)
  constexpr unsigned kRestarts = 100;  // sanitizer builds are several times slower
#else
  constexpr unsigned kRestarts = 1000;
#endif
  constexpr unsigned kWarmUp = 5;
  auto c = e1000_session("process");
  c.policy = RecoveryPolicy::for_deliberate_faults(kRestarts + kWarmUp + 10);
  c.traffic.stall_timeout_s = 600;
  int fds0 = 0, threads0 = 0;
  long rss0 = 0;
  int fds1 = 0, threads1 = 0;
  long rss1 = 0;
  uint64_t mappings_peak = 0, failed = 0;
  c.workload = [&](const SessionHandles& s) {
    auto restart = [&] {
      unsigned gen = s.recoverable->generation();
      (void)s.recoverable->kill();
      for (int i = 0; i < 5000 && s.recoverable->generation() == gen; ++i) usleep(1000);
      if (!s.recoverable->wait_recovered(10'000)) ++failed;
      s.recoverable->wait_spare(10'000);
      mappings_peak = std::max<uint64_t>(mappings_peak, s.machine.dma(s.device).live_mappings());
    };
    for (unsigned i = 0; i < kWarmUp; ++i) restart();
    s.recoverable->wait_spare(10'000);  // measured when no spare is half-started
    fds0 = count_entries("/proc/self/fd");
    threads0 = count_entries("/proc/self/task");
    rss0 = rss_kib();
    for (unsigned i = 0; i < kRestarts; ++i) restart();
    s.recoverable->wait_spare(10'000);
    fds1 = count_entries("/proc/self/fd");
    threads1 = count_entries("/proc/self/task");
    rss1 = rss_kib();
  };
  auto r = run_nic_session(c);
  EXPECT_EQ(failed, 0u);
  EXPECT_EQ(r.recoveries.size(), kRestarts + kWarmUp);
  for (const auto& rec : r.recoveries) ASSERT_TRUE(rec.ok) << rec.error;
  EXPECT_EQ(fds1, fds0);
  EXPECT_EQ(threads1, threads0);
#if !defined(__SANITIZE_ADDRESS__)
  // (Under AddressSanitizer freed memory sits in its quarantine, and LeakSanitizer checks leaks at exit instead.)
  EXPECT_LT(rss1 - rss0, 16 * 1024) << "RSS grew from " << rss0 << " to " << rss1 << " KiB";
#endif
  // While running, no more mappings than a driver's rings and buffers need; none at all once it is removed.
  EXPECT_LT(mappings_peak, 4096u);
  EXPECT_EQ(r.dma_mappings_after_remove, 0u);
  EXPECT_EQ(r.iommu.faults, 0u);
  std::printf("%u restarts: fds %d -> %d, threads %d -> %d, RSS %ld -> %ld KiB\n", kRestarts, fds0, fds1, threads0,
              threads1, rss0, rss1);
}

struct HostileCase {
  const char* act;
  const char* expected;  // in the refusal
};

class HostileModule : public ::testing::TestWithParam<HostileCase> {};

TEST_P(HostileModule, IsContainedAndReported) {
  const HostileCase& c = GetParam();
  ::unlink("/tmp/side-hostile-open-marker");
  DomainProcessConfig pc;
  pc.kapi_path = SIDE_TEST_KAPI;
  pc.symvers_path = SIDE_TEST_SYMVERS;
  pc.modules_dir = SIDE_TEST_MODULES_DIR;
  pc.executable = SIDE_BINARY;
  auto d = DomainProcess::start(pc, {"side_test_hostile", std::string("act=") + c.act});
  ASSERT_FALSE(d) << c.act << " was not stopped";
  const std::string& message = d.error().message;
  EXPECT_NE(message.find("driver fault in init"), std::string::npos) << message;
  if (message.find("driver fault in init") == std::string::npos) return;
  EXPECT_NE(message.find(c.expected), std::string::npos) << message;
  EXPECT_EQ(message.find("was not stopped"), std::string::npos) << message;
  EXPECT_NE(::access("/tmp/side-hostile-open-marker", F_OK), 0) << "the domain created a file";
}

INSTANTIATE_TEST_SUITE_P(
    Sandbox, HostileModule,
    ::testing::Values(HostileCase{"execve", "system call 59 refused"}, HostileCase{"open", "system call 257 refused"},
                      HostileCase{"socket", "system call 41 refused"}, HostileCase{"kill", "system call 62 refused"},
                      HostileCase{"ptrace", "system call 101 refused"}, HostileCase{"mmap", "system call 9 refused"},
                      HostileCase{"syscall", "system call 110 refused"},
                      HostileCase{"write", "page fault for address: 0x401000"}),
    [](const auto& info) { return std::string(info.param.act); });

}  // namespace
}  // namespace side::supervisor
