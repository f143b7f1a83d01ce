// SPDX-License-Identifier: GPL-2.0-only
/*
 * --isolation sfi: the checked variants of the exports that write through a pointer the driver passes them, other
 * than the string and copy functions (sfi_checked.c): a result (a config-space value, a DMA handle, a time), a
 * buffer filled from a device or the kernel, or a kernel object the export initialises or locks in the driver's
 * memory. Without the check, the layer (trusted, unchecked code) would write wherever the driver pointed it: into
 * side's memory or the layer's own. The range is checked before the export runs; a range the driver may not
 * write is a driver fault naming the call. The host resolves a driver's import of X here when it is defined.
 */
#include <linux/dma-mapping.h>
#include <linux/dmapool.h>
#include <linux/dynamic_queue_limits.h>
#include <linux/ethtool.h>
#include <linux/firmware.h>
#include <linux/io.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/pm_qos.h>
#include <linux/random.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/timecounter.h>
#include <linux/timekeeping.h>
#include <linux/timer.h>
#include <linux/wait.h>

#include "side_host.h"
#include "net_core.h"
#include "sfi_checked.h"

/* ---- buffers filled from a device or the kernel ---- */

#define SIDE_SFI_IOREAD_REP(bits, type)                                                                             \
	void side_kapi_sfi_ioread##bits##_rep(const void __iomem *addr, void *dst, unsigned long count)            \
	{                                                                                                           \
		CHECK_ARRAY(dst, count, sizeof(type));                                                              \
		ioread##bits##_rep(addr, dst, count);                                                               \
	}
SIDE_SFI_IOREAD_REP(8, u8)
SIDE_SFI_IOREAD_REP(16, u16)
SIDE_SFI_IOREAD_REP(32, u32)

void side_kapi_sfi_memcpy_fromio(void *to, const volatile void __iomem *from, size_t n)
{
	CHECK(to, n);
	memcpy_fromio(to, from, n);
}

int side_kapi_sfi_skb_copy_bits(const struct sk_buff *skb, int offset, void *to, int len)
{
	if (len > 0)
		CHECK(to, len);
	return skb_copy_bits(skb, offset, to, len);
}

/* Not closed: the export reads skb->len again, and another vCPU may change it after this check. */
void side_kapi_sfi_skb_copy_and_csum_dev(const struct sk_buff *skb, u8 *to)
{
	CHECK(to, skb->len);
	skb_copy_and_csum_dev(skb, to);
}

void side_kapi_sfi_get_random_bytes(void *buf, size_t len)
{
	CHECK(buf, len);
	get_random_bytes(buf, len);
}

void side_kapi_sfi_netdev_rss_key_fill(void *buffer, size_t len)
{
	CHECK(buffer, len);
	netdev_rss_key_fill(buffer, len);
}

/* The slot is read once: another vCPU could change *data between a check and a second read. */
void side_kapi_sfi_ethtool_sprintf(u8 **data, const char *fmt, ...)
{
	u8 *slot = READ_ONCE(*data);
	va_list args;

	CHECK(data, sizeof(*data));
	CHECK(slot, ETH_GSTRING_LEN);
	va_start(args, fmt);
	side_ethtool_vsprintf(&slot, fmt, args);
	va_end(args);
	WRITE_ONCE(*data, slot);
}

/* ---- results ---- */

/* A config-space read of `type` into *val, on a device of `dev_type`. */
#define SIDE_SFI_CONFIG_READ(name, dev_type, type)                                                                 \
	int side_kapi_sfi_##name(dev_type *dev, int where, type *val)                                               \
	{                                                                                                           \
		CHECK(val, sizeof(*val));                                                                           \
		return name(dev, where, val);                                                                       \
	}
SIDE_SFI_CONFIG_READ(pci_read_config_byte, const struct pci_dev, u8)
SIDE_SFI_CONFIG_READ(pci_read_config_word, const struct pci_dev, u16)
SIDE_SFI_CONFIG_READ(pci_read_config_dword, const struct pci_dev, u32)
SIDE_SFI_CONFIG_READ(pcie_capability_read_word, struct pci_dev, u16)
SIDE_SFI_CONFIG_READ(pcie_capability_read_dword, struct pci_dev, u32)

/* A coherent allocation whose bus address goes to *handle. */
#define SIDE_SFI_DMA_ALLOC(name)                                                                                   \
	void *side_kapi_sfi_##name(struct device *dev, size_t size, dma_addr_t *handle, gfp_t gfp,                 \
				   unsigned long attrs)                                                             \
	{                                                                                                           \
		CHECK(handle, sizeof(*handle));                                                                     \
		return name(dev, size, handle, gfp, attrs);                                                         \
	}
SIDE_SFI_DMA_ALLOC(dma_alloc_attrs)
SIDE_SFI_DMA_ALLOC(dmam_alloc_attrs)

void *side_kapi_sfi_dma_pool_alloc(struct dma_pool *pool, gfp_t mem_flags, dma_addr_t *handle)
{
	CHECK(handle, sizeof(*handle));
	return dma_pool_alloc(pool, mem_flags, handle);
}

int side_kapi_sfi_request_firmware(const struct firmware **firmware_p, const char *name, struct device *device)
{
	CHECK(firmware_p, sizeof(*firmware_p));
	return request_firmware(firmware_p, name, device);
}

