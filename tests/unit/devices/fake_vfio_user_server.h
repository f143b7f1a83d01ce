// An in-test vfio-user server on one end of a socket pair: a small PCI function (config space, one 4 KiB memory
// BAR of plain registers, one INTx) written from the protocol text, independently of side's codec, so a mistake
// in one is not mirrored by the other. Tests make it misbehave on purpose (silence, a short write then close, a
// wrong message id, a wrong reply size, descriptors in a reply). with_msix() gives the function an MSI-X capability
// (its table in BAR0 at 0x800) and an MSI capability, offered as QEMU's server offers them: MSI-X vectors, no MSI
// vectors, and one eventfd slot per vector shared by every interrupt type (libvfio-user's efds array).
#pragma once

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace side::vfio_user::testing {

enum class Misbehave { kNone, kSilent, kCloseMidMessage, kWrongId, kWrongSize, kSendFd, kWrongCommand };

class FakeServer {
 public:
  // Returns the client's end; the server runs on a thread until the client closes or stop().
  // Before start(): an MSI-X table of `vectors` entries and a 64-bit, single-vector MSI capability.
  void with_msix(uint32_t vectors) { msix_vectors_ = vectors; }
  static constexpr uint32_t kMsixCap = 0x40, kMsiCap = 0x50, kMsixTable = 0x800;

  int start() {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    fd_ = sv[1];
    config_.fill(0);
    put(config_.data(), 0, 2, 0x1234);      // vendor
    put(config_.data(), 2, 2, 0x5678);      // device
    put(config_.data(), 8, 4, 0x02000001);  // revision 1, class 0x020000
    put(config_.data(), 0x2c, 4, 0x00011af4);
    put(config_.data(), 0x3d, 1, 1);  // INTA#
    if (msix_vectors_) {
      put(config_.data(), 0x06, 2, 0x10);  // capability list
      put(config_.data(), 0x34, 1, kMsixCap);
      put(config_.data(), kMsixCap, 4, 0x11 | kMsiCap << 8 | (msix_vectors_ - 1) << 16);
      put(config_.data(), kMsixCap + 4, 4, kMsixTable);     // BIR 0
      put(config_.data(), kMsiCap, 4, 0x05 | 0x80u << 16);  // last; 64-bit, 1 vector
    }
    thread_ = std::thread([this] { serve(); });
    return sv[0];
  }
  ~FakeServer() { stop(); }
  void stop() {
    if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    if (dma_ != MAP_FAILED) munmap(dma_, dma_size_);
    dma_ = MAP_FAILED;
    for (int& f : efds_) {
      if (f >= 0) close(f);
      f = -1;
    }
  }

  // From the next command on (commands numbered from 0), misbehave in this way.
  void misbehave(Misbehave how, int from_command = 0) {
    std::lock_guard lock(mu_);
    how_ = how;
    from_ = from_command;
  }
  // Asserts INTx as QEMU does: Status.Interrupt set in config space, then the eventfd the client registered in slot
  // 0 signalled (a rising edge); false if none was registered. `level` false signals an edge whose line has already
  // fallen again (Status.Interrupt clear): what a client reads after the driver cleared the cause.
  // Asserts INTx (Status.Interrupt) without signalling the rising edge: a server that lost one.
  void assert_intx_without_edge() {
    std::lock_guard lock(mu_);
    config_[6] = static_cast<uint8_t>(config_[6] | 0x08);
  }
  bool raise_intx(bool level = true) {
    {
      std::lock_guard lock(mu_);
      config_[6] = static_cast<uint8_t>(level ? config_[6] | 0x08 : config_[6] & ~0x08);
    }
    return raise(0);
  }
  // Signals eventfd slot `slot` (INTx and MSI/MSI-X vector 0 share slot 0); false if the client set none there.
  bool raise(uint32_t slot) {
    std::lock_guard lock(mu_);
    if (slot >= efds_.size() || efds_[slot] < 0) return false;
    uint64_t one = 1;
    return write(efds_[slot], &one, sizeof one) == sizeof one;
  }
  std::atomic<int> set_irqs_messages{0};
  // Deasserts INTx: Status.Interrupt clear (a server signals nothing when a line falls).
  void lower_intx() {
    std::lock_guard lock(mu_);
    config_[6] = static_cast<uint8_t>(config_[6] & ~0x08);
  }
  // Device DMA: writes into the memory the client mapped, at bus address `iova`; false outside the mapping.
  bool dma_write(uint64_t iova, uint8_t value) {
    std::lock_guard lock(mu_);
    if (dma_ == MAP_FAILED || iova < dma_iova_ || iova - dma_iova_ >= dma_size_) return false;
    static_cast<uint8_t*>(dma_)[iova - dma_iova_] = value;
    return true;
  }

  std::atomic<int> commands{0}, bar_accesses{0}, resets{0}, unmaps{0}, posted{0};
  // BAR 0 accesses in the order they came: "r OFFSET/COUNT" or "w OFFSET/COUNT=VALUE" (hex), taken and cleared.
  std::vector<std::string> take_bar_log() {
    std::lock_guard lock(mu_);
    return std::exchange(bar_log_, {});
  }
  std::atomic<uint32_t> last_command_word{0};
  std::array<uint32_t, 1024> bar0{};  // the BAR's registers, by offset / 4

 private:
  void log_bar_access(bool write, uint64_t off, uint32_t count, const std::vector<uint8_t>& body) {
    char line[64];
    if (write && count <= 8 && body.size() >= 16 + count) {
      std::snprintf(line, sizeof line, "w %llx/%u=%llx", static_cast<unsigned long long>(off), count,
                    static_cast<unsigned long long>(get(body.data(), 16, static_cast<int>(count))));
    } else {
      std::snprintf(line, sizeof line, "%c %llx/%u", write ? 'w' : 'r', static_cast<unsigned long long>(off), count);
    }
    std::lock_guard lock(mu_);
    bar_log_.push_back(line);
  }
  static void put(uint8_t* p, size_t off, int n, uint64_t v) {
    for (int i = 0; i < n; ++i) p[off + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  static uint64_t get(const uint8_t* p, size_t off, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t{p[off + i]} << (8 * i);
    return v;
  }
  bool read_full(uint8_t* p, size_t n, std::vector<int>* fds_out) {
    size_t got = 0;
    while (got < n) {
      iovec iov{p + got, n - got};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_control = control;
      m.msg_controllen = sizeof control;
      ssize_t r = recvmsg(fd_, &m, MSG_CMSG_CLOEXEC);
      if (r <= 0) return false;
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_type != SCM_RIGHTS) continue;
        const size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd; ++i) {
          int f;
          std::memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
          if (fds_out)
            fds_out->push_back(f);
          else
            close(f);
        }
      }
      got += static_cast<size_t>(r);
    }
    return true;
  }
  void reply(uint16_t id, uint16_t cmd, const std::vector<uint8_t>& body, uint32_t flags = 1, uint32_t err = 0,
             int pass_fd = -1) {
    std::vector<uint8_t> m(16 + body.size());
    put(m.data(), 0, 2, id);
    put(m.data(), 2, 2, cmd);
    put(m.data(), 4, 4, m.size());
    put(m.data(), 8, 4, flags);
    put(m.data(), 12, 4, err);
    if (!body.empty()) std::memcpy(m.data() + 16, body.data(), body.size());
    iovec iov{m.data(), m.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (pass_fd >= 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    (void)!sendmsg(fd_, &msg, MSG_NOSIGNAL);
  }
  static std::vector<uint8_t> words(std::initializer_list<std::pair<int, uint64_t>> fields) {
    std::vector<uint8_t> out;
    for (auto [n, v] : fields) {
      size_t at = out.size();
      out.resize(at + n);
      put(out.data(), at, n, v);
    }
    return out;
  }
  std::vector<uint8_t> region_info(uint32_t index) {
    uint64_t size = index == 0 ? 4096 : index == 7 ? 256 : 0;
    return words({{4, 32}, {4, size ? 3 : 0}, {4, index}, {4, 0}, {8, size}, {8, 0}});
  }
  // Handles one command; returns the body of its reply (or nothing for posted / special cases).
  // SET_IRQS: eventfds into the shared slots from `start`, or (data none, count 0) every slot closed.
  void set_irqs(const std::vector<uint8_t>& body, std::vector<int>& fds) {
    std::lock_guard lock(mu_);
    ++set_irqs_messages;
    const uint32_t irq_flags = static_cast<uint32_t>(get(body.data(), 4, 4));
    const uint32_t start = static_cast<uint32_t>(get(body.data(), 12, 4));
    if ((irq_flags & 4) == 0) {
      for (int& f : efds_) {
        if (f >= 0) close(f);
        f = -1;
      }
      return;
    }
    for (size_t i = 0; i < fds.size() && start + i < efds_.size(); ++i) {
      if (efds_[start + i] >= 0) close(efds_[start + i]);
      efds_[start + i] = fds[i];
      fds[i] = -1;
    }
  }
  void handle(uint16_t id, uint16_t cmd, uint32_t flags, const std::vector<uint8_t>& body, std::vector<int>& fds) {
    int fd = fds.empty() ? -1 : fds[0];
    const bool no_reply = flags & 0x10;
    std::vector<uint8_t> out;
    switch (cmd) {
      case 1: {
        std::string caps = "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576}}";
        out = words({{2, 0}, {2, 1}});
        out.insert(out.end(), caps.begin(), caps.end());
        out.push_back(0);
        break;
      }
      case 4:
        out = words({{4, 16}, {4, 3}, {4, 9}, {4, 5}});
        break;
      case 5:
        out = region_info(static_cast<uint32_t>(get(body.data(), 8, 4)));
        break;
      case 7: {
        uint32_t index = static_cast<uint32_t>(get(body.data(), 8, 4));
        out = words({{4, 16}, {4, 1}, {4, index}, {4, index == 0 ? 1u : index == 2 ? msix_vectors_ : 0u}});
        break;
      }
      case 8:
        set_irqs(body, fds);
        fd = -1;
        break;
      case 2: {
        std::lock_guard lock(mu_);
        dma_iova_ = get(body.data(), 16, 8);
        dma_size_ = get(body.data(), 24, 8);
        dma_ = mmap(nullptr, dma_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        break;
      }
      case 3:
        ++unmaps;
        out = body;
        break;
      case 13:
        ++resets;
        break;
      case 9:
      case 10: {
        const uint64_t off = get(body.data(), 0, 8);
        const uint32_t region = static_cast<uint32_t>(get(body.data(), 8, 4));
        const uint32_t count = static_cast<uint32_t>(get(body.data(), 12, 4));
        if (region == 0) ++bar_accesses;
        if (no_reply) ++posted;
        if (region == 0) log_bar_access(cmd == 10, off, count, body);
        uint8_t* mem = region == 7 ? config_.data() : reinterpret_cast<uint8_t*>(bar0.data());
        const size_t size = region == 7 ? 256 : 4096;
        if (off + count > size) {
          if (!no_reply) reply(id, cmd, {}, 1 | 0x20, 22);
          return;
        }
        out = words({{8, off}, {4, region}, {4, count}});
        if (cmd == 9) {
          out.insert(out.end(), mem + off, mem + off + count);
        } else {
          std::memcpy(mem + off, body.data() + 16, count);
          if (region == 7 && off <= 4 && off + count > 4) last_command_word = static_cast<uint32_t>(get(mem, 4, 2));
        }
        break;
      }
      default:
        if (!no_reply) reply(id, cmd, {}, 1 | 0x20, 95);
        return;
    }
    for (int f : fds) {
      if (f >= 0) close(f);
    }
    if (!no_reply) reply(id, cmd, out);
  }
  void serve() {
    for (;;) {
      uint8_t h[16];
      std::vector<int> fds;
      if (!read_full(h, 16, &fds)) return;
      const uint16_t id = static_cast<uint16_t>(get(h, 0, 2)), cmd = static_cast<uint16_t>(get(h, 2, 2));
      const uint32_t size = static_cast<uint32_t>(get(h, 4, 4)), flags = static_cast<uint32_t>(get(h, 8, 4));
      std::vector<uint8_t> body(size - 16);
      if (!body.empty() && !read_full(body.data(), body.size(), fds.empty() ? &fds : nullptr)) return;
      const int n = commands++;
      Misbehave how;
      {
        std::lock_guard lock(mu_);
        how = n >= from_ ? how_ : Misbehave::kNone;
      }
      if (how == Misbehave::kNone || (flags & 0x10)) {
        handle(id, cmd, flags, body, fds);
        continue;
      }
      for (int f : fds) close(f);
      switch (how) {
        case Misbehave::kSilent:
          break;
        case Misbehave::kCloseMidMessage: {
          uint8_t half[8] = {static_cast<uint8_t>(id), 0, static_cast<uint8_t>(cmd), 0, 64, 0, 0, 0};
          (void)!write(fd_, half, sizeof half);
          shutdown(fd_, SHUT_RDWR);
          return;
        }
        case Misbehave::kWrongId:
          reply(static_cast<uint16_t>(id + 1), cmd, {});
          break;
        case Misbehave::kWrongCommand:
          reply(id, static_cast<uint16_t>(cmd == 9 ? 10 : 9), {});
          break;
        case Misbehave::kWrongSize:
          reply(id, cmd, std::vector<uint8_t>(3));
          break;
        case Misbehave::kSendFd:
          reply(id, cmd, {}, 1, 0, 0);
          break;
        case Misbehave::kNone:
          break;
      }
    }
  }

  int fd_ = -1;
  std::thread thread_;
  std::vector<std::string> bar_log_;
  std::mutex mu_;
  Misbehave how_ = Misbehave::kNone;
  int from_ = 0;
  std::array<uint8_t, 256> config_{};
  uint32_t msix_vectors_ = 0;
  std::array<int, 32> efds_ = [] {
    std::array<int, 32> a;
    a.fill(-1);
    return a;
  }();
  void* dma_ = MAP_FAILED;
  uint64_t dma_iova_ = 0, dma_size_ = 0;
};

}  // namespace side::vfio_user::testing
