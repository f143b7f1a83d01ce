// SPDX-License-Identifier: GPL-2.0-only
/*
 * Network devices, as net/core/dev.c, net/ethernet/eth.c and net/sched/sch_generic.c provide them to a driver:
 * allocation and registration (with "eth%d" naming per domain), addresses, carrier and queue state, byte queue
 * limits, and the host's view: dev_open()/dev_close(), statistics and transmission (side_kapi_netdev_*,
 * side_kapi_xmit). The host learns of registered devices and of carrier and queue changes through the
 * side_host_netdev_* services; it names a device by its token (the net_device pointer), which is looked up among
 * the registered devices before any use, never trusted.
 *
 * Locking: rtnl (a mutex) serialises registration, open, close and statistics, which all run in process context.
 * The registered list is also guarded by a spinlock so that transmission (vCPU 1, bottom halves off) can look a
 * device up; unregistration waits for transmissions that found the device before it left the list.
 */
#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/dynamic_queue_limits.h>
#include <linux/ethtool.h>
#include <linux/if_vlan.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <net/pkt_sched.h>

#include "kapi.h"
#include "net_core.h"

DEFINE_PER_CPU_ALIGNED(struct softnet_data, softnet_data);

static DEFINE_MUTEX(side_rtnl);
static DEFINE_SPINLOCK(side_netdev_lock);
static LIST_HEAD(side_netdevs);		/* registered devices, linked by dev_list */
static atomic_t side_xmit_inflight;	/* side_kapi_xmit() calls holding a looked-up device */
static int side_next_ifindex = 1;

/* ---- rtnl ---------------------------------------------------------------------------------------------------- */

void rtnl_lock(void)
{
	mutex_lock(&side_rtnl);
}

int rtnl_lock_killable(void)
{
	mutex_lock(&side_rtnl);
	return 0;
}

int rtnl_trylock(void)
{
	return mutex_trylock(&side_rtnl);
}

void rtnl_unlock(void)
{
	mutex_unlock(&side_rtnl);
}

int rtnl_is_locked(void)
{
	return mutex_is_locked(&side_rtnl);
}

/* ---- byte queue limits (lib/dynamic_queue_limits.c) ----------------------------------------------------------- */

#define SIDE_POSDIFF(a, b) ((int)((a) - (b)) > 0 ? (a) - (b) : 0)

/*
 * Records `count` completed bytes and adapts the limit: it grows when the queue ran dry while over its limit (the
 * device was starved), and shrinks by the smallest slack seen over slack_hold_time when the queue stayed busy.
 */
void dql_completed(struct dql *dql, unsigned int count)
{
	unsigned int num_queued = READ_ONCE(dql->num_queued);
	unsigned int completed, limit, ovlimit, inprogress, prev_inprogress;
	bool all_prev_completed;

	if (count > num_queued - dql->num_completed)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "dql_completed: %u bytes completed, only %u queued", count,
			   num_queued - dql->num_completed);

	completed = dql->num_completed + count;
	limit = dql->limit;
	ovlimit = SIDE_POSDIFF(num_queued - dql->num_completed, limit);
	inprogress = num_queued - completed;
	prev_inprogress = dql->prev_num_queued - dql->num_completed;
	all_prev_completed = (int)(completed - dql->prev_num_queued) >= 0;

	if ((ovlimit && !inprogress) || (dql->prev_ovlimit && all_prev_completed)) {
		limit += SIDE_POSDIFF(completed, dql->prev_num_queued) + dql->prev_ovlimit;
		dql->slack_start_time = jiffies;
		dql->lowest_slack = UINT_MAX;
	} else if (inprogress && prev_inprogress && !all_prev_completed) {
		unsigned int slack, slack_last_objs;

		slack = SIDE_POSDIFF(limit + dql->prev_ovlimit, 2 * (completed - dql->num_completed));
		slack_last_objs = dql->prev_ovlimit ? SIDE_POSDIFF(dql->prev_last_obj_cnt, dql->prev_ovlimit) : 0;
		slack = max(slack, slack_last_objs);
		if (slack < dql->lowest_slack)
			dql->lowest_slack = slack;
		if (time_after(jiffies, dql->slack_start_time + dql->slack_hold_time)) {
			limit = SIDE_POSDIFF(limit, dql->lowest_slack);
			dql->slack_start_time = jiffies;
			dql->lowest_slack = UINT_MAX;
		}
	}

	limit = clamp(limit, dql->min_limit, dql->max_limit);
	if (limit != dql->limit) {
		dql->limit = limit;
		ovlimit = 0;
	}
	dql->adj_limit = limit + completed;
	dql->prev_ovlimit = ovlimit;
	dql->prev_last_obj_cnt = dql->last_obj_cnt;
	dql->num_completed = completed;
	dql->prev_num_queued = num_queued;
}

void dql_reset(struct dql *dql)
{
	dql->limit = dql->min_limit;
	dql->num_queued = 0;
	dql->num_completed = 0;
	dql->last_obj_cnt = 0;
	dql->prev_num_queued = 0;
	dql->prev_last_obj_cnt = 0;
	dql->prev_ovlimit = 0;
	dql->lowest_slack = UINT_MAX;
	dql->slack_start_time = jiffies;
}

void dql_init(struct dql *dql, unsigned int hold_time)
{
	dql->max_limit = DQL_MAX_LIMIT;
	dql->min_limit = 0;
	dql->slack_hold_time = hold_time;
	dql_reset(dql);
}

/* ---- device addresses ---------------------------------------------------------------------------------------- */

static void side_hw_addr_list_init(struct netdev_hw_addr_list *list)
{
	INIT_LIST_HEAD(&list->list);
	list->count = 0;
	list->tree = RB_ROOT;
}

