// SPDX-License-Identifier: GPL-2.0-only
/*
 * NAPI and the receive path, with the state machine of net/core/dev.c: NAPI_STATE_SCHED owns the instance,
 * MISSED asks for one more poll, DISABLE blocks scheduling while napi_disable() waits. side keeps one poll list for
 * the whole domain (the kernel has one per CPU), guarded by a spinlock because a driver may schedule from any
 * virtual CPU; the NET_RX_SOFTIRQ action runs on vCPU 1 and polls what is scheduled, within a budget of packets
 * and time, leaving the rest pending as net_rx_action() does.
 *
 * There is no GRO and no stack above: a received frame goes to the host (side_host_netdev_rx) as soon as the driver
 * hands it over, and the skb is freed as consumed. The core counts nothing in the device's statistics for a frame
 * it delivers; neither does side.
 */
#include <linux/etherdevice.h>
#include <linux/if_vlan.h>
#include <linux/interrupt.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <net/gro.h>

#include "kapi.h"
#include "net_core.h"

/* net.core.netdev_budget and netdev_budget_usecs (2 jiffies at HZ=250 is about their 8 ms). */
#define SIDE_NETDEV_BUDGET 300
/* net/core/gro.c: room for the headers napi_get_frags() skbs pull into their linear part. */
#define GRO_MAX_HEAD (MAX_HEADER + 128)
#define SIDE_NETDEV_BUDGET_NS (2ULL * NSEC_PER_SEC / HZ)

static DEFINE_SPINLOCK(side_poll_lock);
static LIST_HEAD(side_poll_list);
static bool side_net_rx_opened;
static DEFINE_SPINLOCK(side_open_lock);

static void side_net_rx_action(struct softirq_action *h);

/* ---- scheduling ---------------------------------------------------------------------------------------------- */

void __napi_schedule(struct napi_struct *n)
{
	unsigned long flags;

	spin_lock_irqsave(&side_poll_lock, flags);
	list_add_tail(&n->poll_list, &side_poll_list);
	spin_unlock_irqrestore(&side_poll_lock, flags);
	raise_softirq(NET_RX_SOFTIRQ);
}

void __napi_schedule_irqoff(struct napi_struct *n)
{
	__napi_schedule(n);
}

/* Claims the instance for a poll (SCHED); if it is already claimed, records that another poll is wanted (MISSED). */
bool napi_schedule_prep(struct napi_struct *n)
{
	unsigned long val, new;

	do {
		val = READ_ONCE(n->state);
		if (unlikely(val & NAPIF_STATE_DISABLE))
			return false;
		new = val | NAPIF_STATE_SCHED;
		if (val & NAPIF_STATE_SCHED)
			new |= NAPIF_STATE_MISSED;
	} while (cmpxchg(&n->state, val, new) != val);
	return !(val & NAPIF_STATE_SCHED);
}

bool napi_complete_done(struct napi_struct *n, int work_done)
{
	unsigned long flags, val, new;

	/* Netpoll or a busy poller owns it: they complete it themselves. */
	if (unlikely(n->state & (NAPIF_STATE_NPSVC | NAPIF_STATE_IN_BUSY_POLL)))
		return false;

	if (unlikely(!list_empty(&n->poll_list))) {
		spin_lock_irqsave(&side_poll_lock, flags);
		list_del_init(&n->poll_list);
		spin_unlock_irqrestore(&side_poll_lock, flags);
	}

	do {
		val = READ_ONCE(n->state);
		WARN_ON_ONCE(!(val & NAPIF_STATE_SCHED));
		new = val & ~(NAPIF_STATE_MISSED | NAPIF_STATE_SCHED | NAPIF_STATE_SCHED_THREADED |
			      NAPIF_STATE_PREFER_BUSY_POLL);
		/* A schedule that came in during the poll keeps SCHED: the instance polls once more. */
		if (val & NAPIF_STATE_MISSED)
			new |= NAPIF_STATE_SCHED;
	} while (cmpxchg(&n->state, val, new) != val);

	if (unlikely(val & NAPIF_STATE_MISSED)) {
		__napi_schedule(n);
		return false;
	}
	return true;
}

