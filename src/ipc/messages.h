// Every message between the supervisor and a driver domain, declared once: its type number, the typed arguments it
// carries in the header's body, the kind of payload that follows, and for a control operation its reply and what
// recovery does with it. The codec (codec.h) encodes and validates all of them from these declarations, the domain
// side implements each control operation once (domain/control_server.cc), and the supervisor calls one through a
// single generic entry point (supervisor/driver_domain.h): adding an operation is a declaration here, its
// implementation there, and its caller.
//
// A declaration is a struct with:
//   kType      the SIDE_MSG_* number (protocol.h)
//   kName      for messages and errors ("probe")
//   Args       trivially copyable, at most SIDE_MSG_BODY_SIZE bytes: the arguments, in the header
//   Payload    NoPayload, FixedPayload<T> (exactly sizeof(T) bytes) or BytesPayload<Max, Unit> (at most Max bytes,
//              a whole number of Unit-byte elements)
//   valid()    the ranges of the arguments (and of a fixed payload), checked by the codec on both ends
// and, for control operations only:
//   Reply      the payload of a successful reply (the same kinds); a refusal's payload is its explanation (text)
//   kReplay    whether recovery replays it on a restarted driver (kRecord), forgets an earlier one (kErase), or
//              neither; kReplaySlot names the operation whose record it replaces or erases (itself by default)
//   kTarget    what Args::target names (kTarget != kNone: Args starts with `uint64_t target`): recovery
//              translates stable network device and PCI device tokens to each generation's own
//   kSlow      the driver may take long (it resets its device): the longer liveness bound applies
//   kReplayLast  replayed after every other record (an interface is brought up once its configuration is back:
//              configuring a running e1000 resets it)
//   SIDE_KAPI_ENTRY(fn) and enter()  when the operation is one call of a kernel-API entry point (kapi/side_host.h):
//              `fn` by name and type, and how its arguments, payload and reply map onto fn's parameters. The
//              domain runs every such operation the same way (domain/control_server.cc): nothing else to write
// Changing any of these changes the wire format: increment SIDE_IPC_VERSION (protocol.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "ipc/protocol.h"
#include "kapi/side_host.h"

namespace side::ipc {

// ---- payload kinds --------------------------------------------------------------------------------------------

struct NoPayload {};
template <class T>
struct FixedPayload {
  static_assert(std::is_trivially_copyable_v<T>);
  using Type = T;
};
template <uint32_t Max, uint32_t Unit = 1>
struct BytesPayload {
  static constexpr uint32_t kMax = Max, kUnit = Unit;
};

enum class Replay : uint8_t { kNo, kRecord, kErase };

// The kernel-API entry point that carries an operation out: its name (looked up in the loaded layer) and its type,
// both from the one prototype in side_host.h, so that a declaration cannot call it with the wrong parameters.
#define SIDE_KAPI_ENTRY(fn)                  \
  static constexpr const char* kEntry = #fn; \
  using Entry = decltype(&::fn)
using Bytes = std::span<const uint8_t>;
enum class Target : uint8_t { kNone, kDevice, kPdev, kNetdev };

// What most declarations share (a declaration overrides what differs).
struct MessageDefaults {
  using Payload = NoPayload;
  using Reply = NoPayload;
  static constexpr Replay kReplay = Replay::kNo;
  static constexpr Target kTarget = Target::kNone;
  static constexpr bool kSlow = false;
  static constexpr bool kReplayLast = false;
  template <class A>
  static constexpr bool valid(const A&) {
    return true;
  }
};

// A refusal's explanation, and other text a domain sends: at most this many bytes (the receiver sanitizes it).
inline constexpr uint32_t kMaxText = 1024;
// The most multicast addresses a receive-mode request carries (as side_kapi_netdev_set_rx_mode accepts).
inline constexpr uint32_t kMaxMulticast = 256;
inline constexpr uint32_t kMaxModuleName = 64;

struct MacAddress {
  uint8_t bytes[6];
};

// ---- control operations: supervisor -> domain vCPU 0, answered by Reply -------------------------------------

struct AttachDevice : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_ATTACH_DEVICE;
  static constexpr const char* kName = "attach";
  struct Args {
    uint64_t target;  // the device number, as in the payload
  };
  using Payload = FixedPayload<side_pci_device_info>;
  static constexpr Replay kReplay = Replay::kRecord;
  static constexpr Target kTarget = Target::kDevice;
  static constexpr bool valid(const Args& a, const side_pci_device_info& info) { return a.target == info.device; }
};