/* dev->dev_addr points into the first entry of dev->dev_addrs, as the kernel arranges it. */
static int side_dev_addr_init(struct net_device *dev)
{
	struct netdev_hw_addr *ha = kzalloc(sizeof(*ha), GFP_KERNEL);

	if (!ha)
		return -ENOMEM;
	side_hw_addr_list_init(&dev->dev_addrs);
	ha->type = NETDEV_HW_ADDR_T_LAN;
	ha->refcount = 1;
	ha->global_use = false;
	ha->synced = 0;
	list_add(&ha->list, &dev->dev_addrs.list);
	dev->dev_addrs.count = 1;
	dev->dev_addr = ha->addr;
	return 0;
}

static void side_dev_addr_flush(struct net_device *dev)
{
	struct netdev_hw_addr *ha, *tmp;

	list_for_each_entry_safe(ha, tmp, &dev->dev_addrs.list, list) {
		list_del(&ha->list);
		kfree(ha);
	}
	dev->dev_addrs.count = 0;
	dev->dev_addr = NULL;
}

/* The kernel keeps a shadow copy to catch drivers writing dev->dev_addr directly instead of via dev_addr_mod(). */
static void side_dev_addr_check(struct net_device *dev)
{
	if (!memcmp(dev->dev_addr, dev->dev_addr_shadow, MAX_ADDR_LEN))
		return;
	netdev_warn(dev, "Current addr:  %*ph\n", MAX_ADDR_LEN, dev->dev_addr);
	netdev_warn(dev, "Expected addr: %*ph\n", MAX_ADDR_LEN, dev->dev_addr_shadow);
	netdev_WARN(dev, "Incorrect netdev->dev_addr\n");
}

void dev_addr_mod(struct net_device *dev, unsigned int offset, const void *addr, size_t len)
{
	if (!dev->dev_addr)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "dev_addr_mod on a device without an address list");
	if (offset + len > MAX_ADDR_LEN)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "dev_addr_mod(offset %u, len %zu) beyond %d bytes",
			   offset, len, MAX_ADDR_LEN);
	side_dev_addr_check(dev);
	memcpy((u8 *)dev->dev_addr + offset, addr, len);
	memcpy(&dev->dev_addr_shadow[offset], addr, len);
}

int eth_validate_addr(struct net_device *dev)
{
	return is_valid_ether_addr(dev->dev_addr) ? 0 : -EADDRNOTAVAIL;
}

/* ---- Ethernet ------------------------------------------------------------------------------------------------ */

/* Sets the receive metadata of an Ethernet frame at skb->data and pulls the header; returns the protocol. */
__be16 eth_type_trans(struct sk_buff *skb, struct net_device *dev)
{
	const struct ethhdr *eth;
	unsigned short sap_buf;
	const unsigned short *sap;

	skb->dev = dev;
	skb_reset_mac_header(skb);
	eth = (const struct ethhdr *)skb->data;
	skb_pull_inline(skb, ETH_HLEN);

	if (unlikely(!ether_addr_equal_64bits(eth->h_dest, dev->dev_addr))) {
		if (is_multicast_ether_addr_64bits(eth->h_dest))
			skb->pkt_type = ether_addr_equal_64bits(eth->h_dest, dev->broadcast) ? PACKET_BROADCAST
											    : PACKET_MULTICAST;
		else
			skb->pkt_type = PACKET_OTHERHOST;
	}
	if (likely(eth_proto_is_802_3(eth->h_proto)))
		return eth->h_proto;
	/* A length field: raw 802.3 (Novell's 0xFFFF "LLC") or real 802.2 LLC. */
	sap = skb_header_pointer(skb, 0, sizeof(*sap), &sap_buf);
	if (sap && *sap == 0xFFFF)
		return htons(ETH_P_802_3);
	return htons(ETH_P_802_2);
}

void ether_setup(struct net_device *dev)
{
	/* Ethernet header construction (header_ops) is the stack's business, and side has no stack above. */
	dev->header_ops = NULL;
	dev->type = ARPHRD_ETHER;
	dev->hard_header_len = ETH_HLEN;
	dev->min_header_len = ETH_HLEN;
	dev->mtu = ETH_DATA_LEN;
	dev->min_mtu = ETH_MIN_MTU;
	dev->max_mtu = ETH_DATA_LEN;
	dev->addr_len = ETH_ALEN;
	dev->tx_queue_len = DEFAULT_TX_QUEUE_LEN;
	dev->flags = IFF_BROADCAST | IFF_MULTICAST;
	dev->priv_flags |= IFF_TX_SKB_SHARING;
	eth_broadcast_addr(dev->broadcast);
}

/* ---- allocation ---------------------------------------------------------------------------------------------- */

static const struct ethtool_ops side_default_ethtool_ops;

static int side_alloc_tx_queues(struct net_device *dev)
{
	unsigned int i;

	dev->_tx = kvzalloc(array_size(dev->num_tx_queues, sizeof(struct netdev_queue)), GFP_KERNEL);
	if (!dev->_tx)
		return -ENOMEM;
	for (i = 0; i < dev->num_tx_queues; i++) {
		struct netdev_queue *q = &dev->_tx[i];

		spin_lock_init(&q->_xmit_lock);
		q->xmit_lock_owner = -1;
		q->dev = dev;
		dql_init(&q->dql, HZ);
	}
	spin_lock_init(&dev->tx_global_lock);
	return 0;
}

