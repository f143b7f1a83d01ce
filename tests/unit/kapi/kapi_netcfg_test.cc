// Configuration of network devices through the kernel-API layer (MTU, MAC address, receive mode with the multicast
// list) and what ethtool shows, driven through the domain as the host's stack would: first against
// side_test_netcfg, whose devices log exactly what they receive, then against Debian's e1000 on the emulated
// 82540EM, whose registers show what the driver programmed.
#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/log.h"
#include "devices/e1000/regs.h"
#include "domain/domain.h"
#include "kapi/side_host.h"
#include "supervisor/driver_domain.h"
#include "supervisor/machine.h"
#include "test_supervised_domain.h"

namespace {

using Mac = std::array<uint8_t, 6>;

using CfgDomain = side::testing::SupervisedDomain;

// What the host hears of address and MTU changes.
class ChangeRecorder final : public side::supervisor::NetListener {
 public:
  void netdev_changed(const side_netdev_info& info) override {
    std::lock_guard lock(mutex_);
    changes_.push_back(info);
  }
  void rx(uint64_t, std::span<const uint8_t>, uint32_t) override {}
  std::vector<side_netdev_info> changes() {
    std::lock_guard lock(mutex_);
    return changes_;
  }

 private:
  std::mutex mutex_;
  std::vector<side_netdev_info> changes_;
};

std::string module(const std::string& name) {
  return std::string(SIDE_TEST_MODULES_DIR) + "/" + name + ".ko";
}

uint64_t token_of(side::supervisor::Machine& machine, const std::string& name) {
  for (const auto& n : machine.netdevs())
    if (name == n.info.name) return n.info.token;
  return 0;
}

side_netdev_info info_of(side::supervisor::Machine& machine, uint64_t token) {
  for (const auto& n : machine.netdevs())
    if (n.info.token == token) return n.info;
  return {};
}

Mac mac_of(const side_netdev_info& info) {
  Mac m;
  std::memcpy(m.data(), info.mac, 6);
  return m;
}

// The errno a failed configuration call reports ("... failed: <text> (-22)").
bool failed_with(const side::Status& s, int err) {
  return !s && s.error().message.find("(" + std::to_string(err) + ")") != std::string::npos;
}

struct NetcfgFixture {
  CfgDomain d{SIDE_TEST_MODULES_DIR};
  side::supervisor::Machine machine{*d};
  ChangeRecorder rec;
  uint64_t cfg0 = 0, cfg1 = 0;

