#include "net/tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <net/if_arp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

namespace side::net {
namespace {

std::string err(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Opens the TAP and its control socket in the current namespace of the calling thread.
Status open_here(const std::string& name, bool vnet_hdr, int* fd, int* ctl) {
  *fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (*fd < 0) return make_error(err("open /dev/net/tun"));
  ifreq ifr{};
  ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0));
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(*fd, TUNSETIFF, &ifr) != 0) return make_error(err("TUNSETIFF " + name));
  // The plain header (struct virtio_net_hdr, 10 bytes): side needs no merged-buffer count.
  int hdr_size = static_cast<int>(sizeof(VnetHeader));
  if (vnet_hdr && ioctl(*fd, TUNSETVNETHDRSZ, &hdr_size) != 0) return make_error(err("TUNSETVNETHDRSZ " + name));
  *ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (*ctl < 0) return make_error(err("socket"));
  return {};
}

}  // namespace

Result<Tap> Tap::create(const std::string& name, const std::string& netns, bool vnet_hdr) {
  if (name.empty() || name.size() >= IFNAMSIZ) return make_error("interface name must be 1-15 characters: " + name);
  Tap t;
  t.name_ = name;
  t.vnet_hdr_ = vnet_hdr;
  Status s;
  if (netns.empty()) {
    s = open_here(name, vnet_hdr, &t.fd_, &t.ctl_);
  } else {
    // A thread of its own enters the namespace, so that nothing else of side changes namespace.
    std::thread([&] {
      int ns = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0) {
        s = make_error(err("network namespace " + netns));
        return;
      }
      if (unshare(CLONE_FS) != 0 || setns(ns, CLONE_NEWNET) != 0) {
        s = make_error(err("setns " + netns));
        close(ns);
        return;
      }
      close(ns);
      s = open_here(name, vnet_hdr, &t.fd_, &t.ctl_);
    }).join();
  }
  if (!s) return s.error();
  return t;
}

Tap::Tap(Tap&& o) noexcept : fd_(o.fd_), ctl_(o.ctl_), name_(std::move(o.name_)), vnet_hdr_(o.vnet_hdr_) {
  o.fd_ = o.ctl_ = -1;
}

Tap& Tap::operator=(Tap&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    if (ctl_ >= 0) close(ctl_);
    fd_ = o.fd_;
    ctl_ = o.ctl_;
    name_ = std::move(o.name_);
    vnet_hdr_ = o.vnet_hdr_;
    o.fd_ = o.ctl_ = -1;
  }
  return *this;
}

Tap::~Tap() {
  if (fd_ >= 0) close(fd_);
  if (ctl_ >= 0) close(ctl_);
}

Status Tap::ifreq_call(unsigned long request, void* ifr, const char* what) const {
  std::strncpy(static_cast<ifreq*>(ifr)->ifr_name, name_.c_str(), IFNAMSIZ - 1);
  if (ioctl(ctl_, request, ifr) != 0) return make_error(err(std::string(what) + " " + name_));
  return {};
}

Status Tap::set_mac(const std::array<uint8_t, 6>& mac) {
  ifreq ifr{};
  ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  std::memcpy(ifr.ifr_hwaddr.sa_data, mac.data(), 6);
  return ifreq_call(SIOCSIFHWADDR, &ifr, "set MAC address of");
}

Status Tap::set_mtu(uint32_t mtu) {
  ifreq ifr{};
  ifr.ifr_mtu = static_cast<int>(mtu);
  return ifreq_call(SIOCSIFMTU, &ifr, "set MTU of");
}

Result<uint32_t> Tap::mtu() const {
  ifreq ifr{};
  SIDE_TRY(ifreq_call(SIOCGIFMTU, &ifr, "get MTU of"));
  return static_cast<uint32_t>(ifr.ifr_mtu);
}

Result<std::array<uint8_t, 6>> Tap::mac() const {
  ifreq ifr{};
  SIDE_TRY(ifreq_call(SIOCGIFHWADDR, &ifr, "get MAC address of"));
  std::array<uint8_t, 6> m;
  std::memcpy(m.data(), ifr.ifr_hwaddr.sa_data, 6);
  return m;
}

Result<uint32_t> Tap::flags() const {
  ifreq ifr{};
  SIDE_TRY(ifreq_call(SIOCGIFFLAGS, &ifr, "get flags of"));
  return static_cast<uint32_t>(static_cast<uint16_t>(ifr.ifr_flags));
}

std::vector<std::array<uint8_t, 6>> Tap::multicast() const {
  std::vector<std::array<uint8_t, 6>> out;
  FILE* f = std::fopen("/proc/net/dev_mcast", "re");
  if (!f) return out;
  char line[256];
  while (std::fgets(line, sizeof line, f)) {
    int index, users, global;
    char name[IFNAMSIZ + 1], hex[64];
    if (std::sscanf(line, "%d %16s %d %d %63s", &index, name, &users, &global, hex) != 5) continue;
    if (name_ != name || std::strlen(hex) != 12) continue;
    std::array<uint8_t, 6> a;
    for (int i = 0; i < 6; ++i) a[i] = static_cast<uint8_t>(std::stoul(std::string(hex + 2 * i, 2), nullptr, 16));
    out.push_back(a);
  }
  std::fclose(f);
  return out;
}

Status Tap::set_up(bool up) {
  ifreq ifr{};
  SIDE_TRY(ifreq_call(SIOCGIFFLAGS, &ifr, "get flags of"));
  if (up)
    ifr.ifr_flags |= IFF_UP;
  else
    ifr.ifr_flags &= ~IFF_UP;
  return ifreq_call(SIOCSIFFLAGS, &ifr, "set flags of");
}

Status Tap::set_carrier(bool on) {
  int value = on ? 1 : 0;
  if (ioctl(fd_, TUNSETCARRIER, &value) != 0) return make_error(err("TUNSETCARRIER " + name_));
  return {};
}

Status Tap::set_offload(unsigned tun_flags) {
  if (!vnet_hdr_) return make_error("TUNSETOFFLOAD " + name_ + ": the TAP has no virtio-net header");
  if (ioctl(fd_, TUNSETOFFLOAD, static_cast<unsigned long>(tun_flags)) != 0) {
    return make_error(err("TUNSETOFFLOAD " + name_));
  }
  return {};
}

Result<size_t> Tap::read(std::span<uint8_t> frame) {
  ssize_t n = ::read(fd_, frame.data(), frame.size());
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return size_t{0};
    return make_error(err("read " + name_));
  }
  return static_cast<size_t>(n);
}

Status Tap::write(std::span<const uint8_t> frame) {
  ssize_t n = ::write(fd_, frame.data(), frame.size());
  if (n < 0) {
    // A TAP whose interface is down, or whose queue is full, drops the frame as a wire would.
    if (errno == EIO || errno == EAGAIN || errno == ENOBUFS) return {};
    return make_error(err("write " + name_));
  }
  return {};
}

Status Tap::write(std::span<const uint8_t> head, std::span<const uint8_t> frame) {
  iovec iov[2] = {{const_cast<uint8_t*>(head.data()), head.size()}, {const_cast<uint8_t*>(frame.data()), frame.size()}};
  if (::writev(fd_, iov, 2) < 0) {
    if (errno == EIO || errno == EAGAIN || errno == ENOBUFS) return {};  // dropped, as write() says
    return make_error(err("write " + name_));
  }
  return {};
}

}  // namespace side::net
