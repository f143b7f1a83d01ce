// SPDX-License-Identifier: GPL-2.0-only
/*
 * What virtual network devices (virtio_net) ask of the stack besides the common net_device calls: the ethtool
 * settings of a device whose speed is whatever it is told (net/ethtool/ioctl.c), transmit-queue steering
 * (net/core/dev.c's XPS), peer notification after the device moved, and netlink's extended-ack trace point.
 */
#include <linux/ethtool.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/netlink.h>

#include "kapi.h"

/* Only speed and duplex may be set, to values ethtool knows; everything else must be as the kernel fills it. */
static bool side_virtdev_validate_cmd(const struct ethtool_link_ksettings *cmd)
{
	struct ethtool_link_settings base2 = {};

	base2.speed = cmd->base.speed;
	base2.port = PORT_OTHER;
	base2.duplex = cmd->base.duplex;
	base2.cmd = cmd->base.cmd;
	base2.link_mode_masks_nwords = cmd->base.link_mode_masks_nwords;
	return !memcmp(&base2, &cmd->base, sizeof(base2)) &&
	       bitmap_empty(cmd->link_modes.supported, __ETHTOOL_LINK_MODE_MASK_NBITS) &&
	       bitmap_empty(cmd->link_modes.lp_advertising, __ETHTOOL_LINK_MODE_MASK_NBITS);
}

int ethtool_virtdev_set_link_ksettings(struct net_device *dev, const struct ethtool_link_ksettings *cmd,
				       u32 *dev_speed, u8 *dev_duplex)
{
	if (!ethtool_validate_speed(cmd->base.speed) || !ethtool_validate_duplex(cmd->base.duplex) ||
	    !side_virtdev_validate_cmd(cmd))
		return -EINVAL;
	*dev_speed = cmd->base.speed;
	*dev_duplex = cmd->base.duplex;
	return 0;
}

/*
 * XPS chooses the transmit queue of the CPU that sends. In a domain every frame is handed to the driver on queue
 * 0 by the host (side_kapi_xmit), from every CPU, so a map that sends the CPUs' traffic to queue 0 holds already;
 * one for another queue cannot be honoured and is refused as an out-of-range queue is.
 */
int __netif_set_xps_queue(struct net_device *dev, const unsigned long *mask, u16 index, enum xps_map_type type)
{
	if (WARN_ON_ONCE(index >= dev->num_tx_queues))
		return -EINVAL;
	if (type != XPS_CPUS && type != XPS_RXQS)
		return -EINVAL;
	return index == 0 ? 0 : -EINVAL;
}

/*
 * The kernel runs the NETDEV_NOTIFY_PEERS and NETDEV_RESEND_IGMP notifiers so that the stack announces the host
 * anew (gratuitous ARP, IGMP reports). The stack above a domain's device is the host's, behind side's interface;
 * nothing in the domain registers netdevice notifiers (they are in unsupported_calls.S), so there is nothing to call.
 */
void netdev_notify_peers(struct net_device *dev)
{
	rtnl_lock();
	netdev_info(dev, "peers notification requested by the device (not forwarded to the host stack)\n");
	rtnl_unlock();
}

/* The netlink:netlink_extack trace point; no tracer is attached in a domain. */
void do_trace_netlink_extack(const char *msg)
{
}
