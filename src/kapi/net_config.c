// SPDX-License-Identifier: GPL-2.0-only
/*
 * Configuration of registered network devices as the host's network stack asks for it, with the semantics of
 * net/core/dev.c (dev_set_mtu_ext, dev_set_mac_address, dev_set_promiscuity, dev_set_allmulti, __dev_set_rx_mode),
 * net/core/dev_addr_lists.c (the multicast list dev->mc that netdev_for_each_mc_addr walks) and the ethtool ioctl
 * paths of net/ethtool/ioctl.c (drvinfo, link, link settings, ring parameters).
 *
 * Every entry point runs on vCPU 0 in process context under rtnl, as the kernel's ioctl and netlink paths do, and
 * looks its device up among the registered ones first. A driver may sleep or reset its hardware here (e1000's
 * change_mtu takes the interface down and up again).
 *
 * The host hears of a new MAC address or MTU through side_host_netdev_changed(), only when one actually changed:
 * the kernel's NETDEV_CHANGEMTU/NETDEV_CHANGEADDR notifications come from the same places.
 */
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/list.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <net/rtnetlink.h>
#include <generated/utsrelease.h>

#include "kapi.h"
#include "net_core.h"

/* The most multicast addresses the host may install (its contract). */
#define SIDE_MAX_MC 256

/* Tells the host about `dev` when its MAC address or MTU differ from what `before` recorded. */
static void side_netdev_notify_if_changed(struct net_device *dev, const struct side_netdev_info *before)
{
	struct side_netdev_info now;

	side_fill_info(dev, &now);
	if (now.mtu != before->mtu || memcmp(now.mac, before->mac, ETH_ALEN))
		side_host_netdev_changed(&now);
}

/* ---- MTU ----------------------------------------------------------------------------------------------------- */

/* dev_validate_mtu(): at least min_mtu, at most max_mtu when the device has a maximum. */
static int side_validate_mtu(struct net_device *dev, int new_mtu)
{
	if (new_mtu < 0 || new_mtu < dev->min_mtu)
		return -EINVAL;
	if (dev->max_mtu > 0 && new_mtu > dev->max_mtu)
		return -EINVAL;
	return 0;
}

int dev_set_mtu_ext(struct net_device *dev, int new_mtu, struct netlink_ext_ack *extack)
{
	const struct net_device_ops *ops = dev->netdev_ops;
	int err;

	ASSERT_RTNL();
	if (new_mtu == dev->mtu)
		return 0;
	err = side_validate_mtu(dev, new_mtu);
	if (err)
		return err;
	if (!netif_device_present(dev))
		return -ENODEV;
	if (ops->ndo_change_mtu)
		return ops->ndo_change_mtu(dev, new_mtu);
	WRITE_ONCE(dev->mtu, new_mtu);
	return 0;
}

int dev_set_mtu(struct net_device *dev, int new_mtu)
{
	return dev_set_mtu_ext(dev, new_mtu, NULL);
}

int side_kapi_netdev_set_mtu(side_u64 token, side_u32 mtu)
{
	struct side_netdev_info before;
	struct net_device *dev;
	int ret;

	/* An MTU beyond INT_MAX would be negative as the kernel's int: refused like any too large one. */
	if (mtu > INT_MAX)
		return -EINVAL;
	rtnl_lock();
	dev = side_netdev_lookup(token);
	if (!dev) {
		ret = -ENODEV;
		goto out;
	}
	side_fill_info(dev, &before);
	ret = dev_set_mtu(dev, mtu);
	if (!ret)
		side_netdev_notify_if_changed(dev, &before);
out:
	rtnl_unlock();
	return ret;
}

/* ---- MAC address --------------------------------------------------------------------------------------------- */