static int side_alloc_rx_queues(struct net_device *dev)
{
	unsigned int i;

	dev->_rx = kvzalloc(array_size(dev->num_rx_queues, sizeof(struct netdev_rx_queue)), GFP_KERNEL);
	if (!dev->_rx)
		return -ENOMEM;
	for (i = 0; i < dev->num_rx_queues; i++) {
		dev->_rx[i].dev = dev;
		dev->_rx[i].xdp_rxq.dev = dev;
		dev->_rx[i].xdp_rxq.queue_index = i;
	}
	return 0;
}

static void side_netdev_freemem(struct net_device *dev)
{
	kvfree((char *)dev - dev->padded);
}

struct net_device *alloc_netdev_mqs(int sizeof_priv, const char *name, unsigned char name_assign_type,
				    void (*setup)(struct net_device *), unsigned int txqs, unsigned int rxqs)
{
	unsigned int alloc_size = sizeof(struct net_device);
	struct net_device *dev;
	void *p;

	if (strlen(name) >= IFNAMSIZ)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "alloc_netdev: name \"%s\" too long", name);
	if (txqs < 1 || rxqs < 1) {
		pr_err("alloc_netdev: Unable to allocate device with zero %squeues\n", txqs < 1 ? "" : "RX ");
		return NULL;
	}
	if (sizeof_priv) {
		/* The private area starts NETDEV_ALIGN-aligned, right after the net_device. */
		alloc_size = ALIGN(alloc_size, NETDEV_ALIGN) + sizeof_priv;
	}
	alloc_size += NETDEV_ALIGN - 1;

	p = kvzalloc(alloc_size, GFP_KERNEL | __GFP_RETRY_MAYFAIL);
	if (!p)
		return NULL;
	dev = PTR_ALIGN(p, NETDEV_ALIGN);
	dev->padded = (char *)dev - (char *)p;

	/* dev_hold()/dev_put() are inline per-cpu increments: the counter must exist. */
	dev->pcpu_refcnt = alloc_percpu(int);
	if (!dev->pcpu_refcnt)
		goto free_dev;
	this_cpu_inc(*dev->pcpu_refcnt);

	if (side_dev_addr_init(dev))
		goto free_pcpu;
	side_hw_addr_list_init(&dev->uc);
	side_hw_addr_list_init(&dev->mc);
	spin_lock_init(&dev->addr_list_lock);

	dev->gso_max_size = GSO_LEGACY_MAX_SIZE;
	dev->gso_max_segs = GSO_MAX_SEGS;
	dev->gro_max_size = GRO_LEGACY_MAX_SIZE;
	dev->tso_max_size = TSO_LEGACY_MAX_SIZE;
	dev->tso_max_segs = TSO_MAX_SEGS;
	dev->upper_level = 1;
	dev->lower_level = 1;
	INIT_LIST_HEAD(&dev->napi_list);
	INIT_LIST_HEAD(&dev->unreg_list);
	INIT_LIST_HEAD(&dev->close_list);
	INIT_LIST_HEAD(&dev->link_watch_list);
	INIT_LIST_HEAD(&dev->adj_list.upper);
	INIT_LIST_HEAD(&dev->adj_list.lower);
	INIT_LIST_HEAD(&dev->ptype_all);
	INIT_LIST_HEAD(&dev->ptype_specific);
	INIT_LIST_HEAD(&dev->net_notifier_list);
	INIT_LIST_HEAD(&dev->dev_list);
	dev->priv_flags = IFF_XMIT_DST_RELEASE | IFF_XMIT_DST_RELEASE_PERM;
	setup(dev);

	if (!dev->tx_queue_len) {
		dev->priv_flags |= IFF_NO_QUEUE;
		dev->tx_queue_len = DEFAULT_TX_QUEUE_LEN;
	}
	dev->num_tx_queues = txqs;
	dev->real_num_tx_queues = txqs;
	dev->num_rx_queues = rxqs;
	dev->real_num_rx_queues = rxqs;
	if (side_alloc_tx_queues(dev) || side_alloc_rx_queues(dev)) {
		free_netdev(dev);
		return NULL;
	}
	side_netdev_watchdog_init(dev);
	strscpy(dev->name, name, IFNAMSIZ);
	dev->name_assign_type = name_assign_type;
	dev->group = INIT_NETDEV_GROUP;
	if (!dev->ethtool_ops)
		dev->ethtool_ops = &side_default_ethtool_ops;
	return dev;

free_pcpu:
	free_percpu(dev->pcpu_refcnt);
free_dev:
	side_netdev_freemem(dev);
	return NULL;
}

struct net_device *alloc_etherdev_mqs(int sizeof_priv, unsigned int txqs, unsigned int rxqs)
{
	return alloc_netdev_mqs(sizeof_priv, "eth%d", NET_NAME_ENUM, ether_setup, txqs, rxqs);
}

void __netif_napi_del(struct napi_struct *napi);

void free_netdev(struct net_device *dev)
{
	struct napi_struct *p, *n;

	if (!dev)
		return;
	if (dev->reg_state == NETREG_REGISTERED || dev->reg_state == NETREG_UNREGISTERING)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "free_netdev of %s, which is still registered",
			   dev->name);
	if (dev->reg_state == NETREG_RELEASED)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "free_netdev of %s twice", dev->name);

	list_for_each_entry_safe(p, n, &dev->napi_list, dev_list)
		__netif_napi_del(p);
	kvfree(dev->_tx);
	dev->_tx = NULL;
	kvfree(dev->_rx);
	dev->_rx = NULL;
	side_dev_addr_flush(dev);
	free_percpu(dev->pcpu_refcnt);
	dev->pcpu_refcnt = NULL;
	free_percpu(dev->core_stats);
	dev->core_stats = NULL;
	dev->reg_state = NETREG_RELEASED;
	side_netdev_freemem(dev);
}

