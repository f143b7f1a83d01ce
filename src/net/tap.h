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

// struct virtio_net_hdr (include/uapi/linux/virtio_net.h, whose C++ users cannot include it: it has a member named
// `class`), in host byte order as a TAP on a little-endian host uses it: what a TAP with IFF_VNET_HDR puts before
// every frame.
struct VnetHeader {
  uint8_t flags;     // kVnetNeedsCsum, kVnetDataValid
  uint8_t gso_type;  // kVnetGso*
  uint16_t hdr_len, gso_size, csum_start, csum_offset;
};
static_assert(sizeof(VnetHeader) == 10);
inline constexpr uint8_t kVnetNeedsCsum = 1, kVnetDataValid = 2;
inline constexpr uint8_t kVnetGsoNone = 0, kVnetGsoTcpv4 = 1, kVnetGsoUdp = 3, kVnetGsoTcpv6 = 4, kVnetGsoEcn = 0x80;

class Tap {
 public:
  // Creates (or attaches to) TAP `name` in the current network namespace, or in the named one (`ip netns`).
  // `vnet_hdr`: every frame read or written carries a virtio-net header first (IFF_VNET_HDR, struct
  // virtio_net_hdr), through which the host's stack hands over checksum and segmentation offloads (set_offload).
  static Result<Tap> create(const std::string& name, const std::string& netns = "", bool vnet_hdr = false);
  Tap(Tap&& o) noexcept;
  Tap& operator=(Tap&& o) noexcept;
  Tap(const Tap&) = delete;
  ~Tap();

  const std::string& name() const { return name_; }
  bool vnet_hdr() const { return vnet_hdr_; }
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

  // The offloads the host's stack may hand over (TUNSETOFFLOAD: TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6); a TAP with a
  // virtio-net header only.
  Status set_offload(unsigned tun_flags);

  // One frame per call (non-blocking): its length, 0 if none is waiting, or an error. With a virtio-net header,
  // the frame is the header followed by the packet.
  Result<size_t> read(std::span<uint8_t> frame);
  Status write(std::span<const uint8_t> frame);
  // One frame in two pieces (a virtio-net header and the packet), written at once.
  Status write(std::span<const uint8_t> head, std::span<const uint8_t> frame);

 private:
  Tap() = default;
  Status ifreq_call(unsigned long request, void* ifr, const char* what) const;
  int fd_ = -1;
  int ctl_ = -1;  // a socket in the TAP's namespace, for interface ioctls
  std::string name_;
  bool vnet_hdr_ = false;
};

}  // namespace side::net
