// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCI driver registration and id matching. The host keeps the registry of drivers (it owns the devices and decides
 * which driver instance binds to which device); this side turns a driver's id table into plain records for it.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include "kapi.h"

/* Bounds the walk over a driver-supplied table that might lack its terminating entry. */
#define SIDE_MAX_PCI_IDS 4096

static bool side_pci_id_is_terminator(const struct pci_device_id *id)
{
	return !id->vendor && !id->subvendor && !id->class_mask;
}

int __pci_register_driver(struct pci_driver *drv, struct module *owner, const char *mod_name)
{
	const struct pci_device_id *id;
	struct side_pci_id *ids;
	unsigned int n = 0, i;
	int err;

	if (!drv || !drv->name)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "__pci_register_driver with no driver or name");
	drv->driver.name = drv->name;
	drv->driver.owner = owner;
	drv->driver.mod_name = mod_name;
	spin_lock_init(&drv->dynids.lock);
	INIT_LIST_HEAD(&drv->dynids.list);

	for (id = drv->id_table; id && !side_pci_id_is_terminator(id); id++)
		if (++n > SIDE_MAX_PCI_IDS)
			side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "%s: PCI id table has no terminator",
				   drv->name);
	ids = kcalloc(n ? n : 1, sizeof(*ids), GFP_KERNEL);
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		id = &drv->id_table[i];
		ids[i] = (struct side_pci_id){ id->vendor, id->device, id->subvendor, id->subdevice, id->class,
					       id->class_mask };
	}
	err = side_host_pci_register_driver(drv, drv->name, ids, n);
	kfree(ids);
	return err;
}

void pci_unregister_driver(struct pci_driver *drv)
{
	side_host_pci_unregister_driver(drv);
}

const struct pci_device_id *pci_match_id(const struct pci_device_id *ids, struct pci_dev *dev)
{
	unsigned int n = 0;

	for (; ids && !side_pci_id_is_terminator(ids) && n < SIDE_MAX_PCI_IDS; ids++, n++) {
		if ((ids->vendor == PCI_ANY_ID || ids->vendor == dev->vendor) &&
		    (ids->device == PCI_ANY_ID || ids->device == dev->device) &&
		    (ids->subvendor == PCI_ANY_ID || ids->subvendor == dev->subsystem_vendor) &&
		    (ids->subdevice == PCI_ANY_ID || ids->subdevice == dev->subsystem_device) &&
		    !((ids->class ^ dev->class) & ids->class_mask))
			return ids;
	}
	return NULL;
}

/* ---- devices ------------------------------------------------------------------------------------------------ */

/*
 * A PCI function the host assigned to the domain. The struct pci_dev is the real kernel structure drivers see; the
 * rest is what the host bridge would keep (the device's number in the host's config and DMA services); region
 * ownership is in the resource tree (resource.c).
 */
struct side_pci {
	struct pci_dev pdev;
	struct pci_bus bus;
	/* The host bridge above the function: its dev.parent, as in Linux (drivers look at the parent's runtime PM
	 * state, e1000e's pm_runtime_suspended(pdev->dev.parent)); always active. */
	struct device bridge;
	char bridge_name[16];            /* "pci0000:BB" */
	struct list_head link;
	u32 host;                        /* the host's device number */
	char name[16];                   /* "0000:BB:DD.F", dev_name() */
};

struct bus_type pci_bus_type = { .name = "pci" };

static DEFINE_SPINLOCK(side_pci_lock);
static LIST_HEAD(side_pci_devices);

/* The side_pci of a pci_dev, or a fault if the driver passes something that is no device of this domain. */
static struct side_pci *side_pci_of(const struct pci_dev *pdev, unsigned long caller)
{
	struct side_pci *sp, *found = NULL;
	unsigned long flags;

	spin_lock_irqsave(&side_pci_lock, flags);
	list_for_each_entry(sp, &side_pci_devices, link) {
		if (&sp->pdev == pdev) {
			found = sp;
			break;
		}
	}
	spin_unlock_irqrestore(&side_pci_lock, flags);
	if (!found)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, caller, "%px is not a PCI device of this domain", pdev);
	return found;
}

