// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hostile driver, the shared rings: its init finds the channel between its domain and the supervisor
 * (side_hostile_channel.h) and attacks the rings directly, one attack chosen by the parameter `attack`
 * (tests/hostile/attacks.json gives the verdict of each). It plays the producer of rings its domain does not use
 * while only loaded (receive frames, vCPU 2's device requests), so the domain's own ends stay coherent and what the
 * supervisor sees is the attack alone. If it cannot find the channel, the load fails: an attack that did not run is
 * never taken for one that was contained.
 */
#include <linux/module.h>
#include <linux/string.h>
#include "side_hostile_channel.h"

static char *attack = "";
module_param(attack, charp, 0444);

/* Indices published by the domain ahead of what the ring holds. */
static noinline int attack_rx_head_ahead(unsigned long ch)
{
	struct hostile_ring rx = HOSTILE_RING(ch, RX);

	hostile_publish(ch, rx.head, READ_ONCE(*rx.head) + 10 * rx.nr, SIDE_H_BELL_RX);
	hostile_sleep_us(300000);
	return 0;
}

/* A frame whose length runs past what the ring can carry. */
static noinline int attack_rx_len_beyond(unsigned long ch)
{
	struct hostile_ring rx = HOSTILE_RING(ch, RX);
	u32 head = READ_ONCE(*rx.head);

	hostile_msg(hostile_slot(&rx, head), SIDE_H_MSG_RX_FRAME, 0x7ffffff0, 0, 1);
	hostile_publish(ch, rx.head, head + 1, SIDE_H_BELL_RX);
	hostile_sleep_us(300000);
	return 0;
}

/* A message of another kind on the receive ring (a log line). */
static noinline int attack_rx_wrong_type(unsigned long ch)
{
	struct hostile_ring rx = HOSTILE_RING(ch, RX);
	u32 head = READ_ONCE(*rx.head);

	hostile_msg(hostile_slot(&rx, head), SIDE_H_MSG_LOG, 0, 0, 0);
	hostile_publish(ch, rx.head, head + 1, SIDE_H_BELL_RX);
	hostile_sleep_us(300000);
	return 0;
}

/* A device request of a type that does not exist, on vCPU 2's ring. */
static noinline int attack_device_unknown(unsigned long ch)
{
	struct hostile_ring dev = HOSTILE_RING(ch, DEVICE2);
	u32 head = READ_ONCE(*dev.head);

	hostile_msg(hostile_slot(&dev, head), 0x7777, 0, 1, 0);
	hostile_publish(ch, dev.head, head + 1, SIDE_H_BELL_DEVICE);
	hostile_sleep_us(300000);
	return 0;
}

/* The domain, consumer of its reply ring, claims replies the supervisor never sent; then asks for one. */
static noinline int attack_reply_tail_ahead(unsigned long ch)
{
	struct hostile_ring dev = HOSTILE_RING(ch, DEVICE2), reply = HOSTILE_RING(ch, REPLY2);
	u32 head = READ_ONCE(*dev.head);

	WRITE_ONCE(*reply.tail, READ_ONCE(*reply.tail) + 1000);
	hostile_msg(hostile_slot(&dev, head), SIDE_H_MSG_CONFIG_READ, 0, 1, 0);
	hostile_publish(ch, dev.head, head + 1, SIDE_H_BELL_DEVICE);
	hostile_sleep_us(300000);
	return 0;
}

/*
 * Frames as fast as the ring takes them, for a device that does not exist: the supervisor must keep taking them
 * (and drop them) rather than stall or fall behind for good. The module checks that it did.
 */
static noinline int attack_rx_flood(unsigned long ch)
{
	struct hostile_ring rx = HOSTILE_RING(ch, RX);
	const u32 frames = 200000;
	u32 head = READ_ONCE(*rx.head), start = head, stalls = 0;

	while (head - start < frames && stalls < 3000) {
		if (head - READ_ONCE(*rx.tail) >= rx.nr) {
			hostile_sleep_us(1000); /* full: the supervisor has work; give it time (3 s at most) */
			stalls++;
			continue;
		}
		hostile_msg(hostile_slot(&rx, head), SIDE_H_MSG_RX_FRAME, 60, 0, 0xdead);
		memset(hostile_slot(&rx, head) + SIDE_H_MSG_HEADER_SIZE, 0xff, 60);
		head++;
		if ((head & 63) == 0)
			hostile_publish(ch, rx.head, head, SIDE_H_BELL_RX);
	}
	hostile_publish(ch, rx.head, head, SIDE_H_BELL_RX);
	hostile_sleep_us(200000);
	pr_info("side_hostile_ring: flood: %u frames pushed, %u taken\n", head - start, READ_ONCE(*rx.tail) - start);
	return head - start == frames && READ_ONCE(*rx.tail) == head ? 0 : -EIO;
}

/*
 * Double fetch: after each log line is published, its slot keeps changing under the supervisor (the length between
 * the line's and the largest allowed, the text between plain and terminal escapes and bidi overrides). Whatever
 * the supervisor copies must be what it checks: nothing it prints may hold a control character.
 */
static noinline int attack_log_double_fetch(unsigned long ch)
{
	static const char evil[] = "\033]0;owned\007\033[2J\xc2\x9b\xe2\x80\xae\r\n\033[31mside: all clear";
	static const char plain[] = "side_hostile_ring: a plain line, nothing to see in it at all";
	struct hostile_ring ev = HOSTILE_RING(ch, EVENTS);
	int round, i;

	for (round = 0; round < 40; round++) {
		u8 *slot;
		u32 len;

		pr_info("%s %d\n", plain, round);
		slot = hostile_slot(&ev, READ_ONCE(*ev.head) - 1);
		len = READ_ONCE(*(u32 *)(slot + SIDE_H_MSG_LEN));
		for (i = 0; i < 200000; i++) {
			WRITE_ONCE(*(u32 *)(slot + SIDE_H_MSG_LEN), i & 1 ? SIDE_H_EVENTS_MAX_PAYLOAD : len);
			memcpy(slot + SIDE_H_MSG_HEADER_SIZE, i & 1 ? evil : plain, sizeof(evil) - 1);
		}
	}
	hostile_sleep_us(100000);
	return 0;
}

/* Never answers, and zeroes the stamps the domain keeps of when it entered driver code. */
static noinline int attack_stamps_zero_spin(unsigned long ch)
{
	u64 *busy = (u64 *)(ch + SIDE_H_BUSY_SINCE_OFFSET);
	int v;

	for (;;) {
		for (v = 0; v < SIDE_H_VCPUS; v++)
			WRITE_ONCE(busy[v], 0);
		cpu_relax();
	}
	return 0;
}

struct hostile_attack {
	const char *name;
	int (*run)(unsigned long channel);
};

#define A(n) { #n, attack_##n }
static const struct hostile_attack attacks[] = {
	A(rx_head_ahead), A(rx_len_beyond), A(rx_wrong_type), A(device_unknown), A(reply_tail_ahead),
	A(rx_flood), A(log_double_fetch), A(stamps_zero_spin),
};

static int __init side_hostile_ring_init(void)
{
	unsigned long channel = hostile_find_channel();
	size_t i;

	if (!channel) {
		pr_err("side_hostile_ring: channel not found\n");
		return -ENOENT;
	}
	for (i = 0; i < ARRAY_SIZE(attacks); i++) {
		if (!strcmp(attack, attacks[i].name))
			return attacks[i].run(channel);
	}
	pr_err("side_hostile_ring: unknown attack '%s'\n", attack);
	return -EINVAL;
}

module_init(side_hostile_ring_init);
MODULE_LICENSE("GPL");
