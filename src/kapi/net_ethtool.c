// SPDX-License-Identifier: GPL-2.0-only
/*
 * ethtool helpers of net/ethtool (link-mode bitmaps, default timestamping info) and the IPv6 pseudo-header
 * checksum of arch/x86/lib, which network drivers use for offloads.
 */
#include <linux/bitmap.h>
#include <linux/ethtool.h>
#include <linux/in6.h>
#include <linux/netdevice.h>
#include <linux/net_tstamp.h>
#include <net/checksum.h>
#include <net/ip6_checksum.h>

#include "kapi.h"

void ethtool_convert_legacy_u32_to_link_mode(unsigned long *dst, u32 legacy_u32)
{
	unsigned int i;

	for (i = 0; i < BITS_TO_LONGS(__ETHTOOL_LINK_MODE_MASK_NBITS); i++)
		dst[i] = 0;
	dst[0] = legacy_u32;
}

/* The low 32 modes as a legacy mask; false when a mode beyond bit 31 is set (it cannot be represented). */
bool ethtool_convert_link_mode_to_legacy_u32(u32 *legacy_u32, const unsigned long *src)
{
	unsigned int i;
	bool ok = true;

	for (i = 32; i < __ETHTOOL_LINK_MODE_MASK_NBITS; i++) {
		if (test_bit(i, src)) {
			ok = false;
			break;
		}
	}
	*legacy_u32 = (u32)src[0];
	return ok;
}

int ethtool_op_get_ts_info(struct net_device *dev, struct ethtool_ts_info *info)
{
	info->so_timestamping = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_RX_SOFTWARE |
				SOF_TIMESTAMPING_SOFTWARE;
	info->phc_index = -1;
	return 0;
}

u32 ethtool_op_get_link(struct net_device *dev)
{
	return netif_carrier_ok(dev) ? 1 : 0;
}

/*
 * One's-complement sum of the IPv6 pseudo-header (source, destination, upper-layer length, next header) plus
 * `sum`, folded. 32-bit words are summed in memory order, which the one's-complement sum allows on any byte order.
 */
__sum16 csum_ipv6_magic(const struct in6_addr *saddr, const struct in6_addr *daddr, __u32 len, __u8 proto,
			__wsum sum)
{
	u64 acc = (__force u32)sum;
	int i;

	for (i = 0; i < 4; i++) {
		acc += (__force u32)saddr->s6_addr32[i];
		acc += (__force u32)daddr->s6_addr32[i];
	}
	acc += (__force u32)htonl(len);
	acc += (__force u32)htonl(proto);
	acc = (acc & 0xffffffff) + (acc >> 32);
	acc = (acc & 0xffffffff) + (acc >> 32);
	return csum_fold((__force __wsum)(u32)acc);
}

/* Fills one ETH_GSTRING_LEN slot of a string set and moves to the next (net/ethtool/common.c). */
void side_ethtool_vsprintf(u8 **data, const char *fmt, va_list args)
{
	vsnprintf(*data, ETH_GSTRING_LEN, fmt, args);
	*data += ETH_GSTRING_LEN;
}

void ethtool_sprintf(u8 **data, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	side_ethtool_vsprintf(data, fmt, args);
	va_end(args);
}

/* One random RSS hash key for the whole system, made on first use, as net/core/ethtool.c keeps it. */
static u8 side_rss_key[NETDEV_RSS_KEY_LEN];
static atomic_t side_rss_key_state = ATOMIC_INIT(0); /* 0 unset, 1 being made, 2 ready */

void netdev_rss_key_fill(void *buffer, size_t len)
{
	if (len > sizeof(side_rss_key))
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "netdev_rss_key_fill of %zu bytes (the key has %zu)", len,
			   sizeof(side_rss_key));
	if (atomic_cmpxchg(&side_rss_key_state, 0, 1) == 0) {
		side_host_random(side_rss_key, sizeof(side_rss_key));
		atomic_set_release(&side_rss_key_state, 2);
	}
	while (atomic_read_acquire(&side_rss_key_state) != 2)
		cpu_relax();
	memcpy(buffer, side_rss_key, len);
}
