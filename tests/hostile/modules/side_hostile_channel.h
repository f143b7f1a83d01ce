/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * How a hostile module inside a domain finds the channel it shares with the supervisor, as an attacker would: the
 * domain maps it at an address the kernel chose, but its runtime keeps pointers to it on the stack of virtual
 * CPU 0, the thread that runs module init and probe. Every word above the current frame that could point into a
 * page is tried: that page is the channel when it starts with side's magic, protocol version and channel size.
 * Memory is probed with futex(FUTEX_WAIT, value, 1 ns), which the sandbox allows: it answers EFAULT for an
 * unmapped address and compares the word without faulting, so the search never faults the module itself.
 * The layout (side_hostile_layout.h) is generated from src/ipc at build time.
 */
#ifndef SIDE_HOSTILE_CHANNEL_H
#define SIDE_HOSTILE_CHANNEL_H

#include <linux/types.h>
#include "side_hostile_layout.h"
#include "side_raw_syscall.h"

#define HOSTILE_NR_FUTEX 202
#define HOSTILE_FUTEX_WAIT 0
#define HOSTILE_FUTEX_WAKE 1
#define HOSTILE_ETIMEDOUT 110
#define HOSTILE_EFAULT 14

/* Sleeps for real (msleep() follows the domain's virtual clock, which need not give the supervisor any time). */
static inline void hostile_sleep_us(long us)
{
	long ts[2] = { us / 1000000, (us % 1000000) * 1000 };

	side_raw_syscall(35 /* nanosleep */, (long)ts, 0, 0, 0, 0, 0);
}

/* 1: the 32-bit word at addr is readable and equals value; 0: readable, another value; -1: not readable. */
static inline int hostile_word_is(unsigned long addr, u32 value)
{
	long timeout[2] = { 0, 1 };
	long r = side_raw_syscall(HOSTILE_NR_FUTEX, (long)addr, HOSTILE_FUTEX_WAIT, value, (long)timeout, 0, 0);

	if (r == -HOSTILE_EFAULT)
		return -1;
	return r == -HOSTILE_ETIMEDOUT ? 1 : 0;
}

static inline bool hostile_is_channel(unsigned long page)
{
	return hostile_word_is(page + SIDE_H_MAGIC_OFFSET, SIDE_H_MAGIC) == 1 &&
	       hostile_word_is(page + SIDE_H_VERSION_OFFSET, SIDE_H_VERSION) == 1 &&
	       hostile_word_is(page + SIDE_H_SIZE_OFFSET, (u32)SIDE_H_CHANNEL_SIZE) == 1;
}

/* The channel's address, or 0. Scans at most 1 MiB of stack, stopping at its first unreadable page. */
static noinline unsigned long hostile_find_channel(void)
{
	unsigned long sp = (unsigned long)__builtin_frame_address(0) & ~7UL;
	unsigned long end = sp + (1UL << 20), last = 0, at;

	for (at = sp; at < end; at += 8) {
		unsigned long v, page;

		if ((at & 4095) == 0 || at == sp) {
			if (hostile_word_is(at, 0) < 0)
				break;
		}
		v = *(unsigned long *)at;
		page = v & ~4095UL;
		if (page < 0x10000 || page >= 0x800000000000UL || page == last)
			continue;
		last = page;
		if (hostile_is_channel(page))
			return page;
	}
	return 0;
}

/* A ring's shared part (indices, then slots) in the channel. */
struct hostile_ring {
	u32 *head, *tail;
	u8 *slots;
	u32 nr, slot_size;
};

static inline struct hostile_ring hostile_ring_at(unsigned long channel, unsigned long offset, u32 nr, u32 slot_size)
{
	struct hostile_ring r;

	r.head = (u32 *)(channel + offset + SIDE_H_RING_HEAD);
	r.tail = (u32 *)(channel + offset + SIDE_H_RING_TAIL);
	r.slots = (u8 *)(channel + offset + SIDE_H_RING_SLOTS);
	r.nr = nr;
	r.slot_size = slot_size;
	return r;
}

#define HOSTILE_RING(channel, NAME) \
	hostile_ring_at(channel, SIDE_H_##NAME##_OFFSET, SIDE_H_##NAME##_SLOTS, SIDE_H_##NAME##_SLOT_SIZE)

/* The slot a ring's index names. */
static inline u8 *hostile_slot(const struct hostile_ring *r, u32 index)
{
	return r->slots + (unsigned long)(index & (r->nr - 1)) * r->slot_size;
}

/* Writes a message header (type, payload length, cookie, first argument) into a slot. */
static inline void hostile_msg(u8 *slot, u16 type, u32 len, u64 cookie, u64 arg0)
{
	memset(slot, 0, SIDE_H_MSG_HEADER_SIZE);
	*(u16 *)(slot + SIDE_H_MSG_TYPE) = type;
	*(u32 *)(slot + SIDE_H_MSG_LEN) = len;
	*(u64 *)(slot + SIDE_H_MSG_COOKIE) = cookie;
	*(u64 *)(slot + SIDE_H_MSG_ARG) = arg0;
}

/* Publishes a producer index and rings the supervisor's doorbell (a futex wake on its word). */
static inline void hostile_publish(unsigned long channel, u32 *index, u32 value, u32 bell)
{
	u32 *word = (u32 *)(channel + SIDE_H_SUPERVISOR_BELL_OFFSET);

	smp_store_release(index, value);
	__atomic_fetch_or(word, bell, __ATOMIC_SEQ_CST);
	side_raw_syscall(HOSTILE_NR_FUTEX, (long)word, HOSTILE_FUTEX_WAKE, 1, 0, 0, 0);
}

#endif