/* ---- names and registration ---------------------------------------------------------------------------------- */

static bool side_dev_valid_name(const char *name)
{
	if (*name == '\0' || strnlen(name, IFNAMSIZ) == IFNAMSIZ)
		return false;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (; *name; name++)
		if (*name == '/' || *name == ':' || isspace(*name))
			return false;
	return true;
}

static struct net_device *side_dev_by_name(const char *name)
{
	struct net_device *d;

	list_for_each_entry(d, &side_netdevs, dev_list)
		if (!strncmp(d->name, name, IFNAMSIZ))
			return d;
	return NULL;
}

/* If `name` is `pattern` (one %d) with a canonical decimal number, that number; else -1. */
static long side_name_number(const char *name, const char *pattern)
{
	const char *pct = strchr(pattern, '%');
	size_t pre = pct - pattern, suf = strlen(pct + 2), len = strlen(name), digits;
	long n = 0;
	size_t i;

	if (len < pre + suf + 1 || strncmp(name, pattern, pre) || strcmp(name + len - suf, pct + 2))
		return -1;
	digits = len - pre - suf;
	if (digits > 9 || (digits > 1 && name[pre] == '0'))
		return -1;
	for (i = pre; i < pre + digits; i++) {
		if (!isdigit(name[i]))
			return -1;
		n = n * 10 + (name[i] - '0');
	}
	return n;
}

#define SIDE_MAX_NETDEVICES (8 * PAGE_SIZE)

/* The lowest unit number `pattern` ("eth%d") has free among this domain's devices; the name goes to `buf`. */
static int side_alloc_name(const char *pattern, char *buf)
{
	const char *p = strchr(pattern, '%');
	unsigned long *inuse;
	struct net_device *d;
	char tmp[IFNAMSIZ];
	int i;

	if (!p)
		return -EINVAL;
	if (p[1] != 'd' || strchr(p + 2, '%'))
		return -EINVAL;
	inuse = kcalloc(BITS_TO_LONGS(SIDE_MAX_NETDEVICES), sizeof(long), GFP_KERNEL);
	if (!inuse)
		return -ENOMEM;
	list_for_each_entry(d, &side_netdevs, dev_list) {
		long n = side_name_number(d->name, pattern);

		if (n >= 0 && n < SIDE_MAX_NETDEVICES)
			__set_bit(n, inuse);
	}
	i = find_first_zero_bit(inuse, SIDE_MAX_NETDEVICES);
	kfree(inuse);
	if (i >= SIDE_MAX_NETDEVICES)
		return -ENFILE;
	snprintf(tmp, IFNAMSIZ, pattern, i);
	if (side_dev_by_name(tmp))
		return -ENFILE;
	strscpy(buf, tmp, IFNAMSIZ);
	return i;
}

int dev_alloc_name(struct net_device *dev, const char *name)
{
	char buf[IFNAMSIZ];
	int ret;

	if (!side_dev_valid_name(name))
		return -EINVAL;
	ret = side_alloc_name(name, buf);
	if (ret >= 0)
		strscpy(dev->name, buf, IFNAMSIZ);
	return ret;
}

static int side_dev_get_valid_name(struct net_device *dev, const char *name)
{
	char buf[IFNAMSIZ];
	int ret;

	if (!side_dev_valid_name(name))
		return -EINVAL;
	if (strchr(name, '%')) {
		ret = side_alloc_name(name, buf);
		if (ret < 0)
			return ret;
		strscpy(dev->name, buf, IFNAMSIZ);
		return 0;
	}
	if (side_dev_by_name(name))
		return -EEXIST;
	if (dev->name != name)
		strscpy(dev->name, name, IFNAMSIZ);
	return 0;
}

/* The subset of netdev_fix_features() that concerns a physical Ethernet device's offloads. */
static netdev_features_t side_fix_features(struct net_device *dev, netdev_features_t features)
{
	if ((features & NETIF_F_HW_CSUM) && (features & (NETIF_F_IP_CSUM | NETIF_F_IPV6_CSUM)))
		features &= ~(NETIF_F_IP_CSUM | NETIF_F_IPV6_CSUM);
	if ((features & NETIF_F_ALL_TSO) && !(features & NETIF_F_SG))
		features &= ~NETIF_F_ALL_TSO;
	if ((features & NETIF_F_TSO) && !(features & NETIF_F_HW_CSUM) && !(features & NETIF_F_IP_CSUM))
		features &= ~(NETIF_F_TSO | NETIF_F_TSO_ECN);
	if ((features & NETIF_F_TSO6) && !(features & NETIF_F_HW_CSUM) && !(features & NETIF_F_IPV6_CSUM))
		features &= ~NETIF_F_TSO6;
	if ((features & NETIF_F_TSO_MANGLEID) && !(features & NETIF_F_TSO))
		features &= ~NETIF_F_TSO_MANGLEID;
	if ((features & NETIF_F_ALL_TSO) == NETIF_F_TSO_ECN)
		features &= ~NETIF_F_TSO_ECN;
	if ((features & NETIF_F_GSO) == 0)
		features &= ~NETIF_F_GSO_PARTIAL;
	return features;
}

/* Recomputes dev->features from wanted_features and the driver's fix/set callbacks. Returns 1 if they changed. */
static int side_update_features(struct net_device *dev)
{
	netdev_features_t features = (dev->features & ~dev->hw_features) | (dev->wanted_features & dev->hw_features);
	int err = 0;

	if (dev->netdev_ops->ndo_fix_features)
		features = dev->netdev_ops->ndo_fix_features(dev, features);
	features = side_fix_features(dev, features);
	if (dev->features == features)
		return 0;
	if (dev->netdev_ops->ndo_set_features)
		err = dev->netdev_ops->ndo_set_features(dev, features);
	if (err < 0) {
		netdev_err(dev, "set_features() failed (%d); wanted %pNF, left %pNF\n", err, &features,
			   &dev->features);
		return -1;
	}
	dev->features = features;
	return 1;
}