struct Probe : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_PROBE;
  static constexpr const char* kName = "probe";
  struct Args {
    uint64_t target;  // device number
  };
  using Reply = FixedPayload<uint64_t>;  // the pci_dev token
  static constexpr Replay kReplay = Replay::kRecord;
  static constexpr Target kTarget = Target::kDevice;
  static constexpr bool kSlow = true;
  static constexpr bool valid(const Args& a) { return a.target <= UINT32_MAX; }
};

struct Remove : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_REMOVE;
  static constexpr const char* kName = "remove";
  struct Args {
    uint64_t target;  // pci_dev token
  };
  static constexpr Replay kReplay = Replay::kErase;
  static constexpr uint16_t kReplaySlot = SIDE_MSG_PROBE;
  static constexpr Target kTarget = Target::kPdev;
  static constexpr bool kSlow = true;
};

struct Open : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_OPEN;
  static constexpr const char* kName = "open";
  struct Args {
    uint64_t target;  // netdev token
  };
  static constexpr Replay kReplay = Replay::kRecord;
  static constexpr bool kReplayLast = true;
  static constexpr Target kTarget = Target::kNetdev;
  static constexpr bool kSlow = true;
  SIDE_KAPI_ENTRY(side_kapi_netdev_open);
  static int enter(Entry f, const Args& a, NoPayload, NoPayload&) { return f(a.target); }
};

struct Close : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_CLOSE;
  static constexpr const char* kName = "close";
  struct Args {
    uint64_t target;
  };
  static constexpr Replay kReplay = Replay::kErase;
  static constexpr uint16_t kReplaySlot = SIDE_MSG_OPEN;
  static constexpr Target kTarget = Target::kNetdev;
  static constexpr bool kSlow = true;
  SIDE_KAPI_ENTRY(side_kapi_netdev_close);
  static int enter(Entry f, const Args& a, NoPayload, NoPayload&) {
    f(a.target);
    return 0;
  }
};

struct Stats : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_STATS;
  static constexpr const char* kName = "statistics";
  struct Args {
    uint64_t target;
  };
  using Reply = FixedPayload<side_netdev_stats>;
  static constexpr Target kTarget = Target::kNetdev;
  SIDE_KAPI_ENTRY(side_kapi_netdev_stats);
  static int enter(Entry f, const Args& a, NoPayload, side_netdev_stats& out) {
    f(a.target, &out);
    return 0;
  }
};

struct Unload : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_UNLOAD;
  static constexpr const char* kName = "unload";
  struct Args {};
  using Payload = BytesPayload<kMaxModuleName>;  // the module's name
  static constexpr bool kSlow = true;
};

struct SetMtu : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_SET_MTU;
  static constexpr const char* kName = "MTU";
  struct Args {
    uint64_t target;
    uint32_t mtu;
  };
  static constexpr Replay kReplay = Replay::kRecord;
  static constexpr Target kTarget = Target::kNetdev;
  static constexpr bool kSlow = true;  // e1000 resets its device for a new MTU
  SIDE_KAPI_ENTRY(side_kapi_netdev_set_mtu);
  static int enter(Entry f, const Args& a, NoPayload, NoPayload&) { return f(a.target, a.mtu); }
};

struct SetMac : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_SET_MAC;
  static constexpr const char* kName = "MAC address";
  struct Args {
    uint64_t target;
    MacAddress mac;
  };
  static constexpr Replay kReplay = Replay::kRecord;
  static constexpr Target kTarget = Target::kNetdev;
  SIDE_KAPI_ENTRY(side_kapi_netdev_set_mac);
  static int enter(Entry f, const Args& a, NoPayload, NoPayload&) { return f(a.target, a.mac.bytes); }
};