  bool setup() {
    machine.set_listener(&rec);
    d->connect(&machine);
    auto m = d->load({module("side_test_netcfg")});
    if (!m) {
      ADD_FAILURE() << m.error().message << d.log();
      return false;
    }
    cfg0 = token_of(machine, "cfg0");
    cfg1 = token_of(machine, "cfg1");
    return cfg0 && cfg1 && d.logged("side_test_netcfg: ok cfg0 cfg1");
  }
};

TEST(KapiNetcfg, MtuWithinBoundsReachesTheDriverAndTheHost) {
  NetcfgFixture f;
  ASSERT_TRUE(f.setup()) << f.d.log();
  auto& d = f.d;

  // Outside [min_mtu 68, max_mtu 9000]: refused before the driver hears of it.
  EXPECT_TRUE(failed_with(d->set_mtu(f.cfg0, 67), -EINVAL));
  EXPECT_TRUE(failed_with(d->set_mtu(f.cfg0, 9001), -EINVAL));
  EXPECT_TRUE(failed_with(d->set_mtu(f.cfg0, 0x80000000u), -EINVAL));  // negative as the kernel's int
  // The current MTU: nothing to do, nothing announced.
  EXPECT_TRUE(d->set_mtu(f.cfg0, 1500));
  EXPECT_EQ(d.count("change_mtu"), 0u) << d.log();
  EXPECT_TRUE(f.rec.changes().empty());

  ASSERT_TRUE(d->set_mtu(f.cfg0, 9000)) << d.log();
  EXPECT_TRUE(d.logged("side_test_netcfg: cfg0 change_mtu 9000 from 1500 running 0 rtnl 1")) << d.log();
  EXPECT_EQ(info_of(f.machine, f.cfg0).mtu, 9000u);
  auto changes = f.rec.changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].token, f.cfg0);
  EXPECT_EQ(changes[0].mtu, 9000u);
  EXPECT_STREQ(changes[0].name, "cfg0");
  EXPECT_EQ(changes[0].min_mtu, 68u);
  EXPECT_EQ(changes[0].max_mtu, 9000u);
  EXPECT_EQ(changes[0].mac[5], 1);

  // The driver's own refusal comes back as its errno; the MTU stays and nothing is announced.
  EXPECT_TRUE(failed_with(d->set_mtu(f.cfg0, 1234), -EBUSY));
  EXPECT_TRUE(d.logged("cfg0 change_mtu 1234 from 9000"));
  EXPECT_EQ(info_of(f.machine, f.cfg0).mtu, 9000u);
  EXPECT_EQ(f.rec.changes().size(), 1u);

  // Works the same while the device is up.
  ASSERT_TRUE(d->open(f.cfg0));
  ASSERT_TRUE(d->set_mtu(f.cfg0, 1280));
  EXPECT_TRUE(d.logged("cfg0 change_mtu 1280 from 9000 running 1 rtnl 1")) << d.log();
  ASSERT_TRUE(d->close(f.cfg0));

  // Without ndo_change_mtu the layer sets the MTU itself.
  ASSERT_TRUE(d->set_mtu(f.cfg1, 68));
  EXPECT_EQ(info_of(f.machine, f.cfg1).mtu, 68u);
  changes = f.rec.changes();
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[1].mtu, 1280u);
  EXPECT_EQ(changes[2].token, f.cfg1);
  EXPECT_EQ(changes[2].mtu, 68u);

  // A token that names no registered device.
  EXPECT_TRUE(failed_with(d->set_mtu(f.cfg0 + 8, 1500), -ENODEV));

  ASSERT_TRUE(d->unload("side_test_netcfg")) << d.log();
  EXPECT_TRUE(d.logged("cfg0 at exit mtu 1280")) << d.log();
  EXPECT_TRUE(d.logged("cfg1 at exit mtu 68"));
  EXPECT_TRUE(d->faults().empty()) << d.log();
}

TEST(KapiNetcfg, MacAddressValidatedAndAnnouncedOnlyOnChange) {
  NetcfgFixture f;
  ASSERT_TRUE(f.setup()) << f.d.log();
  auto& d = f.d;

  EXPECT_TRUE(failed_with(d->set_mac(f.cfg0, {0x01, 0x00, 0x5e, 0, 0, 1}), -EADDRNOTAVAIL));  // multicast
  EXPECT_TRUE(failed_with(d->set_mac(f.cfg0, {0, 0, 0, 0, 0, 0}), -EADDRNOTAVAIL));
  EXPECT_TRUE(failed_with(d->set_mac(f.cfg0, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), -EADDRNOTAVAIL));
  EXPECT_EQ(d.count("set_mac"), 0u);

  const Mac mac = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
  ASSERT_TRUE(d->set_mac(f.cfg0, mac)) << d.log();
  // The driver got a struct sockaddr of family ARPHRD_ETHER (1), under rtnl.
  EXPECT_TRUE(d.logged("side_test_netcfg: cfg0 set_mac 02:aa:bb:cc:dd:ee family 1 rtnl 1")) << d.log();
  EXPECT_EQ(mac_of(info_of(f.machine, f.cfg0)), mac);
  auto changes = f.rec.changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].token, f.cfg0);
  EXPECT_EQ(mac_of(changes[0]), mac);
  EXPECT_EQ(changes[0].mtu, 1500u);

  // The address it already has: the driver is not called and nothing is announced.
  ASSERT_TRUE(d->set_mac(f.cfg0, mac));
  EXPECT_EQ(d.count("set_mac"), 1u);
  EXPECT_EQ(f.rec.changes().size(), 1u);

  // No ndo_set_mac_address.
  EXPECT_TRUE(failed_with(d->set_mac(f.cfg1, mac), -EOPNOTSUPP));
  EXPECT_EQ(info_of(f.machine, f.cfg1).mac[5], 2);

  ASSERT_TRUE(d->unload("side_test_netcfg"));
  EXPECT_TRUE(d.logged("cfg0 at exit mtu 1500 mac 02:aa:bb:cc:dd:ee")) << d.log();
  EXPECT_TRUE(d->faults().empty()) << d.log();
}