void netdev_update_features(struct net_device *dev)
{
	side_update_features(dev);
}

/* The PCI function under the device: its parent, or (virtio_net's virtio device) the parent's parent. */
static int side_netdev_host_device(struct device *parent, u32 *host)
{
	int depth;

	for (depth = 0; parent && depth < 4; depth++, parent = parent->parent)
		if (!side_pci_host_device(parent, host))
			return 0;
	return -ENODEV;
}

void side_fill_info(struct net_device *dev, struct side_netdev_info *info)
{
	u32 host;

	memset(info, 0, sizeof(*info));
	info->token = side_netdev_token(dev);
	strscpy(info->name, dev->name, sizeof(info->name));
	memcpy(info->mac, dev->dev_addr, ETH_ALEN);
	info->mtu = dev->mtu;
	info->min_mtu = dev->min_mtu;
	info->max_mtu = dev->max_mtu;
	info->device = side_netdev_host_device(dev->dev.parent, &host) ? ~0u : host;
	info->features = dev->features;
}

int register_netdevice(struct net_device *dev)
{
	struct side_netdev_info info;
	unsigned long flags;
	int ret;

	if (!rtnl_is_locked())
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "register_netdevice without rtnl_lock");
	if (dev->reg_state != NETREG_UNINITIALIZED)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "register_netdevice of %s in state %d", dev->name,
			   dev->reg_state);
	if (!dev->netdev_ops)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "register_netdevice of %s without netdev_ops",
			   dev->name);
	if (!dev->netdev_ops->ndo_start_xmit)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "register_netdevice of %s without ndo_start_xmit",
			   dev->name);

	ret = side_dev_get_valid_name(dev, dev->name);
	if (ret < 0)
		return ret;
	if (dev->netdev_ops->ndo_init) {
		ret = dev->netdev_ops->ndo_init(dev);
		if (ret)
			return ret > 0 ? -EIO : ret;
	}
	if (((dev->hw_features | dev->features) & NETIF_F_HW_VLAN_CTAG_FILTER) &&
	    (!dev->netdev_ops->ndo_vlan_rx_add_vid || !dev->netdev_ops->ndo_vlan_rx_kill_vid)) {
		netdev_WARN(dev, "Buggy VLAN acceleration in driver!\n");
		ret = -EINVAL;
		goto err_uninit;
	}
	if (!dev->ifindex)
		dev->ifindex = side_next_ifindex++;

	/* Software offloads on, changeable ones into wanted_features, as the kernel does. */
	dev->hw_features |= NETIF_F_SOFT_FEATURES | NETIF_F_SOFT_FEATURES_OFF;
	dev->features |= NETIF_F_SOFT_FEATURES;
	dev->wanted_features = dev->features & dev->hw_features;
	if (!(dev->flags & IFF_LOOPBACK))
		dev->hw_features |= NETIF_F_NOCACHE_COPY;
	if (dev->hw_features & NETIF_F_TSO)
		dev->hw_features |= NETIF_F_TSO_MANGLEID;
	if (dev->vlan_features & NETIF_F_TSO)
		dev->vlan_features |= NETIF_F_TSO_MANGLEID;
	if (dev->mpls_features & NETIF_F_TSO)
		dev->mpls_features |= NETIF_F_TSO_MANGLEID;
	if (dev->hw_enc_features & NETIF_F_TSO)
		dev->hw_enc_features |= NETIF_F_TSO_MANGLEID;
	dev->vlan_features |= NETIF_F_HIGHDMA;
	dev->hw_enc_features |= NETIF_F_SG | NETIF_F_GSO_PARTIAL;
	dev->mpls_features |= NETIF_F_SG;

	dev->reg_state = NETREG_REGISTERED;
	side_update_features(dev);
	set_bit(__LINK_STATE_PRESENT, &dev->state);
	if (dev->addr_assign_type == NET_ADDR_PERM)
		memcpy(dev->perm_addr, dev->dev_addr, dev->addr_len);

	spin_lock_irqsave(&side_netdev_lock, flags);
	list_add_tail(&dev->dev_list, &side_netdevs);
	spin_unlock_irqrestore(&side_netdev_lock, flags);

	side_fill_info(dev, &info);
	ret = side_host_netdev_register(&info);
	if (ret) {
		spin_lock_irqsave(&side_netdev_lock, flags);
		list_del_init(&dev->dev_list);
		spin_unlock_irqrestore(&side_netdev_lock, flags);
		clear_bit(__LINK_STATE_PRESENT, &dev->state);
		/* As a failed NETDEV_REGISTER notifier: the device is unregistered and the driver frees it. */
		dev->reg_state = NETREG_UNREGISTERED;
		if (dev->netdev_ops->ndo_uninit)
			dev->netdev_ops->ndo_uninit(dev);
		return ret;
	}
	/* The host learns the initial link state: a device starts with carrier on unless the driver said off. */
	side_host_netdev_carrier(info.token, netif_carrier_ok(dev));
	side_netdev_notify(NETDEV_REGISTER, dev);
	return 0;

err_uninit:
	if (dev->netdev_ops->ndo_uninit)
		dev->netdev_ops->ndo_uninit(dev);
	if (dev->priv_destructor)
		dev->priv_destructor(dev);
	return ret;
}

