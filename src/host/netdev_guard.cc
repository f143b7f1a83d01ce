#include "host/netdev_guard.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace side::host {
namespace {

std::string mac_text(const uint8_t mac[6]) {
  char s[18];
  std::snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return s;
}

}  // namespace

Status NetdevGuard::valid_mac(const uint8_t mac[6]) {
  // Bit 0 of the first octet is the group bit (IEEE 802): a multicast or broadcast address is no station's.
  if (mac[0] & 1) return make_error("the driver set a multicast MAC address (" + mac_text(mac) + ")");
  if (std::all_of(mac, mac + 6, [](uint8_t b) { return b == 0; })) {
    return make_error("the driver set the all-zero MAC address");
  }
  return {};
}

Status NetdevGuard::valid_mtu(uint32_t mtu) const {
  if (mtu >= min_mtu_ && mtu <= max_mtu_) return {};
  return make_error("the driver set MTU " + std::to_string(mtu) + ", outside " + std::to_string(min_mtu_) + ".." +
                    std::to_string(max_mtu_));
}

Status NetdevGuard::take_change(const char* what, uint64_t now_ns) {
  if (changes_.take(now_ns)) return {};
  return make_error(std::string("the driver changes its interface too often (") + what + "; at most " +
                    std::to_string(static_cast<int>(kChangesBurst)) + " changes, then " +
                    std::to_string(static_cast<int>(kChangesPerSecond)) + " a second)");
}

Status NetdevGuard::registered(const side_netdev_info& info) {
  min_mtu_ = std::max(info.min_mtu, kTapMinMtu);
  max_mtu_ = info.max_mtu == 0 ? kRingMaxMtu : std::min({info.max_mtu, kRingMaxMtu, kTapMaxMtu});
  if (min_mtu_ > max_mtu_) {
    return make_error("the driver announced MTUs " + std::to_string(info.min_mtu) + ".." +
                      std::to_string(info.max_mtu) + ", none of which the host interface can carry");
  }
  if (auto s = valid_mac(info.mac); !s) return s;
  if (auto s = valid_mtu(info.mtu); !s) return s;
  mtu_ = info.mtu;
  std::memcpy(mac_.data(), info.mac, 6);
  return {};
}

Status NetdevGuard::changed(const side_netdev_info& info, uint64_t now_ns) {
  const bool new_mac = std::memcmp(mac_.data(), info.mac, 6) != 0;
  if (!new_mac && info.mtu == mtu_) return {};
  if (new_mac) {
    if (auto s = valid_mac(info.mac); !s) return s;
  }
  if (auto s = valid_mtu(info.mtu); !s) return s;
  if (auto s = take_change(new_mac ? "MAC address" : "MTU", now_ns); !s) return s;
  mtu_ = info.mtu;
  std::memcpy(mac_.data(), info.mac, 6);
  return {};
}

Status NetdevGuard::carrier(bool on, uint64_t now_ns) {
  if (on == carrier_) return {};
  if (auto s = take_change("carrier", now_ns); !s) return s;
  carrier_ = on;
  return {};
}

}  // namespace side::host