TEST(KapiNetcfg, ReceiveModeFlagsAndMulticastListReachTheDriver) {
  NetcfgFixture f;
  ASSERT_TRUE(f.setup()) << f.d.log();
  auto& d = f.d;
  const Mac m1 = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}, m2 = {0x33, 0x33, 0x00, 0x00, 0x00, 0x02},
            m3 = {0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e};

  // Invalid requests change nothing.
  EXPECT_TRUE(failed_with(d->set_rx_mode(f.cfg0, 0, {m1, {0x02, 0, 0, 0, 0, 1}}), -EINVAL));  // unicast
  EXPECT_TRUE(failed_with(d->set_rx_mode(f.cfg0, 4, {}), -EINVAL));                           // unknown flag
  EXPECT_TRUE(failed_with(d->set_rx_mode(f.cfg0, 0, std::vector<Mac>(257, m1)), -EINVAL));    // too many
  ASSERT_TRUE(d->set_rx_mode(f.cfg0, 0, std::vector<Mac>(256, m1)));  // 256 is the limit (one address here)

  // Closed: flags and list are recorded, the driver is not called.
  ASSERT_TRUE(d->set_rx_mode(f.cfg0, SIDE_RX_PROMISC, {m1, m2}));
  EXPECT_EQ(d.count("rx_mode"), 0u) << d.log();
  EXPECT_EQ(d.count("change_rx_flags"), 0u) << d.log();
  EXPECT_TRUE(d.logged("cfg0: entered promiscuous mode")) << d.log();

  // Open programs the filters: both addresses in order, under the address lock with bottom halves off.
  ASSERT_TRUE(d->open(f.cfg0));
  auto modes = d.matching("cfg0 rx_mode");
  ASSERT_EQ(modes.size(), 1u) << d.log();
  EXPECT_NE(modes[0].find("promisc 1 allmulti 0 mc 2 locked 1 bh_off 1"), std::string::npos) << modes[0];
  auto mcs = d.matching("cfg0 mc[");
  ASSERT_EQ(mcs.size(), 2u) << d.log();
  EXPECT_NE(mcs[0].find("mc[0] 01:00:5e:00:00:01 type 4"), std::string::npos) << mcs[0];
  EXPECT_NE(mcs[1].find("mc[1] 33:33:00:00:00:02 type 4"), std::string::npos) << mcs[1];

  // Up: promiscuous off, all-multicast on, m1 leaves, m3 joins (m2 twice is one entry and keeps its place).
  ASSERT_TRUE(d->set_rx_mode(f.cfg0, SIDE_RX_ALLMULTI, {m2, m3, m2}));
  auto flags = d.matching("cfg0 change_rx_flags");
  ASSERT_EQ(flags.size(), 2u) << d.log();
  EXPECT_NE(flags[0].find("change_rx_flags 0x100 now 0x0 promiscuity 0 allmulti 0"), std::string::npos) << flags[0];
  EXPECT_NE(flags[1].find("change_rx_flags 0x200 now 0x200 promiscuity 0 allmulti 1"), std::string::npos) << flags[1];
  EXPECT_TRUE(d.logged("cfg0: left promiscuous mode"));
  modes = d.matching("cfg0 rx_mode");
  ASSERT_GE(modes.size(), 2u) << d.log();
  EXPECT_NE(modes.back().find("promisc 0 allmulti 1 mc 2 locked 1 bh_off 1"), std::string::npos) << modes.back();
  mcs = d.matching("cfg0 mc[");
  ASSERT_GE(mcs.size(), 4u);
  EXPECT_NE(mcs[mcs.size() - 2].find("mc[0] 33:33:00:00:00:02"), std::string::npos) << mcs[mcs.size() - 2];
  EXPECT_NE(mcs.back().find("mc[1] 01:80:c2:00:00:0e"), std::string::npos) << mcs.back();

  // The same request again changes nothing, so the driver is not called again.
  size_t before = d.count("cfg0 rx_mode");
  ASSERT_TRUE(d->set_rx_mode(f.cfg0, SIDE_RX_ALLMULTI, {m3, m2}));
  EXPECT_EQ(d.count("cfg0 rx_mode"), before);

  // An emptied list is programmed as such.
  ASSERT_TRUE(d->set_rx_mode(f.cfg0, SIDE_RX_ALLMULTI, {}));
  modes = d.matching("cfg0 rx_mode");
  EXPECT_NE(modes.back().find("promisc 0 allmulti 1 mc 0"), std::string::npos) << modes.back();
  ASSERT_TRUE(d->set_rx_mode(f.cfg0, SIDE_RX_ALLMULTI, {m1}));

  // A device without ndo_set_rx_mode still keeps the flags and the list.
  ASSERT_TRUE(d->set_rx_mode(f.cfg1, SIDE_RX_PROMISC | SIDE_RX_ALLMULTI, {m1, m3}));

  ASSERT_TRUE(d->close(f.cfg0));
  ASSERT_TRUE(d->unload("side_test_netcfg")) << d.log();
  EXPECT_TRUE(d.logged("cfg0 at exit mtu 1500 mac 02:00:00:00:0c:01 promiscuity 0 allmulti 1 mc 1")) << d.log();
  EXPECT_TRUE(d.logged("cfg1 at exit mtu 1500 mac 02:00:00:00:0c:02 promiscuity 1 allmulti 1 mc 2")) << d.log();
  // Unregistration empties the lists (and frees them: a leak would show as a fault-free but growing arena).
  EXPECT_TRUE(d.logged("cfg0 after unregister mc 0"));
  EXPECT_TRUE(d.logged("cfg1 after unregister mc 0"));
  EXPECT_TRUE(f.rec.changes().empty());
  EXPECT_TRUE(d->faults().empty()) << d.log();
}