void netif_napi_add_weight(struct net_device *dev, struct napi_struct *napi, int (*poll)(struct napi_struct *, int),
			   int weight)
{
	unsigned long flags;

	if (WARN_ON(test_and_set_bit(NAPI_STATE_LISTED, &napi->state)))
		return;

	spin_lock_irqsave(&side_open_lock, flags);
	if (!side_net_rx_opened) {
		open_softirq(NET_RX_SOFTIRQ, side_net_rx_action);
		side_net_rx_opened = true;
	}
	spin_unlock_irqrestore(&side_open_lock, flags);

	INIT_LIST_HEAD(&napi->poll_list);
	INIT_HLIST_NODE(&napi->napi_hash_node);
	napi->gro_bitmask = 0;
	napi->skb = NULL;
	INIT_LIST_HEAD(&napi->rx_list);
	napi->rx_count = 0;
	napi->poll = poll;
	if (weight > NAPI_POLL_WEIGHT)
		netdev_err_once(dev, "%s() called with weight %d\n", __func__, weight);
	napi->weight = weight;
	napi->dev = dev;
	napi->poll_owner = -1;
	/* A new instance starts disabled: napi_enable() releases it. */
	set_bit(NAPI_STATE_SCHED, &napi->state);
	set_bit(NAPI_STATE_NPSVC, &napi->state);
	list_add_rcu(&napi->dev_list, &dev->napi_list);
}

void __netif_napi_del(struct napi_struct *napi)
{
	unsigned long flags;

	if (!test_and_clear_bit(NAPI_STATE_LISTED, &napi->state))
		return;
	spin_lock_irqsave(&side_poll_lock, flags);
	if (!list_empty(&napi->poll_list))
		list_del_init(&napi->poll_list);
	spin_unlock_irqrestore(&side_poll_lock, flags);
	list_del_rcu(&napi->dev_list);
	kfree_skb(napi->skb);
	napi->skb = NULL;
}

/* Takes the instance away from scheduling, waiting for a poll that is scheduled or running to finish. */
void napi_disable(struct napi_struct *n)
{
	unsigned long val, new;
	u64 start = 0;

	if (in_interrupt() || irqs_disabled())
		side_fault(SIDE_FAULT_DEADLOCK, SIDE_CALLER,
			   "napi_disable in atomic context (preempt_count %#x): it would wait for its own CPU",
			   preempt_count());
	set_bit(NAPI_STATE_DISABLE, &n->state);
	for (;;) {
		val = READ_ONCE(n->state);
		if (val & (NAPIF_STATE_SCHED | NAPIF_STATE_NPSVC)) {
			if (!start)
				start = side_host_real_clock_ns();
			else if (side_host_real_clock_ns() - start > 10ULL * NSEC_PER_SEC)
				side_fault(SIDE_FAULT_HUNG, SIDE_CALLER, "napi_disable: poll of %s never completed",
					   n->dev ? n->dev->name : "?");
			side_host_yield();
			continue;
		}
		new = (val | NAPIF_STATE_SCHED | NAPIF_STATE_NPSVC) & ~(NAPIF_STATE_THREADED |
									  NAPIF_STATE_PREFER_BUSY_POLL);
		if (cmpxchg(&n->state, val, new) == val)
			break;
	}
	clear_bit(NAPI_STATE_DISABLE, &n->state);
}

void napi_enable(struct napi_struct *n)
{
	unsigned long val, new;

	do {
		val = READ_ONCE(n->state);
		if (!(val & NAPIF_STATE_SCHED))
			side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "napi_enable of an instance that is not disabled");
		new = val & ~(NAPIF_STATE_SCHED | NAPIF_STATE_NPSVC);
	} while (cmpxchg(&n->state, val, new) != val);
}

/* ---- polling ------------------------------------------------------------------------------------------------- */

/* One poll of `n`, taken off the list. Returns the work done; *repoll when it used its whole weight. */
static int side_napi_poll(struct napi_struct *n, bool *repoll)
{
	int work = 0, weight = n->weight;

	if (test_bit(NAPI_STATE_SCHED, &n->state))
		work = n->poll(n, weight);
	if (unlikely(work > weight))
		netdev_err_once(n->dev, "NAPI poll function %pS returned %d, exceeding its budget of %d.\n", n->poll,
				work, weight);
	if (likely(work < weight))
		return work;
	/* The driver used its whole weight and must not have completed: the instance is still ours. */
	if (unlikely(napi_disable_pending(n))) {
		napi_complete(n);
		return work;
	}
	if (unlikely(!list_empty(&n->poll_list))) {
		pr_warn_once("%s: Budget exhausted after napi rescheduled\n", n->dev ? n->dev->name : "backlog");
		return work;
	}
	*repoll = true;
	return work;
}