struct SetRxMode : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_SET_RX_MODE;
  static constexpr const char* kName = "receive mode";
  struct Args {
    uint64_t target;
    uint32_t flags;  // SIDE_RX_*
  };
  using Payload = BytesPayload<kMaxMulticast * 6, 6>;  // the multicast addresses
  static constexpr Replay kReplay = Replay::kRecord;
  static constexpr Target kTarget = Target::kNetdev;
  static constexpr bool valid(const Args& a) { return (a.flags & ~(SIDE_RX_PROMISC | SIDE_RX_ALLMULTI)) == 0; }
  SIDE_KAPI_ENTRY(side_kapi_netdev_set_rx_mode);
  static int enter(Entry f, const Args& a, Bytes mc, NoPayload&) {
    return f(a.target, a.flags, mc.data(), static_cast<uint32_t>(mc.size() / 6));
  }
};

struct Ethtool : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_ETHTOOL;
  static constexpr const char* kName = "ethtool";
  struct Args {
    uint64_t target;
  };
  using Reply = FixedPayload<side_ethtool_info>;
  static constexpr Target kTarget = Target::kNetdev;
  SIDE_KAPI_ENTRY(side_kapi_netdev_ethtool);
  static int enter(Entry f, const Args& a, NoPayload, side_ethtool_info& out) { return f(a.target, &out); }
};

// ethtool -r: the driver restarts auto-negotiation (ethtool_ops->nway_reset; e1000 resets its device).
struct NwayReset : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_NWAY_RESET;
  static constexpr const char* kName = "auto-negotiation restart";
  struct Args {
    uint64_t target;
  };
  static constexpr Target kTarget = Target::kNetdev;
  static constexpr bool kSlow = true;
  SIDE_KAPI_ENTRY(side_kapi_netdev_nway_reset);
  static int enter(Entry f, const Args& a, NoPayload, NoPayload&) { return f(a.target); }
};

// ---- block devices: side's own requests to a disk a driver added (kapi/side_host.h, "block devices") ---------

// What disk `target` (an index, in the order disks were added) is.
struct BlockInfo : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_BLOCK_INFO;
  static constexpr const char* kName = "block device info";
  struct Args {
    uint64_t target;  // disk index
  };
  using Reply = FixedPayload<side_block_info>;
  static constexpr bool valid(const Args& a) { return a.target < 64; }
  SIDE_KAPI_ENTRY(side_kapi_block_info);
  static int enter(Entry f, const Args& a, NoPayload, side_block_info& out) {
    return f(static_cast<uint32_t>(a.target), &out);
  }
};

// A physically contiguous buffer of 2^order pages in the arena for block data; the reply is its arena offset,
// where the supervisor reads and writes the data through its own mapping of the arena.
struct BlockBuffer : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_BLOCK_BUFFER;
  static constexpr const char* kName = "block buffer";
  struct Args {
    uint32_t order;
  };
  using Reply = FixedPayload<uint64_t>;
  static constexpr bool valid(const Args& a) { return a.order <= 10; }
  SIDE_KAPI_ENTRY(side_kapi_block_buffer_alloc);
  static int enter(Entry f, const Args& a, NoPayload, uint64_t& offset) { return f(a.order, &offset); }
};

// The most pieces one block request carries over the control ring (each 16 bytes; a slot is 4 KiB).
inline constexpr uint32_t kMaxBlockSegments = 240;

// One request (SIDE_BLOCK_* op and flags), answered when the driver completed it: 0 or its negative errno. The
// data is in the arena at the pieces' offsets, which the domain checks.
struct BlockRequest : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_BLOCK_REQUEST;
  static constexpr const char* kName = "block request";
  struct Args {
    uint64_t target;  // disk index
    uint64_t sector;
    uint32_t op;
    uint32_t nr_sectors;
  };
  using Payload = BytesPayload<kMaxBlockSegments * sizeof(side_block_seg), sizeof(side_block_seg)>;
  static constexpr bool kSlow = true;
  static constexpr bool valid(const Args& a) { return a.target < 64; }
  SIDE_KAPI_ENTRY(side_kapi_block_rw);
  static int enter(Entry f, const Args& a, Bytes segs, NoPayload&) {
    // The payload need not be aligned for side_block_seg: the layer copies the pieces before reading them.
    return f(static_cast<uint32_t>(a.target), a.op, a.sector, a.nr_sectors,
             reinterpret_cast<const side_block_seg*>(segs.data()), static_cast<uint32_t>(segs.size() / 16));
  }
};