int side_pci_host_device(struct device *dev, u32 *host)
{
	struct side_pci *sp;
	unsigned long flags;
	int err = -ENODEV;

	if (!dev)
		return -ENODEV;
	spin_lock_irqsave(&side_pci_lock, flags);
	list_for_each_entry(sp, &side_pci_devices, link) {
		if (&sp->pdev.dev == dev) {
			*host = sp->host;
			err = 0;
			break;
		}
	}
	spin_unlock_irqrestore(&side_pci_lock, flags);
	return err;
}

/* Whether the machine has a device matching `ids`: a domain's machine is the devices the host gave it. */
static bool side_any_device_matches(const struct pci_device_id *ids)
{
	struct side_pci *sp;
	unsigned long flags;
	bool found = false;

	spin_lock_irqsave(&side_pci_lock, flags);
	list_for_each_entry(sp, &side_pci_devices, link) {
		if (pci_match_id(ids, &sp->pdev)) {
			found = true;
			break;
		}
	}
	spin_unlock_irqrestore(&side_pci_lock, flags);
	return found;
}

int pci_dev_present(const struct pci_device_id *ids)
{
	return ids && side_any_device_matches(ids);
}

/* ---- config space: the accessors return PCIBIOS_* codes, as the kernel's do */

static int side_config_read(const struct pci_dev *pdev, int where, u32 width, u32 *value, unsigned long caller)
{
	struct side_pci *sp = side_pci_of(pdev, caller);

	if (where < 0 || (where & (width - 1)))
		return PCIBIOS_BAD_REGISTER_NUMBER;
	if (side_host_pci_config_read(sp->host, where, width, value)) {
		/* The kernel's answer for an access the host bridge refuses: all ones. */
		*value = ~0U;
		return PCIBIOS_BAD_REGISTER_NUMBER;
	}
	return PCIBIOS_SUCCESSFUL;
}

static int side_config_write(const struct pci_dev *pdev, int where, u32 width, u32 value, unsigned long caller)
{
	struct side_pci *sp = side_pci_of(pdev, caller);

	if (where < 0 || (where & (width - 1)))
		return PCIBIOS_BAD_REGISTER_NUMBER;
	if (side_host_pci_config_write(sp->host, where, width, value))
		return PCIBIOS_BAD_REGISTER_NUMBER;
	return PCIBIOS_SUCCESSFUL;
}

int pci_read_config_byte(const struct pci_dev *dev, int where, u8 *val)
{
	u32 v = 0;
	int err = side_config_read(dev, where, 1, &v, SIDE_CALLER);

	if (err != PCIBIOS_BAD_REGISTER_NUMBER || v == ~0U)
		*val = v;
	return err;
}

int pci_read_config_word(const struct pci_dev *dev, int where, u16 *val)
{
	u32 v = 0;
	int err = side_config_read(dev, where, 2, &v, SIDE_CALLER);

	/* A misaligned access leaves *val alone; a refused one reads all ones. */
	if (!err || v == ~0U)
		*val = v;
	return err;
}

int pci_read_config_dword(const struct pci_dev *dev, int where, u32 *val)
{
	u32 v = 0;
	int err = side_config_read(dev, where, 4, &v, SIDE_CALLER);

	if (!err || v == ~0U)
		*val = v;
	return err;
}

int pci_write_config_byte(const struct pci_dev *dev, int where, u8 val)
{
	return side_config_write(dev, where, 1, val, SIDE_CALLER);
}

int pci_write_config_word(const struct pci_dev *dev, int where, u16 val)
{
	return side_config_write(dev, where, 2, val, SIDE_CALLER);
}

int pci_write_config_dword(const struct pci_dev *dev, int where, u32 val)
{
	return side_config_write(dev, where, 4, val, SIDE_CALLER);
}

/* Internal accessors for the layer itself: the caller is already known to be a device of the domain. */
static u16 side_cfg16(struct pci_dev *dev, int where)
{
	u16 v = 0;

	pci_read_config_word(dev, where, &v);
	return v;
}

static void side_cfg16_write(struct pci_dev *dev, int where, u16 v)
{
	pci_write_config_word(dev, where, v);
}