int side_kapi_netdev_set_mac(side_u64 token, const unsigned char *mac)
{
	struct side_netdev_info before;
	struct sockaddr_storage ss;
	struct sockaddr *sa = (struct sockaddr *)&ss;
	const struct net_device_ops *ops;
	struct net_device *dev;
	int ret = 0;

	if (!mac || !is_valid_ether_addr(mac))
		return -EADDRNOTAVAIL;
	rtnl_lock();
	dev = side_netdev_lookup(token);
	if (!dev) {
		ret = -ENODEV;
		goto out;
	}
	ops = dev->netdev_ops;
	if (!ops->ndo_set_mac_address) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	if (dev->addr_len != ETH_ALEN) {
		ret = -EINVAL;
		goto out;
	}
	if (!netif_device_present(dev)) {
		ret = -ENODEV;
		goto out;
	}
	side_fill_info(dev, &before);
	/* The driver reads the address from sa_data; the family names the hardware type, as SIOCSIFHWADDR has it. */
	memset(&ss, 0, sizeof(ss));
	sa->sa_family = dev->type;
	memcpy(sa->sa_data, mac, ETH_ALEN);
	/* The kernel skips the driver when the address is already the device's. */
	if (memcmp(dev->dev_addr, mac, ETH_ALEN)) {
		ret = ops->ndo_set_mac_address(dev, sa);
		if (ret)
			goto out;
	}
	dev->addr_assign_type = NET_ADDR_SET;
	side_netdev_notify_if_changed(dev, &before);
out:
	rtnl_unlock();
	return ret;
}

/* ---- receive mode -------------------------------------------------------------------------------------------- */

/* dev_change_rx_flags(): the driver hears of a promiscuous/all-multicast change only while the device is up. */
static void side_change_rx_flags(struct net_device *dev, int flags)
{
	const struct net_device_ops *ops = dev->netdev_ops;

	if ((dev->flags & IFF_UP) && ops->ndo_change_rx_flags)
		ops->ndo_change_rx_flags(dev, flags);
}

/*
 * __dev_set_promiscuity() / __dev_set_allmulti(): a counted reference on IFF_PROMISC or IFF_ALLMULTI; the flag is
 * set while the count is non-zero. A count that would wrap to zero is refused with -EOVERFLOW.
 */
static int side_adjust_rx_flag(struct net_device *dev, unsigned int flag, unsigned int *counter, int inc)
{
	unsigned int old_flags = dev->flags;

	dev->flags |= flag;
	*counter += inc;
	if (*counter == 0) {
		if (inc < 0) {
			dev->flags &= ~flag;
		} else {
			*counter -= inc;
			dev->flags = old_flags;
			netdev_warn(dev, "%s count touches roof, set failed\n",
				    flag == IFF_PROMISC ? "promiscuity" : "allmulti");
			return -EOVERFLOW;
		}
	}
	if (dev->flags != old_flags) {
		if (flag == IFF_PROMISC)
			netdev_info(dev, "%s promiscuous mode\n", dev->flags & IFF_PROMISC ? "entered" : "left");
		side_change_rx_flags(dev, flag);
	}
	return 0;
}

/* __dev_set_rx_mode(): the driver programs its filters only while up and present. Caller holds the address lock. */
static void side_set_rx_mode_locked(struct net_device *dev)
{
	if (!(dev->flags & IFF_UP) || !netif_device_present(dev))
		return;
	if (dev->netdev_ops->ndo_set_rx_mode)
		dev->netdev_ops->ndo_set_rx_mode(dev);
}

int dev_set_promiscuity(struct net_device *dev, int inc)
{
	unsigned int old_flags = dev->flags;
	int err;

	ASSERT_RTNL();
	err = side_adjust_rx_flag(dev, IFF_PROMISC, &dev->promiscuity, inc);
	if (err < 0)
		return err;
	if (dev->flags != old_flags)
		dev_set_rx_mode(dev);
	return 0;
}

int dev_set_allmulti(struct net_device *dev, int inc)
{
	unsigned int old_flags = dev->flags;
	int err;

	ASSERT_RTNL();
	err = side_adjust_rx_flag(dev, IFF_ALLMULTI, &dev->allmulti, inc);
	if (err < 0)
		return err;
	if (dev->flags != old_flags)
		dev_set_rx_mode(dev);
	return 0;
}

