// What a driver may change on the host interface that mirrors its net_device (side0). The driver is hostile: it
// must not give the host a multicast or all-zero MAC address, an MTU outside the range it announced at
// registration (clamped to what the TAP and the data rings carry), nor flap the interface's carrier, address or
// MTU faster than any real NIC does. Each check answers with the reason of a refusal, which the caller reports as a
// fault of the driver; nothing refused reaches the host.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/token_bucket.h"
#include "ipc/protocol.h"
#include "kapi/side_host.h"

namespace side::host {

class NetdevGuard {
 public:
  // A TAP takes MTUs from ETH_MIN_MTU to 65535 less its Ethernet header (drivers/net/tun.c); the data rings carry
  // frames up to SIDE_MAX_FRAME, an Ethernet header and a VLAN tag included.
  static constexpr uint32_t kTapMinMtu = 68, kTapMaxMtu = 65535 - 14;
  static constexpr uint32_t kRingMaxMtu = SIDE_MAX_FRAME - 14 - 4;
  // Changes (carrier, address, MTU): a burst that covers a driver reconfiguring itself (an MTU change takes the
  // link down and up again), then a few a second.
  static constexpr double kChangesBurst = 16, kChangesPerSecond = 2;

  static Status valid_mac(const uint8_t mac[6]);

  // The registration: the MTU range the driver announced (max 0: no maximum of its own), and its first address
  // and MTU. Refused when the range leaves nothing the host can carry, or the address or MTU is refused.
  Status registered(const side_netdev_info& info);
  // A new address or MTU (`now_ns`: a monotonic clock). Nothing changed is not a change.
  Status changed(const side_netdev_info& info, uint64_t now_ns);
  // Carrier on or off; the same state again is not a change.
  Status carrier(bool on, uint64_t now_ns);

  uint32_t min_mtu() const { return min_mtu_; }
  uint32_t max_mtu() const { return max_mtu_; }

 private:
  Status valid_mtu(uint32_t mtu) const;
  Status take_change(const char* what, uint64_t now_ns);

  uint32_t min_mtu_ = kTapMinMtu, max_mtu_ = kRingMaxMtu;
  uint32_t mtu_ = 0;
  std::array<uint8_t, 6> mac_{};
  bool carrier_ = false;
  TokenBucket changes_{kChangesPerSecond, kChangesBurst};
};

}  // namespace side::host