/* Walks the capability list as the kernel does, bounded against loops (48 entries at most). */
u8 pci_find_capability(struct pci_dev *dev, int cap)
{
	u8 pos = 0, id;
	int ttl = 48;

	if (!(side_cfg16(dev, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	pci_read_config_byte(dev, PCI_CAPABILITY_LIST, &pos);
	while (ttl--) {
		if (pos < 0x40)
			break;
		pos &= ~3;
		pci_read_config_byte(dev, pos + PCI_CAP_LIST_ID, &id);
		if (id == 0xff)
			break;
		if (id == cap)
			return pos;
		pci_read_config_byte(dev, pos + PCI_CAP_LIST_NEXT, &pos);
	}
	return 0;
}

/* ---- enabling, bus mastering, regions */

static int side_enable_device(struct pci_dev *dev, unsigned long flags, unsigned long caller)
{
	u16 cmd, new;
	u8 pin = 0;
	int i, err;

	side_pci_of(dev, caller);
	if (atomic_inc_return(&dev->enable_cnt) > 1)
		return 0; /* already enabled */
	err = pci_set_power_state(dev, PCI_D0);
	if (err && err != -EIO) {
		atomic_dec(&dev->enable_cnt);
		return err;
	}
	/* pci_enable_resources(): decode only the kinds of BAR asked for and present. */
	cmd = new = side_cfg16(dev, PCI_COMMAND);
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		unsigned long f = dev->resource[i].flags & flags;

		if (f & IORESOURCE_IO)
			new |= PCI_COMMAND_IO;
		if (f & IORESOURCE_MEM)
			new |= PCI_COMMAND_MEMORY;
	}
	if (new != cmd) {
		pci_info(dev, "enabling device (%04x -> %04x)\n", cmd, new);
		side_cfg16_write(dev, PCI_COMMAND, new);
	}
	/* INTx must not stay disabled for a driver using the legacy interrupt. */
	pci_read_config_byte(dev, PCI_INTERRUPT_PIN, &pin);
	if (pin) {
		cmd = side_cfg16(dev, PCI_COMMAND);
		if (cmd & PCI_COMMAND_INTX_DISABLE)
			side_cfg16_write(dev, PCI_COMMAND, cmd & ~PCI_COMMAND_INTX_DISABLE);
	}
	return 0;
}

int pci_enable_device(struct pci_dev *dev)
{
	return side_enable_device(dev, IORESOURCE_MEM | IORESOURCE_IO, SIDE_CALLER);
}

int pci_enable_device_mem(struct pci_dev *dev)
{
	return side_enable_device(dev, IORESOURCE_MEM, SIDE_CALLER);
}

int pci_enable_device_io(struct pci_dev *dev)
{
	return side_enable_device(dev, IORESOURCE_IO, SIDE_CALLER);
}

void pci_disable_device(struct pci_dev *dev)
{
	u16 cmd;

	side_pci_of(dev, SIDE_CALLER);
	if (atomic_read(&dev->enable_cnt) <= 0) {
		/* dev_WARN_ONCE in the kernel; the count then goes negative there too, and nothing else happens. */
		pci_warn(dev, "disabling already-disabled device\n");
	}
	if (atomic_dec_return(&dev->enable_cnt) != 0)
		return;
	/* Decoding stays on, as in the kernel; the device may no longer master the bus. */
	cmd = side_cfg16(dev, PCI_COMMAND);
	if (cmd & PCI_COMMAND_MASTER)
		side_cfg16_write(dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
	dev->is_busmaster = 0;
}

static void side_set_master(struct pci_dev *dev, bool enable)
{
	u16 old = side_cfg16(dev, PCI_COMMAND), cmd;

	cmd = enable ? old | PCI_COMMAND_MASTER : old & ~PCI_COMMAND_MASTER;
	if (cmd != old) {
		pci_dbg(dev, "%s bus mastering\n", enable ? "enabling" : "disabling");
		side_cfg16_write(dev, PCI_COMMAND, cmd);
	}
	dev->is_busmaster = enable;
}

void pci_set_master(struct pci_dev *dev)
{
	u8 lat = 0;

	side_pci_of(dev, SIDE_CALLER);
	side_set_master(dev, true);
	/* x86's pcibios_set_master(): a latency timer below 16 becomes 64. */
	pci_read_config_byte(dev, PCI_LATENCY_TIMER, &lat);
	if (lat < 16) {
		pci_dbg(dev, "setting latency timer to 64\n");
		pci_write_config_byte(dev, PCI_LATENCY_TIMER, 64);
	}
}

void pci_clear_master(struct pci_dev *dev)
{
	side_pci_of(dev, SIDE_CALLER);
	side_set_master(dev, false);
}

int pci_select_bars(struct pci_dev *dev, unsigned long flags)
{
	int i, bars = 0;

	for (i = 0; i < PCI_NUM_RESOURCES; i++)
		if (pci_resource_flags(dev, i) & flags)
			bars |= 1 << i;
	return bars;
}

/* __pci_request_region(): a busy region over the whole BAR in the resource tree (resource.c). */
static int side_request_region(struct side_pci *sp, int bar, const char *name, int excl)
{
	struct pci_dev *dev = &sp->pdev;
	struct resource *res = &dev->resource[bar];
	struct resource *root = (res->flags & IORESOURCE_IO) ? &ioport_resource : &iomem_resource;

	if (!pci_resource_len(dev, bar))
		return 0;
	if (!(res->flags & (IORESOURCE_IO | IORESOURCE_MEM)) ||
	    !__request_region(root, res->start, resource_size(res), name, excl)) {
		pci_info(dev, "BAR %d: can't reserve %pR\n", bar, res);
		return -EBUSY;
	}
	side_pcim_note_region(dev, bar, true);
	return 0;
}

static void side_release_region(struct side_pci *sp, int bar)
{
	struct pci_dev *dev = &sp->pdev;
	struct resource *res = &dev->resource[bar];

	if (!pci_resource_len(dev, bar))
		return;
	__release_region((res->flags & IORESOURCE_IO) ? &ioport_resource : &iomem_resource, res->start,
			 resource_size(res));
	side_pcim_note_region(dev, bar, false);
}

static int side_request_selected(struct pci_dev *dev, int bars, const char *res_name, int excl,
				 unsigned long caller)
{
	struct side_pci *sp = side_pci_of(dev, caller);
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		if (!(bars & BIT(i)))
			continue;
		if (side_request_region(sp, i, res_name, excl)) {
			while (--i >= 0)
				if (bars & BIT(i))
					side_release_region(sp, i);
			return -EBUSY;
		}
	}
	return 0;
}

int pci_request_selected_regions(struct pci_dev *dev, int bars, const char *res_name)
{
	return side_request_selected(dev, bars, res_name, 0, SIDE_CALLER);
}

int pci_request_selected_regions_exclusive(struct pci_dev *dev, int bars, const char *res_name)
{
	return side_request_selected(dev, bars, res_name, IORESOURCE_EXCLUSIVE, SIDE_CALLER);
}

void pci_release_selected_regions(struct pci_dev *dev, int bars)
{
	struct side_pci *sp = side_pci_of(dev, SIDE_CALLER);
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		if (bars & BIT(i))
			side_release_region(sp, i);
}

int pci_request_region(struct pci_dev *dev, int bar, const char *res_name)
{
	struct side_pci *sp = side_pci_of(dev, SIDE_CALLER);

	if (bar < 0 || bar >= PCI_STD_NUM_BARS)
		return 0;
	return side_request_region(sp, bar, res_name, 0);
}

void pci_release_region(struct pci_dev *dev, int bar)
{
	struct side_pci *sp = side_pci_of(dev, SIDE_CALLER);

	if (bar >= 0 && bar < PCI_STD_NUM_BARS)
		side_release_region(sp, bar);
}

int pci_request_regions(struct pci_dev *dev, const char *res_name)
{
	return side_request_selected(dev, (1 << PCI_STD_NUM_BARS) - 1, res_name, 0, SIDE_CALLER);
}

void pci_release_regions(struct pci_dev *dev)
{
	pci_release_selected_regions(dev, (1 << PCI_STD_NUM_BARS) - 1);
}

void __iomem *pci_ioremap_bar(struct pci_dev *pdev, int bar)
{
	struct resource *res;

	side_pci_of(pdev, SIDE_CALLER);
	if (bar < 0 || bar >= PCI_STD_NUM_BARS)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "pci_ioremap_bar: no BAR %d", bar);
	res = &pdev->resource[bar];
	if ((res->flags & IORESOURCE_UNSET) || !(res->flags & IORESOURCE_MEM)) {
		pci_err(pdev, "can't ioremap BAR %d: %pR\n", bar, res);
		return NULL;
	}
	return ioremap(res->start, resource_size(res));
}

/* ---- power management: PCI PM capability registers, as drivers/pci/pci.c drives them */

int pci_save_state(struct pci_dev *dev)
{
	int i;

	side_pci_of(dev, SIDE_CALLER);
	for (i = 0; i < 16; i++)
		pci_read_config_dword(dev, i * 4, &dev->saved_config_space[i]);
	dev->state_saved = true;
	return 0;
}

void pci_restore_state(struct pci_dev *dev)
{
	int i;

	side_pci_of(dev, SIDE_CALLER);
	if (!dev->state_saved)
		return;
	/* As pci_restore_config_space(): only dwords that differ, from the top down (COMMAND last). */
	for (i = 15; i >= 0; i--) {
		u32 now = 0;

		pci_read_config_dword(dev, i * 4, &now);
		if (now != dev->saved_config_space[i])
			pci_write_config_dword(dev, i * 4, dev->saved_config_space[i]);
	}
	dev->state_saved = false;
}

static int side_write_pm_state(struct pci_dev *dev, pci_power_t state)
{
	u16 pmcsr = side_cfg16(dev, dev->pm_cap + PCI_PM_CTRL);

	pmcsr &= ~PCI_PM_CTRL_STATE_MASK;
	pmcsr |= state == PCI_D3cold ? PCI_D3hot : state;
	side_cfg16_write(dev, dev->pm_cap + PCI_PM_CTRL, pmcsr);
	pmcsr = side_cfg16(dev, dev->pm_cap + PCI_PM_CTRL);
	dev->current_state = pmcsr & PCI_PM_CTRL_STATE_MASK;
	return 0;
}

int pci_set_power_state(struct pci_dev *dev, pci_power_t state)
{
	side_pci_of(dev, SIDE_CALLER);
	if (state > PCI_D3cold)
		state = PCI_D3cold;
	else if (state < PCI_D0)
		state = PCI_D0;
	if (dev->current_state == state)
		return 0;
	if (state == PCI_D0) {
		/* pci_power_up(): a device without PM is simply "on". */
		if (dev->pm_cap)
			side_write_pm_state(dev, PCI_D0);
		dev->current_state = PCI_D0;
		return 0;
	}
	/* pci_set_low_power_state(): needs the PM capability and support for D1/D2; D3cold goes through D3hot and
	 * then the platform, which side has none of (the D3hot result stands). */
	if (!dev->pm_cap || (state == PCI_D1 && !dev->d1_support) || (state == PCI_D2 && !dev->d2_support))
		return -EIO;
	return side_write_pm_state(dev, state);
}

static bool side_pme_capable(struct pci_dev *dev, pci_power_t state)
{
	return dev->pm_cap && (dev->pme_support & (1 << state));
}

static void side_pme_active(struct pci_dev *dev, bool enable)
{
	u16 pmcsr;

	if (!dev->pme_support)
		return;
	pmcsr = side_cfg16(dev, dev->pm_cap + PCI_PM_CTRL);
	/* Writing PME_STATUS clears it. */
	pmcsr |= PCI_PM_CTRL_PME_STATUS;
	if (enable)
		pmcsr |= PCI_PM_CTRL_PME_ENABLE;
	else
		pmcsr &= ~PCI_PM_CTRL_PME_ENABLE;
	side_cfg16_write(dev, dev->pm_cap + PCI_PM_CTRL, pmcsr);
}

void pci_pme_active(struct pci_dev *dev, bool enable)
{
	side_pci_of(dev, SIDE_CALLER);
	side_pme_active(dev, enable);
}

int pci_enable_wake(struct pci_dev *dev, pci_power_t state, bool enable)
{
	int ret = 0;

	side_pci_of(dev, SIDE_CALLER);
	if (enable && !device_may_wakeup(&dev->dev))
		return -EINVAL;
	if (!!enable == !!dev->wakeup_prepared)
		return 0;
	if (enable) {
		/* Without a PME capability only the platform could wake the device, and side has no platform. */
		if (side_pme_capable(dev, state) || side_pme_capable(dev, PCI_D3cold))
			side_pme_active(dev, true);
		else
			ret = -ENODEV;
		if (!ret)
			dev->wakeup_prepared = true;
	} else {
		side_pme_active(dev, false);
		dev->wakeup_prepared = false;
	}
	return ret;
}

int pci_wake_from_d3(struct pci_dev *dev, bool enable)
{
	return side_pme_capable(dev, PCI_D3cold) ? pci_enable_wake(dev, PCI_D3cold, enable) :
						   pci_enable_wake(dev, PCI_D3hot, enable);
}

void device_set_wakeup_capable(struct device *dev, bool capable)
{
	dev->power.can_wakeup = capable;
}

int device_set_wakeup_enable(struct device *dev, bool enable)
{
	struct wakeup_source *ws;

	if (!dev || !dev->power.can_wakeup)
		return -EINVAL;
	if (enable) {
		if (dev->power.wakeup)
			return -EEXIST;
		ws = kzalloc(sizeof(*ws), GFP_KERNEL);
		if (!ws)
			return -ENOMEM;
		ws->name = dev_name(dev);
		ws->dev = dev;
		WRITE_ONCE(dev->power.wakeup, ws);
	} else {
		ws = xchg(&dev->power.wakeup, NULL);
		kfree(ws);
	}
	return 0;
}

/* pci_target_state() without platform power management (side has none): the deepest state that can still signal
 * PME when wake-up is wanted, else D3hot; a device without the PM capability stays in D0. */
static pci_power_t side_target_state(struct pci_dev *dev, bool wakeup)
{
	if (dev->current_state == PCI_D3cold)
		return PCI_D3cold;
	if (!dev->pm_cap)
		return PCI_D0;
	if (wakeup && dev->pme_support) {
		pci_power_t state = PCI_D3hot;

		while (state && !(dev->pme_support & (1 << state)))
			state--;
		if (state)
			return state;
		if (dev->pme_support & 1)
			return PCI_D0;
	}
	return PCI_D3hot;
}

int pci_prepare_to_sleep(struct pci_dev *dev)
{
	bool wakeup;
	pci_power_t target;
	int error;

	side_pci_of(dev, SIDE_CALLER);
	wakeup = device_may_wakeup(&dev->dev);
	target = side_target_state(dev, wakeup);
	pci_enable_wake(dev, target, wakeup);
	error = pci_set_power_state(dev, target);
	if (error)
		pci_enable_wake(dev, target, false);
	return error;
}

pci_power_t pci_choose_state(struct pci_dev *dev, pm_message_t state)
{
	side_pci_of(dev, SIDE_CALLER);
	if (!dev->pm_cap)
		return PCI_D0;
	switch (state.event) {
	case PM_EVENT_ON:
		return PCI_D0;
	case PM_EVENT_FREEZE:
	case PM_EVENT_PRETHAW:
	case PM_EVENT_SUSPEND:
	case PM_EVENT_HIBERNATE:
		return PCI_D3hot;
	default:
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "pci_choose_state: unrecognized suspend event %d", state.event);
	}
}