static bool side_mc_in(const unsigned char *mc, u32 nr, const unsigned char *addr)
{
	u32 i;

	for (i = 0; i < nr; i++)
		if (ether_addr_equal(mc + i * ETH_ALEN, addr))
			return true;
	return false;
}

static struct netdev_hw_addr *side_mc_find(struct net_device *dev, const unsigned char *addr)
{
	struct netdev_hw_addr *ha;

	list_for_each_entry(ha, &dev->mc.list, list)
		if (ha->type == NETDEV_HW_ADDR_T_MULTICAST && !memcmp(ha->addr, addr, dev->addr_len))
			return ha;
	return NULL;
}

void side_dev_mc_flush(struct net_device *dev)
{
	struct netdev_hw_addr *ha, *tmp;
	LIST_HEAD(gone);

	netif_addr_lock_bh(dev);
	list_splice_init(&dev->mc.list, &gone);
	dev->mc.count = 0;
	netif_addr_unlock_bh(dev);
	list_for_each_entry_safe(ha, tmp, &gone, list)
		kfree(ha);
}

/*
 * Makes dev->mc hold exactly the host's addresses (duplicates once), as the stack's dev_mc_del()/dev_mc_add() calls
 * would leave it: entries that stay keep their place, new ones go to the tail in the host's order. The driver is
 * told (ndo_set_rx_mode) under the address lock, as dev_mc_add() does, when the list or `flags_changed` changed
 * anything. Caller holds rtnl, which is what keeps dev->mc stable between the two passes.
 */
static int side_mc_replace(struct net_device *dev, const unsigned char *mc, u32 nr, bool flags_changed)
{
	struct netdev_hw_addr *ha, *tmp;
	LIST_HEAD(fresh);
	LIST_HEAD(gone);
	bool changed = flags_changed;
	int added = 0, removed = 0;
	u32 i;

	/* Allocate outside the spinlock: addresses not yet in the list, each once. */
	for (i = 0; i < nr; i++) {
		const unsigned char *addr = mc + i * ETH_ALEN;

		if (side_mc_find(dev, addr) || side_mc_in(mc, i, addr))
			continue;
		ha = kzalloc(sizeof(*ha), GFP_KERNEL);
		if (!ha) {
			list_for_each_entry_safe(ha, tmp, &fresh, list)
				kfree(ha);
			return -ENOMEM;
		}
		memcpy(ha->addr, addr, ETH_ALEN);
		ha->type = NETDEV_HW_ADDR_T_MULTICAST;
		ha->refcount = 1;
		ha->global_use = false;
		ha->synced = 0;
		ha->sync_cnt = 0;
		list_add_tail(&ha->list, &fresh);
		added++;
	}

	netif_addr_lock_bh(dev);
	list_for_each_entry_safe(ha, tmp, &dev->mc.list, list) {
		if (!side_mc_in(mc, nr, ha->addr)) {
			list_move_tail(&ha->list, &gone);
			removed++;
		}
	}
	list_splice_tail_init(&fresh, &dev->mc.list);
	dev->mc.count += added - removed;
	if (added || removed)
		changed = true;
	if (changed)
		side_set_rx_mode_locked(dev);
	netif_addr_unlock_bh(dev);

	list_for_each_entry_safe(ha, tmp, &gone, list)
		kfree(ha);
	return 0;
}

/*
 * The host holds one reference on each of IFF_PROMISC and IFF_ALLMULTI, recorded in dev->gflags as
 * __dev_change_flags() records a user's: turning a mode on takes the reference, turning it off drops it.
 */
static int side_host_rx_flag(struct net_device *dev, side_u32 flags, side_u32 side_flag, unsigned int iff,
			     unsigned int *counter)
{
	bool want = flags & side_flag;
	int err;

	if (want == !!(dev->gflags & iff))
		return 0;
	dev->gflags ^= iff;
	err = side_adjust_rx_flag(dev, iff, counter, want ? 1 : -1);
	if (err)
		dev->gflags ^= iff;
	return err;
}