#define SIDE_SFI_TIME(name)                                                                                        \
	void side_kapi_sfi_##name(struct timespec64 *ts)                                                            \
	{                                                                                                           \
		CHECK(ts, sizeof(*ts));                                                                             \
		name(ts);                                                                                           \
	}
SIDE_SFI_TIME(ktime_get_ts64)
SIDE_SFI_TIME(ktime_get_real_ts64)

struct rtnl_link_stats64 *side_kapi_sfi_dev_get_stats(struct net_device *dev, struct rtnl_link_stats64 *storage)
{
	CHECK(storage, sizeof(*storage));
	return dev_get_stats(dev, storage);
}

void side_kapi_sfi_netdev_stats_to_stats64(struct rtnl_link_stats64 *stats64,
					   const struct net_device_stats *netdev_stats)
{
	CHECK(stats64, sizeof(*stats64));
	netdev_stats_to_stats64(stats64, netdev_stats);
}

void side_kapi_sfi_ethtool_convert_legacy_u32_to_link_mode(unsigned long *dst, u32 legacy_u32)
{
	CHECK(dst, BITS_TO_LONGS(__ETHTOOL_LINK_MODE_MASK_NBITS) * sizeof(*dst));
	ethtool_convert_legacy_u32_to_link_mode(dst, legacy_u32);
}

bool side_kapi_sfi_ethtool_convert_link_mode_to_legacy_u32(u32 *legacy_u32, const unsigned long *src)
{
	CHECK(legacy_u32, sizeof(*legacy_u32));
	return ethtool_convert_link_mode_to_legacy_u32(legacy_u32, src);
}

/* ---- kernel objects in the driver's memory, initialised or locked by the export ---- */

void side_kapi_sfi_init_timer_key(struct timer_list *timer, void (*func)(struct timer_list *), unsigned int flags,
				  const char *name, struct lock_class_key *key)
{
	CHECK(timer, sizeof(*timer));
	init_timer_key(timer, func, flags, name, key);
}

void side_kapi_sfi_timecounter_init(struct timecounter *tc, const struct cyclecounter *cc, u64 start_tstamp)
{
	CHECK(tc, sizeof(*tc));
	timecounter_init(tc, cc, start_tstamp);
}

void side_kapi_sfi_cpu_latency_qos_add_request(struct pm_qos_request *req, s32 value)
{
	CHECK(req, sizeof(*req));
	cpu_latency_qos_add_request(req, value);
}

void side_kapi_sfi_dql_reset(struct dql *dql)
{
	CHECK(dql, sizeof(*dql));
	dql_reset(dql);
}

void side_kapi_sfi_netif_napi_add_weight(struct net_device *dev, struct napi_struct *napi,
					 int (*poll)(struct napi_struct *, int), int weight)
{
	CHECK(napi, sizeof(*napi));
	netif_napi_add_weight(dev, napi, poll, weight);
}

void side_kapi_sfi___mutex_init(struct mutex *lock, const char *name, struct lock_class_key *key)
{
	CHECK(lock, sizeof(*lock));
	__mutex_init(lock, name, key);
}

void side_kapi_sfi___init_waitqueue_head(struct wait_queue_head *wq_head, const char *name,
					 struct lock_class_key *key)
{
	CHECK(wq_head, sizeof(*wq_head));
	__init_waitqueue_head(wq_head, name, key);
}

/* A lock or mutex call of `type` taking only the lock; `ret` is `return` or empty (void). */
#define SIDE_SFI_LOCK(type, ret, name, lock_type)                                                                  \
	type side_kapi_sfi_##name(lock_type *lock)                                                                  \
	{                                                                                                           \
		CHECK(lock, sizeof(*lock));                                                                         \
		ret name(lock);                                                                                     \
	}
SIDE_SFI_LOCK(void, , _raw_spin_lock, raw_spinlock_t)
SIDE_SFI_LOCK(int, return, _raw_spin_trylock, raw_spinlock_t)
SIDE_SFI_LOCK(void, , _raw_spin_unlock, raw_spinlock_t)
SIDE_SFI_LOCK(unsigned long, return, _raw_spin_lock_irqsave, raw_spinlock_t)
SIDE_SFI_LOCK(void, , _raw_spin_lock_irq, raw_spinlock_t)
SIDE_SFI_LOCK(void, , _raw_spin_unlock_irq, raw_spinlock_t)
SIDE_SFI_LOCK(void, , _raw_spin_lock_bh, raw_spinlock_t)
SIDE_SFI_LOCK(void, , _raw_spin_unlock_bh, raw_spinlock_t)
SIDE_SFI_LOCK(int, return, _raw_spin_trylock_bh, raw_spinlock_t)
SIDE_SFI_LOCK(void, , mutex_lock, struct mutex)
SIDE_SFI_LOCK(int, return, mutex_lock_interruptible, struct mutex)
SIDE_SFI_LOCK(int, return, mutex_lock_killable, struct mutex)
SIDE_SFI_LOCK(int, return, mutex_trylock, struct mutex)
SIDE_SFI_LOCK(void, , mutex_unlock, struct mutex)

void side_kapi_sfi__raw_spin_unlock_irqrestore(raw_spinlock_t *lock, unsigned long flags)
{
	CHECK(lock, sizeof(*lock));
	_raw_spin_unlock_irqrestore(lock, flags);
}
