// Where a device model behind a vfio-user server departs from the hardware it models in a way an unmodified driver
// cannot survive, side, as the device's host, makes up for it with register accesses that are no-ops on the real
// chip. Each quirk names the model and the model's code it answers; none changes what a driver sees.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

namespace side::vfio_user {

// A register of a BAR to read and write back unchanged.
struct RegisterRewrite {
  uint64_t offset = 0;
  unsigned width = 0;
};

// Given a driver's BAR write (bar, offset, width, value), the register to rewrite after it, if any.
using WriteQuirk = std::function<std::optional<RegisterRewrite>(int, uint64_t, unsigned, uint64_t)>;

// Whether a BAR write (bar, offset, width) must be carried out by the server before the driver goes on: sent with a
// reply awaited instead of posted. For a command register whose effect the driver relies on as soon as the write
// instruction retires, as it may on the chip or hypervisor device the model stands for.
using WaitedWrite = std::function<bool(int, uint64_t, unsigned)>;

struct ModelQuirks {
  WriteQuirk rewrite_after_write = nullptr;
  WaitedWrite write_waits = nullptr;
};

// QEMU 7.2's rtl8139 (hw/net/rtl8139.c) in the classic receive-ring mode refuses frames from its network backend
// while the ring has under 1514 bytes free and RxOverflow is masked (rtl8139_can_receive); the backend then stops
// reading until the model flushes its queue, which it does only when CAPR is written (rtl8139_RxBufPtr_write). A
// driver that unmasks RxOverflow after CAPR was last written (8139too: a NAPI poll that used its whole budget acks
// RxOK, the next poll sees no RxOK, completes and unmasks) leaves frames queued and no interrupt to come: receive
// stops for good. Real hardware keeps receiving (dropping into RxOverflow, which interrupts). So after an IntrMask
// write that unmasks RxOverflow, CAPR is written back with the value it reads, which only makes QEMU take queued
// frames. It is safe against the driver's own CAPR writes because the device lock covers both accesses.
std::optional<RegisterRewrite> rtl8139_flush_on_unmask(int bar, uint64_t offset, unsigned width, uint64_t value);

// vmxnet3 (QEMU 7.2's hw/net/vmxnet3.c, as VMware's device) executes a command when BAR 1's CMD register (0x20) is
// written, and the driver relies on it having run once the write retires: vmxnet3_set_mc() unmaps and frees the
// multicast table right after VMXNET3_CMD_UPDATE_MAC_FILTERS. Posted, the command could run after that, reading
// arena memory already given to something else. Those writes wait.
bool vmxnet3_command_waits(int bar, uint64_t offset, unsigned width);

}  // namespace side::vfio_user