int register_netdev(struct net_device *dev)
{
	int ret;

	rtnl_lock();
	ret = register_netdevice(dev);
	rtnl_unlock();
	return ret;
}

/* Waits for transmissions that looked the device up before it left the registered list. */
static void side_wait_xmit_inflight(void)
{
	u64 start = side_host_real_clock_ns();

	while (atomic_read(&side_xmit_inflight)) {
		if (side_host_real_clock_ns() - start > 10ULL * NSEC_PER_SEC)
			side_fault(SIDE_FAULT_HUNG, SIDE_CALLER, "a transmission did not finish in 10 s");
		side_host_yield();
	}
}

void synchronize_net(void)
{
	side_wait_xmit_inflight();
}

static void side_dev_close(struct net_device *dev);

/* Calls fn for each registered device, in registration order, until it fails; the caller holds rtnl, under which
 * devices join and leave the list (net_notifier.c replays events with it). */
int side_netdev_for_each(int (*fn)(struct net_device *dev, void *arg), void *arg)
{
	struct net_device *d;
	int err;

	ASSERT_RTNL();
	list_for_each_entry(d, &side_netdevs, dev_list) {
		err = fn(d, arg);
		if (err)
			return err;
	}
	return 0;
}

void unregister_netdevice_queue(struct net_device *dev, struct list_head *head)
{
	unsigned long flags;

	if (!rtnl_is_locked())
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "unregister_netdevice without rtnl_lock");
	if (dev->reg_state != NETREG_REGISTERED)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "unregister_netdevice of %s, which is not registered (state %d)",
			   dev->name, dev->reg_state);

	side_dev_close(dev);
	side_netdev_notify(NETDEV_UNREGISTER, dev);
	dev->reg_state = NETREG_UNREGISTERING;
	spin_lock_irqsave(&side_netdev_lock, flags);
	list_del_init(&dev->dev_list);
	spin_unlock_irqrestore(&side_netdev_lock, flags);
	side_wait_xmit_inflight();
	side_host_netdev_unregister(side_netdev_token(dev));
	/* As unregister_netdevice_many(): the address lists go before the driver's uninit. */
	side_dev_mc_flush(dev);

	if (dev->netdev_ops->ndo_uninit)
		dev->netdev_ops->ndo_uninit(dev);
	dev->reg_state = NETREG_UNREGISTERED;
	if (dev->priv_destructor)
		dev->priv_destructor(dev);
	if (dev->needs_free_netdev)
		free_netdev(dev);
}

void unregister_netdev(struct net_device *dev)
{
	rtnl_lock();
	unregister_netdevice_queue(dev, NULL);
	rtnl_unlock();
}

/* ---- link and queue state ------------------------------------------------------------------------------------ */

void netif_carrier_on(struct net_device *dev)
{
	if (test_and_clear_bit(__LINK_STATE_NOCARRIER, &dev->state)) {
		if (dev->reg_state == NETREG_UNINITIALIZED)
			return;
		atomic_inc(&dev->carrier_up_count);
		if (dev->reg_state == NETREG_REGISTERED)
			side_host_netdev_carrier(side_netdev_token(dev), 1);
		if (netif_running(dev))
			__netdev_watchdog_up(dev);
	}
}

void netif_carrier_off(struct net_device *dev)
{
	if (!test_and_set_bit(__LINK_STATE_NOCARRIER, &dev->state)) {
		if (dev->reg_state == NETREG_UNINITIALIZED)
			return;
		atomic_inc(&dev->carrier_down_count);
		if (dev->reg_state == NETREG_REGISTERED)
			side_host_netdev_carrier(side_netdev_token(dev), 0);
	}
}

static void side_queue_ready(struct netdev_queue *txq)
{
	struct net_device *dev = txq->dev;

	if (dev->reg_state == NETREG_REGISTERED)
		side_host_netdev_tx_wake(side_netdev_token(dev), txq - dev->_tx);
}

/* The driver restarts a queue it stopped: where the kernel reschedules the qdisc, the host may send again. */
void netif_tx_wake_queue(struct netdev_queue *dev_queue)
{
	if (test_and_clear_bit(__QUEUE_STATE_DRV_XOFF, &dev_queue->state))
		side_queue_ready(dev_queue);
}

/* BQL freed room (the stack's XOFF was cleared): if the queue is not otherwise stopped, the host may send again. */
void netif_schedule_queue(struct netdev_queue *txq)
{
	if (!netif_xmit_stopped(txq))
		side_queue_ready(txq);
}

void netif_device_detach(struct net_device *dev)
{
	if (test_and_clear_bit(__LINK_STATE_PRESENT, &dev->state) && netif_running(dev))
		netif_tx_stop_all_queues(dev);
}

void netif_device_attach(struct net_device *dev)
{
	if (!test_and_set_bit(__LINK_STATE_PRESENT, &dev->state) && netif_running(dev))
		netif_tx_wake_all_queues(dev);
}

void netif_tx_stop_all_queues(struct net_device *dev)
{
	unsigned int i;

	for (i = 0; i < dev->num_tx_queues; i++)
		netif_tx_stop_queue(netdev_get_tx_queue(dev, i));
}

int netif_set_real_num_tx_queues(struct net_device *dev, unsigned int txq)
{
	if (txq < 1 || txq > dev->num_tx_queues)
		return -EINVAL;
	dev->real_num_tx_queues = txq;
	return 0;
}

int netif_set_real_num_rx_queues(struct net_device *dev, unsigned int rxq)
{
	if (rxq < 1 || rxq > dev->num_rx_queues)
		return -EINVAL;
	dev->real_num_rx_queues = rxq;
	return 0;
}

