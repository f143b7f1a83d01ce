// Transmit path of the 82540EM model (8254x SDM section 3.3 and 3.5): legacy descriptors, extended context/data
// descriptors with IP/TCP/UDP checksum insertion, and TCP segmentation (TSO) as Linux's e1000 drives it
// (e1000_tso/e1000_tx_csum/e1000_tx_queue).
//
// Bounds: a kick processes at most TDLEN/16 descriptors; an assembled frame never exceeds kMaxTxFrame bytes (TSO
// segments never exceed hdr_len + mss <= 255 + 65535 and TSO payload is capped at kMaxTsoPayload). Every access to
// a frame at an offset the driver chose goes through a FrameView (frame_view.h), which refuses anything outside the
// frame; the frame is then dropped and counted.
//
// The context a packet uses is latched when its first data descriptor arrives (section 3.3.6: a context descriptor
// "prepares the checksum hardware for the TCP/IP data descriptors that follow"). A context descriptor that arrives
// in the middle of a packet only applies to the packets after it, so offsets validated for a TSO packet cannot be
// replaced while it is being segmented.
#include <algorithm>

#include "common/log.h"
#include "devices/e1000/e1000.h"
#include "devices/net/frame_view.h"
#include "devices/net/net_util.h"

namespace side::e1000 {
using namespace net;  // frame helpers shared by the network device models
namespace {

// The TSO context fits the header it describes: every field tx_emit() rewrites lies inside hdr_len (section
// 3.5.9), MSS is not zero. Checked once per packet, on the latched context.
bool tso_context_valid(const TxContext& c, uint8_t popts) {
  bool ipv4 = c.tucmd & TUCMD_IP, tcp = c.tucmd & TUCMD_TCP;
  return c.mss != 0 && c.hdr_len != 0 && c.ipcss + (ipv4 ? 20u : 40u) <= c.hdr_len &&
         c.tucss + (tcp ? 20u : 8u) <= c.hdr_len && c.tucso + 2u <= c.hdr_len &&
         (!(popts & POPTS_IXSM) || c.ipcso + 2u <= c.hdr_len);
}

}  // namespace

void E1000::tx_reset_frame() {
  tx_.data.clear();
  tx_.header.clear();
  tx_.in_frame = false;
  tx_.tse = false;
  tx_.popts = 0;
  tx_.legacy_ic = false;
  tx_.legacy_cso = tx_.legacy_css = 0;
  tx_.vle = false;
  tx_.vlan = 0;
  tx_.drop = false;
  tx_.tso_frames = tx_.tso_sent = tx_.tso_total = 0;
  tx_.frame_ctx = TxContext{};
}

void E1000::kick_tx() {
  tx_more_ = false;
  if (!(r(TCTL) & TCTL_EN)) return;
  uint32_t size = r(TDLEN) / kDescSize;
  uint32_t head = r(TDH), tail = r(TDT);
  if (head == tail) return;
  if (size == 0 || head >= size || tail >= size) {
    // A ring the driver described inconsistently: refuse, rather than walk memory it did not mean.
    ++counters_.tx_bad_ring;
    note_unknown("TX kick with inconsistent TDLEN/TDH/TDT", TDT, tail);
    return;
  }
  uint64_t base = (uint64_t{r(TDBAH)} << 32) | r(TDBAL);
  bool wrote_back = false;
  uint32_t processed = 0;
  while (head != tail && processed < size) {
    if (pending_tx_bytes_ >= kMaxPendingTxBytes) {
      // Hand what we have to the sink first (outside the lock); bar_write resumes the kick.
      tx_more_ = true;
      break;
    }
    uint64_t at = base + uint64_t{head} * kDescSize;
    uint8_t desc[kDescSize];
    if (!iommu_.dma_read(at, desc, sizeof desc)) {
      // Cannot know what the descriptor says: stop here, TDH stays on it (the driver's TX watchdog will notice).
      ++counters_.tx_desc_faults;
      ++counters_.iommu_faults;
      break;
    }
    bool rs = process_tx_descriptor(desc, at);
    if (rs) {
      // Report status: DD in the status byte (offset 12 in all three descriptor formats, section 3.3.3-3.3.8).
      uint8_t status = TXD_STAT_DD;
      if (iommu_.dma_write(at + 12, &status, 1)) {
        wrote_back = true;
      } else {
        ++counters_.tx_desc_faults;
        ++counters_.iommu_faults;
      }
    }
    head = (head + 1) % size;
    r(TDH) = head;
    ++processed;
    ++counters_.tx_descriptors;
  }
  uint32_t causes = 0;
  if (wrote_back) causes |= ICR_TXDW;
  if (processed && head == tail) causes |= ICR_TXQE;
  if (causes) raise(causes);
}

// Context descriptor (section 3.3.6): offsets for the following data descriptors.
void E1000::tx_context_descriptor(const uint8_t* d, uint32_t lower, uint8_t cmd) {
  TxContext& c = tx_.ctx;
  c.ipcss = d[0];
  c.ipcso = d[1];
  c.ipcse = load_le16(d + 2);
  c.tucss = d[4];
  c.tucso = d[5];
  c.tucse = load_le16(d + 6);
  c.paylen = lower & 0xfffff;
  c.tucmd = cmd;
  c.hdr_len = d[13];
  c.mss = load_le16(d + 14);
  // The packet in progress keeps the context it latched; this one is for the packets after it.
  if (tx_.in_frame) ++counters_.tx_context_mid_frame;
}

// The first descriptor of a frame latches its options and the context in force.
void E1000::tx_start_frame(bool tse, uint8_t popts) {
  tx_.in_frame = true;
  tx_.tse = tse;
  tx_.popts = popts;
  tx_.frame_ctx = tx_.ctx;
  if (tx_.tse && !tso_context_valid(tx_.frame_ctx, tx_.popts)) {
    ++counters_.tx_dropped_malformed;
    tx_.drop = true;
  }
}

// A data or legacy descriptor's buffer joins the frame; the last one (EOP) carries the VLAN tag.
void E1000::tx_take_buffer(const uint8_t* d, uint32_t len, uint8_t cmd) {
  const bool eop = cmd & TXD_CMD_EOP;
  if (eop) {
    tx_.vle = cmd & TXD_CMD_VLE;
    tx_.vlan = load_le16(d + 14);
  }
  tx_append(load_le64(d), len, eop);
}

bool E1000::process_tx_descriptor(const uint8_t* d, uint64_t) {
  const uint32_t lower = load_le32(d + 8);
  const uint8_t cmd = static_cast<uint8_t>(lower >> 24);
  if (!(cmd & TXD_CMD_DEXT)) {
    // Legacy descriptor (section 3.3.3).
    if (!tx_.in_frame) tx_start_frame(false, 0);
    if (cmd & TXD_CMD_IC) {
      tx_.legacy_ic = true;
      tx_.legacy_cso = d[10];
      tx_.legacy_css = d[13];
    }
    tx_take_buffer(d, lower & 0xffff, cmd);
    return cmd & TXD_CMD_RS;
  }
  const uint32_t dtyp = (lower >> 20) & 0xf;
  if (dtyp == DTYP_CONTEXT) {
    tx_context_descriptor(d, lower, cmd);
  } else if (dtyp == DTYP_DATA) {
    // Data descriptor (section 3.3.7). POPTS and TSE are taken from the first descriptor of a frame.
    if (!tx_.in_frame) tx_start_frame(cmd & TXD_CMD_TSE, d[13]);
    tx_take_buffer(d, lower & 0xfffff, cmd);
  } else {
    ++counters_.tx_dropped_malformed;
    if (tx_.in_frame) tx_.drop = true;
  }
  return cmd & TXD_CMD_RS;
}

// `n` bytes of DMA from `from` appended to `into`; false (the frame dropped, counted) on an IOMMU fault.
bool E1000::tx_fetch(std::vector<uint8_t>& into, uint64_t from, uint32_t n) {
  const size_t old = into.size();
  into.resize(old + n);
  if (!iommu_.dma_read(from, into.data() + old, n)) {
    into.resize(old);
    ++counters_.iommu_faults;
    ++counters_.tx_dropped_iommu;
    tx_.drop = true;
    return false;
  }
  return true;
}

// TSO: the first hdr_len bytes are the header template; payload is cut into MSS-sized segments as it arrives.
void E1000::tx_append_tso(uint64_t at, uint32_t left) {
  const TxContext& c = tx_.frame_ctx;
  const uint32_t seg_cap = uint32_t{c.hdr_len} + c.mss;
  while (left && !tx_.drop) {
    if (tx_.header.size() < c.hdr_len) {
      const uint32_t take = std::min<uint32_t>(left, c.hdr_len - static_cast<uint32_t>(tx_.header.size()));
      if (!tx_fetch(tx_.header, at, take)) break;
      if (tx_.header.size() == c.hdr_len) tx_.data = tx_.header;
      at += take;
      left -= take;
      continue;
    }
    if (tx_.data.size() >= seg_cap) {
      if (tx_.tso_frames + 1 >= kMaxTsoSegments) {
        ++counters_.tx_dropped_malformed;
        tx_.drop = true;
        break;
      }
      tx_emit(false);
      if (tx_.drop) break;
    }
    const uint32_t take = std::min<uint32_t>(left, seg_cap - static_cast<uint32_t>(tx_.data.size()));
    if (tx_.tso_total + take > kMaxTsoPayload) {
      ++counters_.tx_dropped_malformed;
      tx_.drop = true;
      break;
    }
    if (!tx_fetch(tx_.data, at, take)) break;
    tx_.tso_total += take;
    at += take;
    left -= take;
  }
}

// The frame's last buffer arrived: send it (the last TSO segment, or the whole frame), then forget the frame.
void E1000::tx_end_frame() {
  if (!tx_.drop) {
    if (tx_.tse) {
      const TxContext& c = tx_.frame_ctx;
      if (tx_.header.size() < c.hdr_len) {
        ++counters_.tx_dropped_malformed;  // the packet ended inside its own header
      } else if (tx_.data.size() > c.hdr_len || tx_.tso_frames == 0) {
        tx_emit(true);
      }
    } else {
      tx_finish_frame(tx_.data);
    }
  }
  ++counters_.tx_packets;
  tx_reset_frame();  // the context descriptor stays (tx_.ctx): it applies until the driver sends another
}

void E1000::tx_append(uint64_t addr, uint32_t len, bool eop) {
  if (!tx_.drop && !tx_.tse) {
    if (tx_.data.size() + len > kMaxTxFrame) {
      ++counters_.tx_dropped_oversize;
      tx_.drop = true;
    } else if (len) {
      tx_fetch(tx_.data, addr, len);
    }
  } else if (!tx_.drop) {
    tx_append_tso(addr, len);
  }
  if (eop) tx_end_frame();
}

void E1000::tx_emit(bool last) {
  // One TSO segment (section 3.5.4-3.5.7): fix the IP total length / IPv6 payload length and IPv4 id, the TCP
  // sequence number and flags (FIN/PSH only on the last segment) or UDP length, and add the segment length into
  // the pseudo-header partial checksum the driver left at TUCSO (it was computed with length 0).
  std::vector<uint8_t>& seg = tx_.data;
  const TxContext& c = tx_.frame_ctx;
  FrameView out(seg);
  ConstFrameView hdr(tx_.header);
  uint32_t size = static_cast<uint32_t>(seg.size());
  if (size < c.hdr_len) out.reject();
  uint32_t payload = size - c.hdr_len;
  if (c.tucmd & TUCMD_IP) {
    out.put_be16(c.ipcss + 2, static_cast<uint16_t>(size - c.ipcss));
    out.put_be16(c.ipcss + 4, static_cast<uint16_t>(hdr.be16(c.ipcss + 4) + tx_.tso_frames));
  } else {
    out.put_be16(c.ipcss + 4, static_cast<uint16_t>(size - c.ipcss - 40));
  }
  if (c.tucmd & TUCMD_TCP) {
    out.put_be32(c.tucss + 4, hdr.be32(c.tucss + 4) + tx_.tso_sent);
    if (!last) out.put_u8(c.tucss + 13, out.u8(c.tucss + 13) & static_cast<uint8_t>(~0x09));  // clear PSH, FIN
  } else {
    out.put_be16(c.tucss + 4, static_cast<uint16_t>(size - c.tucss));
  }
  if (tx_.popts & POPTS_TXSM) {
    uint32_t s = hdr.be16(c.tucso) + (size - c.tucss);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    out.put_be16(c.tucso, static_cast<uint16_t>(s));
  }
  if (!out.ok() || !hdr.ok()) {
    // Offsets outside the segment. The latched context was validated against hdr_len, so this does not happen
    // today; if it ever does, the rest of the packet is dropped rather than memory outside the frame written.
    ++counters_.tx_dropped_malformed;
    tx_.drop = true;
    seg = tx_.header;
    return;
  }
  tx_.tso_sent += payload;
  ++tx_.tso_frames;
  ++counters_.tx_tso_segments;
  if (last && tx_.tso_frames > 1) stat_inc(TSCTC);
  tx_finish_frame(seg);
  seg = tx_.header;
}

// Takes the frame out of `frame` (which is left an empty buffer of the same capacity, for the next frame or TSO
// segment): the assembled frame is not copied again on its way to the sink.
void E1000::tx_finish_frame(std::vector<uint8_t>& frame) {
  std::vector<uint8_t> out = spare_tx_buffer();
  out.swap(frame);
  const TxContext& c = tx_.frame_ctx;
  FrameView view(out);
  if (tx_.popts & POPTS_TXSM) put_internet_checksum(view, c.tucso, c.tucss, c.tucse);
  if (tx_.popts & POPTS_IXSM) put_internet_checksum(view, c.ipcso, c.ipcss, c.ipcse);
  if (tx_.legacy_ic) put_internet_checksum(view, tx_.legacy_cso, tx_.legacy_css, 0);
  if (!view.ok()) {
    ++counters_.tx_dropped_malformed;
    return;
  }
  // The tag goes after the two addresses: a frame shorter than that has nowhere to put it and goes untagged.
  if (tx_.vle && (r(CTRL) & CTRL_VME) && view.fits(0, 12)) {
    // VLAN tag insertion (section 3.3.3.1): VET then the descriptor's special field after the addresses.
    uint8_t tag[4];
    store_be16(tag, static_cast<uint16_t>(r(VET)));
    store_be16(tag + 2, tx_.vlan);
    out.insert(out.begin() + 12, tag, tag + 4);
  }
  // TCTL.PSP pads short frames to the 64-byte minimum (60 without FCS).
  if ((r(TCTL) & TCTL_PSP) && out.size() < 60) out.resize(60, 0);
  if (out.empty()) return;
  size_t wire = out.size() + 4;
  stat_inc(TPT);
  stat_inc(GPTC);
  stat_add64(GOTCL, wire);
  stat_add64(TOTL, wire);
  count_size_bucket(PTC64, wire);
  if (out.size() >= 6 && out[0] & 1) {
    bool bcast = std::all_of(out.begin(), out.begin() + 6, [](uint8_t b) { return b == 0xff; });
    stat_inc(bcast ? BPTC : MPTC);
  }
  ++counters_.tx_frames;
  counters_.tx_bytes += out.size();
  pending_tx_bytes_ += out.size();
  pending_tx_.push_back(std::move(out));
}

}  // namespace side::e1000
