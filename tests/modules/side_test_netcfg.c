// SPDX-License-Identifier: GPL-2.0-only
/*
 * Two network devices that only log the configuration they receive. cfg0 has every operation: change_mtu (it
 * refuses `refuse_mtu` with -EBUSY), set_mac_address, set_rx_mode (with the multicast list it walks, and whether
 * it runs under the address lock with bottom halves off), change_rx_flags, and ethtool's begin/complete,
 * get_drvinfo (leaving bus_info empty and fw_version unterminated), get_link, get_link_ksettings and
 * get_ringparam. Its parent is a bare struct device named "side-cfg.0". cfg1 has none of them.
 */
#include <linux/device.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>

static int refuse_mtu = 1234;
module_param(refuse_mtu, int, 0444);

static struct device cfg_parent = { .init_name = "side-cfg.0" };
static struct net_device *devs[2];

static int cfg_open(struct net_device *dev)
{
	netif_start_queue(dev);
	pr_info("side_test_netcfg: %s open\n", dev->name);
	return 0;
}

static int cfg_stop(struct net_device *dev)
{
	netif_stop_queue(dev);
	pr_info("side_test_netcfg: %s stop\n", dev->name);
	return 0;
}

static netdev_tx_t cfg_xmit(struct sk_buff *skb, struct net_device *dev)
{
	dev_kfree_skb_any(skb);
	return NETDEV_TX_OK;
}

static int cfg_change_mtu(struct net_device *dev, int new_mtu)
{
	pr_info("side_test_netcfg: %s change_mtu %d from %u running %d rtnl %d\n", dev->name, new_mtu, dev->mtu,
		netif_running(dev), rtnl_is_locked());
	if (new_mtu == refuse_mtu)
		return -EBUSY;
	dev->mtu = new_mtu;
	return 0;
}

static int cfg_set_mac(struct net_device *dev, void *p)
{
	struct sockaddr *sa = p;

	pr_info("side_test_netcfg: %s set_mac %pM family %u rtnl %d\n", dev->name, sa->sa_data, sa->sa_family,
		rtnl_is_locked());
	if (!is_valid_ether_addr(sa->sa_data))
		return -EADDRNOTAVAIL;
	eth_hw_addr_set(dev, sa->sa_data);
	return 0;
}

static void cfg_set_rx_mode(struct net_device *dev)
{
	struct netdev_hw_addr *ha;
	int n = 0;

	pr_info("side_test_netcfg: %s rx_mode promisc %d allmulti %d mc %d locked %d bh_off %d\n", dev->name,
		!!(dev->flags & IFF_PROMISC), !!(dev->flags & IFF_ALLMULTI), netdev_mc_count(dev),
		!!spin_is_locked(&dev->addr_list_lock), softirq_count() != 0);
	netdev_for_each_mc_addr(ha, dev)
		pr_info("side_test_netcfg: %s mc[%d] %pM type %u\n", dev->name, n++, ha->addr, ha->type);
}

static void cfg_change_rx_flags(struct net_device *dev, int change)
{
	pr_info("side_test_netcfg: %s change_rx_flags %#x now %#x promiscuity %u allmulti %u\n", dev->name, change,
		dev->flags & (IFF_PROMISC | IFF_ALLMULTI), dev->promiscuity, dev->allmulti);
}

static const struct net_device_ops cfg_full_ops = {
	.ndo_open = cfg_open,
	.ndo_stop = cfg_stop,
	.ndo_start_xmit = cfg_xmit,
	.ndo_change_mtu = cfg_change_mtu,
	.ndo_set_mac_address = cfg_set_mac,
	.ndo_set_rx_mode = cfg_set_rx_mode,
	.ndo_change_rx_flags = cfg_change_rx_flags,
};

static const struct net_device_ops cfg_bare_ops = {
	.ndo_open = cfg_open,
	.ndo_stop = cfg_stop,
	.ndo_start_xmit = cfg_xmit,
};

static int cfg_begin(struct net_device *dev)
{
	pr_info("side_test_netcfg: %s ethtool begin\n", dev->name);
	return 0;
}

