// Fuzz target for the kernel-API layer's transmit offloads (src/kapi/net_offload.c): a frame and the
// side_tx_offload the host sends with it, as the kapi tests drive the layer (KapiNet.Offloads*): an in-process
// domain runs the real layer with the loopback test driver (tests/modules/side_test_netdev.c, offloads=1). Its eth0
// has no offload features, so the layer must compute every checksum it accepts and drop every segmentation
// (counting it) unless it is too small to segment; its eth1 inserts checksums and segments TCP (not of VLAN-tagged
// frames), so the layer hands such skbs over, and the driver checks each as a device reads it (the checksum's
// place in the linear data, the TCP header, gso_segs) and logs "bad offload" otherwise. Every frame a driver was
// given comes back through NAPI.
//
// The input: a frame template (IPv4/TCP, IPv6/TCP, IPv4/UDP, VLAN + IPv4/TCP) and the device, the payload's length
// and bytes, the offload (its checksum place the template's or arbitrary, segmentation, segment size), then byte
// patches anywhere in the frame (headers' lengths, versions, protocols, the EtherType). A sentinel frame follows
// each input on the same device, so what the driver got of it is known once the sentinel is back.
//
// Checked: a frame comes back only if its checksum request fit it (after the network header's start, inside the
// frame), and then byte for byte as sent except for the checksum where the layer had to compute it, which is the
// Internet checksum from csum_start to the end (skb_checksum_help: 0 sent as 0xffff); a segmentation comes back
// from eth0 only when too small to segment; only a segmentation the device cannot do is counted in tx_dropped; a
// frame without offloads within the MTU always comes back; the driver never complains; the domain reports no fault.
//
// The layer is kernel code built by kbuild and loaded by side's loader: neither SanitizerCoverage nor ASan reach
// it, so libFuzzer's coverage comes from side's side of the transport only, and an out-of-bounds access in the
// layer shows only when it faults or corrupts a frame. The templates keep the inputs near the layer's checks.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/log.h"
#include "fuzz_input.h"
#include "supervisor/driver_domain.h"
#include "supervisor/machine.h"

