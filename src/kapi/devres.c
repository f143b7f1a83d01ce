// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device-managed resources (drivers/base/devres.c). Each resource is a node on its device's devres list with a
 * release function; the driver's devm_*, pcim_* and dmam_* calls add nodes, and everything still on the list is
 * released newest first when the driver lets go of the device: after remove(), and after a probe that failed
 * (pci.c calls side_devres_release_all() in both cases). A domain whose driver faults is ended by the supervisor,
 * which takes back its memory, DMA mappings and interrupt lines with the process, managed or not.
 *
 * Only devices of the domain (the PCI devices pci.c binds) have a devres list; another device is a driver bug.
 */
#include <linux/device.h>
#include <linux/slab.h>

#include "kapi.h"

struct side_devres {
	struct list_head entry;
	dr_release_t release;
	const char *name;
	size_t size;
	/* As the kernel's: data aligned for any kmalloc'ed object, so a devm_kmalloc() buffer is like a kmalloc() one. */
	u8 __aligned(ARCH_KMALLOC_MINALIGN) data[];
};

static struct side_devres *side_node_of(void *data)
{
	return container_of(data, struct side_devres, data);
}

static void side_devres_check_device(struct device *dev, unsigned long caller)
{
	u32 host;

	if (side_pci_host_device(dev, &host))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, caller, "devres on %px, which is not a device of this domain", dev);
}

void *__devres_alloc_node(dr_release_t release, size_t size, gfp_t gfp, int nid, const char *name)
{
	struct side_devres *dr;

	if (size > SIZE_MAX - sizeof(*dr))
		return NULL;
	dr = kmalloc(sizeof(*dr) + size, gfp | __GFP_ZERO);
	if (!dr)
		return NULL;
	INIT_LIST_HEAD(&dr->entry);
	dr->release = release;
	dr->name = name;
	dr->size = size;
	return dr->data;
}

void devres_free(void *res)
{
	struct side_devres *dr;

	if (!res)
		return;
	dr = side_node_of(res);
	if (!list_empty(&dr->entry))
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "devres_free of %px, which is still added to a device", res);
	kfree(dr);
}

void devres_add(struct device *dev, void *res)
{
	struct side_devres *dr = side_node_of(res);
	unsigned long flags;

	side_devres_check_device(dev, SIDE_CALLER);
	if (!list_empty(&dr->entry))
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "devres_add of %px, which is already added", res);
	spin_lock_irqsave(&dev->devres_lock, flags);
	list_add_tail(&dr->entry, &dev->devres_head);
	spin_unlock_irqrestore(&dev->devres_lock, flags);
}

/* The newest node with this release function that `match` accepts; caller holds devres_lock. */
static struct side_devres *side_find(struct device *dev, dr_release_t release, dr_match_t match, void *match_data)
{
	struct side_devres *dr;

	list_for_each_entry_reverse(dr, &dev->devres_head, entry) {
		if (dr->release != release)
			continue;
		if (match && !match(dev, dr->data, match_data))
			continue;
		return dr;
	}
	return NULL;
}

void *devres_find(struct device *dev, dr_release_t release, dr_match_t match, void *match_data)
{
	struct side_devres *dr;
	unsigned long flags;

	side_devres_check_device(dev, SIDE_CALLER);
	spin_lock_irqsave(&dev->devres_lock, flags);
	dr = side_find(dev, release, match, match_data);
	spin_unlock_irqrestore(&dev->devres_lock, flags);
	return dr ? dr->data : NULL;
}

/* Adds `new_res` unless a matching node exists; returns the one that is on the list afterwards. */
void *devres_get(struct device *dev, void *new_res, dr_match_t match, void *match_data)
{
	struct side_devres *new_dr = side_node_of(new_res), *dr;
	unsigned long flags;

	side_devres_check_device(dev, SIDE_CALLER);
	spin_lock_irqsave(&dev->devres_lock, flags);
	dr = side_find(dev, new_dr->release, match, match_data);
	if (!dr) {
		list_add_tail(&new_dr->entry, &dev->devres_head);
		dr = new_dr;
		new_dr = NULL;
	}
	spin_unlock_irqrestore(&dev->devres_lock, flags);
	if (new_dr)
		kfree(new_dr);
	return dr->data;
}