/* ---- Memory-Write-Invalidate and PCI-X */

/* x86: the cache line size in dwords, from the CPU's clflush size. */
#define SIDE_PCI_CACHE_LINE (64 >> 2)

int pci_set_mwi(struct pci_dev *dev)
{
	u8 cls = 0;
	u16 cmd;

	side_pci_of(dev, SIDE_CALLER);
	pci_read_config_byte(dev, PCI_CACHE_LINE_SIZE, &cls);
	if (cls < SIDE_PCI_CACHE_LINE || cls % SIDE_PCI_CACHE_LINE) {
		pci_write_config_byte(dev, PCI_CACHE_LINE_SIZE, SIDE_PCI_CACHE_LINE);
		pci_read_config_byte(dev, PCI_CACHE_LINE_SIZE, &cls);
		if (cls != SIDE_PCI_CACHE_LINE) {
			pci_dbg(dev, "cache line size of %d is not supported\n", SIDE_PCI_CACHE_LINE << 2);
			return -EINVAL;
		}
	}
	cmd = side_cfg16(dev, PCI_COMMAND);
	if (!(cmd & PCI_COMMAND_INVALIDATE)) {
		pci_dbg(dev, "enabling Mem-Wr-Inval\n");
		side_cfg16_write(dev, PCI_COMMAND, cmd | PCI_COMMAND_INVALIDATE);
	}
	return 0;
}

