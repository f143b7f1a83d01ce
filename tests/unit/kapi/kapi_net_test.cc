// The kernel-API layer's network stack through the project's test modules: socket buffers, net_device
// registration and naming, and a loopback driver driven by the host (open, transmit through NAPI back to the
// host, statistics, close, unregistration), with the supervisor's Machine as the host side.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "domain/domain.h"
#include "kapi/side_host.h"
#include "supervisor/driver_domain.h"
#include "supervisor/machine.h"
#include "test_supervised_domain.h"

namespace {

class NetDomain : public side::testing::SupervisedDomain {
 public:
  NetDomain() : SupervisedDomain(SIDE_TEST_MODULES_DIR, /*virtual_time=*/false) {}
};

// Records what the host side hears.
class Recorder final : public side::supervisor::NetListener {
 public:
  void netdev_registered(const side_netdev_info& info) override {
    std::lock_guard lock(mutex_);
    registered.push_back(info);
  }
  void netdev_unregistered(uint64_t token) override {
    std::lock_guard lock(mutex_);
    unregistered.push_back(token);
  }
  void carrier(uint64_t token, bool on) override {
    std::lock_guard lock(mutex_);
    carriers.emplace_back(token, on);
  }
  void tx_wake(uint64_t) override {
    std::lock_guard lock(mutex_);
    ++wakes;
  }
  void rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) override {
    {
      std::lock_guard lock(mutex_);
      frames.emplace_back(frame.begin(), frame.end());
      csums.push_back(csum);
      tokens.push_back(token);
    }
    cv_.notify_all();
  }
  bool wait_frames(size_t n, int ms) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return frames.size() >= n; });
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<side_netdev_info> registered;
  std::vector<uint64_t> unregistered;
  std::vector<std::pair<uint64_t, bool>> carriers;
  std::vector<std::vector<uint8_t>> frames;
  std::vector<uint32_t> csums;
  std::vector<uint64_t> tokens;
  int wakes = 0;
};

std::string module(const std::string& name) {
  return std::string(SIDE_TEST_MODULES_DIR) + "/" + name + ".ko";
}

std::vector<uint8_t> make_frame(size_t len, uint8_t seed) {
  std::vector<uint8_t> f(len);
  const uint8_t hdr[14] = {2, 0, 0, 0, 0, 3, 2, 0, 0, 0, 0, 9, 0x08, 0x00};
  std::memcpy(f.data(), hdr, sizeof hdr);
  for (size_t i = sizeof hdr; i < len; ++i) f[i] = static_cast<uint8_t>(seed + i);
  return f;
}

TEST(KapiNet, SocketBuffers) {
  NetDomain d;
  auto m = d->load({module("side_test_skb")});
  ASSERT_TRUE(m) << m.error().message << d.log();
  EXPECT_TRUE(d.logged("side_test_skb: ok")) << d.log();
  EXPECT_TRUE(d->faults().empty()) << d.log();
}

TEST(KapiNet, DoubleFreeOfAnSkbIsAFault) {
  NetDomain d;
  auto m = d->load({module("side_test_skb"), "double_free=1"});
  EXPECT_FALSE(m);
  auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u) << d.log();
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_BAD_ARGUMENT);
  EXPECT_NE(faults[0].message.find("kfree_skb"), std::string::npos) << faults[0].message;
  EXPECT_NE(faults[0].location.find("side_test_skb_init"), std::string::npos) << faults[0].location;
  EXPECT_TRUE(d.logged("side_test_skb: freeing again"));
  EXPECT_FALSE(d.logged("survived"));
}

// The domain's devices and network events go to `machine`, whose network events `rec` records.
void listen(NetDomain& d, side::supervisor::Machine& machine, Recorder& rec) {
  machine.set_listener(&rec);
  d->connect(&machine);
}

