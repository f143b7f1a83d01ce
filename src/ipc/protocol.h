/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The messages between the supervisor and a domain process (isolation "process"). One C-compatible header, so
 * that any implementation of either side can be written against it. Everything travels through single-producer,
 * single-consumer rings of fixed-size slots in shared memory (ring.h; a message takes one slot or, on the data
 * rings, as many consecutive ones as its payload needs); the receiver copies a message out of its
 * slot before looking at it, and the supervisor validates every field of every message it copies.
 *
 * This header gives the envelope and the type numbers; ipc/messages.h declares, once for both ends, each message's
 * typed arguments, payload and reply, and ipc/codec.h encodes and validates them. The payload structures are in
 * ipc/wire.h.
 *
 * Version 4 (typed arguments in the header's body instead of six positional words; every payload structure under
 * this version). A change to any layout or meaning here, in wire.h or in messages.h increments SIDE_IPC_VERSION.
 */
#ifndef SIDE_IPC_PROTOCOL_H
#define SIDE_IPC_PROTOCOL_H

#include <stdint.h>

#include "ipc/wire.h"

#define SIDE_IPC_MAGIC 0x53494445u /* "SIDE" */
#define SIDE_IPC_VERSION 10u

/* Every message starts with this header at the start of a slot; `len` payload bytes follow it, running on into
 * the next slots (and from the last slot to the first) when one slot is not enough. */
#define SIDE_MSG_BODY_SIZE 48u
struct side_msg {
  uint16_t type; /* enum side_msg_type */
  uint16_t flags;
  uint32_t len;    /* payload bytes after the header */
  uint64_t cookie; /* a request's number; its reply carries the same */
  /* The message's arguments: the `Args` structure messages.h declares for `type`, copied in (zero-filled beyond). */
  uint64_t body[SIDE_MSG_BODY_SIZE / 8];
};

#define SIDE_MSG_HEADER_SIZE 64u

#define SIDE_MAX_FRAME 16384u
/* A frame to transmit with TCP segmentation offload (struct side_tx_offload) is up to 64 KiB of TCP segment plus
 * its headers, as a virtio-net device takes it from the host's stack (GSO_LEGACY_MAX_SIZE). */
#define SIDE_MAX_GSO_FRAME (65536u + 128u)

enum side_msg_type {
  SIDE_MSG_NONE = 0,

  /* supervisor -> domain, control ring (vCPU 0); each is answered by a SIDE_MSG_REPLY with its cookie. (1 is
   * unused: a domain process loads its driver when it starts, from the descriptors it was given.) */
  SIDE_MSG_ATTACH_DEVICE = 2,
  SIDE_MSG_PROBE = 3,
  SIDE_MSG_REMOVE = 4,
  SIDE_MSG_OPEN = 5,
  SIDE_MSG_CLOSE = 6,
  SIDE_MSG_STATS = 7,
  SIDE_MSG_UNLOAD = 8,
  SIDE_MSG_SHUTDOWN = 9, /* no reply: the domain exits */
  SIDE_MSG_SET_MTU = 10,
  SIDE_MSG_SET_MAC = 11,
  SIDE_MSG_SET_RX_MODE = 12,
  SIDE_MSG_ETHTOOL = 13,
  SIDE_MSG_INJECT = 14,
  SIDE_MSG_NWAY_RESET = 15,
  SIDE_MSG_BLOCK_INFO = 16,
  SIDE_MSG_BLOCK_BUFFER = 17,
  SIDE_MSG_BLOCK_REQUEST = 18,
  SIDE_MSG_BLOCK_SUBMIT = 19, /* answered once the request is accepted; its completion is a SIDE_MSG_BLOCK_DONE */

  /* domain -> supervisor, event ring */
  SIDE_MSG_REPLY = 32, /* to a control request (same cookie) */
  SIDE_MSG_LOG = 33,
  SIDE_MSG_FAULT = 34,
  SIDE_MSG_NETDEV_REGISTER = 35,
  SIDE_MSG_NETDEV_UNREGISTER = 36,
  SIDE_MSG_CARRIER = 37,
  SIDE_MSG_TX_WAKE = 38,
  SIDE_MSG_READY = 39, /* the domain is up (or failed to load its driver) */
  SIDE_MSG_NETDEV_CHANGED = 40,
  /* DMA address pre-translation: the domain computed the address itself and does not wait. The supervisor applies
   * every posted change before it carries out any later device request of the domain; a refused one is a fault. */
  SIDE_MSG_DMA_MAP_POSTED = 41,
  SIDE_MSG_DMA_UNMAP_POSTED = 42,
  SIDE_MSG_BLOCK_DONE = 43, /* a SIDE_MSG_BLOCK_SUBMIT request completed (its tag) */

  /* domain -> supervisor, one device ring per virtual CPU; reads and maps are answered on that vCPU's reply ring
   * with a SIDE_MSG_DEVICE_REPLY, writes are posted */
  SIDE_MSG_CONFIG_READ = 64,
  SIDE_MSG_CONFIG_WRITE = 65,
  SIDE_MSG_BAR_READ = 66,
  SIDE_MSG_BAR_WRITE = 67,
  SIDE_MSG_DMA_MAP = 68,
  SIDE_MSG_DMA_UNMAP = 69,
  SIDE_MSG_DEVICE_REPLY = 70,

  /* data rings */
  SIDE_MSG_TX_FRAME = 96, /* supervisor -> domain */
  SIDE_MSG_RX_FRAME = 97, /* domain -> supervisor */
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