int pci_try_set_mwi(struct pci_dev *dev)
{
	return pci_set_mwi(dev);
}

void pci_clear_mwi(struct pci_dev *dev)
{
	u16 cmd;

	side_pci_of(dev, SIDE_CALLER);
	cmd = side_cfg16(dev, PCI_COMMAND);
	if (cmd & PCI_COMMAND_INVALIDATE)
		side_cfg16_write(dev, PCI_COMMAND, cmd & ~PCI_COMMAND_INVALIDATE);
}

int pcix_get_mmrbc(struct pci_dev *dev)
{
	int cap;
	u32 stat;

	side_pci_of(dev, SIDE_CALLER);
	cap = pci_find_capability(dev, PCI_CAP_ID_PCIX);
	if (!cap)
		return -EINVAL;
	if (pci_read_config_dword(dev, cap + PCI_X_STATUS, &stat))
		return -EINVAL;
	return 512 << ((stat & PCI_X_STATUS_MAX_READ) >> 21);
}

int pcix_set_mmrbc(struct pci_dev *dev, int mmrbc)
{
	int cap;
	u32 stat, v, o;
	u16 cmd;

	side_pci_of(dev, SIDE_CALLER);
	if (mmrbc < 512 || mmrbc > 4096 || !is_power_of_2(mmrbc))
		return -EINVAL;
	v = ffs(mmrbc) - 10;
	cap = pci_find_capability(dev, PCI_CAP_ID_PCIX);
	if (!cap)
		return -EINVAL;
	if (pci_read_config_dword(dev, cap + PCI_X_STATUS, &stat))
		return -EINVAL;
	if (v > (stat & PCI_X_STATUS_MAX_READ) >> 21)
		return -E2BIG;
	if (pci_read_config_word(dev, cap + PCI_X_CMD, &cmd))
		return -EINVAL;
	o = (cmd & PCI_X_CMD_MAX_READ) >> 2;
	if (o != v) {
		cmd &= ~PCI_X_CMD_MAX_READ;
		cmd |= v << 2;
		if (pci_write_config_word(dev, cap + PCI_X_CMD, cmd))
			return -EIO;
	}
	return 0;
}

