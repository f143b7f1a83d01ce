/* SPDX-License-Identifier: GPL-2.0-only */
/* Declarations shared by the network-stack files of the kernel-API layer (net_*.c). */
#ifndef SIDE_NET_CORE_H
#define SIDE_NET_CORE_H

#include <linux/netdevice.h>
#include <linux/skbuff.h>

/* The token the host knows a net_device by. */
static inline side_u64 side_netdev_token(const struct net_device *dev)
{
	return (side_u64)(unsigned long)dev;
}

/* Hands a received frame (skb->data at the Ethernet header once pushed back) to the host, then frees the skb as the
 * stack would once it consumed it. */
void side_net_deliver(struct sk_buff *skb);

/* Releases an skb whose last user is gone (users already dropped). */
void side_skb_free(struct sk_buff *skb, unsigned long caller);

/* Checks that `skb` is a live skb before a reference is dropped; faults on a freed one. */
void side_skb_check_live(const struct sk_buff *skb, const char *what, unsigned long caller);

/* A registered device named by a host token, or NULL. Caller holds rtnl (or the registered list's lock). */
struct net_device *side_netdev_lookup(side_u64 token);

/* What the host learns of `dev` (side_host_netdev_register/changed). */
void side_fill_info(struct net_device *dev, struct side_netdev_info *info);

/* Empties dev->mc (unregistration). Caller holds rtnl. */
void side_dev_mc_flush(struct net_device *dev);

/* ethtool_sprintf() with its arguments as a va_list (net_ethtool.c; its sfi-checked variant calls it too). */
void side_ethtool_vsprintf(u8 **data, const char *fmt, va_list args);

/* The transmit watchdog (net_watchdog.c): set up with the device, armed by __netdev_watchdog_up() (open, carrier
 * on), taken down at close before the driver's ndo_stop. */
void side_netdev_watchdog_init(struct net_device *dev);
void side_netdev_watchdog_down(struct net_device *dev);

/* Netdevice notifier events (net_notifier.c) and the walk over registered devices they replay (net_device.c). */
void side_netdev_notify(unsigned long event, struct net_device *dev);
int side_netdev_for_each(int (*fn)(struct net_device *dev, void *arg), void *arg);

/* The skb for one frame the host transmits, with the offloads it asks for made what `dev` can take (net_offload.c).
 * NULL with *err set if the frame must not be sent. */
struct sk_buff *side_xmit_build_skb(struct net_device *dev, const void *frame, u32 len,
				    const struct side_tx_offload *o, int *err);

#endif