static void side_net_rx_action(struct softirq_action *h)
{
	u64 deadline = side_host_clock_ns() + SIDE_NETDEV_BUDGET_NS;
	int budget = SIDE_NETDEV_BUDGET;
	unsigned long flags;
	LIST_HEAD(list);
	LIST_HEAD(repoll);

	spin_lock_irqsave(&side_poll_lock, flags);
	list_splice_init(&side_poll_list, &list);
	spin_unlock_irqrestore(&side_poll_lock, flags);

	while (!list_empty(&list)) {
		struct napi_struct *n = list_first_entry(&list, struct napi_struct, poll_list);
		bool again = false;

		list_del_init(&n->poll_list);
		budget -= side_napi_poll(n, &again);
		if (again)
			list_add_tail(&n->poll_list, &repoll);
		if (budget <= 0 || side_host_clock_ns() >= deadline) {
			this_cpu_inc(softnet_data.time_squeeze);
			break;
		}
	}

	/* What was not polled goes first, then what wants more, then what was scheduled meanwhile. */
	spin_lock_irqsave(&side_poll_lock, flags);
	list_splice_tail_init(&side_poll_list, &list);
	list_splice_tail(&repoll, &list);
	list_splice(&list, &side_poll_list);
	if (!list_empty(&side_poll_list))
		__raise_softirq_irqoff(NET_RX_SOFTIRQ);
	spin_unlock_irqrestore(&side_poll_lock, flags);
}

/* ---- receive ------------------------------------------------------------------------------------------------- */

void side_net_deliver(struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;
	unsigned int len;
	void *copy = NULL;
	const void *frame;

	if (!dev)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "received skb without a device (eth_type_trans not called?)");
	/* The frame starts at the MAC header; eth_type_trans() pulled it, so push it back as the stack would. */
	if (skb_mac_header_was_set(skb) && skb_mac_header(skb) < skb->data)
		__skb_push(skb, skb->data - skb_mac_header(skb));
	len = skb->len;
	if (skb_is_nonlinear(skb)) {
		copy = kmalloc(len, GFP_ATOMIC | __GFP_NOWARN);
		if (!copy || skb_copy_bits(skb, 0, copy, len)) {
			/* side's own copy failed, not a path of the kernel's: nothing is counted. */
			kfree(copy);
			kfree_skb(skb);
			return;
		}
		frame = copy;
	} else {
		frame = skb->data;
	}
	if (dev->reg_state == NETREG_REGISTERED)
		side_host_netdev_rx(side_netdev_token(dev), frame, len, skb->ip_summed);
	kfree(copy);
	consume_skb(skb);
}

gro_result_t napi_gro_receive(struct napi_struct *napi, struct sk_buff *skb)
{
	side_skb_check_live(skb, "napi_gro_receive", SIDE_CALLER);
	side_net_deliver(skb);
	return GRO_NORMAL;
}

int netif_receive_skb(struct sk_buff *skb)
{
	side_skb_check_live(skb, "netif_receive_skb", SIDE_CALLER);
	side_net_deliver(skb);
	return NET_RX_SUCCESS;
}

int netif_rx(struct sk_buff *skb)
{
	side_skb_check_live(skb, "netif_rx", SIDE_CALLER);
	side_net_deliver(skb);
	return NET_RX_SUCCESS;
}

struct sk_buff *napi_get_frags(struct napi_struct *napi)
{
	struct sk_buff *skb = napi->skb;

	if (!skb) {
		skb = napi_alloc_skb(napi, GRO_MAX_HEAD);
		napi->skb = skb;
	}
	return skb;
}

/* Puts napi->skb back to its empty state for the next napi_get_frags(), as napi_reuse_skb(). */
static void side_napi_reuse_skb(struct napi_struct *napi, struct sk_buff *skb)
{
	int i;

	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++)
		put_page(skb_frag_page(&skb_shinfo(skb)->frags[i]));
	skb_shinfo(skb)->nr_frags = 0;
	skb->len -= skb->data_len;
	skb->truesize -= skb->data_len;
	skb->data_len = 0;
	__skb_pull(skb, skb_headlen(skb));
	skb_reserve(skb, NET_SKB_PAD + NET_IP_ALIGN - skb_headroom(skb));
	__vlan_hwaccel_clear_tag(skb);
	skb->dev = napi->dev;
	skb->skb_iif = 0;
	skb->pkt_type = PACKET_HOST;
	skb->encapsulation = 0;
	skb_shinfo(skb)->gso_type = 0;
	skb_shinfo(skb)->gso_size = 0;
	napi->skb = skb;
}

gro_result_t napi_gro_frags(struct napi_struct *napi)
{
	struct sk_buff *skb = napi->skb;

	if (!skb)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "napi_gro_frags without an skb from napi_get_frags");
	napi->skb = NULL;
	skb_reset_mac_header(skb);
	/* The Ethernet header must be in the linear part for eth_type_trans(). */
	if (skb_headlen(skb) < ETH_HLEN && !pskb_may_pull(skb, ETH_HLEN)) {
		net_warn_ratelimited("%s: dropping impossible skb from %s\n", __func__, napi->dev->name);
		side_napi_reuse_skb(napi, skb);
		return GRO_CONSUMED;
	}
	skb->protocol = eth_type_trans(skb, skb->dev ? skb->dev : napi->dev);
	side_net_deliver(skb);
	return GRO_NORMAL;
}
