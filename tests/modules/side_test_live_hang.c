// SPDX-License-Identifier: GPL-2.0-only
/*
 * A driver for the emulated 82540EM that never comes back from one entry point, chosen by `hang`:
 *   probe     its probe spins (the supervisor's probe request is never answered)
 *   open      ndo_open spins
 *   xmit      ndo_start_xmit spins (vCPU 1: interrupts, softirqs and transmits stop)
 *   ethtool   get_drvinfo spins (a plain control request is never answered)
 * Anything else: a well-behaved driver with one network device that drops what it is given.
 * It spins with interrupts of its own choosing and never sleeps, as a driver bug or a hostile driver would; the
 * supervisor must find it out from its own clock and end it.
 */
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/pci.h>

static char *hang = "";
module_param(hang, charp, 0444);

static void spin(const char *where)
{
	pr_info("side_test_live_hang: spinning in %s\n", where);
	for (;;)
		cpu_relax();
}

static int live_open(struct net_device *dev)
{
	if (!strcmp(hang, "open"))
		spin("ndo_open");
	netif_start_queue(dev);
	netif_carrier_on(dev);
	return 0;
}

static int live_stop(struct net_device *dev)
{
	netif_carrier_off(dev);
	netif_stop_queue(dev);
	return 0;
}

static netdev_tx_t live_xmit(struct sk_buff *skb, struct net_device *dev)
{
	if (!strcmp(hang, "xmit"))
		spin("ndo_start_xmit");
	dev->stats.tx_packets++;
	dev_kfree_skb_any(skb);
	return NETDEV_TX_OK;
}

static void live_drvinfo(struct net_device *dev, struct ethtool_drvinfo *info)
{
	if (!strcmp(hang, "ethtool"))
		spin("get_drvinfo");
	strscpy(info->driver, "side_test_live_hang", sizeof(info->driver));
}

static const struct net_device_ops live_ops = {
	.ndo_open = live_open,
	.ndo_stop = live_stop,
	.ndo_start_xmit = live_xmit,
};

static const struct ethtool_ops live_ethtool_ops = {
	.get_drvinfo = live_drvinfo,
};

static int live_probe(struct pci_dev *pdev, const struct pci_device_id *ent)
{
	static const u8 mac[ETH_ALEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 };
	struct net_device *dev;
	int err;

	if (!strcmp(hang, "probe"))
		spin("probe");
	dev = alloc_etherdev(0);
	if (!dev)
		return -ENOMEM;
	dev->netdev_ops = &live_ops;
	dev->ethtool_ops = &live_ethtool_ops;
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

static void live_remove(struct pci_dev *pdev)
{
	struct net_device *dev = pci_get_drvdata(pdev);

	unregister_netdev(dev);
	free_netdev(dev);
}

static const struct pci_device_id live_ids[] = {
	{ PCI_DEVICE(0x8086, 0x100e) },
	{}
};
MODULE_DEVICE_TABLE(pci, live_ids);

static struct pci_driver live_driver = {
	.name = "side_test_live_hang",
	.id_table = live_ids,
	.probe = live_probe,
	.remove = live_remove,
};
module_pci_driver(live_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("side test: a driver that hangs in one entry point");
