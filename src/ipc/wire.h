/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The payload structures and enumerations of the wire protocol between the supervisor and a driver domain
 * (protocol.h versions them: a change to any layout or meaning below increments SIDE_IPC_VERSION). One definition
 * for every user: the kernel-API layer (C, built by kbuild: this file is copied next to it and included through
 * kapi/side_host.h), the domain's host runtime and the supervisor (C++, through ipc/messages.h).
 */
#ifndef SIDE_IPC_WIRE_H
#define SIDE_IPC_WIRE_H

#ifdef __KERNEL__
#include <linux/types.h>
typedef u64 side_u64;
typedef u32 side_u32;
typedef u16 side_u16;
#else
#include <stddef.h>
#include <stdint.h>
typedef uint64_t side_u64;
typedef uint32_t side_u32;
typedef uint16_t side_u16;
#endif

/* Kinds of driver fault. Each one ends the driver's current entry point; the domain is marked faulty. */
enum side_fault_kind {
  SIDE_FAULT_NONE = 0,
  SIDE_FAULT_MEMORY = 1, /* bad memory access by driver code */
  SIDE_FAULT_ILLEGAL_INSTRUCTION = 2,
  SIDE_FAULT_BUG = 3,              /* BUG() / BUG_ON() */
  SIDE_FAULT_MISSING_SYMBOL = 4,   /* call to a kernel function the layer does not implement */
  SIDE_FAULT_BAD_ARGUMENT = 5,     /* invalid argument to a kernel service: double free, bad unlock, ... */
  SIDE_FAULT_STACK_CORRUPTION = 6, /* stack protector */
  SIDE_FAULT_PANIC = 7,            /* panic(), fortify_panic() */
  SIDE_FAULT_DEADLOCK = 8,         /* lock recursion or a lock that is never released */
  SIDE_FAULT_RESOURCE_LIMIT = 9,   /* per-domain memory or object limit exceeded */
  SIDE_FAULT_IOMMU = 10,
  SIDE_FAULT_HUNG = 11,
  SIDE_FAULT_SYSCALL = 12,     /* a system call the domain's sandbox forbids */
  SIDE_FAULT_DOMAIN_DIED = 13, /* the domain process ended (seen by the supervisor) */
  SIDE_FAULT_PROTOCOL = 14,    /* the domain sent the supervisor an invalid message */
  SIDE_FAULT_IRQ_STORM = 15,   /* a flood of interrupts no handler claims */
  SIDE_FAULT_SFI_WRITE = 16,   /* --isolation sfi: a write outside what the driver may write, stopped before it */
  SIDE_FAULT_SFI_BRANCH = 17,  /* --isolation sfi: an indirect call or jump to no function entry */
  SIDE_FAULT_SFI_RETURN = 18,  /* --isolation sfi: a return address that is not the caller's (or a foreign stack) */
  SIDE_FAULT_KIND_COUNT
};

/* DMA directions, numbered as enum dma_data_direction. */
#define SIDE_DMA_BIDIRECTIONAL 0
#define SIDE_DMA_TO_DEVICE 1
#define SIDE_DMA_FROM_DEVICE 2

/* What the host learns of a registered net_device. `token` is the struct net_device pointer: an opaque name the
 * host passes back, never dereferences. */
struct side_netdev_info {
  side_u64 token;
  char name[16];
  unsigned char mac[6];
  side_u16 pad;
  side_u32 mtu, min_mtu, max_mtu;
  side_u32 device; /* the host's device number of the parent PCI device, or ~0 */
  side_u64 features;
};

/* The offloads a frame to transmit asks of the driver, as the host's stack hands them to a virtio-net device (the
 * fields of struct virtio_net_hdr, include/uapi/linux/virtio_net.h, in host byte order): the checksum to insert
 * (`csum_offset` bytes after `csum_start`, summed from `csum_start` to the end) and the TCP segmentation (a frame
 * larger than the MTU, cut into `gso_size`-byte segments). All zero: a frame as it goes on the wire. */
#define SIDE_TX_NEEDS_CSUM 1u /* VIRTIO_NET_HDR_F_NEEDS_CSUM */
#define SIDE_TX_GSO_NONE 0u   /* VIRTIO_NET_HDR_GSO_NONE */
#define SIDE_TX_GSO_TCPV4 1u  /* VIRTIO_NET_HDR_GSO_TCPV4 */
#define SIDE_TX_GSO_TCPV6 4u  /* VIRTIO_NET_HDR_GSO_TCPV6 */
struct side_tx_offload {
  unsigned char flags;    /* SIDE_TX_NEEDS_CSUM */
  unsigned char gso_type; /* SIDE_TX_GSO_* */
  side_u16 hdr_len;       /* the headers' length (advisory, as virtio's) */
  side_u16 gso_size;      /* segment payload (MSS); 0 without segmentation */
  side_u16 csum_start;
  side_u16 csum_offset;
  side_u16 pad;
};

/* A PCI function the host assigns to the domain. */
struct side_pci_bar {
  side_u64 start; /* bus address (memory) or port (I/O); 0 when the BAR is unused */
  side_u64 size;
  side_u32 io; /* 1: I/O ports, 0: memory */
  side_u32 pad;
};
struct side_pci_device_info {
  side_u32 device;     /* the host's device number: names the device in side_host_pci_* and side_host_dma_* */
  side_u32 bus, devfn; /* e.g. 0, PCI_DEVFN(3, 0): named "0000:00:03.0" */
  side_u32 vendor_id, device_id, subsystem_vendor, subsystem_device, class_code; /* class_code: 24 bits */
  side_u32 revision;
  side_u32 irq;
  struct side_pci_bar bars[6];
};

/* Statistics as ndo_get_stats64 (or dev->stats) report them. */
struct side_netdev_stats {
  side_u64 rx_packets, tx_packets, rx_bytes, tx_bytes, rx_errors, tx_errors, rx_dropped, tx_dropped, multicast,
      collisions, rx_crc_errors, rx_missed_errors;
};

/* Receive-mode flags (side_kapi_netdev_set_rx_mode, SIDE_MSG_SET_RX_MODE): any other bit is refused. */
#define SIDE_RX_PROMISC 1u
#define SIDE_RX_ALLMULTI 2u

/* What ethtool would show of a device: the driver's get_drvinfo, get_link, get_link_ksettings and get_ringparam
 * (fields stay zero/empty when the driver lacks the operation). 0 or a negative errno. */
struct side_ethtool_info {
  char driver[32], version[32], fw_version[32], bus_info[32];
  side_u32 link;    /* get_link: 1 up, 0 down */
  side_u32 speed;   /* Mb/s, 0 if unknown */
  side_u32 duplex;  /* 0 half, 1 full, 0xff unknown */
  side_u32 autoneg; /* 1 on */
  side_u32 rx_pending, tx_pending, rx_max_pending, tx_max_pending;
};

#endif /* SIDE_IPC_WIRE_H */
