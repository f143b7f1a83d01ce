// Receive path of the 82540EM model (8254x SDM sections 3.2 and 13.4.22): address filtering (RAL/RAH exact
// matches, MTA hash, broadcast, unicast/multicast promiscuous, VLAN filter), legacy receive descriptors, frames
// split over several buffers, overrun accounting, RX checksum offload (RXCSUM) and the RXT0/RXDMT0/RXO causes.
//
// A frame is written all-or-nothing: descriptors are fetched and every buffer is validated with the IOMMU before
// the first byte is written, so an IOMMU fault leaves guest memory and RDH untouched.
#include <algorithm>

#include "common/log.h"
#include "devices/e1000/e1000.h"
#include "devices/net/frame_view.h"
#include "devices/net/net_util.h"

namespace side::e1000 {
using namespace net;  // frame helpers shared by the network device models
namespace {

constexpr uint32_t kMaxRxDescriptorsPerFrame = 80;  // (16384 + 4) / 256 rounded up, plus slack

}  // namespace

uint32_t E1000::rx_buffer_size() const {
  uint32_t rctl = r(RCTL);
  uint32_t bsize = (rctl >> RCTL_BSIZE_SHIFT) & 3;
  if (rctl & RCTL_BSEX) {
    static constexpr uint32_t kExt[4] = {2048, 16384, 8192, 4096};  // 00 reserved: treated as 2048
    return kExt[bsize];
  }
  static constexpr uint32_t kNormal[4] = {2048, 1024, 512, 256};
  return kNormal[bsize];
}

bool E1000::rx_filter(std::span<const uint8_t> f) const {
  uint32_t rctl = r(RCTL);
  const uint8_t* dst = f.data();
  auto rar_match = [&] {
    for (int i = 0; i < kNumRar; ++i) {
      uint32_t ral = r(RAL0 + 8 * i), rah = r(RAH0 + 8 * i);
      if (!(rah & RAH_AV)) continue;
      uint8_t mac[6] = {static_cast<uint8_t>(ral),       static_cast<uint8_t>(ral >> 8),
                        static_cast<uint8_t>(ral >> 16), static_cast<uint8_t>(ral >> 24),
                        static_cast<uint8_t>(rah),       static_cast<uint8_t>(rah >> 8)};
      if (std::equal(mac, mac + 6, dst)) return true;
    }
    return false;
  };
  bool accept;
  bool broadcast = std::all_of(dst, dst + 6, [](uint8_t b) { return b == 0xff; });
  if (broadcast) {
    accept = (rctl & (RCTL_BAM | RCTL_MPE)) != 0;
  } else if (dst[0] & 1) {
    // Multicast hash (section 13.5.1): 12 bits of the address selected by RCTL.MO index the 4096-bit MTA.
    uint32_t mo = (rctl >> RCTL_MO_SHIFT) & 3;
    uint32_t hash = mo == 3 ? (dst[4] | (dst[5] << 8)) : ((dst[4] >> (4 - mo)) | (dst[5] << (4 + mo)));
    hash &= 0xfff;
    bool mta = (r(MTA + 4 * (hash >> 5)) >> (hash & 31)) & 1;
    accept = (rctl & RCTL_MPE) || mta || rar_match();
  } else {
    accept = (rctl & RCTL_UPE) || rar_match();
  }
  if (!accept) return false;
  // VLAN filter (section 3.2.2): tagged frames must have their VLAN id enabled in the VFTA.
  if ((rctl & RCTL_VFE) && f.size() >= 16 && load_be16(f.data() + 12) == (r(VET) & 0xffff)) {
    uint32_t vid = load_be16(f.data() + 14) & 0xfff;
    if (!((r(VFTA + 4 * (vid >> 5)) >> (vid & 31)) & 1)) return false;
  }
  return true;
}

void E1000::rx_checksum(std::span<const uint8_t> f, uint8_t* status, uint8_t* errors) const {
  // RX checksum offload (section 3.2.9) for IPv4 and TCP/UDP over IPv4 when RXCSUM enables it; anything else is
  // reported with IXSM ("ignore checksum indication") so the stack verifies in software. The header lengths come
  // from the wire: every access goes through the bounds-checked view.
  uint32_t rxcsum = r(RXCSUM);
  *status |= RXD_STAT_IXSM;
  if (!(rxcsum & (RXCSUM_IPOFL | RXCSUM_TUOFL))) return;
  ConstFrameView v(f);
  size_t l3 = 14;
  uint16_t type = v.be16(12);
  if (type == (r(VET) & 0xffff) && v.fits(0, 18)) {
    type = v.be16(16);
    l3 = 18;
  }
  if (type != 0x0800 || !v.fits(l3, 20)) return;
  size_t ihl = (v.u8(l3) & 0xf) * 4u;
  size_t total = v.be16(l3 + 2);
  if ((v.u8(l3) >> 4) != 4 || ihl < 20 || total < ihl || !v.fits(l3, total)) return;
  uint8_t ip_status = RXD_STAT_IPCS, ip_errors = 0;
  if (csum_finish(csum_add(v.bytes(l3, ihl))) != 0) ip_errors |= RXD_ERR_IPE;
  uint8_t l4_status = 0, l4_errors = 0;
  bool fragment = (v.be16(l3 + 6) & 0x3fff) != 0;
  uint8_t proto = v.u8(l3 + 9);
  size_t l4len = total - ihl;
  bool l4 = (rxcsum & RXCSUM_TUOFL) && !fragment && ((proto == 6 && l4len >= 20) || (proto == 17 && l4len >= 8));
  if (l4 && !(proto == 17 && v.be16(l3 + ihl + 6) == 0)) {  // UDP checksum 0: none
    uint8_t pseudo[12] = {};
    std::span<const uint8_t> addrs = v.bytes(l3 + 12, 8);
    std::copy(addrs.begin(), addrs.end(), pseudo);
    pseudo[9] = proto;
    store_be16(pseudo + 10, static_cast<uint16_t>(l4len));
    uint32_t sum = csum_add(v.bytes(l3 + ihl, l4len), csum_add(pseudo));
    l4_status = RXD_STAT_TCPCS;
    if (csum_finish(sum) != 0) l4_errors = RXD_ERR_TCPE;
  }
  if (!v.ok()) return;  // cannot happen after the checks above; if it did, the stack verifies in software
  *status &= static_cast<uint8_t>(~RXD_STAT_IXSM);
  if (rxcsum & RXCSUM_IPOFL) {
    *status |= ip_status;
    *errors |= ip_errors;
  }
  *status |= l4_status;
  *errors |= l4_errors;
}

// Link, receiver and length: a frame the device would not even look at.
std::optional<RxResult> E1000::rx_refused(std::span<const uint8_t> frame, uint32_t rctl) {
  if (!link_up_) {
    ++counters_.rx_dropped_link_down;
    return RxResult::kDroppedLinkDown;
  }
  if (!(rctl & RCTL_EN)) {
    ++counters_.rx_dropped_disabled;
    return RxResult::kDroppedDisabled;
  }
  if (frame.size() < 14 || frame.size() > kMaxRxFrame) {
    ++counters_.rx_dropped_size;
    return RxResult::kDroppedSize;
  }
  return std::nullopt;
}

// The frame as the device stores it (padded, tag stripped, FCS appended), staged in a buffer the model keeps so
// that a frame costs no heap allocation; nullopt once it is staged, else why it was dropped.
std::optional<RxResult> E1000::rx_stage(std::span<const uint8_t> frame, uint32_t rctl, RxStaged& st) {
  std::vector<uint8_t>& buf = rx_staging_;
  buf.assign(frame.begin(), frame.end());
  if (buf.size() < 60) buf.resize(60, 0);  // the wire minimum: shorter frames arrive padded
  const bool tagged = load_be16(buf.data() + 12) == (r(VET) & 0xffff);
  // Without LPE frames longer than 1518 bytes (1522 tagged) including FCS are discarded (section 13.4.22).
  const size_t max_with_fcs = (rctl & RCTL_LPE) ? 16384 : (tagged ? 1522 : 1518);
  if (buf.size() + 4 > max_with_fcs) {
    stat_inc(ROC);
    ++counters_.rx_dropped_size;
    return RxResult::kDroppedSize;
  }
  if (!rx_filter(buf)) {
    ++counters_.rx_dropped_filtered;
    return RxResult::kDroppedFiltered;
  }
  st.status = RXD_STAT_DD | RXD_STAT_EOP;
  if (tagged && (r(CTRL) & CTRL_VME)) {
    // VLAN stripping (section 3.2.7): the tag goes to the descriptor's special field.
    st.special = load_be16(buf.data() + 14);
    buf.erase(buf.begin() + 12, buf.begin() + 16);
    st.status |= RXD_STAT_VP;
  }
  rx_checksum(buf, &st.status, &st.errors);
  const uint32_t pcss = r(RXCSUM) & 0xff;
  if (pcss < buf.size()) {
    uint32_t s = csum_add(std::span<const uint8_t>(buf.data() + pcss, buf.size() - pcss));
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    st.pkt_csum = static_cast<uint16_t>(s);
  }
  if (!(rctl & RCTL_SECRC)) {
    // The FCS is stored with the frame unless stripped (Linux e1000 leaves SECRC clear and drops 4 bytes).
    const uint32_t fcs = crc32_ieee(buf);
    for (int i = 0; i < 4; ++i) buf.push_back(static_cast<uint8_t>(fcs >> (8 * i)));
  }
  return std::nullopt;
}

// Pass 1 of storing a frame: fetches the buffer addresses of `needed` descriptors from `head` on and checks that
// the device may write each buffer and descriptor; nothing is written yet. False (counted) on an IOMMU fault.
bool E1000::rx_fetch_buffers(iommu::Iommu::Burst& dma, uint64_t base, uint32_t head, uint32_t size, uint32_t needed,
                             uint64_t* addrs) {
  const uint32_t bufsize = rx_buffer_size();
  for (uint32_t i = 0; i < needed; ++i) {
    const uint64_t at = base + uint64_t{(head + i) % size} * kDescSize;
    uint8_t addr[8];
    const size_t chunk = std::min<size_t>(bufsize, rx_staging_.size() - size_t{i} * bufsize);
    bool ok = dma.dma_read(at, addr, sizeof addr) && dma.probe(at + 8, 8, iommu::Direction::kDeviceWrite);
    if (ok) {
      addrs[i] = load_le64(addr);
      ok = static_cast<bool>(dma.probe(addrs[i], chunk, iommu::Direction::kDeviceWrite));
    }
    if (!ok) {
      ++counters_.iommu_faults;
      ++counters_.rx_dropped_iommu;
      return false;
    }
  }
  return true;
}

// The staged frame into the descriptors the driver made available (from RDH up to, not including, RDT: section
// 3.2.6): data first, then each write-back, DD last so the driver never sees a half-written frame.
RxResult E1000::rx_store(const RxStaged& st, uint32_t* free_after, uint32_t* ring_size) {
  const std::vector<uint8_t>& buf = rx_staging_;
  const uint32_t size = r(RDLEN) / kDescSize;
  uint32_t head = r(RDH);
  const uint32_t tail = r(RDT);
  if (size == 0 || head >= size || tail >= size) {
    ++counters_.rx_dropped_bad_ring;
    stat_inc(MPC);
    return RxResult::kDroppedBadRing;
  }
  const uint32_t bufsize = rx_buffer_size();
  const uint32_t needed = static_cast<uint32_t>((buf.size() + bufsize - 1) / bufsize);
  const uint32_t avail = tail >= head ? tail - head : size - head + tail;
  if (needed > avail || needed > kMaxRxDescriptorsPerFrame) {
    stat_inc(MPC);
    stat_inc(RNBC);
    ++counters_.rx_dropped_no_descriptors;
    raise(ICR_RXO);
    return RxResult::kDroppedNoDescriptors;
  }
  const uint64_t base = (uint64_t{r(RDBAH)} << 32) | r(RDBAL);
  uint64_t addrs[kMaxRxDescriptorsPerFrame];
  auto dma = iommu_.burst();  // the whole frame's DMA under one IOMMU lock: no unmap lands between check and write
  if (!rx_fetch_buffers(dma, base, head, size, needed, addrs)) return RxResult::kDroppedIommuFault;
  // Every buffer first, the write-backs (DD) only once all of the frame is in. (Before bursts, a buffer validated
  // above could be closed to the device before it was written, and writing DD anyway handed the driver a buffer
  // holding an earlier frame: the reordered frame of docs/bench. A write that fails still drops the frame with RDH
  // untouched.)
  for (uint32_t i = 0; i < needed; ++i) {
    const size_t off = size_t{i} * bufsize;
    if (!dma.dma_write(addrs[i], buf.data() + off, std::min<size_t>(bufsize, buf.size() - off))) {
      ++counters_.iommu_faults;
      ++counters_.rx_dropped_iommu;
      return RxResult::kDroppedIommuFault;
    }
  }
  for (uint32_t i = 0; i < needed; ++i) {
    const uint64_t at = base + uint64_t{(head + i) % size} * kDescSize;
    const size_t off = size_t{i} * bufsize;
    const size_t chunk = std::min<size_t>(bufsize, buf.size() - off);
    const bool last = i + 1 == needed;
    uint8_t wb[8];
    store_le16(wb, static_cast<uint16_t>(chunk));
    store_le16(wb + 2, st.pkt_csum);
    wb[4] = last ? st.status : static_cast<uint8_t>(RXD_STAT_DD | (st.status & RXD_STAT_VP));
    wb[5] = last ? st.errors : 0;
    store_le16(wb + 6, st.special);
    // The descriptor ring was validated above; the driver unmapping its own ring while it runs is its fault.
    if (!dma.dma_write(at + 8, wb, sizeof wb)) ++counters_.iommu_faults;
  }
  head = (head + needed) % size;
  r(RDH) = head;
  *free_after = avail - needed;
  *ring_size = size;
  return RxResult::kAccepted;
}

// Statistics of a received frame, and its interrupt causes.
void E1000::rx_account(std::span<const uint8_t> frame, uint32_t rctl, uint32_t free_after, uint32_t ring_size) {
  const size_t wire = frame.size() < 60 ? 64 : frame.size() + 4;
  stat_inc(TPR);
  stat_inc(GPRC);
  stat_add64(GORCL, wire);
  stat_add64(TORL, wire);
  count_size_bucket(PRC64, wire);
  if (frame[0] & 1) {
    const bool bcast = std::all_of(frame.begin(), frame.begin() + 6, [](uint8_t b) { return b == 0xff; });
    stat_inc(bcast ? BPRC : MPRC);
  }
  ++counters_.rx_frames;
  counters_.rx_bytes += frame.size();
  uint32_t causes = ICR_RXT0;
  // RXDMT0 when the free descriptors fall to RDMTS (1/2, 1/4, 1/8) of the ring (section 13.4.22).
  const uint32_t rdmts = (rctl >> RCTL_RDMTS_SHIFT) & 3;
  if (rdmts < 3 && free_after <= (ring_size >> (rdmts + 1))) causes |= ICR_RXDMT0;
  raise(causes);
}

RxResult E1000::receive(std::span<const uint8_t> frame) {
  std::lock_guard lock(mu_);
  if (holding_) {
    release_held();
    if (holding_ && (!held_.empty() || !rx_room(frame.size()))) {
      if (held_.size() >= kMaxHeldFrames || held_bytes_ + frame.size() > kMaxHeldBytes) {
        ++counters_.rx_dropped_held;
        return RxResult::kDroppedNoDescriptors;
      }
      held_.emplace_back(frame.begin(), frame.end());
      held_bytes_ += frame.size();
      ++counters_.rx_held;
      return RxResult::kAccepted;  // taken: it is received once a driver can take it
    }
  }
  return receive_locked(frame);
}

// The receiver is on, the link up and the ring has descriptors enough for a frame of `frame_size` bytes (counted
// as stored: padded, with its FCS; a tag the device strips only makes it shorter).
bool E1000::rx_room(size_t frame_size) const {
  const uint32_t size = r(RDLEN) / kDescSize;
  const uint32_t head = r(RDH), tail = r(RDT);
  if (detached_ || !link_up_ || !(r(RCTL) & RCTL_EN) || size == 0 || head >= size || tail >= size) return false;
  const uint32_t avail = tail >= head ? tail - head : size - head + tail;
  const size_t bufsize = rx_buffer_size();
  return avail >= (std::max<size_t>(frame_size, 60) + 4 + bufsize - 1) / bufsize;
}

// As many held frames as the ring takes now, in order; the hold ends once none is left and the receiver is on.
void E1000::release_held() {
  while (!held_.empty() && rx_room(held_.front().size())) {
    std::vector<uint8_t> f = std::move(held_.front());
    held_.pop_front();
    held_bytes_ -= f.size();
    (void)receive_locked(f);  // a frame its filters refuse is dropped now, as it would have been on arrival
  }
  if (held_.empty() && !detached_ && (r(RCTL) & RCTL_EN)) holding_ = false;
}

void E1000::hold_received_frames(bool hold) {
  std::lock_guard lock(mu_);
  if (hold) {
    holding_ = detached_ = true;
    return;
  }
  if (!detached_) return;  // the new driver has the receiver: the rest drains into its ring (release_held)
  // Nobody took them (a driver that never enables its receiver, or none at all): lost, as a dead driver's are.
  counters_.rx_dropped_held += held_.size();
  held_.clear();
  held_bytes_ = 0;
  holding_ = detached_ = false;
}

RxResult E1000::receive_locked(std::span<const uint8_t> frame) {
  const uint32_t rctl = r(RCTL);
  if (auto refused = rx_refused(frame, rctl)) return *refused;
  RxStaged st;
  if (auto dropped = rx_stage(frame, rctl, st)) return *dropped;
  uint32_t free_after = 0, ring_size = 0;
  const RxResult stored = rx_store(st, &free_after, &ring_size);
  if (stored != RxResult::kAccepted) return stored;
  rx_account(frame, rctl, free_after, ring_size);
  return RxResult::kAccepted;
}

}  // namespace side::e1000
