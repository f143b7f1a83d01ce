// SPDX-License-Identifier: GPL-2.0-only
/*
 * The transmit watchdog (net/sched/sch_generic.c's dev_watchdog): while a device with ndo_tx_timeout is up with
 * carrier, a timer checks every watchdog_timeo (default 5 s) whether a transmit queue has been stopped for longer
 * than that since its last transmission, and if so calls the driver's ndo_tx_timeout with the queues frozen. This
 * is how Linux drivers recover a transmit unit that stopped (e1000 resets its adapter from there): without it such
 * a driver would wait for ever, and side could only restart the whole domain.
 *
 * The timer holds a device reference while it is pending, as in Linux; it is armed at open and when the carrier
 * comes on, and taken down at close, before the driver's ndo_stop.
 */
#include <linux/device.h>
#include <linux/jiffies.h>
#include <linux/netdevice.h>
#include <linux/printk.h>
#include <linux/timer.h>

#include "kapi.h"
#include "net_core.h"

/* The name of the driver bound to the device's parent, as netdev_drivername() gives it. */
static const char *side_netdev_driver_name(const struct net_device *dev)
{
	const struct device *parent = dev->dev.parent;

	return parent && parent->driver && parent->driver->name ? parent->driver->name : "";
}

/* No transmission can start on any queue until side_unfreeze_queues(); one in progress has finished. */
static void side_freeze_queues(struct net_device *dev)
{
	unsigned int i;

	for (i = 0; i < dev->num_tx_queues; i++) {
		struct netdev_queue *txq = netdev_get_tx_queue(dev, i);

		__netif_tx_lock(txq, smp_processor_id());
		set_bit(__QUEUE_STATE_FROZEN, &txq->state);
		__netif_tx_unlock(txq);
	}
}

/* Queues the freeze held back may send again (netif_schedule_queue: the host hears of those not stopped). */
static void side_unfreeze_queues(struct net_device *dev)
{
	unsigned int i;

	for (i = 0; i < dev->num_tx_queues; i++) {
		struct netdev_queue *txq = netdev_get_tx_queue(dev, i);

		clear_bit(__QUEUE_STATE_FROZEN, &txq->state);
		netif_schedule_queue(txq);
	}
}

void netif_tx_lock(struct net_device *dev)
{
	spin_lock(&dev->tx_global_lock);
	side_freeze_queues(dev);
}

void netif_tx_unlock(struct net_device *dev)
{
	side_unfreeze_queues(dev);
	spin_unlock(&dev->tx_global_lock);
}

/* The first queue stopped for longer than watchdog_timeo since it last transmitted, or num_tx_queues. */
static unsigned int side_timed_out_queue(struct net_device *dev)
{
	unsigned int i;

	for (i = 0; i < dev->num_tx_queues; i++) {
		struct netdev_queue *txq = netdev_get_tx_queue(dev, i);
		unsigned long trans_start = READ_ONCE(txq->trans_start);

		if (netif_xmit_stopped(txq) && time_after(jiffies, trans_start + dev->watchdog_timeo)) {
			atomic_long_inc(&txq->trans_timeout);
			return i;
		}
	}
	return dev->num_tx_queues;
}

static void side_dev_watchdog(struct timer_list *t)
{
	struct net_device *dev = from_timer(dev, t, watchdog_timer);
	static bool warned;
	bool release = true;
	unsigned int q;

	spin_lock(&dev->tx_global_lock);
	if (netif_device_present(dev) && netif_running(dev) && netif_carrier_ok(dev)) {
		q = side_timed_out_queue(dev);
		if (q < dev->num_tx_queues) {
			if (!warned) {
				warned = true;
				pr_warn("NETDEV WATCHDOG: %s (%s): transmit queue %u timed out\n", dev->name,
					side_netdev_driver_name(dev), q);
			}
			side_freeze_queues(dev);
			dev->netdev_ops->ndo_tx_timeout(dev, q);
			side_unfreeze_queues(dev);
		}
		/* Still armed: the reference it held stays with it. */
		if (!mod_timer(&dev->watchdog_timer, round_jiffies(jiffies + dev->watchdog_timeo)))
			release = false;
	}
	spin_unlock(&dev->tx_global_lock);
	if (release)
		dev_put(dev);
}

void side_netdev_watchdog_init(struct net_device *dev)
{
	timer_setup(&dev->watchdog_timer, side_dev_watchdog, 0);
}

void __netdev_watchdog_up(struct net_device *dev)
{
	if (!dev->netdev_ops->ndo_tx_timeout)
		return;
	if (dev->watchdog_timeo <= 0)
		dev->watchdog_timeo = 5 * HZ;
	if (!mod_timer(&dev->watchdog_timer, round_jiffies(jiffies + dev->watchdog_timeo)))
		dev_hold(dev);
}

void side_netdev_watchdog_down(struct net_device *dev)
{
	local_bh_disable();
	spin_lock(&dev->tx_global_lock);
	if (del_timer(&dev->watchdog_timer))
		dev_put(dev);
	spin_unlock(&dev->tx_global_lock);
	local_bh_enable();
}
