// SPDX-License-Identifier: GPL-2.0-only
/*
 * Netdevice notifiers (net/core/dev.c): modules that follow other devices (failover.ko) register a notifier and
 * hear of every device's registration, opening, closing and unregistration, under the RTNL lock. Registering
 * replays NETDEV_REGISTER (and NETDEV_UP for an open device) for the devices there are, unregistering replays
 * their going away, as the kernel does. A domain has one network namespace.
 */
#include <linux/netdevice.h>
#include <linux/notifier.h>
#include <linux/rtnetlink.h>

#include "kapi.h"
#include "net_core.h"

/* Notifiers by descending priority, linked through their own next field; changed and walked under RTNL. */
static struct notifier_block *side_netdev_chain;
/* A bound on the chain a walk follows, against a notifier block registered twice (a loop). */
#define SIDE_MAX_NETDEV_NOTIFIERS 64

static int side_call_one(struct notifier_block *nb, unsigned long val, struct net_device *dev)
{
	struct netdev_notifier_info info = { .dev = dev };

	return nb->notifier_call(nb, val, &info);
}

int call_netdevice_notifiers(unsigned long val, struct net_device *dev)
{
	struct notifier_block *nb = side_netdev_chain;
	int ret = NOTIFY_DONE, n = 0;

	ASSERT_RTNL();
	for (; nb && n < SIDE_MAX_NETDEV_NOTIFIERS; nb = nb->next, n++) {
		ret = side_call_one(nb, val, dev);
		if (ret & NOTIFY_STOP_MASK)
			break;
	}
	return ret;
}

void side_netdev_notify(unsigned long event, struct net_device *dev)
{
	if (side_netdev_chain)
		call_netdevice_notifiers(event, dev);
}

static int side_replay_register(struct net_device *dev, void *arg)
{
	struct notifier_block *nb = arg;
	int err = notifier_to_errno(side_call_one(nb, NETDEV_REGISTER, dev));

	if (err)
		return err;
	if (dev->flags & IFF_UP)
		side_call_one(nb, NETDEV_UP, dev);
	return 0;
}

static int side_replay_unregister(struct net_device *dev, void *arg)
{
	struct notifier_block *nb = arg;

	if (dev->flags & IFF_UP) {
		side_call_one(nb, NETDEV_GOING_DOWN, dev);
		side_call_one(nb, NETDEV_DOWN, dev);
	}
	side_call_one(nb, NETDEV_UNREGISTER, dev);
	return 0;
}

static bool side_chain_remove(struct notifier_block *nb)
{
	struct notifier_block **p = &side_netdev_chain;
	int n = 0;

	for (; *p && n < SIDE_MAX_NETDEV_NOTIFIERS; p = &(*p)->next, n++) {
		if (*p == nb) {
			*p = nb->next;
			return true;
		}
	}
	return false;
}

int register_netdevice_notifier(struct notifier_block *nb)
{
	struct notifier_block **p = &side_netdev_chain;
	int err, n = 0;

	rtnl_lock();
	for (; *p && n < SIDE_MAX_NETDEV_NOTIFIERS; p = &(*p)->next, n++) {
		if (*p == nb) {
			WARN(1, "notifier callback %ps already registered", nb->notifier_call);
			rtnl_unlock();
			return -EEXIST;
		}
		if (nb->priority > (*p)->priority)
			break;
	}
	if (n >= SIDE_MAX_NETDEV_NOTIFIERS) {
		rtnl_unlock();
		return -ENOMEM;
	}
	nb->next = *p;
	*p = nb;
	err = side_netdev_for_each(side_replay_register, nb);
	if (err) {
		/* call_netdevice_register_net_notifiers()'s rollback: those told of their registration hear it undone. */
		side_netdev_for_each(side_replay_unregister, nb);
		side_chain_remove(nb);
	}
	rtnl_unlock();
	return err;
}

int unregister_netdevice_notifier(struct notifier_block *nb)
{
	int err = 0;

	rtnl_lock();
	if (side_chain_remove(nb))
		side_netdev_for_each(side_replay_unregister, nb);
	else
		err = -ENOENT;
	rtnl_unlock();
	return err;
}