// One request, asynchronously: answered as soon as the layer accepted it (or refused it), and completed later by a
// BlockDone event carrying `tag`, which the supervisor chose and the domain only echoes. The domain runs it itself
// (domain/block_calls.cc): the completion it hands the layer posts that event.
struct BlockSubmit : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_BLOCK_SUBMIT;
  static constexpr const char* kName = "block submit";
  struct Args {
    uint64_t target;  // disk index
    uint64_t sector;
    uint32_t op;
    uint32_t nr_sectors;
    uint64_t tag;
  };
  using Payload = BytesPayload<kMaxBlockSegments * sizeof(side_block_seg), sizeof(side_block_seg)>;
  static constexpr bool valid(const Args& a) { return a.target < 64; }
};

struct Inject : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_INJECT;
  static constexpr const char* kName = "fault injection";
  struct Args {
    uint32_t type;  // SIDE_INJECT_*
    uint64_t seed;
  };
  using Reply = BytesPayload<kMaxText>;  // what was done
  static constexpr bool valid(const Args& a) {
    return a.type >= SIDE_INJECT_BITFLIP && a.type <= SIDE_INJECT_ALLOC_FAILED;
  }
};

// Not answered: the domain exits.
struct Shutdown : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_SHUTDOWN;
  static constexpr const char* kName = "shutdown";
  struct Args {};
};

// ---- events: domain -> supervisor ---------------------------------------------------------------------------

// The answer to a control request (same cookie). status 0: the payload is the operation's Reply; else -errno (or
// -1) and the payload is the explanation.
struct ControlReply : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_REPLY;
  static constexpr const char* kName = "reply";
  struct Args {
    int64_t status;
  };
  using Payload = BytesPayload<UINT32_MAX>;  // bounded by the event ring; checked against the operation's Reply
};

struct Ready : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_READY;
  static constexpr const char* kName = "ready";
  struct Args {
    uint32_t version;  // SIDE_IPC_VERSION (checked by the receiver: a mismatch is a start-up error, not a fault)
    uint32_t pid;
    int32_t status;  // 0: the driver is loaded; else the payload says why not
  };
  using Payload = BytesPayload<kMaxText>;  // the driver's name, or the error
};

struct Log : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_LOG;
  static constexpr const char* kName = "log";
  struct Args {
    uint32_t level;  // 0 emerg ... 7 debug
  };
  using Payload = BytesPayload<UINT32_MAX>;  // one line, bounded by the event ring
  static constexpr bool valid(const Args& a) { return a.level <= 7; }
};

struct Fault : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_FAULT;
  static constexpr const char* kName = "fault";
  struct Args {
    uint32_t kind;  // enum side_fault_kind
    uint64_t address;
  };
  using Payload = BytesPayload<kMaxText>;  // "message\0location\0"
  static constexpr bool valid(const Args& a) { return a.kind > SIDE_FAULT_NONE && a.kind < SIDE_FAULT_KIND_COUNT; }
};

struct NetdevRegister : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_NETDEV_REGISTER;
  static constexpr const char* kName = "network device registration";
  struct Args {};
  using Payload = FixedPayload<side_netdev_info>;
};

struct NetdevChanged : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_NETDEV_CHANGED;
  static constexpr const char* kName = "network device change";
  struct Args {};
  using Payload = FixedPayload<side_netdev_info>;
};

struct NetdevUnregister : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_NETDEV_UNREGISTER;
  static constexpr const char* kName = "network device removal";
  struct Args {
    uint64_t token;
  };
};

struct Carrier : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_CARRIER;
  static constexpr const char* kName = "carrier";
  struct Args {
    uint64_t token;
    uint32_t on;
  };
  static constexpr bool valid(const Args& a) { return a.on <= 1; }
};

struct TxWake : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_TX_WAKE;
  static constexpr const char* kName = "transmit wake-up";
  struct Args {
    uint64_t token;
    uint32_t queue;
  };
};

