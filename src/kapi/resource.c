// SPDX-License-Identifier: GPL-2.0-only
/*
 * The resource tree of kernel/resource.c: the roots ioport_resource and iomem_resource, each device's BARs inserted
 * below them when it is bound (as the PCI core claims them at enumeration), and busy regions that drivers request
 * inside them. A request descends into the deepest non-busy resource that contains it and fails on any overlap with
 * a busy region or a partial overlap with a BAR; a release must name exactly a busy region that was requested.
 */
#include <linux/ioport.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include "kapi.h"

struct resource ioport_resource = {
	.name = "PCI IO",
	.start = 0,
	.end = IO_SPACE_LIMIT,
	.flags = IORESOURCE_IO,
};

struct resource iomem_resource = {
	.name = "PCI mem",
	.start = 0,
	.end = -1,
	.flags = IORESOURCE_MEM,
};

static DEFINE_SPINLOCK(side_resource_lock);

/* Inserts `new` among root's children, or returns what it collides with (root itself when it does not fit). */
static struct resource *side_insert(struct resource *root, struct resource *new)
{
	struct resource *tmp, **p;

	if (new->end < new->start || new->start < root->start || new->end > root->end)
		return root;
	for (p = &root->child;; p = &tmp->sibling) {
		tmp = *p;
		if (!tmp || tmp->start > new->end) {
			new->sibling = tmp;
			new->child = NULL;
			new->parent = root;
			*p = new;
			return NULL;
		}
		if (tmp->end >= new->start)
			return tmp;
	}
}

static void side_unlink(struct resource *old)
{
	struct resource **p;

	for (p = &old->parent->child; *p; p = &(*p)->sibling) {
		if (*p == old) {
			*p = old->sibling;
			break;
		}
	}
	old->parent = old->sibling = NULL;
}

struct resource *__request_region(struct resource *parent, resource_size_t start, resource_size_t n,
				  const char *name, int flags)
{
	struct resource *res = kzalloc(sizeof(*res), GFP_KERNEL), *conflict;
	unsigned long irqflags;

	if (!parent)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "__request_region with no parent resource");
	if (!res)
		return NULL;
	res->name = name;
	res->start = start;
	res->end = start + n - 1;
	spin_lock_irqsave(&side_resource_lock, irqflags);
	res->flags = (parent->flags & IORESOURCE_TYPE_BITS) | IORESOURCE_BUSY | flags;
	for (;;) {
		conflict = side_insert(parent, res);
		if (!conflict)
			break;
		/* Inside a BAR (not busy): the region belongs below it. */
		if (conflict != parent && !(conflict->flags & IORESOURCE_BUSY)) {
			parent = conflict;
			continue;
		}
		break;
	}
	spin_unlock_irqrestore(&side_resource_lock, irqflags);
	if (conflict) {
		kfree(res);
		return NULL;
	}
	return res;
}

void __release_region(struct resource *parent, resource_size_t start, resource_size_t n)
{
	resource_size_t end = start + n - 1;
	struct resource **p, *res;
	unsigned long irqflags;

	spin_lock_irqsave(&side_resource_lock, irqflags);
	for (p = parent ? &parent->child : NULL; p && (res = *p);) {
		if (res->start <= start && res->end >= end) {
			if (!(res->flags & IORESOURCE_BUSY)) {
				p = &res->child;
				continue;
			}
			if (res->start != start || res->end != end)
				break;
			*p = res->sibling;
			spin_unlock_irqrestore(&side_resource_lock, irqflags);
			kfree(res);
			return;
		}
		p = &res->sibling;
	}
	spin_unlock_irqrestore(&side_resource_lock, irqflags);
	pr_warn("Trying to free nonexistent resource <%pa-%pa>\n", &start, &end);
}

/* The root a BAR lives under. */
static struct resource *side_root_of(const struct resource *bar)
{
	return (bar->flags & IORESOURCE_IO) ? &ioport_resource : &iomem_resource;
}

/* pci_claim_resource() for every BAR of a device being bound; a BAR that collides stays unclaimed, as there. */
void side_resource_claim_bars(struct pci_dev *dev)
{
	unsigned long irqflags;
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct resource *bar = &dev->resource[i], *conflict;

		if (!bar->flags || !resource_size(bar))
			continue;
		spin_lock_irqsave(&side_resource_lock, irqflags);
		conflict = side_insert(side_root_of(bar), bar);
		spin_unlock_irqrestore(&side_resource_lock, irqflags);
		if (conflict)
			pci_info(dev, "can't claim BAR %d %pR: address conflict with %s %pR\n", i, bar,
				 conflict->name ? conflict->name : "?", conflict);
	}
}

/*
 * The device leaves the domain: its BARs leave the tree. A region the driver requested and never released would
 * stay busy forever in the kernel; here it goes with the device (it is reported, since it is a driver leak).
 */
void side_resource_release_bars(struct pci_dev *dev)
{
	unsigned long irqflags;
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct resource *bar = &dev->resource[i], *child, *next;

		spin_lock_irqsave(&side_resource_lock, irqflags);
		if (!bar->parent) {
			spin_unlock_irqrestore(&side_resource_lock, irqflags);
			continue;
		}
		child = bar->child;
		bar->child = NULL;
		side_unlink(bar);
		spin_unlock_irqrestore(&side_resource_lock, irqflags);
		for (; child; child = next) {
			next = child->sibling;
			pr_warn("%s: region %pR (%s) was never released\n", pci_name(dev), child,
				child->name ? child->name : "?");
			kfree(child);
		}
	}
}