TEST(KapiNetcfg, EthtoolShowsTheDriversAnswers) {
  NetcfgFixture f;
  ASSERT_TRUE(f.setup()) << f.d.log();
  auto& d = f.d;

  auto e = d->ethtool(f.cfg0);
  ASSERT_TRUE(e) << e.error().message << d.log();
  EXPECT_STREQ(e->driver, "side_test_netcfg");
  EXPECT_STREQ(e->version, SIDE_TEST_KERNEL_RELEASE);  // the kernel release, as the driver left it unset
  // The driver's fw_version had no terminator: 31 characters and a NUL arrive.
  EXPECT_EQ(std::string(e->fw_version, strnlen(e->fw_version, sizeof e->fw_version)), std::string(31, 'f'));
  EXPECT_STREQ(e->bus_info, "side-cfg.0");  // the parent's name, the driver left it empty
  EXPECT_EQ(e->link, 0u);                   // not running: no link whatever get_link says
  EXPECT_EQ(e->speed, 2500u);
  EXPECT_EQ(e->duplex, 1u);
  EXPECT_EQ(e->autoneg, 1u);
  EXPECT_EQ(e->rx_pending, 512u);
  EXPECT_EQ(e->tx_pending, 256u);
  EXPECT_EQ(e->rx_max_pending, 4096u);
  EXPECT_EQ(e->tx_max_pending, 2048u);
  EXPECT_TRUE(d.logged("side_test_netcfg: cfg0 ringparam cmd 0x10 kring 1 rtnl 1")) << d.log();
  EXPECT_EQ(d.count("cfg0 ethtool begin"), 1u);
  EXPECT_EQ(d.count("cfg0 ethtool complete"), 1u);

  ASSERT_TRUE(d->open(f.cfg0));
  e = d->ethtool(f.cfg0);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->link, 1u);
  ASSERT_TRUE(d->close(f.cfg0));

  // No ethtool operations and no parent: nothing to show, but no error either.
  e = d->ethtool(f.cfg1);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_STREQ(e->driver, "");
  EXPECT_STREQ(e->version, "");
  EXPECT_STREQ(e->bus_info, "");
  EXPECT_EQ(e->link, 0u);
  EXPECT_EQ(e->speed, 0u);
  EXPECT_EQ(e->rx_max_pending, 0u);

  EXPECT_FALSE(d->ethtool(f.cfg1 + 8));
  ASSERT_TRUE(d->unload("side_test_netcfg"));
  EXPECT_TRUE(d->faults().empty()) << d.log();
}

