// Fuzz target for the offloads between a driver's device and its host TAP (host/tap_offload.h). The input is a
// virtio-net header as the TAP puts it before a frame (10 bytes), the frame's length after it, the driver's
// device features and a received skb's ip_summed, all arbitrary.
//
// Checked, beyond "no sanitizer report", from the contract rather than from the code:
//   - tx_offload_from accepts a header only if the kernel would (virtio_net_hdr_to_skb, tun_get_user) and the
//     kernel-API layer can honour it without leaving the frame: known flags and GSO types only; the checksum's
//     place inside the frame; segmentation only of TCP with its checksum at the TCP header's, the TCP header inside
//     the frame, a segment size other than 0 and GSO_BY_FRAGS whose segment count an skb can hold (GSO_MAX_SEGS),
//     and headers no longer than the frame. What it accepts is what the header said, the transmit message takes it
//     (ipc::valid_tx_offload), and it names nothing the header did not ask for.
//   - tun_offload_for offers a segmentation only with the checksum it needs and the device's scatter-gather and
//     TSO feature for it, a checksum only to a device that inserts one, and ignores feature bits it does not know.
//   - rx_vnet_header asks the host for nothing but "checksum valid" (only for CHECKSUM_UNNECESSARY), and the
//     header side writes is one side itself accepts as asking for nothing.
#include <linux/if_tun.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "fuzz_input.h"
#include "host/tap_offload.h"
#include "ipc/messages.h"

namespace {

using namespace side;
using side::fuzz::Input;

// From the kernel: a segment size that means "by the fragment list" (SCTP's, never TCP's), the most segments an
// skb's gso_segs holds, the TCP header's least length and where its checksum is.
constexpr uint32_t kGsoByFrags = 0xffff, kGsoMaxSegs = 65535, kTcpHeader = 20, kTcpChecksumAt = 16;

// A violated invariant names itself in the crash log before aborting.
void fail(const char* what, int line) {
  std::fprintf(stderr, "tap_offload_fuzz.cc:%d: invariant violated: %s\n", line, what);
  std::abort();
}
#define CHECK(ok) ((ok) ? void() : fail(#ok, __LINE__))

net::VnetHeader header_from(Input& in) {
  net::VnetHeader h{};
  h.flags = in.u8();
  h.gso_type = in.u8();
  h.hdr_len = in.u16();
  h.gso_size = in.u16();
  h.csum_start = in.u16();
  h.csum_offset = in.u16();
  return h;
}

bool segments(const net::VnetHeader& h) {
  return h.gso_type != net::kVnetGsoNone;
}

// What an accepted header must have been: nothing the translation may pass on is malformed or outside the frame.
void check_acceptable(const net::VnetHeader& h, size_t len) {
  CHECK(!(h.flags & ~(net::kVnetNeedsCsum | net::kVnetDataValid)));
  CHECK(h.gso_type == net::kVnetGsoNone || h.gso_type == net::kVnetGsoTcpv4 || h.gso_type == net::kVnetGsoTcpv6);
  if (h.flags & net::kVnetNeedsCsum) CHECK(size_t{h.csum_start} + h.csum_offset + sizeof(uint16_t) <= len);
  if (!segments(h)) return;
  CHECK(h.flags & net::kVnetNeedsCsum);
  CHECK(h.csum_offset == kTcpChecksumAt);
  CHECK(size_t{h.csum_start} + kTcpHeader <= len);
  CHECK(h.hdr_len <= len);
  CHECK(h.gso_size != 0);
  CHECK(h.gso_size != kGsoByFrags);
  // The TCP header is at least 20 bytes, so no more payload than this follows it.
  const size_t payload = len - h.csum_start - kTcpHeader;
  CHECK((payload + h.gso_size - 1) / h.gso_size <= kGsoMaxSegs);
}

// What was accepted is the header's request, unchanged, and nothing else.
void check_translation(const net::VnetHeader& h, const side_tx_offload& o) {
  CHECK(ipc::valid_tx_offload(o));
  CHECK(o.pad == 0);
  const bool csum = h.flags & net::kVnetNeedsCsum;
  CHECK(o.flags == (csum ? SIDE_TX_NEEDS_CSUM : 0));
  CHECK(o.csum_start == (csum ? h.csum_start : 0));
  CHECK(o.csum_offset == (csum ? h.csum_offset : 0));
  const unsigned gso = h.gso_type == net::kVnetGsoTcpv4   ? SIDE_TX_GSO_TCPV4
                       : h.gso_type == net::kVnetGsoTcpv6 ? SIDE_TX_GSO_TCPV6
                                                          : SIDE_TX_GSO_NONE;
  CHECK(o.gso_type == gso);
  CHECK(o.gso_size == (segments(h) ? h.gso_size : 0));
  CHECK(o.hdr_len == (segments(h) ? h.hdr_len : 0));
}

void check_transmit(const net::VnetHeader& h, size_t len) {
  const std::optional<side_tx_offload> o = host::tx_offload_from(h, len);
  if (!o) return;
  check_acceptable(h, len);
  check_translation(h, *o);
}

void check_tun_offload(uint64_t features) {
  using namespace host;
  constexpr uint64_t kKnown =
      kFeatureSg | kFeatureIpCsum | kFeatureHwCsum | kFeatureIpv6Csum | kFeatureTso | kFeatureTso6;
  const unsigned flags = tun_offload_for(features);
  CHECK(!(flags & ~(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)));
  CHECK(flags == tun_offload_for(features & kKnown));
  const bool csum4 = features & (kFeatureHwCsum | kFeatureIpCsum);
  const bool csum6 = features & (kFeatureHwCsum | kFeatureIpv6Csum);
  const bool sg = features & kFeatureSg;
  CHECK(bool(flags & TUN_F_CSUM) == (csum4 || csum6));
  CHECK(bool(flags & TUN_F_TSO4) == (sg && csum4 && (features & kFeatureTso)));
  CHECK(bool(flags & TUN_F_TSO6) == (sg && csum6 && (features & kFeatureTso6)));
}

void check_receive(uint32_t ip_summed, size_t len) {
  const net::VnetHeader h = host::rx_vnet_header(ip_summed);
  CHECK(h.flags == (ip_summed == 1 ? net::kVnetDataValid : 0));
  CHECK(h.gso_type == net::kVnetGsoNone && h.gso_size == 0 && h.hdr_len == 0);
  CHECK(h.csum_start == 0 && h.csum_offset == 0);
  const std::optional<side_tx_offload> o = host::tx_offload_from(h, len);
  CHECK(o && o->flags == 0 && o->gso_type == SIDE_TX_GSO_NONE);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{data, size};
  const net::VnetHeader h = header_from(in);
  // Up to 4 GiB: beyond any frame the TAP reader takes, so the checks' arithmetic meets large lengths too.
  const size_t len = in.u32();
  check_transmit(h, len);
  check_tun_offload(in.u64());
  check_receive(in.u32(), len);
  return 0;
}