// A BlockSubmit request completed: 0 or a negative errno (blk_status_to_errno), nothing else.
struct BlockDone : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_BLOCK_DONE;
  static constexpr const char* kName = "block completion";
  struct Args {
    uint64_t tag;
    int32_t status;
  };
  static constexpr bool valid(const Args& a) { return a.status <= 0 && a.status >= -4095; }
};

// A DMA permission change: posted on the event ring, or a device request answered on the reply ring.
struct DmaArgs {
  uint32_t dev;
  int32_t dir;  // SIDE_DMA_*
  uint64_t phys, size;
};
constexpr bool valid_dma(const DmaArgs& a) {
  return a.dir >= SIDE_DMA_BIDIRECTIONAL && a.dir <= SIDE_DMA_FROM_DEVICE && a.size > 0;
}
struct DmaMapPosted : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_DMA_MAP_POSTED;
  static constexpr const char* kName = "posted DMA mapping";
  using Args = DmaArgs;
  static constexpr bool valid(const Args& a) { return valid_dma(a); }
};
struct DmaUnmapPosted : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_DMA_UNMAP_POSTED;
  static constexpr const char* kName = "posted DMA unmapping";
  using Args = DmaArgs;
  static constexpr bool valid(const Args& a) { return valid_dma(a); }
};

// ---- device requests: domain vCPU c -> supervisor, answered (reads, maps) with a DeviceReply ---------------------

struct ConfigRead : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_CONFIG_READ;
  static constexpr const char* kName = "config read";
  struct Args {
    uint32_t dev, offset, width;
  };
  static constexpr bool valid(const Args& a) { return a.width == 1 || a.width == 2 || a.width == 4; }
};
struct ConfigWrite : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_CONFIG_WRITE;
  static constexpr const char* kName = "config write";
  struct Args {
    uint32_t dev, offset, width, value;
  };
  static constexpr bool valid(const Args& a) { return a.width == 1 || a.width == 2 || a.width == 4; }
};

constexpr bool valid_bar_access(uint32_t bar, uint32_t width) {
  return bar < 6 && (width == 1 || width == 2 || width == 4 || width == 8);
}
struct BarRead : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_BAR_READ;
  static constexpr const char* kName = "register read";
  struct Args {
    uint32_t dev, bar;
    uint64_t offset;
    uint32_t width;
  };
  static constexpr bool valid(const Args& a) { return valid_bar_access(a.bar, a.width); }
};
struct BarWrite : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_BAR_WRITE;
  static constexpr const char* kName = "register write";
  struct Args {
    uint32_t dev, bar;
    uint64_t offset;
    uint32_t width;
    uint64_t value;
  };
  static constexpr bool valid(const Args& a) { return valid_bar_access(a.bar, a.width); }
};
struct DmaMap : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_DMA_MAP;
  static constexpr const char* kName = "DMA mapping";
  using Args = DmaArgs;
  static constexpr bool valid(const Args& a) { return valid_dma(a); }
};
struct DmaUnmap : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_DMA_UNMAP;
  static constexpr const char* kName = "DMA unmapping";
  using Args = DmaArgs;
  static constexpr bool valid(const Args& a) { return valid_dma(a); }
};
// supervisor -> domain vCPU c
struct DeviceReply : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_DEVICE_REPLY;
  static constexpr const char* kName = "device reply";
  struct Args {
    int64_t status;  // 0 or -errno
    uint64_t value;  // what a read read
  };
};

// ---- data ------------------------------------------------------------------------------------------------------