int side_kapi_netdev_set_rx_mode(side_u64 token, side_u32 flags, const unsigned char *mc, side_u32 nr_mc)
{
	struct net_device *dev;
	unsigned int old_flags;
	u32 i;
	int ret;

	if (flags & ~(SIDE_RX_PROMISC | SIDE_RX_ALLMULTI))
		return -EINVAL;
	if (nr_mc > SIDE_MAX_MC || (nr_mc && !mc))
		return -EINVAL;
	for (i = 0; i < nr_mc; i++)
		if (!is_multicast_ether_addr(mc + i * ETH_ALEN))
			return -EINVAL;

	rtnl_lock();
	dev = side_netdev_lookup(token);
	if (!dev) {
		ret = -ENODEV;
		goto out;
	}
	if (dev->addr_len != ETH_ALEN) {
		ret = -EINVAL;
		goto out;
	}
	old_flags = dev->flags;
	ret = side_host_rx_flag(dev, flags, SIDE_RX_PROMISC, IFF_PROMISC, &dev->promiscuity);
	if (ret)
		goto out;
	ret = side_host_rx_flag(dev, flags, SIDE_RX_ALLMULTI, IFF_ALLMULTI, &dev->allmulti);
	if (ret)
		goto out;
	ret = side_mc_replace(dev, mc, nr_mc, dev->flags != old_flags);
out:
	rtnl_unlock();
	return ret;
}

/* ---- ethtool ------------------------------------------------------------------------------------------------- */

/* ethtool_get_drvinfo(): the kernel release as the version unless the driver says otherwise; bus and driver names
 * default to the parent device's. False when nothing could describe the device. */
static bool side_ethtool_drvinfo(struct net_device *dev, struct ethtool_drvinfo *info)
{
	const struct ethtool_ops *ops = dev->ethtool_ops;
	struct device *parent = dev->dev.parent;

	memset(info, 0, sizeof(*info));
	info->cmd = ETHTOOL_GDRVINFO;
	if (ops->get_drvinfo) {
		strscpy(info->version, UTS_RELEASE, sizeof(info->version));
		ops->get_drvinfo(dev, info);
		if (!info->bus_info[0] && parent)
			strscpy(info->bus_info, dev_name(parent), sizeof(info->bus_info));
		if (!info->driver[0] && parent && parent->driver)
			strscpy(info->driver, parent->driver->name, sizeof(info->driver));
		return true;
	}
	if (parent && parent->driver) {
		strscpy(info->version, UTS_RELEASE, sizeof(info->version));
		strscpy(info->bus_info, dev_name(parent), sizeof(info->bus_info));
		strscpy(info->driver, parent->driver->name, sizeof(info->driver));
		return true;
	}
	if (dev->rtnl_link_ops) {
		strscpy(info->version, UTS_RELEASE, sizeof(info->version));
		strscpy(info->driver, dev->rtnl_link_ops->kind, sizeof(info->driver));
		return true;
	}
	return false;
}