/* ---- the host's entry points --------------------------------------------------------------------------------- */

/* A registered device named by a host token, or NULL. Caller holds rtnl or side_netdev_lock. */
struct net_device *side_netdev_lookup(side_u64 token)
{
	struct net_device *d;

	list_for_each_entry(d, &side_netdevs, dev_list)
		if (side_netdev_token(d) == token)
			return d;
	return NULL;
}

static void side_dev_set_rx_mode(struct net_device *dev)
{
	netif_addr_lock_bh(dev);
	if ((dev->flags & IFF_UP) && netif_device_present(dev) && dev->netdev_ops->ndo_set_rx_mode)
		dev->netdev_ops->ndo_set_rx_mode(dev);
	netif_addr_unlock_bh(dev);
}

void dev_set_rx_mode(struct net_device *dev)
{
	side_dev_set_rx_mode(dev);
}

int side_kapi_netdev_open(side_u64 token)
{
	const struct net_device_ops *ops;
	struct net_device *dev;
	int ret = 0;

	rtnl_lock();
	dev = side_netdev_lookup(token);
	if (!dev) {
		ret = -ENODEV;
		goto out;
	}
	if (dev->flags & IFF_UP)
		goto out;
	if (!netif_device_present(dev)) {
		ret = -ENODEV;
		goto out;
	}
	ops = dev->netdev_ops;
	set_bit(__LINK_STATE_START, &dev->state);
	if (ops->ndo_validate_addr)
		ret = ops->ndo_validate_addr(dev);
	if (!ret && ops->ndo_open)
		ret = ops->ndo_open(dev);
	if (ret) {
		clear_bit(__LINK_STATE_START, &dev->state);
		goto out;
	}
	dev->flags |= IFF_UP;
	side_dev_set_rx_mode(dev);
	side_netdev_notify(NETDEV_UP, dev);
	/* dev_activate() attaches qdiscs (the driver itself starts its queues, netif_start_queue in ndo_open) and
	 * starts the transmit watchdog from now. */
	netif_trans_update(dev);
	__netdev_watchdog_up(dev);
out:
	rtnl_unlock();
	return ret;
}

/* dev_close(): stop new transmissions, wait for a running one, then let the driver stop. Caller holds rtnl. */
static void side_dev_close(struct net_device *dev)
{
	unsigned int i;

	if (!(dev->flags & IFF_UP))
		return;
	side_netdev_notify(NETDEV_GOING_DOWN, dev);
	clear_bit(__LINK_STATE_START, &dev->state);
	smp_mb__after_atomic();
	/* A transmission in progress holds its queue's lock and rechecks netif_running() under it. */
	for (i = 0; i < dev->num_tx_queues; i++) {
		struct netdev_queue *txq = netdev_get_tx_queue(dev, i);

		local_bh_disable();
		__netif_tx_lock(txq, smp_processor_id());
		__netif_tx_unlock(txq);
		local_bh_enable();
	}
	side_netdev_watchdog_down(dev);
	if (dev->netdev_ops->ndo_stop)
		dev->netdev_ops->ndo_stop(dev);
	dev->flags &= ~IFF_UP;
	side_netdev_notify(NETDEV_DOWN, dev);
}

void side_kapi_netdev_close(side_u64 token)
{
	struct net_device *dev;

	rtnl_lock();
	dev = side_netdev_lookup(token);
	if (dev)
		side_dev_close(dev);
	rtnl_unlock();
}

void netdev_stats_to_stats64(struct rtnl_link_stats64 *stats64, const struct net_device_stats *netdev_stats)
{
	/* Both structures list the same counters first, one word each. */
	size_t i, n = min(sizeof(*netdev_stats) / sizeof(unsigned long), sizeof(*stats64) / sizeof(u64));
	const unsigned long *src = (const unsigned long *)netdev_stats;
	u64 *dst = (u64 *)stats64;

	for (i = 0; i < n; i++)
		dst[i] = READ_ONCE(src[i]);
	memset(dst + n, 0, sizeof(*stats64) - n * sizeof(u64));
}

/* What the core dropped on the device's behalf (dev_core_stats_*_inc: a transmit the device cannot take). */
static void side_add_core_stats(struct net_device *dev, struct rtnl_link_stats64 *storage)
{
	const struct net_device_core_stats __percpu *p = READ_ONCE(dev->core_stats);
	int cpu;

	if (!p)
		return;
	for_each_possible_cpu(cpu) {
		const struct net_device_core_stats *core = per_cpu_ptr(p, cpu);

		storage->rx_dropped += READ_ONCE(core->rx_dropped);
		storage->tx_dropped += READ_ONCE(core->tx_dropped);
		storage->rx_nohandler += READ_ONCE(core->rx_nohandler);
	}
}

struct rtnl_link_stats64 *dev_get_stats(struct net_device *dev, struct rtnl_link_stats64 *storage)
{
	const struct net_device_ops *ops = dev->netdev_ops;

	if (ops->ndo_get_stats64) {
		memset(storage, 0, sizeof(*storage));
		ops->ndo_get_stats64(dev, storage);
	} else if (ops->ndo_get_stats) {
		netdev_stats_to_stats64(storage, ops->ndo_get_stats(dev));
	} else {
		netdev_stats_to_stats64(storage, &dev->stats);
	}
	side_add_core_stats(dev, storage);
	return storage;
}

