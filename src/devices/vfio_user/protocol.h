// The vfio-user protocol (version 0.1, as libvfio-user's docs/vfio-user.rst specifies it and QEMU's server speaks
// it): the numbers and byte layouts a client needs. Every message is a 16-byte header followed by a command's body;
// all fields are little-endian. Layouts are given as sizes and offsets, not as packed structs: the codec
// (codec.h) reads and writes them field by field, so nothing the server sends is ever reinterpreted in place.
#pragma once

#include <cstdint>

namespace side::vfio_user {

inline constexpr uint16_t kVersionMajor = 0;
inline constexpr uint16_t kVersionMinor = 1;

enum class Command : uint16_t {
  kVersion = 1,
  kDmaMap = 2,
  kDmaUnmap = 3,
  kDeviceGetInfo = 4,
  kDeviceGetRegionInfo = 5,
  kDeviceGetRegionIoFds = 6,
  kDeviceGetIrqInfo = 7,
  kDeviceSetIrqs = 8,
  kRegionRead = 9,
  kRegionWrite = 10,
  kDmaRead = 11,
  kDmaWrite = 12,
  kDeviceReset = 13,
  kDirtyPages = 14,
};
inline constexpr uint16_t kMaxCommand = 14;
const char* to_string(Command c);

// Header: msg_id u16 @0, command u16 @2, msg_size u32 @4 (header included), flags u32 @8, error u32 @12.
inline constexpr uint32_t kHeaderSize = 16;
inline constexpr uint32_t kFlagTypeMask = 0xf;  // bits 0-3
inline constexpr uint32_t kTypeCommand = 0;
inline constexpr uint32_t kTypeReply = 1;
inline constexpr uint32_t kFlagNoReply = 1u << 4;
inline constexpr uint32_t kFlagError = 1u << 5;
inline constexpr uint32_t kKnownFlags = kFlagTypeMask | kFlagNoReply | kFlagError;

// The largest data transfer the protocol's default allows (max_data_xfer_size) and what this client accepts from a
// server in one message: a region access or the VERSION capabilities, with room for the access header.
inline constexpr uint32_t kDefaultMaxDataXfer = 1u << 20;
inline constexpr uint32_t kMaxMessageSize = kHeaderSize + 16 + kDefaultMaxDataXfer;
inline constexpr uint32_t kMaxVersionJson = 4096;
// File descriptors this client sends in one message (SET_IRQS for a whole MSI-X table would need more; side asks
// for INTx and single vectors) and accepts in one (none: a reply with descriptors is refused).
inline constexpr uint32_t kMaxSendFds = 8;

// DEVICE_GET_INFO body <IIII>: argsz, flags, num_regions, num_irqs.
inline constexpr uint32_t kDeviceInfoSize = 16;
inline constexpr uint32_t kDeviceFlagReset = 1u << 0;
inline constexpr uint32_t kDeviceFlagPci = 1u << 1;

// Region indices of a PCI device (VFIO_PCI_*_REGION_INDEX).
inline constexpr uint32_t kRegionBar0 = 0;
inline constexpr uint32_t kRegionRom = 6;
inline constexpr uint32_t kRegionConfig = 7;
inline constexpr uint32_t kMinPciRegions = 8;  // BAR0-5, ROM, config
inline constexpr uint32_t kMaxRegions = 64;    // a sanity bound: a PCI server reports 9 or 10

// DEVICE_GET_REGION_INFO body <IIIIQQ>: argsz, flags, index, cap_offset, size, offset (32 bytes).
inline constexpr uint32_t kRegionInfoSize = 32;
inline constexpr uint32_t kRegionFlagRead = 1u << 0;
inline constexpr uint32_t kRegionFlagWrite = 1u << 1;
inline constexpr uint32_t kRegionFlagMmap = 1u << 2;
inline constexpr uint32_t kRegionFlagCaps = 1u << 3;
// The reply's argsz says how large a reply with the region's capabilities (sparse mmap areas, a type) would be; the
// client asks for the fixed part only (it never maps regions) and bounds the figure.
inline constexpr uint32_t kMaxRegionInfoReply = 4096;

// IRQ indices (VFIO_PCI_*_IRQ_INDEX).
inline constexpr uint32_t kIrqIntx = 0;
inline constexpr uint32_t kIrqMsi = 1;
inline constexpr uint32_t kIrqMsix = 2;
inline constexpr uint32_t kIrqErr = 3;
inline constexpr uint32_t kIrqReq = 4;
inline constexpr uint32_t kMaxIrqTypes = 16;
inline constexpr uint32_t kMaxIrqCount = 2048;  // PCI's MSI-X table limit

// DEVICE_GET_IRQ_INFO body <IIII>: argsz, flags, index, count.
inline constexpr uint32_t kIrqInfoSize = 16;
inline constexpr uint32_t kIrqInfoEventfd = 1u << 0;
inline constexpr uint32_t kIrqInfoMaskable = 1u << 1;
inline constexpr uint32_t kIrqInfoAutomasked = 1u << 2;
inline constexpr uint32_t kIrqInfoNoresize = 1u << 3;

// DEVICE_SET_IRQS body <IIIII>: argsz, flags, index, start, count; the eventfds travel as SCM_RIGHTS.
inline constexpr uint32_t kSetIrqsSize = 20;
inline constexpr uint32_t kIrqSetDataNone = 1u << 0;
inline constexpr uint32_t kIrqSetDataBool = 1u << 1;
inline constexpr uint32_t kIrqSetDataEventfd = 1u << 2;
inline constexpr uint32_t kIrqSetActionMask = 1u << 3;
inline constexpr uint32_t kIrqSetActionUnmask = 1u << 4;
inline constexpr uint32_t kIrqSetActionTrigger = 1u << 5;

// REGION_READ / REGION_WRITE body <QII>: offset, region, count; then count data bytes (read reply, write request).
inline constexpr uint32_t kRegionAccessSize = 16;

// DMA_MAP body <IIQQQ>: argsz, flags, fd offset, iova, size (the fd as SCM_RIGHTS). DMA_UNMAP <IIQQ>: argsz,
// flags, iova, size; its reply echoes the request.
inline constexpr uint32_t kDmaMapSize = 32;
inline constexpr uint32_t kDmaUnmapSize = 24;
inline constexpr uint32_t kDmaFlagRead = 1u << 0;
inline constexpr uint32_t kDmaFlagWrite = 1u << 1;
// QEMU's server holds at most this many mappings; side registers one (the domain's arena).
inline constexpr uint32_t kServerMaxDmaMappings = 16;

}  // namespace side::vfio_user