/* ---- binding (host entry points) */

static void side_pci_pm_init(struct pci_dev *dev)
{
	u16 pmc;
	int pm = pci_find_capability(dev, PCI_CAP_ID_PM);

	dev->current_state = PCI_D0;
	if (!pm)
		return;
	pci_read_config_word(dev, pm + PCI_PM_PMC, &pmc);
	if ((pmc & PCI_PM_CAP_VER_MASK) > 3) {
		pci_err(dev, "unsupported PM cap regs version (%u)\n", pmc & PCI_PM_CAP_VER_MASK);
		return;
	}
	dev->pm_cap = pm;
	dev->d1_support = !!(pmc & PCI_PM_CAP_D1);
	dev->d2_support = !!(pmc & PCI_PM_CAP_D2);
	dev->pme_support = (pmc & PCI_PM_CAP_PME_MASK) >> PCI_PM_CAP_PME_SHIFT;
	dev->current_state = side_cfg16(dev, pm + PCI_PM_CTRL) & PCI_PM_CTRL_STATE_MASK;
	if (dev->pme_support) {
		device_set_wakeup_capable(&dev->dev, true);
		side_pme_active(dev, false);
	}
}

static void side_pci_free(struct side_pci *sp)
{
	unsigned long flags;

	/* really_probe()'s and device_release_driver()'s devres_release_all(): what the driver's devm_* and pcim_*
	 * calls acquired goes, newest first, after remove() or a failed probe, before the device leaves. */
	side_devres_release_all(&sp->pdev.dev);
	side_msi_release(&sp->pdev);
	side_resource_release_bars(&sp->pdev);

	spin_lock_irqsave(&side_pci_lock, flags);
	list_del(&sp->link);
	spin_unlock_irqrestore(&side_pci_lock, flags);
	/* The bus's reference; a driver that took more (get_device) keeps the function until its last put. */
	put_device(&sp->pdev.dev);
}