static void cfg_complete(struct net_device *dev)
{
	pr_info("side_test_netcfg: %s ethtool complete\n", dev->name);
}

static void cfg_get_drvinfo(struct net_device *dev, struct ethtool_drvinfo *info)
{
	strscpy(info->driver, "side_test_netcfg", sizeof(info->driver));
	/* Unterminated on purpose: the layer must bound what it copies. */
	memset(info->fw_version, 'f', sizeof(info->fw_version));
}

static u32 cfg_get_link(struct net_device *dev)
{
	return 1;
}

static int cfg_get_link_ksettings(struct net_device *dev, struct ethtool_link_ksettings *ks)
{
	ks->base.speed = 2500;
	ks->base.duplex = DUPLEX_FULL;
	ks->base.autoneg = AUTONEG_ENABLE;
	return 0;
}

static void cfg_get_ringparam(struct net_device *dev, struct ethtool_ringparam *ring,
			      struct kernel_ethtool_ringparam *kring, struct netlink_ext_ack *extack)
{
	pr_info("side_test_netcfg: %s ringparam cmd %#x kring %d rtnl %d\n", dev->name, ring->cmd, kring != NULL,
		rtnl_is_locked());
	ring->rx_pending = 512;
	ring->tx_pending = 256;
	ring->rx_max_pending = 4096;
	ring->tx_max_pending = 2048;
}

static int cfg_nway_reset(struct net_device *dev)
{
	pr_info("side_test_netcfg: %s nway_reset rtnl %d\n", dev->name, rtnl_is_locked());
	return 0;
}

static const struct ethtool_ops cfg_ethtool_ops = {
	.begin = cfg_begin,
	.complete = cfg_complete,
	.get_drvinfo = cfg_get_drvinfo,
	.get_link = cfg_get_link,
	.get_link_ksettings = cfg_get_link_ksettings,
	.get_ringparam = cfg_get_ringparam,
	.nway_reset = cfg_nway_reset,
};

static struct net_device *cfg_create(const struct net_device_ops *ops, const struct ethtool_ops *eops,
				     struct device *parent, u8 last)
{
	u8 mac[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x0c, last };
	struct net_device *dev = alloc_netdev(0, "cfg%d", NET_NAME_ENUM, ether_setup);

	if (!dev)
		return NULL;
	dev->netdev_ops = ops;
	if (eops)
		dev->ethtool_ops = eops;
	if (parent)
		SET_NETDEV_DEV(dev, parent);
	dev->max_mtu = 9000;
	eth_hw_addr_set(dev, mac);
	if (register_netdev(dev)) {
		free_netdev(dev);
		return NULL;
	}
	return dev;
}

static int __init side_test_netcfg_init(void)
{
	devs[0] = cfg_create(&cfg_full_ops, &cfg_ethtool_ops, &cfg_parent, 1);
	devs[1] = cfg_create(&cfg_bare_ops, NULL, NULL, 2);
	if (!devs[0] || !devs[1]) {
		if (devs[0]) {
			unregister_netdev(devs[0]);
			free_netdev(devs[0]);
		}
		return -ENOMEM;
	}
	pr_info("side_test_netcfg: ok %s %s\n", devs[0]->name, devs[1]->name);
	return 0;
}

static void __exit side_test_netcfg_exit(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		pr_info("side_test_netcfg: %s at exit mtu %u mac %pM promiscuity %u allmulti %u mc %d\n", devs[i]->name,
			devs[i]->mtu, devs[i]->dev_addr, devs[i]->promiscuity, devs[i]->allmulti,
			netdev_mc_count(devs[i]));
		unregister_netdev(devs[i]);
		pr_info("side_test_netcfg: %s after unregister mc %d\n", devs[i]->name, netdev_mc_count(devs[i]));
		free_netdev(devs[i]);
	}
	pr_info("side_test_netcfg: removed\n");
}

module_init(side_test_netcfg_init);
module_exit(side_test_netcfg_exit);
MODULE_LICENSE("GPL");