namespace {

using namespace side;
using side::fuzz::Input;

void fail(const char* what, int line) {
  std::fprintf(stderr, "net_offload_fuzz.cc:%d: invariant violated: %s\n", line, what);
  std::abort();
}
#define CHECK(ok) ((ok) ? void() : fail(#ok, __LINE__))

// Frames back from the driver, in order.
class Loopback final : public supervisor::NetListener {
 public:
  void rx(uint64_t, std::span<const uint8_t> frame, uint32_t) override {
    {
      std::lock_guard lock(mu_);
      frames_.emplace_back(frame.begin(), frame.end());
    }
    cv_.notify_all();
  }
  // Everything back until (and without) the frame `last`, or nothing if it did not come within a few seconds.
  bool take_until(const std::vector<uint8_t>& last, std::vector<std::vector<uint8_t>>& before) {
    std::unique_lock lock(mu_);
    auto back = [&] { return std::find(frames_.begin(), frames_.end(), last) != frames_.end(); };
    if (!cv_.wait_for(lock, std::chrono::seconds(5), back)) return false;
    auto at = std::find(frames_.begin(), frames_.end(), last);
    before.assign(frames_.begin(), at);
    frames_.clear();
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<uint8_t>> frames_;
};

// One domain with the loopback driver's eth0 (no offloads) and eth1 (checksum and TCP segmentation offload) open,
// for the whole run.
struct Rig {
  std::unique_ptr<supervisor::InProcessDomain> domain;
  supervisor::Machine* machine = nullptr;
  Loopback loopback;
  uint64_t eth0 = 0, eth1 = 0;
  uint64_t sentinels = 0;
};

// The driver's complaints about an skb it could not honour (side_test_netdev's "bad offload").
std::atomic<uint64_t> bad_offloads{0};

Rig* start_rig() {
  // The driver logs every transmission: only its complaints are kept.
  set_log_sink([](LogLevel, std::string_view line) {
    if (line.find("side_test_netdev: bad offload") != std::string_view::npos) ++bad_offloads;
  });
  auto* r = new Rig;
  domain::DomainConfig config;
  config.kapi_path = SIDE_TEST_KAPI;
  config.symvers_path = SIDE_TEST_SYMVERS;
  config.modules_dir = SIDE_TEST_MODULES_DIR;
  config.virtual_time = false;
  auto d = supervisor::InProcessDomain::create(config);
  CHECK(bool(d));
  r->domain = std::move(*d);
  r->machine = new supervisor::Machine(*r->domain);
  r->machine->set_listener(&r->loopback);
  r->domain->connect(r->machine);
  CHECK(bool(r->domain->load({std::string(SIDE_TEST_MODULES_DIR) + "/side_test_netdev.ko", "offloads=1"})));
  for (const auto& n : r->machine->netdevs()) {
    if (std::string(n.info.name) == "eth0") r->eth0 = n.info.token;
    if (std::string(n.info.name) == "eth1") r->eth1 = n.info.token;
  }
  CHECK(r->eth0 != 0 && r->eth1 != 0);
  CHECK(bool(r->domain->open(r->eth0)));
  CHECK(bool(r->domain->open(r->eth1)));
  return r;
}

Rig& rig() {
  static Rig* r = start_rig();
  // The driver's threads stop before the process's statics go (libFuzzer and the replay driver both exit).
  static const int stop_at_exit = std::atexit([] { r->domain->shutdown(); });
  (void)stop_at_exit;
  return *r;
}

// The test driver copies a frame into one page on its paged receive path: no frame of ours is longer. Without
// segmentation the layer takes up to the MTU (1500) with an Ethernet header and a VLAN tag.
constexpr size_t kMaxFrame = 4096, kMaxPlainFrame = 1500 + 14 + 4;
constexpr uint8_t kEthernet[12] = {2, 0, 0, 0, 0, 3, 2, 0, 0, 0, 0, 9};

struct Template {
  std::vector<uint8_t> frame;
  uint16_t l4_start = 0, l4_check = 0;  // the transport header's offset and its checksum's place in it
};

void put16(std::vector<uint8_t>& f, size_t at, uint16_t v) {
  f[at] = static_cast<uint8_t>(v >> 8);
  f[at + 1] = static_cast<uint8_t>(v);
}

// A frame of the chosen kind with `payload` bytes after its transport header, the lengths in its headers right.
Template make_template(unsigned kind, size_t payload, uint8_t fill) {
  const bool v6 = kind == 1, udp = kind == 2, vlan = kind == 3;
  const size_t eth = vlan ? 18 : 14, ip = v6 ? 40 : 20, l4 = udp ? 8 : 20;
  Template t;
  t.frame.assign(eth + ip + l4 + payload, 0);
  auto& f = t.frame;
  std::memcpy(f.data(), kEthernet, sizeof kEthernet);
  if (vlan) put16(f, 12, 0x8100), put16(f, 14, 7);
  put16(f, eth - 2, v6 ? 0x86dd : 0x0800);
  const uint8_t proto = udp ? 17 : 6;
  if (v6) {
    f[eth] = 0x60;
    put16(f, eth + 4, static_cast<uint16_t>(l4 + payload));
    f[eth + 6] = proto, f[eth + 7] = 64;
    f[eth + 23] = 1, f[eth + 39] = 2;
  } else {
    f[eth] = 0x45;
    put16(f, eth + 2, static_cast<uint16_t>(ip + l4 + payload));
    f[eth + 8] = 64, f[eth + 9] = proto;
    f[eth + 12] = 10, f[eth + 15] = 1, f[eth + 16] = 10, f[eth + 19] = 2;
  }
  t.l4_start = static_cast<uint16_t>(eth + ip);
  if (udp) {
    put16(f, t.l4_start + 4, static_cast<uint16_t>(l4 + payload));
    t.l4_check = 6;
  } else {
    f[t.l4_start + 12] = 0x50;  // data offset: 5 words
    t.l4_check = 16;
  }
  for (size_t i = t.l4_start + l4; i < f.size(); ++i) f[i] = static_cast<uint8_t>(fill + i * 31);
  return t;
}

side_tx_offload offload_from(Input& in, const Template& t) {
  static constexpr uint8_t kGso[] = {SIDE_TX_GSO_NONE, SIDE_TX_GSO_TCPV4, SIDE_TX_GSO_TCPV6};
  side_tx_offload o{};
  const uint8_t how = in.u8();
  o.flags = how & 1 ? SIDE_TX_NEEDS_CSUM : 0;
  o.gso_type = kGso[(how >> 1) % 3];
  if (o.gso_type != SIDE_TX_GSO_NONE) o.flags = SIDE_TX_NEEDS_CSUM;  // the transport refuses it otherwise
  const uint16_t size = in.u16();
  o.gso_size = o.gso_type == SIDE_TX_GSO_NONE ? 0 : std::max<uint16_t>(size, 1);
  o.hdr_len = in.u16();
  if (how & 0x80) {  // an arbitrary checksum place
    o.csum_start = in.u16();
    o.csum_offset = in.u16();
  } else if (o.flags) {
    o.csum_start = t.l4_start;
    o.csum_offset = t.l4_check;
  }
  return o;
}

// What skb_checksum_help() stores: the folded complement of the 16-bit one's complement sum from `start` to the
// end, the field itself included as sent; 0 is sent as 0xffff (CSUM_MANGLED_0).
uint16_t internet_checksum(const std::vector<uint8_t>& f, size_t start) {
  uint64_t sum = 0;
  for (size_t i = start; i < f.size(); i += 2) sum += f[i] << 8 | (i + 1 < f.size() ? f[i + 1] : 0);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const auto folded = static_cast<uint16_t>(~sum);
  return folded ? folded : 0xffff;
}

// A VLAN tag (802.1Q or 802.1ad) after the addresses, as the layer reads the frame.
bool vlan_tagged(const std::vector<uint8_t>& f) {
  const unsigned type = f[12] << 8 | f[13];
  return type == 0x8100 || type == 0x88a8;
}

// The offload fits the frame as the layer must require before it honours one (virtio_net_hdr_to_skb): the checksum
// after the network header's start and inside the frame.
bool checksum_place_fits(const std::vector<uint8_t>& f, const side_tx_offload& o) {
  const size_t network = vlan_tagged(f) ? 18 : 14;
  return o.csum_start >= network && size_t{o.csum_start} + o.csum_offset + 2 <= f.size();
}

// What came back of a frame the driver was given: as sent, but for the checksum the layer computed when the
// device could not (`offloading`: the device inserts it, and the loopback driver leaves it as it was).
void check_returned(const std::vector<uint8_t>& sent, const side_tx_offload& o, bool offloading,
                    const std::vector<uint8_t>& got) {
  CHECK(got.size() == sent.size());
  if (!(o.flags & SIDE_TX_NEEDS_CSUM)) {
    CHECK(got == sent);
    return;
  }
  CHECK(checksum_place_fits(sent, o));
  std::vector<uint8_t> expected = sent;
  if (!offloading) put16(expected, size_t{o.csum_start} + o.csum_offset, internet_checksum(sent, o.csum_start));
  CHECK(got == expected);
  if (o.gso_type == SIDE_TX_GSO_NONE || offloading) return;
  // Sent to a device that cannot segment: only as a plain packet, being too small to segment.
  const size_t l4 = o.csum_start;
  CHECK(l4 + 20 <= sent.size());
  const size_t doff = (sent[l4 + 12] >> 4) * 4u;
  CHECK(l4 + doff <= sent.size() && sent.size() - l4 - doff <= o.gso_size);
}

// A sentinel no input frame equals (its own EtherType, a sequence number).
std::vector<uint8_t> sentinel(uint64_t n) {
  std::vector<uint8_t> f(60, 0);
  std::memcpy(f.data(), kEthernet, sizeof kEthernet);
  put16(f, 12, 0x88b5);  // IEEE local experimental
  std::memcpy(f.data() + 14, &n, sizeof n);
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Rig& r = rig();
  Input in{data, size};
  const uint8_t kind = in.u8();
  const uint64_t dev = kind & 4 ? r.eth1 : r.eth0;
  Template t = make_template(kind % 4, in.u16() % (kMaxFrame - 78), in.u8());
  const side_tx_offload o = offload_from(in, t);
  std::vector<uint8_t>& frame = t.frame;
  while (!in.done()) {
    const size_t at = in.u16() % frame.size();
    frame[at] = in.u8();
  }
  // eth1 has no VLAN features: a tagged frame's offloads are the layer's there too.
  const bool offloading = dev == r.eth1 && !vlan_tagged(frame);

  const uint64_t complaints = bad_offloads.load();
  const auto before = r.domain->stats(dev);
  CHECK(bool(before));
  CHECK(r.domain->submit_tx(dev, frame, o));
  const std::vector<uint8_t> last = sentinel(++r.sentinels);
  CHECK(r.domain->submit_tx(dev, last));
  std::vector<std::vector<uint8_t>> got;
  CHECK(r.loopback.take_until(last, got));
  CHECK(got.size() <= 1);
  const auto after = r.domain->stats(dev);
  CHECK(bool(after));
  const uint64_t dropped = after->tx_dropped - before->tx_dropped;
  // Only a segmentation the device cannot do is the device's drop, and it is never sent.
  CHECK(dropped == 0 || (dropped == 1 && got.empty() && o.gso_type != SIDE_TX_GSO_NONE && !offloading));
  if (!got.empty()) check_returned(frame, o, offloading, got[0]);
  // A frame without offloads within the MTU always goes.
  if (!o.flags && o.gso_type == SIDE_TX_GSO_NONE && frame.size() <= kMaxPlainFrame) CHECK(got.size() == 1);
  CHECK(bad_offloads.load() == complaints);
  CHECK(r.domain->faults().empty());
  return 0;
}