void side_kapi_netdev_stats(side_u64 token, struct side_netdev_stats *out)
{
	/* What a driver callback fills is never on the layer's stack (sfi mode: not writable by driver code). */
	struct rtnl_link_stats64 *stats = kzalloc(sizeof(*stats), GFP_KERNEL);
	struct net_device *dev;

	memset(out, 0, sizeof(*out));
	if (!stats)
		return;
	rtnl_lock();
	dev = side_netdev_lookup(token);
	if (dev) {
		const struct rtnl_link_stats64 s = *dev_get_stats(dev, stats);

		out->rx_packets = s.rx_packets;
		out->tx_packets = s.tx_packets;
		out->rx_bytes = s.rx_bytes;
		out->tx_bytes = s.tx_bytes;
		out->rx_errors = s.rx_errors;
		out->tx_errors = s.tx_errors;
		out->rx_dropped = s.rx_dropped;
		out->tx_dropped = s.tx_dropped;
		out->multicast = s.multicast;
		out->collisions = s.collisions;
		out->rx_crc_errors = s.rx_crc_errors;
		out->rx_missed_errors = s.rx_missed_errors;
	}
	rtnl_unlock();
	kfree(stats);
}

/* The device for a transmission, held against unregistration until side_xmit_put(). */
static struct net_device *side_xmit_get(side_u64 token)
{
	struct net_device *dev;
	unsigned long flags;

	spin_lock_irqsave(&side_netdev_lock, flags);
	dev = side_netdev_lookup(token);
	if (dev)
		atomic_inc(&side_xmit_inflight);
	spin_unlock_irqrestore(&side_netdev_lock, flags);
	return dev;
}

int side_kapi_xmit(side_u64 token, const void *frame, side_u32 len, int more, const struct side_tx_offload *offload)
{
	struct netdev_queue *txq;
	struct net_device *dev;
	struct sk_buff *skb;
	u32 max_len;
	bool lock;
	int ret;
	netdev_tx_t rc;

	dev = side_xmit_get(token);
	if (!dev)
		return -ENODEV;
	if (!(dev->flags & IFF_UP) || !netif_running(dev) || !netif_device_present(dev)) {
		ret = -ENETDOWN;
		goto out;
	}
	/* A segmentation-offload packet is bounded by the size the stack builds for the device (gso_max_size), others
	 * by the MTU. */
	max_len = dev->mtu + dev->hard_header_len + VLAN_HLEN;
	if (offload && offload->gso_type != SIDE_TX_GSO_NONE)
		max_len = max(max_len, READ_ONCE(dev->gso_max_size) + dev->hard_header_len + VLAN_HLEN);
	if (len < ETH_HLEN || len > max_len) {
		ret = -EINVAL;
		goto out;
	}
	skb = side_xmit_build_skb(dev, frame, len, offload, &ret);
	if (!skb)
		goto out;
	skb_set_queue_mapping(skb, 0);
	txq = netdev_get_tx_queue(dev, 0);

	/* As sch_direct_xmit(): bottom halves off, the queue's lock unless the driver does its own (LLTX). */
	local_bh_disable();
	lock = !(dev->features & NETIF_F_LLTX);
	if (lock)
		__netif_tx_lock(txq, smp_processor_id());
	if (!netif_running(dev)) {
		ret = -ENETDOWN;
		consume_skb(skb);
	} else if (netif_xmit_frozen_or_stopped(txq)) {
		ret = 1;
		consume_skb(skb);
	} else {
		__this_cpu_write(softnet_data.xmit.more, more ? 1 : 0);
		rc = dev->netdev_ops->ndo_start_xmit(skb, dev);
		__this_cpu_write(softnet_data.xmit.more, 0);
		if (rc == NETDEV_TX_OK)
			txq_trans_update(txq);
		if (dev_xmit_complete(rc)) {
			ret = 0;
		} else {
			/* NETDEV_TX_BUSY: the skb is still ours; the host resubmits the frame after a wake. */
			ret = 1;
			consume_skb(skb);
		}
	}
	if (lock)
		__netif_tx_unlock(txq);
	local_bh_enable();
out:
	atomic_dec(&side_xmit_inflight);
	return ret;
}

/* The newest transmit start over all queues (net/sched/sch_generic.c); side has no VLAN or macvlan upper devices. */
unsigned long dev_trans_start(struct net_device *dev)
{
	unsigned long res = READ_ONCE(netdev_get_tx_queue(dev, 0)->trans_start), val;
	unsigned int i;

	for (i = 1; i < dev->num_tx_queues; i++) {
		val = READ_ONCE(netdev_get_tx_queue(dev, i)->trans_start);
		if (val && time_after(val, res))
			res = val;
	}
	return res;
}

/* A driver closes its own interface (after a fatal device error): as dev_close(), under rtnl. */
void dev_close(struct net_device *dev)
{
	if (!rtnl_is_locked())
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "dev_close without rtnl_lock");
	side_dev_close(dev);
}

static void side_devm_free_netdev(struct device *dev, void *res)
{
	free_netdev(*(struct net_device **)res);
}

/* alloc_etherdev_mqs() whose free_netdev() devres does when the driver lets go of `dev`. */
struct net_device *devm_alloc_etherdev_mqs(struct device *dev, int sizeof_priv, unsigned int txqs,
					   unsigned int rxqs)
{
	struct net_device **dr, *netdev;

	dr = devres_alloc(side_devm_free_netdev, sizeof(*dr), GFP_KERNEL);
	if (!dr)
		return NULL;
	netdev = alloc_etherdev_mqs(sizeof_priv, txqs, rxqs);
	if (!netdev) {
		devres_free(dr);
		return NULL;
	}
	*dr = netdev;
	devres_add(dev, dr);
	return netdev;
}

/* A device with no restriction on what it can offload for a given skb keeps the features the stack computed. */
netdev_features_t passthru_features_check(struct sk_buff *skb, struct net_device *dev, netdev_features_t features)
{
	return features;
}