/* The function's memory goes with its last reference (pci_release_dev). */
static void side_pci_release(struct device *dev)
{
	struct side_pci *sp = container_of(to_pci_dev(dev), struct side_pci, pdev);

	kfree(sp->pdev.dev.power.wakeup);
	kfree(sp);
}

int side_kapi_pci_probe(void *driver, const struct side_pci_device_info *info, void **out)
{
	struct pci_driver *drv = driver;
	const struct pci_device_id *id;
	struct side_pci *sp;
	struct pci_dev *dev;
	unsigned long flags;
	int i, rc;

	*out = NULL;
	sp = kzalloc(sizeof(*sp), GFP_KERNEL);
	if (!sp)
		return -ENOMEM;
	dev = &sp->pdev;
	sp->host = info->device;
	snprintf(sp->name, sizeof(sp->name), "%04x:%02x:%02x.%d", 0, info->bus, PCI_SLOT(info->devfn),
		 PCI_FUNC(info->devfn));
	sp->bus.number = info->bus;
	sp->bus.primary = info->bus;
	strscpy(sp->bus.name, "side", sizeof(sp->bus.name));
	INIT_LIST_HEAD(&sp->bus.devices);
	INIT_LIST_HEAD(&sp->bus.children);

	snprintf(sp->bridge_name, sizeof(sp->bridge_name), "pci%04x:%02x", 0, info->bus);
	sp->bridge.kobj.name = sp->bridge_name;
	sp->bus.bridge = &sp->bridge;
	dev->bus = &sp->bus;
	dev->dev.parent = &sp->bridge;
	dev->devfn = info->devfn;
	dev->vendor = info->vendor_id;
	dev->device = info->device_id;
	dev->subsystem_vendor = info->subsystem_vendor;
	dev->subsystem_device = info->subsystem_device;
	dev->class = info->class_code;
	dev->revision = info->revision;
	dev->irq = info->irq;
	dev->cfg_size = PCI_CFG_SPACE_SIZE;
	dev->error_state = pci_channel_io_normal;
	dev->current_state = PCI_UNKNOWN;
	dev->dma_mask = DMA_BIT_MASK(32);
	atomic_set(&dev->enable_cnt, 0);
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		const struct side_pci_bar *bar = &info->bars[i];
		struct resource *res = &dev->resource[i];

		res->name = sp->name;
		if (!bar->start || !bar->size)
			continue;
		res->start = bar->start;
		res->end = bar->start + bar->size - 1;
		res->flags = bar->io ? IORESOURCE_IO : IORESOURCE_MEM;
	}

	dev->dev.kobj.name = kstrdup(sp->name, GFP_KERNEL);
	if (!dev->dev.kobj.name) {
		kfree(sp);
		return -ENOMEM;
	}
	kref_init(&dev->dev.kobj.kref);
	dev->dev.release = side_pci_release;
	dev->dev.bus = &pci_bus_type;
	dev->dev.dma_mask = &dev->dma_mask;
	dev->dev.coherent_dma_mask = DMA_BIT_MASK(32);
	dev->dev.dma_parms = &dev->dma_parms;
	dev->dma_parms.max_segment_size = 65536;
	dev->dev.driver = &drv->driver;
	dev->driver = drv;
	spin_lock_init(&dev->dev.devres_lock);
	INIT_LIST_HEAD(&dev->dev.devres_head);
	mutex_init(&dev->dev.mutex);

	spin_lock_irqsave(&side_pci_lock, flags);
	list_add_tail(&sp->link, &side_pci_devices);
	spin_unlock_irqrestore(&side_pci_lock, flags);
	side_resource_claim_bars(dev);

	pci_read_config_byte(dev, PCI_HEADER_TYPE, &dev->hdr_type);
	dev->hdr_type &= 0x7f;
	pci_read_config_byte(dev, PCI_INTERRUPT_PIN, &dev->pin);
	side_pci_pm_init(dev);
	side_pcie_init(dev);
	side_msi_init(dev);

	side_pm_runtime_bind(&dev->dev);
	id = pci_match_id(drv->id_table, dev);
	if (!id || !drv->probe) {
		rc = -ENODEV;
		goto fail;
	}
	rc = drv->probe(dev, id);
	if (rc < 0)
		goto fail;
	if (rc > 0)
		pci_warn(dev, "Driver probe function unexpectedly returned %d\n", rc);
	*out = dev;
	return 0;

fail:
	side_pci_free(sp);
	return rc;
}

void side_kapi_pci_remove(void *pdev)
{
	struct pci_dev *dev = pdev;
	struct side_pci *sp = side_pci_of(dev, 0);

	if (dev->driver && dev->driver->remove)
		dev->driver->remove(dev);
	side_pm_runtime_unbind(&dev->dev);
	dev->driver = NULL;
	dev->dev.driver = NULL;
	side_pci_free(sp);
}