// The offloads a frame asks for, as a virtio-net header may name them: a checksum to insert, TCP segmentation
// with a segment size, both only with the checksum (segments are TCP). The kernel-API layer checks them against
// the frame itself.
constexpr bool valid_tx_offload(const side_tx_offload& o) {
  const bool csum = o.flags == SIDE_TX_NEEDS_CSUM;
  if (o.flags & ~SIDE_TX_NEEDS_CSUM || o.pad) return false;
  if (o.gso_type == SIDE_TX_GSO_NONE) return o.gso_size == 0;
  return (o.gso_type == SIDE_TX_GSO_TCPV4 || o.gso_type == SIDE_TX_GSO_TCPV6) && csum && o.gso_size != 0;
}
struct TxFrame : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_TX_FRAME;
  static constexpr const char* kName = "transmit frame";
  struct Args {
    uint64_t netdev;
    side_tx_offload offload;
  };
  // Up to SIDE_MAX_FRAME without segmentation: the kernel-API layer refuses a longer one (and the MTU bounds it).
  using Payload = BytesPayload<SIDE_MAX_GSO_FRAME>;
  static constexpr bool valid(const Args& a) { return valid_tx_offload(a.offload); }
};
struct RxFrame : MessageDefaults {
  static constexpr uint16_t kType = SIDE_MSG_RX_FRAME;
  static constexpr const char* kName = "received frame";
  struct Args {
    uint64_t netdev;
    uint32_t csum;  // the skb's ip_summed: CHECKSUM_NONE 0 ... CHECKSUM_PARTIAL 3
  };
  using Payload = BytesPayload<SIDE_MAX_FRAME>;
  static constexpr bool valid(const Args& a) { return a.csum <= 3; }
};

// ---- the lists -----------------------------------------------------------------------------------------------

template <class... M>
struct MessageList {};

using ControlOps = MessageList<AttachDevice, Probe, Remove, Open, Close, Stats, Unload, SetMtu, SetMac, SetRxMode,
                               Ethtool, NwayReset, Inject, BlockInfo, BlockBuffer, BlockRequest, BlockSubmit>;
using EventMessages = MessageList<ControlReply, Ready, Log, Fault, NetdevRegister, NetdevChanged, NetdevUnregister,
                                  Carrier, TxWake, DmaMapPosted, DmaUnmapPosted, BlockDone>;
using DeviceMessages = MessageList<ConfigRead, ConfigWrite, BarRead, BarWrite, DmaMap, DmaUnmap>;
using DataMessages = MessageList<TxFrame, RxFrame>;

template <class... Lists>
struct JoinLists;
template <class... A>
struct JoinLists<MessageList<A...>> {
  using Type = MessageList<A...>;
};
template <class... A, class... B, class... Rest>
struct JoinLists<MessageList<A...>, MessageList<B...>, Rest...> {
  using Type = typename JoinLists<MessageList<A..., B...>, Rest...>::Type;
};
using AllMessages = JoinLists<ControlOps, MessageList<Shutdown>, EventMessages, DeviceMessages, DataMessages>::Type;

// Calls f(M{}) for the message of `type` in `List`; false if none has that type.
template <class... M, class F>
bool visit_message(MessageList<M...>, uint16_t type, F&& f) {
  return ((type == M::kType ? (f(M{}), true) : false) || ...);
}
template <class... M, class F>
void for_each_message(MessageList<M...>, F&& f) {
  (f(M{}), ...);
}

// What recovery and liveness need to know of a control operation, at run time.
struct OpInfo {
  uint16_t type = 0;
  const char* name = "control";
  Replay replay = Replay::kNo;
  uint16_t replay_slot = 0;
  Target target = Target::kNone;
  bool slow = false;
  bool replay_last = false;
  bool mints_pdev = false;  // a successful reply is a new PCI device token (probe)
};

template <class Op>
constexpr OpInfo op_info() {
  OpInfo i;
  i.type = Op::kType;
  i.name = Op::kName;
  i.replay = Op::kReplay;
  if constexpr (requires { Op::kReplaySlot; })
    i.replay_slot = Op::kReplaySlot;
  else
    i.replay_slot = Op::kType;
  i.target = Op::kTarget;
  i.slow = Op::kSlow;
  i.replay_last = Op::kReplayLast;
  i.mints_pdev = Op::kTarget == Target::kDevice && std::is_same_v<typename Op::Reply, FixedPayload<uint64_t>>;
  return i;
}

// The declaration of control operation `type` (a default OpInfo, type 0, for an unknown one).
inline OpInfo control_op_info(uint16_t type) {
  OpInfo out;
  visit_message(ControlOps{}, type, [&](auto op) { out = op_info<decltype(op)>(); });
  return out;
}

}  // namespace side::ipc