// Polls the domain's log for `needle` (at most `ms`).
bool wait_logged(NetDomain& d, const std::string& needle, int ms) {
  for (int waited = 0; waited < ms; waited += 10) {
    if (d.logged(needle)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return d.logged(needle);
}

uint64_t netdev_named(const side::supervisor::Machine& machine, const std::string& name) {
  for (const auto& n : machine.netdevs())
    if (name == n.info.name) return n.info.token;
  return 0;
}

// An IPv4 frame to 10.0.0.2 carrying `l4` (protocol `proto`), its IP header checksummed and the transport
// checksum field holding the pseudo-header's sum, as the host's stack leaves it for checksum offload.
std::vector<uint8_t> ipv4_frame(uint8_t proto, std::vector<uint8_t> l4, size_t check_at) {
  std::vector<uint8_t> f = make_frame(34, 0);
  const uint16_t total = static_cast<uint16_t>(20 + l4.size());
  const uint8_t ip[20] = {
      0x45, 0, uint8_t(total >> 8), uint8_t(total), 0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
  std::memcpy(f.data() + 14, ip, 20);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += f[14 + i] << 8 | f[15 + i];
  uint32_t pseudo = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + proto + static_cast<uint32_t>(l4.size());
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  while (pseudo >> 16) pseudo = (pseudo & 0xffff) + (pseudo >> 16);
  f[24] = static_cast<uint8_t>(~sum >> 8);
  f[25] = static_cast<uint8_t>(~sum);
  l4[check_at] = static_cast<uint8_t>(pseudo >> 8);
  l4[check_at + 1] = static_cast<uint8_t>(pseudo);
  f.insert(f.end(), l4.begin(), l4.end());
  return f;
}

// The transport checksum of an IPv4 frame verifies (the sum over pseudo-header and segment folds to all ones).
bool l4_checksum_ok(const std::vector<uint8_t>& f) {
  const size_t len = f.size() - 34;
  uint32_t sum = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + f[23] + static_cast<uint32_t>(len);
  for (size_t i = 34; i + 1 < f.size(); i += 2) sum += f[i] << 8 | f[i + 1];
  if (len & 1) sum += f.back() << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

// What the host asks of a device without offloads (the test driver has none): a checksum to insert is computed by
// the layer (validate_xmit_skb's skb_checksum_help), a TCP segmentation it cannot do is dropped and counted in
// tx_dropped (as the kernel counts a transmit it cannot validate), and an offload that does not fit its frame is
// refused before any driver sees it. Plain frames after them flow.
TEST(KapiNet, OffloadsTheDeviceCannotTakeAreDoneInSoftwareOrDroppedAndCounted) {
  NetDomain d;
  side::supervisor::Machine machine(*d);
  Recorder rec;
  listen(d, machine, rec);
  ASSERT_TRUE(d->load({module("side_test_netdev")})) << d.log();
  const uint64_t eth0 = netdev_named(machine, "eth0");
  ASSERT_TRUE(d->open(eth0)) << d.log();

  std::vector<uint8_t> udp(108, 0x5a);
  udp[4] = 0, udp[5] = 108;  // the UDP length
  const std::vector<uint8_t> frame = ipv4_frame(17, udp, 6);
  side_tx_offload csum{};
  csum.flags = SIDE_TX_NEEDS_CSUM;
  csum.csum_start = 34;
  csum.csum_offset = 6;
  ASSERT_TRUE(d->submit_tx(eth0, frame, csum));
  ASSERT_TRUE(rec.wait_frames(1, 5000)) << d.log();

  side_tx_offload gso = csum;
  gso.gso_type = SIDE_TX_GSO_TCPV4;
  gso.gso_size = 100;
  gso.csum_offset = 16;
  std::vector<uint8_t> tcp(20 + 1000, 0x33);
  tcp[12] = 0x50;  // data offset: 5 words
  ASSERT_TRUE(d->submit_tx(eth0, ipv4_frame(6, tcp, 16), gso));
  side_tx_offload beyond = csum;
  beyond.csum_start = static_cast<uint16_t>(frame.size() - 4);
  ASSERT_TRUE(d->submit_tx(eth0, frame, beyond));
  ASSERT_TRUE(d->submit_tx(eth0, make_frame(64, 7)));
  ASSERT_TRUE(rec.wait_frames(2, 5000)) << d.log();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  std::lock_guard lock(rec.mutex_);
  ASSERT_EQ(rec.frames.size(), 2u) << d.log();
  // The checksummed frame: the driver got it with CHECKSUM_NONE, and only the checksum differs from what was sent.
  std::vector<uint8_t> got = rec.frames[0];
  EXPECT_TRUE(l4_checksum_ok(got));
  EXPECT_NE(got[40] | got[41], 0);
  got[40] = frame[40], got[41] = frame[41];
  EXPECT_EQ(got, frame);
  EXPECT_EQ(rec.frames[1], make_frame(64, 7));
  EXPECT_EQ(d.count("xmit len"), 2u) << d.log();
  EXPECT_EQ(d.count("proto 0800 csum 0"), 2u) << d.log();
  auto stats = d->stats(eth0);
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->tx_dropped, 1u);  // the segmentation; the malformed offload is refused, not a device's drop
  EXPECT_TRUE(d->faults().empty()) << d.log();
}

// Linux's transmit watchdog: a queue the driver stopped and never restarted, with the carrier on, gets the driver's
// ndo_tx_timeout once watchdog_timeo has passed since the last transmission (here it drops the frames it held and
// wakes the queue, as a reset would); traffic then flows again. Closing takes the watchdog down with its reference.
TEST(KapiNet, AStalledTransmitQueueGetsTheDriversTxTimeout) {
  NetDomain d;
  side::supervisor::Machine machine(*d);
  Recorder rec;
  listen(d, machine, rec);
  auto m = d->load({module("side_test_netdev"), "stall=1"});
  ASSERT_TRUE(m) << m.error().message << d.log();
  const uint64_t eth0 = netdev_named(machine, "eth0");
  ASSERT_NE(eth0, 0u);
  ASSERT_TRUE(d->open(eth0)) << d.log();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(d->submit_tx(eth0, make_frame(64, static_cast<uint8_t>(i))));

  ASSERT_TRUE(wait_logged(d, "side_test_netdev: eth0 tx timeout queue 0 after 4 frames, 1 timeouts", 5000)) << d.log();
  EXPECT_TRUE(d.logged("NETDEV WATCHDOG: eth0 ")) << d.log();
  // Woken: the next frame reaches the driver.
  ASSERT_TRUE(d->submit_tx(eth0, make_frame(64, 9)));
  for (int i = 0; i < 500 && d.count("xmit len") < 5; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(d.count("xmit len"), 5u) << d.log();
  // One frame held, the queue not stopped: no second timeout.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(d.count("tx timeout"), 1u) << d.log();

  ASSERT_TRUE(d->close(eth0));
  ASSERT_TRUE(d->unload("side_test_netdev")) << d.log();
  EXPECT_TRUE(d->faults().empty()) << d.log();
}

TEST(KapiNet, FreeingARegisteredNetdevIsAFault) {
  NetDomain d;
  side::supervisor::Machine machine(*d);
  d->connect(&machine);
  auto m = d->load({module("side_test_netdev"), "bad=1"});
  EXPECT_FALSE(m);
  auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u) << d.log();
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_BAD_ARGUMENT);
  EXPECT_NE(faults[0].message.find("free_netdev of eth0, which is still registered"), std::string::npos)
      << faults[0].message;
  EXPECT_FALSE(d.logged("survived"));
}

TEST(KapiNet, LoopbackDriverThroughTheHost) {
  NetDomain d;
  side::supervisor::Machine machine(*d);
  Recorder rec;
  listen(d, machine, rec);
  auto m = d->load({module("side_test_netdev")});
  ASSERT_TRUE(m) << m.error().message << d.log();
  ASSERT_TRUE(d.logged("side_test_netdev: ok names eth0 eth1")) << d.log();

  // Registered: eth0, eth1, then eth0 (unit 0 again after its first owner left), with what the driver set.
  auto devs = machine.netdevs();
  ASSERT_EQ(devs.size(), 2u);
  uint64_t eth0 = 0;
  for (const auto& n : devs) {
    EXPECT_EQ(n.info.mtu, 1500u);
    EXPECT_EQ(n.info.min_mtu, 68u);
    EXPECT_EQ(n.info.max_mtu, 9000u);
    EXPECT_EQ(n.info.device, ~0u);
    if (std::string(n.info.name) == "eth0") {
      eth0 = n.info.token;
      EXPECT_EQ(n.info.mac[5], 3);
    } else {
      EXPECT_STREQ(n.info.name, "eth1");
      EXPECT_EQ(n.info.mac[5], 2);
    }
    EXPECT_FALSE(n.carrier);
  }
  ASSERT_NE(eth0, 0u);
  {
    std::lock_guard lock(rec.mutex_);
    ASSERT_EQ(rec.registered.size(), 3u);
    EXPECT_EQ(rec.unregistered.size(), 1u);  // the first eth0
  }

  // Transmitting on a closed device reaches no driver.
  ASSERT_TRUE(d->open(eth0)) << d.log();
  EXPECT_TRUE(d.logged("side_test_netdev: eth0 open"));
  {
    std::lock_guard lock(rec.mutex_);
    ASSERT_FALSE(rec.carriers.empty());
    EXPECT_EQ(rec.carriers.back(), std::make_pair(eth0, true));
  }

  // Frames go out through ndo_start_xmit and come back through NAPI: half via napi_gro_receive (linear), half via
  // napi_gro_frags (paged). The driver stops its queue at 4 pending frames; the wake lets the rest through.
  constexpr int kFrames = 12;
  std::vector<std::vector<uint8_t>> sent;
  for (int i = 0; i < kFrames; ++i) {
    sent.push_back(make_frame(60 + 7 * i, static_cast<uint8_t>(i * 13)));
    ASSERT_TRUE(d->submit_tx(eth0, sent.back()));
  }
  ASSERT_TRUE(rec.wait_frames(kFrames, 5000)) << d.log();
  {
    std::lock_guard lock(rec.mutex_);
    ASSERT_EQ(rec.frames.size(), static_cast<size_t>(kFrames));
    for (int i = 0; i < kFrames; ++i) {
      EXPECT_EQ(rec.frames[i], sent[i]) << "frame " << i;
      EXPECT_EQ(rec.tokens[i], eth0);
      // Linear ones were marked CHECKSUM_UNNECESSARY by the driver, paged ones not.
      EXPECT_EQ(rec.csums[i], i % 2 == 0 ? 1u : 0u) << "frame " << i;
    }
  }
  EXPECT_EQ(d.count("xmit len"), static_cast<size_t>(kFrames)) << d.log();
  EXPECT_EQ(d.count("proto 0800 csum 0"), static_cast<size_t>(kFrames));
  // The last frame of the last batch goes with netdev_xmit_more() false.
  std::string last;
  for (const auto& l : d.lines())
    if (l.find("xmit len") != std::string::npos) last = l;
  EXPECT_NE(last.find("len " + std::to_string(sent.back().size()) + " more 0"), std::string::npos) << last;

  auto stats = d->stats(eth0);
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->tx_packets, static_cast<uint64_t>(kFrames));
  EXPECT_EQ(stats->rx_packets, static_cast<uint64_t>(kFrames));
  uint64_t bytes = 0;
  for (const auto& f : sent) bytes += f.size();
  EXPECT_EQ(stats->tx_bytes, bytes);

  ASSERT_TRUE(d->close(eth0));
  EXPECT_TRUE(d.logged("side_test_netdev: eth0 stopped"));
  {
    std::lock_guard lock(rec.mutex_);
    EXPECT_EQ(rec.carriers.back(), std::make_pair(eth0, false));
  }
  // Closed: a frame is refused before the driver sees it.
  ASSERT_TRUE(d->submit_tx(eth0, make_frame(64, 1)));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(d.count("xmit len"), static_cast<size_t>(kFrames));

  ASSERT_TRUE(d->unload("side_test_netdev")) << d.log();
  EXPECT_TRUE(d.logged("side_test_netdev: removed"));
  EXPECT_TRUE(machine.netdevs().empty());
  EXPECT_TRUE(d->faults().empty()) << d.log();
}

}  // namespace