// ethtool -r reaches the driver's nway_reset under rtnl, inside its begin/complete bracket; a device without the
// operation refuses it, as does one that is not there.
TEST(KapiNetcfg, AutonegotiationRestartReachesTheDriver) {
  NetcfgFixture f;
  ASSERT_TRUE(f.setup()) << f.d.log();
  auto& d = f.d;

  ASSERT_TRUE(d->call<side::ipc::NwayReset>({f.cfg0})) << d.log();
  EXPECT_TRUE(d.logged("side_test_netcfg: cfg0 nway_reset rtnl 1")) << d.log();
  EXPECT_EQ(d.count("cfg0 ethtool begin"), 1u);
  EXPECT_EQ(d.count("cfg0 ethtool complete"), 1u);
  EXPECT_TRUE(failed_with(d->call<side::ipc::NwayReset>({f.cfg1}), -EOPNOTSUPP));
  EXPECT_TRUE(failed_with(d->call<side::ipc::NwayReset>({f.cfg1 + 8}), -ENODEV));
  ASSERT_TRUE(d->unload("side_test_netcfg"));
  EXPECT_TRUE(d->faults().empty()) << d.log();
}

// Debian's e1000 on the emulated 82540EM: an MTU change while running resets the device (e1000_down/e1000_up on
// vCPU 0), the MAC and receive filters land in the device's registers, and ethtool answers as on real hardware.
TEST(KapiNetcfg, E1000ConfigurationAndEthtool) {
  CfgDomain d(SIDE_TEST_MODULE_CACHE);
  side::supervisor::Machine machine(*d);
  ChangeRecorder rec;
  machine.set_listener(&rec);
  d->connect(&machine);
  auto m = d->load({"e1000", "", true});
  ASSERT_TRUE(m) << m.error().message << d.log();
  auto dev = machine.add_device(*side::devices::find_device_model("e1000"));
  ASSERT_TRUE(dev) << dev.error().message;
  auto pdev = d->probe(*dev);
  ASSERT_TRUE(pdev) << pdev.error().message << d.log();
  auto nd = machine.netdev_of_device(*dev);
  ASSERT_TRUE(nd);
  const uint64_t token = nd->info.token;
  auto& nic = machine.device(*dev);
  auto reg = [&](uint32_t off) { return static_cast<uint32_t>(nic.bar_read(0, off, 4)); };
  using namespace side::e1000;

  ASSERT_TRUE(d->open(token)) << d.log();
  ASSERT_TRUE(machine.wait_for_carrier(*dev, 5000)) << d.log();

  auto e = d->ethtool(token);
  ASSERT_TRUE(e) << e.error().message << d.log();
  EXPECT_STREQ(e->driver, "e1000");
  const auto& pci = machine.info(*dev);
  char bus[32];
  std::snprintf(bus, sizeof bus, "0000:%02x:%02x.%x", pci.bus, pci.devfn >> 3, pci.devfn & 7);
  EXPECT_STREQ(e->bus_info, bus);
  EXPECT_STREQ(e->version, SIDE_TEST_KERNEL_RELEASE);
  EXPECT_EQ(e->link, 1u);
  EXPECT_EQ(e->speed, 1000u);
  EXPECT_EQ(e->duplex, 1u);
  EXPECT_EQ(e->autoneg, 1u);
  EXPECT_EQ(e->rx_pending, 256u);
  EXPECT_EQ(e->tx_pending, 256u);
  EXPECT_EQ(e->rx_max_pending, 4096u);
  EXPECT_EQ(e->tx_max_pending, 4096u);

  // Jumbo frames while running: the driver takes the device down and up again and enables long packets.
  EXPECT_FALSE(reg(RCTL) & RCTL_LPE);
  EXPECT_TRUE(failed_with(d->set_mtu(token, 16111), -EINVAL));  // above e1000's max_mtu
  ASSERT_TRUE(d->set_mtu(token, 9000)) << d.log();
  EXPECT_EQ(machine.netdev_of_device(*dev)->info.mtu, 9000u);
  EXPECT_TRUE(reg(RCTL) & RCTL_LPE);
  ASSERT_TRUE(machine.wait_for_carrier(*dev, 5000)) << d.log();
  auto changes = rec.changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].mtu, 9000u);

  // A new address goes into receive address register 0.
  const Mac mac = {0x02, 0x12, 0x34, 0x56, 0x78, 0x9a};
  ASSERT_TRUE(d->set_mac(token, mac)) << d.log();
  EXPECT_EQ(reg(RAL0), 0x56341202u);
  EXPECT_EQ(reg(RAH0), RAH_AV | 0x9a78u);
  changes = rec.changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(mac_of(changes[1]), mac);
  EXPECT_EQ(changes[1].mtu, 9000u);

  // Promiscuous with one multicast address: unicast and multicast promiscuous bits, the address in RAR[1].
  ASSERT_TRUE(d->set_rx_mode(token, SIDE_RX_PROMISC, {{0x01, 0x00, 0x5e, 0x7f, 0x00, 0x05}})) << d.log();
  EXPECT_EQ(reg(RCTL) & (RCTL_UPE | RCTL_MPE), RCTL_UPE | RCTL_MPE);
  EXPECT_EQ(reg(RAL0 + 8), 0x7f5e0001u);
  EXPECT_EQ(reg(RAH0 + 8), RAH_AV | 0x0500u);
  // All-multicast only: multicast promiscuous stays, unicast promiscuous goes.
  ASSERT_TRUE(d->set_rx_mode(token, SIDE_RX_ALLMULTI, {}));
  EXPECT_EQ(reg(RCTL) & (RCTL_UPE | RCTL_MPE), RCTL_MPE);
  EXPECT_FALSE(reg(RAH0 + 8) & RAH_AV);
  ASSERT_TRUE(d->set_rx_mode(token, 0, {}));
  EXPECT_EQ(reg(RCTL) & (RCTL_UPE | RCTL_MPE), 0u);

  // ethtool -r while running: e1000_nway_reset reinitialises the device (down, up). Its receiver, switched off
  // here behind the driver's back, is programmed again, and the link comes back.
  nic.bar_write(0, RCTL, 4, 0);
  ASSERT_TRUE(d->call<side::ipc::NwayReset>({token})) << d.log();
  EXPECT_TRUE(reg(RCTL) & RCTL_EN);
  ASSERT_TRUE(machine.wait_for_carrier(*dev, 5000)) << d.log();

  // Back to the standard MTU, closed this time (e1000_reset instead of down/up).
  ASSERT_TRUE(d->close(token));
  ASSERT_TRUE(d->set_mtu(token, 1500)) << d.log();
  EXPECT_EQ(rec.changes().size(), 3u);
  e = d->ethtool(token);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->link, 0u);

  ASSERT_TRUE(d->remove(*pdev)) << d.log();
  ASSERT_TRUE(d->unload("e1000")) << d.log();
  EXPECT_TRUE(d->faults().empty()) << d.log();
}

}  // namespace
