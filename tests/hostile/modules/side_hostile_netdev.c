// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hostile driver, the host interface and restarts: a driver for the emulated e1000 (8086:100e) with one network
 * device, which side mirrors on the host (side0), misbehaving as the parameter `attack` says
 * (tests/hostile/attacks.json gives the verdict of each):
 *   mac_multicast, mac_zero   registers its device with a multicast or an all-zero MAC address
 *   mtu_beyond                registers an MTU (and a range) beyond anything the host or the rings carry
 *   carrier_flap              flaps its carrier as fast as it can once opened
 *   crash_after_open          faults 20 ms after every open: each restart replays the open and faults again
 *   ethtool_hang              never answers the supervisor's ethtool request, zeroing the domain's busy stamps
 * It never touches the hardware: the attacks are on what it tells side.
 */
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/workqueue.h>
#include "side_hostile_channel.h"

static char *attack = "";
module_param(attack, charp, 0444);

struct hostile_priv {
	struct delayed_work work;
	struct net_device *dev;
};

/* The fault that follows every start: a store through a null pointer, in a function of its own. */
static noinline void hostile_crash_after_open(struct work_struct *work)
{
	*(volatile int *)NULL = 1;
}

static void hostile_flap(struct work_struct *work)
{
	struct hostile_priv *p = container_of(to_delayed_work(work), struct hostile_priv, work);
	int i;

	for (i = 0; i < 2000; i++) {
		if (i & 1)
			netif_carrier_on(p->dev);
		else
			netif_carrier_off(p->dev);
	}
	netif_carrier_on(p->dev);
}

static int hostile_open(struct net_device *dev)
{
	struct hostile_priv *p = netdev_priv(dev);

	netif_start_queue(dev);
	netif_carrier_on(dev);
	if (!strcmp(attack, "crash_after_open")) {
		INIT_DELAYED_WORK(&p->work, (work_func_t)hostile_crash_after_open);
		schedule_delayed_work(&p->work, msecs_to_jiffies(20));
	} else if (!strcmp(attack, "carrier_flap")) {
		INIT_DELAYED_WORK(&p->work, hostile_flap);
		schedule_delayed_work(&p->work, msecs_to_jiffies(20));
	}
	return 0;
}

static int hostile_stop(struct net_device *dev)
{
	struct hostile_priv *p = netdev_priv(dev);

	if (!strcmp(attack, "carrier_flap"))
		cancel_delayed_work_sync(&p->work);
	netif_carrier_off(dev);
	netif_stop_queue(dev);
	return 0;
}

static netdev_tx_t hostile_xmit(struct sk_buff *skb, struct net_device *dev)
{
	dev->stats.tx_packets++;
	dev_kfree_skb_any(skb);
	return NETDEV_TX_OK;
}

/* Never returns, and keeps the stamps of when each virtual CPU entered driver code at zero (as if idle). */
static noinline void hostile_ethtool_hang(struct net_device *dev, struct ethtool_drvinfo *info)
{
	unsigned long channel = hostile_find_channel();
	u64 *busy = (u64 *)(channel + SIDE_H_BUSY_SINCE_OFFSET);
	int v;

	for (;;) {
		for (v = 0; channel && v < SIDE_H_VCPUS; v++)
			WRITE_ONCE(busy[v], 0);
		cpu_relax();
	}
}

static const struct ethtool_ops hostile_ethtool_ops = {
	.get_drvinfo = hostile_ethtool_hang,
};

static const struct net_device_ops hostile_ops = {
	.ndo_open = hostile_open,
	.ndo_stop = hostile_stop,
	.ndo_start_xmit = hostile_xmit,
};

static int hostile_probe(struct pci_dev *pdev, const struct pci_device_id *ent)
{
	u8 mac[ETH_ALEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x58 };
	struct hostile_priv *p;
	struct net_device *dev;
	int err;

	dev = alloc_etherdev(sizeof(*p));
	if (!dev)
		return -ENOMEM;
	p = netdev_priv(dev);
	p->dev = dev;
	if (!strcmp(attack, "mac_multicast"))
		mac[0] = 0x01; /* 01:54:00:...: the group bit */
	else if (!strcmp(attack, "mac_zero"))
		memset(mac, 0, sizeof(mac));
	if (!strcmp(attack, "mtu_beyond")) {
		dev->min_mtu = 60000;
		dev->max_mtu = 0; /* no maximum of its own */
		dev->mtu = 65000;
	}
	dev->netdev_ops = &hostile_ops;
	if (!strcmp(attack, "ethtool_hang"))
		dev->ethtool_ops = &hostile_ethtool_ops;
	SET_NETDEV_DEV(dev, &pdev->dev);
	eth_hw_addr_set(dev, mac);
	err = register_netdev(dev);
	if (err) {
		free_netdev(dev);
		return err;
	}
	pci_set_drvdata(pdev, dev);
	return 0;
}

static void hostile_remove(struct pci_dev *pdev)
{
	struct net_device *dev = pci_get_drvdata(pdev);

	unregister_netdev(dev);
	free_netdev(dev);
}

static const struct pci_device_id hostile_ids[] = {
	{ PCI_DEVICE(0x8086, 0x100e) },
	{}
};
MODULE_DEVICE_TABLE(pci, hostile_ids);

static struct pci_driver hostile_driver = {
	.name = "side_hostile_netdev",
	.id_table = hostile_ids,
	.probe = hostile_probe,
	.remove = hostile_remove,
};
module_pci_driver(hostile_driver);
MODULE_LICENSE("GPL");