void *devres_remove(struct device *dev, dr_release_t release, dr_match_t match, void *match_data)
{
	struct side_devres *dr;
	unsigned long flags;

	side_devres_check_device(dev, SIDE_CALLER);
	spin_lock_irqsave(&dev->devres_lock, flags);
	dr = side_find(dev, release, match, match_data);
	if (dr)
		list_del_init(&dr->entry);
	spin_unlock_irqrestore(&dev->devres_lock, flags);
	return dr ? dr->data : NULL;
}

int devres_destroy(struct device *dev, dr_release_t release, dr_match_t match, void *match_data)
{
	void *res = devres_remove(dev, release, match, match_data);

	if (!res)
		return -ENOENT;
	kfree(side_node_of(res));
	return 0;
}

int devres_release(struct device *dev, dr_release_t release, dr_match_t match, void *match_data)
{
	void *res = devres_remove(dev, release, match, match_data);

	if (!res)
		return -ENOENT;
	release(dev, res);
	kfree(side_node_of(res));
	return 0;
}

void side_devres_release_all(struct device *dev)
{
	struct side_devres *dr;
	unsigned long flags;

	/* One at a time, newest first: a release function may itself add or remove nodes (as in the kernel, it must
	 * not, but a hostile one cannot make this loop run over freed memory). */
	for (;;) {
		spin_lock_irqsave(&dev->devres_lock, flags);
		if (list_empty(&dev->devres_head)) {
			spin_unlock_irqrestore(&dev->devres_lock, flags);
			return;
		}
		dr = list_last_entry(&dev->devres_head, struct side_devres, entry);
		list_del_init(&dr->entry);
		spin_unlock_irqrestore(&dev->devres_lock, flags);
		dr->release(dev, dr->data);
		kfree(dr);
	}
}

/* ---- devm_kmalloc() and managed actions ------------------------------------------------------------------- */

static void side_devm_kmalloc_release(struct device *dev, void *res)
{
}

static int side_devm_kmalloc_match(struct device *dev, void *res, void *data)
{
	return res == data;
}

void *devm_kmalloc(struct device *dev, size_t size, gfp_t gfp)
{
	void *p;

	side_devres_check_device(dev, SIDE_CALLER);
	if (unlikely(!size))
		return ZERO_SIZE_PTR;
	p = __devres_alloc_node(side_devm_kmalloc_release, size, gfp, NUMA_NO_NODE, "devm_kzalloc");
	if (p)
		devres_add(dev, p);
	return p;
}

void devm_kfree(struct device *dev, const void *p)
{
	if (ZERO_OR_NULL_PTR(p))
		return;
	if (devres_destroy(dev, side_devm_kmalloc_release, side_devm_kmalloc_match, (void *)p))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "devm_kfree of %px, which is no managed allocation", p);
}

struct side_action {
	void (*action)(void *);
	void *data;
};

static void side_action_release(struct device *dev, void *res)
{
	struct side_action *a = res;

	a->action(a->data);
}

static int side_action_match(struct device *dev, void *res, void *p)
{
	struct side_action *a = res, *b = p;

	return a->action == b->action && a->data == b->data;
}

int devm_add_action(struct device *dev, void (*action)(void *), void *data)
{
	struct side_action *a;

	side_devres_check_device(dev, SIDE_CALLER);
	a = __devres_alloc_node(side_action_release, sizeof(*a), GFP_KERNEL, NUMA_NO_NODE, "devm_add_action");
	if (!a)
		return -ENOMEM;
	a->action = action;
	a->data = data;
	devres_add(dev, a);
	return 0;
}

void devm_remove_action(struct device *dev, void (*action)(void *), void *data)
{
	struct side_action a = { action, data };

	if (devres_destroy(dev, side_action_release, side_action_match, &a))
		pr_warn("%s: devm_remove_action of an action never added (%pS)\n", dev_name(dev), action);
}

void devm_release_action(struct device *dev, void (*action)(void *), void *data)
{
	struct side_action a = { action, data };

	if (devres_release(dev, side_action_release, side_action_match, &a))
		pr_warn("%s: devm_release_action of an action never added (%pS)\n", dev_name(dev), action);
}
