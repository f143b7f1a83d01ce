/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The messages between the supervisor and a domain process (isolation "process"). One C-compatible header, so
 * that any implementation of either side can be written against it. Everything travels through single-producer,
 * single-consumer rings of fixed-size slots in shared memory (ring.h; a message takes one slot or, on the data
 * rings, as many consecutive ones as its payload needs); the receiver copies a message out of its
 * slot before looking at it, and the supervisor validates every field of every message it copies.
 *
 * Version 3 (messages over several slots: frames up to SIDE_MAX_FRAME on the data rings). A change to any layout or
 * meaning below increments SIDE_IPC_VERSION.
 */
#ifndef SIDE_IPC_PROTOCOL_H
#define SIDE_IPC_PROTOCOL_H

#include <stdint.h>

#define SIDE_IPC_MAGIC 0x53494445u /* "SIDE" */
#define SIDE_IPC_VERSION 3u

/* Every message starts with this header at the start of a slot; `len` payload bytes follow it, running on into
 * the next slots (and from the last slot to the first) when one slot is not enough. */
struct side_msg {
  uint16_t type; /* enum side_msg_type */
  uint16_t flags;
  uint32_t len;    /* payload bytes after the header */
  uint64_t cookie; /* a request's number; its reply carries the same */
  uint64_t arg[6];
};

#define SIDE_MSG_HEADER_SIZE 64u

/* The largest frame the data rings carry (SIDE_MSG_TX_FRAME, SIDE_MSG_RX_FRAME payloads), over several slots: the
 * largest an 8254x receives with long packets enabled (16384 bytes with its FCS), so any MTU an e1000 driver
 * accepts (at most 16110) fits. A frame beyond it is dropped and counted by whoever holds it. */
#define SIDE_MAX_FRAME 16384u

enum side_msg_type {
  SIDE_MSG_NONE = 0,

  /* supervisor -> domain, control ring (vCPU 0). Each gets a SIDE_MSG_REPLY with arg[0] = 0 or -errno. */
  /* (1 is unused: a domain process loads its driver when it starts, from the descriptors it was given.) */
  SIDE_MSG_ATTACH_DEVICE = 2, /* payload: struct side_pci_device_info */
  SIDE_MSG_PROBE = 3,         /* arg[0]: device number; reply arg[1]: pci_dev token */
  SIDE_MSG_REMOVE = 4,        /* arg[0]: pci_dev token */
  SIDE_MSG_OPEN = 5,          /* arg[0]: netdev token */
  SIDE_MSG_CLOSE = 6,         /* arg[0]: netdev token */
  SIDE_MSG_STATS = 7,         /* arg[0]: netdev token; reply payload: struct side_netdev_stats */
  SIDE_MSG_UNLOAD = 8,        /* payload: module name */
  SIDE_MSG_SHUTDOWN = 9,      /* no reply: the domain exits */
  SIDE_MSG_SET_MTU = 10,      /* arg[0]: netdev token, arg[1]: MTU */
  SIDE_MSG_SET_MAC = 11,      /* arg[0]: netdev token; payload: 6 bytes */
  SIDE_MSG_SET_RX_MODE = 12,  /* arg[0]: netdev token, arg[1]: SIDE_RX_* flags; payload: 6-byte multicast addresses */
  SIDE_MSG_ETHTOOL = 13,      /* arg[0]: netdev token; reply payload: struct side_ethtool_info */
  SIDE_MSG_INJECT = 14,       /* arg[0]: SIDE_INJECT_*, arg[1]: seed; reply: value, payload: what was done */

  /* domain -> supervisor, event ring */
  SIDE_MSG_REPLY = 32,             /* to a control request (same cookie) */
  SIDE_MSG_LOG = 33,               /* arg[0]: level; payload: one line */
  SIDE_MSG_FAULT = 34,             /* arg[0]: kind; arg[1]: address; payload: "message\0location\0" */
  SIDE_MSG_NETDEV_REGISTER = 35,   /* payload: struct side_netdev_info */
  SIDE_MSG_NETDEV_UNREGISTER = 36, /* arg[0]: token */
  SIDE_MSG_CARRIER = 37,           /* arg[0]: token; arg[1]: on */
  SIDE_MSG_TX_WAKE = 38,           /* arg[0]: token; arg[1]: queue */
  SIDE_MSG_NETDEV_CHANGED = 40,    /* payload: struct side_netdev_info (a new MAC address or MTU) */
  SIDE_MSG_READY = 39,             /* the domain is up: arg[0] = SIDE_IPC_VERSION, arg[1] = pid */
  /* DMA address pre-translation: the domain computed the address itself and does not wait. The supervisor applies
   * every posted change before it carries out any later device request of the domain; a refused one is a fault. */
  SIDE_MSG_DMA_MAP_POSTED = 41,   /* arg: device, phys, size, dir */
  SIDE_MSG_DMA_UNMAP_POSTED = 42, /* arg: device, phys, size, dir */

  /* domain -> supervisor, one device ring per virtual CPU; reads and maps are answered on that vCPU's reply ring */
  SIDE_MSG_CONFIG_READ = 64,  /* arg: device, offset, width -> reply arg[0] status, arg[1] value */
  SIDE_MSG_CONFIG_WRITE = 65, /* arg: device, offset, width, value (posted) */
  SIDE_MSG_BAR_READ = 66,     /* arg: device, bar, offset, width -> reply arg[0] status, arg[1] value */
  SIDE_MSG_BAR_WRITE = 67,    /* arg: device, bar, offset, width, value (posted) */
  SIDE_MSG_DMA_MAP = 68,      /* arg: device, phys, size, dir -> reply arg[0] status */
  SIDE_MSG_DMA_UNMAP = 69,    /* arg: device, phys, size, dir -> reply arg[0] status */
  SIDE_MSG_DEVICE_REPLY = 70, /* supervisor -> domain on the reply ring */

  /* data rings */
  SIDE_MSG_TX_FRAME = 96, /* supervisor -> domain: arg[0] netdev token; payload: the frame */
  SIDE_MSG_RX_FRAME = 97, /* domain -> supervisor: arg[0] netdev token, arg[1] ip_summed; payload: the frame */
};

/* Faults a domain injects into itself for `side inject` (the supervisor injects the others). */
enum side_inject_type {
  SIDE_INJECT_BITFLIP = 1,      /* flip one bit of the driver's code */
  SIDE_INJECT_LOOP = 2,         /* make one of the driver's functions an infinite loop */
  SIDE_INJECT_POINTER = 3,      /* corrupt a pointer in the driver's heap data */
  SIDE_INJECT_WILD = 4,         /* a random store into the driver's heap data */
  SIDE_INJECT_ALLOC = 5,        /* the next 64 allocations fail */
  SIDE_INJECT_ALLOC_FAILED = 6, /* query: allocations failed by SIDE_INJECT_ALLOC so far (the reply's value) */
};

#endif /* SIDE_IPC_PROTOCOL_H */