/* A string field of the driver's, which it may have left unterminated: at most its size, always terminated. */
static void side_copy_field(char *dst, size_t dst_len, const char *src, size_t src_len)
{
	size_t n = strnlen(src, src_len);

	if (n >= dst_len)
		n = dst_len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * __dev_ethtool()'s frame around one command: under rtnl, an absent device answers nothing, and the driver's
 * begin/complete bracket the command. 0 with rtnl held and *devp set, or a negative errno with rtnl released.
 */
static int side_ethtool_enter(side_u64 token, struct net_device **devp)
{
	struct net_device *dev;
	int ret;

	rtnl_lock();
	dev = side_netdev_lookup(token);
	if (!dev || !netif_device_present(dev)) {
		rtnl_unlock();
		return -ENODEV;
	}
	if (dev->ethtool_ops->begin) {
		ret = dev->ethtool_ops->begin(dev);
		if (ret < 0) {
			rtnl_unlock();
			return ret;
		}
	}
	*devp = dev;
	return 0;
}

static void side_ethtool_leave(struct net_device *dev)
{
	if (dev->ethtool_ops->complete)
		dev->ethtool_ops->complete(dev);
	rtnl_unlock();
}

int side_kapi_netdev_ethtool(side_u64 token, struct side_ethtool_info *out)
{
	const struct ethtool_ops *ops;
	/* What the driver's callbacks fill is never on the layer's stack (sfi mode: not writable by driver code). */
	struct {
		struct ethtool_drvinfo info;
		struct ethtool_link_ksettings ks;
		struct ethtool_ringparam ring;
		struct kernel_ethtool_ringparam kring;
	} *buf;
	struct net_device *dev;
	int ret;

	memset(out, 0, sizeof(*out));
	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	ret = side_ethtool_enter(token, &dev);
	if (ret) {
		kfree(buf);
		return ret;
	}
	ops = dev->ethtool_ops;

	if (side_ethtool_drvinfo(dev, &buf->info)) {
		side_copy_field(out->driver, sizeof(out->driver), buf->info.driver, sizeof(buf->info.driver));
		side_copy_field(out->version, sizeof(out->version), buf->info.version, sizeof(buf->info.version));
		side_copy_field(out->fw_version, sizeof(out->fw_version), buf->info.fw_version, sizeof(buf->info.fw_version));
		side_copy_field(out->bus_info, sizeof(out->bus_info), buf->info.bus_info, sizeof(buf->info.bus_info));
	}

	/* ethtool_get_link(): a device that is not running has no link, whatever the driver would say. */
	if (ops->get_link)
		out->link = netif_running(dev) && ops->get_link(dev) ? 1 : 0;

	if (ops->get_link_ksettings) {
		memset(&buf->ks, 0, sizeof(buf->ks));
		ret = ops->get_link_ksettings(dev, &buf->ks);
		if (ret < 0)
			goto complete;
		ret = 0;
		out->speed = buf->ks.base.speed == (u32)SPEED_UNKNOWN ? 0 : buf->ks.base.speed;
		out->duplex = buf->ks.base.duplex;
		out->autoneg = buf->ks.base.autoneg == AUTONEG_ENABLE ? 1 : 0;
	}

	if (ops->get_ringparam) {
		memset(&buf->ring, 0, sizeof(buf->ring));
		memset(&buf->kring, 0, sizeof(buf->kring));
		buf->ring.cmd = ETHTOOL_GRINGPARAM;
		ops->get_ringparam(dev, &buf->ring, &buf->kring, NULL);
		out->rx_pending = buf->ring.rx_pending;
		out->tx_pending = buf->ring.tx_pending;
		out->rx_max_pending = buf->ring.rx_max_pending;
		out->tx_max_pending = buf->ring.tx_max_pending;
	}

complete:
	side_ethtool_leave(dev);
	kfree(buf);
	if (ret)
		memset(out, 0, sizeof(*out));
	return ret;
}

/* ethtool_nway_reset(), as dev_ethtool() runs ETHTOOL_NWAY_RST. */
int side_kapi_netdev_nway_reset(side_u64 token)
{
	struct net_device *dev;
	int ret = side_ethtool_enter(token, &dev);

	if (ret)
		return ret;
	ret = dev->ethtool_ops->nway_reset ? dev->ethtool_ops->nway_reset(dev) : -EOPNOTSUPP;
	side_ethtool_leave(dev);
	return ret;
}

/* ---- eth_mac_addr(): the ndo_set_mac_address of drivers that need nothing more (net/ethernet/eth.c) ----------- */

int eth_prepare_mac_addr_change(struct net_device *dev, void *p)
{
	struct sockaddr *addr = p;

	if (!(dev->priv_flags & IFF_LIVE_ADDR_CHANGE) && netif_running(dev))
		return -EBUSY;
	if (!is_valid_ether_addr(addr->sa_data))
		return -EADDRNOTAVAIL;
	return 0;
}

void eth_commit_mac_addr_change(struct net_device *dev, void *p)
{
	struct sockaddr *addr = p;

	eth_hw_addr_set(dev, addr->sa_data);
}

int eth_mac_addr(struct net_device *dev, void *p)
{
	int ret = eth_prepare_mac_addr_change(dev, p);

	if (ret < 0)
		return ret;
	eth_commit_mac_addr_change(dev, p);
	return 0;
}
