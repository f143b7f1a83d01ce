// A TAP interface: an ordinary Linux network interface whose frames a user-space program reads and writes. side
// uses one as the host side of each network device a driver registers (so ping, iperf3 and every other program
// use the isolated driver), and optionally one as the wire of an emulated NIC, in another network namespace.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace side::net {

class Tap {
 public:
  // Creates (or attaches to) TAP `name` in the current network namespace, or in the named one (`ip netns`).
  static Result<Tap> create(const std::string& name, const std::string& netns = "");
  Tap(Tap&& o) noexcept;
  Tap& operator=(Tap&& o) noexcept;
  Tap(const Tap&) = delete;
  ~Tap();

  const std::string& name() const { return name_; }
  int fd() const { return fd_; }

  Status set_mac(const std::array<uint8_t, 6>& mac);
  Status set_mtu(uint32_t mtu);
  Status set_up(bool up);
  // The interface's carrier (operstate), as netif_carrier_on/off set it for a real NIC.
  Status set_carrier(bool on);
  Result<uint32_t> mtu() const;
  Result<std::array<uint8_t, 6>> mac() const;
  // IFF_* flags of the interface (IFF_UP, IFF_PROMISC, IFF_ALLMULTI, ...).
  Result<uint32_t> flags() const;
  // The multicast addresses the host's stack joined on this interface (/proc/net/dev_mcast).
  std::vector<std::array<uint8_t, 6>> multicast() const;

  // One frame per call (non-blocking): its length, 0 if none is waiting, or an error.
  Result<size_t> read(std::span<uint8_t> frame);
  Status write(std::span<const uint8_t> frame);

 private:
  Tap() = default;
  Status ifreq_call(unsigned long request, void* ifr, const char* what) const;
  int fd_ = -1;
  int ctl_ = -1;  // a socket in the TAP's namespace, for interface ioctls
  std::string name_;
};

}  // namespace side::net
