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
