// SPDX-License-Identifier: GPL-2.0-only
/*
 * A loopback network driver: every transmitted frame comes back as a received one through NAPI (alternately with
 * napi_gro_receive and with napi_get_frags/napi_gro_frags). At load it checks naming ("eth%d" per domain, a freed
 * name is reused), Ethernet helpers, byte queue limits, netdev_xmit_more's per-cpu variable, csum_ipv6_magic and
 * the ethtool link-mode conversions. bad=1 frees a registered device (a fault). stall=1 never completes a
 * transmission: the queue stops at STOP_AT frames, and the transmit watchdog (100 ms) must call ndo_tx_timeout,
 * which drops what was held and wakes the queue. offloads=1 gives eth1 checksum insertion and TCP segmentation
 * (not for VLAN-tagged frames): its transmit checks each skb as such a device reads it and logs "bad offload" for
 * one it could not honour.
 */
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <net/ip6_checksum.h>

static int bad;
module_param(bad, int, 0444);
static int stall;
module_param(stall, int, 0444);
static int offloads;
module_param(offloads, int, 0444);

#define CHECK(cond)                                                                                  \
	do {                                                                                         \
		if (!(cond)) {                                                                       \
			pr_err("side_test_netdev: check failed: %s (line %d)\n", #cond, __LINE__);   \
			return -EIO;                                                                 \
		}                                                                                    \
	} while (0)

#define STOP_AT 4

struct tnet {
	struct napi_struct napi;
	struct sk_buff_head q;
	unsigned int rx_count;
};

/* What a device inserting checksums and segmenting TCP reads of an skb (as e1000_tx_csum and e1000_tso do): the
 * checksum's place in the linear data after the Ethernet header, and for segmentation the TCP header there with its
 * checksum, a payload longer than one segment and the segment count its size gives. */
static bool tnet_offload_ok(const struct sk_buff *skb)
{
	const struct skb_shared_info *shinfo = skb_shinfo(skb);
	int start = skb_checksum_start_offset(skb);
	unsigned int hlen;

	if (skb->ip_summed != CHECKSUM_PARTIAL)
		return !skb_is_gso(skb);
	if (start < ETH_HLEN || start + skb->csum_offset + sizeof(__sum16) > skb_headlen(skb))
		return false;
	if (!skb_is_gso(skb))
		return true;
	if (skb_transport_offset(skb) != start || skb->csum_offset != offsetof(struct tcphdr, check) ||
	    start + sizeof(struct tcphdr) > skb_headlen(skb) || tcp_hdrlen(skb) < sizeof(struct tcphdr))
		return false;
	hlen = start + tcp_hdrlen(skb);
	return hlen <= skb_headlen(skb) && skb->len - hlen > shinfo->gso_size &&
	       shinfo->gso_segs == DIV_ROUND_UP(skb->len - hlen, shinfo->gso_size);
}

static netdev_tx_t tnet_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct tnet *t = netdev_priv(dev);

	pr_info("side_test_netdev: xmit len %u more %d proto %04x csum %d\n", skb->len, netdev_xmit_more(),
		ntohs(skb->protocol), skb->ip_summed);
	if (!tnet_offload_ok(skb))
		pr_err("side_test_netdev: bad offload len %u csum_start %d offset %u gso size %u segs %u\n", skb->len,
		       skb_checksum_start_offset(skb), skb->csum_offset, skb_shinfo(skb)->gso_size,
		       skb_shinfo(skb)->gso_segs);
	dev->stats.tx_packets++;
	dev->stats.tx_bytes += skb->len;
	__skb_queue_tail(&t->q, skb);
	if (skb_queue_len(&t->q) >= STOP_AT)
		netif_stop_queue(dev);
	if (!stall)
		napi_schedule(&t->napi);
	return NETDEV_TX_OK;
}

/* Called by the transmit watchdog (on the timer's CPU, as NAPI runs): the frames held are lost, as after a reset. */
static void tnet_tx_timeout(struct net_device *dev, unsigned int txqueue)
{
	struct tnet *t = netdev_priv(dev);

	pr_info("side_test_netdev: %s tx timeout queue %u after %u frames, %lu timeouts\n", dev->name, txqueue,
		skb_queue_len(&t->q), atomic_long_read(&netdev_get_tx_queue(dev, txqueue)->trans_timeout));
	__skb_queue_purge(&t->q);
	netif_wake_queue(dev);
}

static int tnet_poll(struct napi_struct *napi, int budget)
{
	struct tnet *t = container_of(napi, struct tnet, napi);
	struct net_device *dev = napi->dev;
	struct sk_buff *skb;
	int done = 0;

	while (done < budget && (skb = __skb_dequeue(&t->q))) {
		dev->stats.rx_packets++;
		dev->stats.rx_bytes += skb->len;
		if (t->rx_count++ & 1) {
			struct sk_buff *f = napi_get_frags(napi);
			struct page *pg = alloc_page(GFP_ATOMIC);

			if (!f || !pg) {
				consume_skb(skb);
				continue;
			}
			memcpy(page_address(pg), skb->data, skb->len);
			skb_fill_page_desc(f, 0, pg, 0, skb->len);
			f->len += skb->len;
			f->data_len += skb->len;
			f->truesize += PAGE_SIZE;
			consume_skb(skb);
			napi_gro_frags(napi);
		} else {
			skb->protocol = eth_type_trans(skb, dev);
			skb->ip_summed = CHECKSUM_UNNECESSARY;
			napi_gro_receive(napi, skb);
		}
		done++;
	}
	if (netif_queue_stopped(dev) && skb_queue_len(&t->q) < STOP_AT)
		netif_wake_queue(dev);
	if (done < budget)
		napi_complete_done(napi, done);
	return done;
}

static int tnet_open(struct net_device *dev)
{
	struct tnet *t = netdev_priv(dev);

	napi_enable(&t->napi);
	netif_start_queue(dev);
	netif_carrier_on(dev);
	pr_info("side_test_netdev: %s open\n", dev->name);
	return 0;
}

static int tnet_stop(struct net_device *dev)
{
	struct tnet *t = netdev_priv(dev);

	netif_carrier_off(dev);
	netif_stop_queue(dev);
	napi_disable(&t->napi);
	__skb_queue_purge(&t->q);
	pr_info("side_test_netdev: %s stopped\n", dev->name);
	return 0;
}

static const struct net_device_ops tnet_ops = {
	.ndo_open = tnet_open,
	.ndo_stop = tnet_stop,
	.ndo_start_xmit = tnet_xmit,
	.ndo_tx_timeout = tnet_tx_timeout,
	.ndo_validate_addr = eth_validate_addr,
};

static struct net_device *devs[3];

static struct net_device *tnet_create(u8 last)
{
	u8 mac[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x00, last };
	struct net_device *dev = alloc_etherdev(sizeof(struct tnet));
	struct tnet *t;

	if (!dev)
		return NULL;
	t = netdev_priv(dev);
	__skb_queue_head_init(&t->q);
	dev->netdev_ops = &tnet_ops;
	dev->max_mtu = 9000;
	if (offloads && last == 2)
		dev->hw_features = dev->features = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_TSO | NETIF_F_TSO6;
	if (stall)
		dev->watchdog_timeo = HZ / 10;
	eth_hw_addr_set(dev, mac);
	netif_napi_add(dev, &t->napi, tnet_poll);
	netif_carrier_off(dev);
	if (register_netdev(dev)) {
		free_netdev(dev);
		return NULL;
	}
	return dev;
}

static int test_helpers(struct net_device *dev)
{
	static const u8 frame_bc[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 9, 0x08, 0x00, 0x45, 0 };
	static const u8 frame_llc[] = { 2, 0, 0, 0, 0, 3, 2, 0, 0, 0, 0, 9, 0x00, 0x20, 0xaa, 0xaa };
	static const u8 frame_ipx[] = { 1, 0, 0x5e, 0, 0, 1, 2, 0, 0, 0, 0, 9, 0x00, 0x20, 0xff, 0xff };
	struct in6_addr a = IN6ADDR_LOOPBACK_INIT;
	__ETHTOOL_DECLARE_LINK_MODE_MASK(modes);
	struct sk_buff *skb;
	struct dql dql;
	u32 legacy;

	skb = alloc_skb(64, GFP_KERNEL);
	CHECK(skb);
	skb_put_data(skb, frame_bc, sizeof(frame_bc));
	CHECK(eth_type_trans(skb, dev) == htons(ETH_P_IP));
	CHECK(skb->pkt_type == PACKET_BROADCAST && skb->len == sizeof(frame_bc) - ETH_HLEN && skb->dev == dev);
	CHECK(skb_mac_header(skb) + ETH_HLEN == skb->data);
	kfree_skb(skb);

	skb = alloc_skb(64, GFP_KERNEL);
	CHECK(skb);
	skb_put_data(skb, frame_llc, sizeof(frame_llc));
	CHECK(eth_type_trans(skb, dev) == htons(ETH_P_802_2) && skb->pkt_type == PACKET_HOST);
	kfree_skb(skb);

	skb = alloc_skb(64, GFP_KERNEL);
	CHECK(skb);
	skb_put_data(skb, frame_ipx, sizeof(frame_ipx));
	CHECK(eth_type_trans(skb, dev) == htons(ETH_P_802_3) && skb->pkt_type == PACKET_MULTICAST);
	kfree_skb(skb);

	CHECK(eth_validate_addr(dev) == 0);

	/* A starved queue (over its limit, then empty) grows its limit by what completed. */
	dql_init(&dql, HZ);
	CHECK(dql.limit == 0 && dql_avail(&dql) == 0);
	dql_queued(&dql, 1000);
	CHECK(dql_avail(&dql) < 0);
	dql_completed(&dql, 1000);
	CHECK(dql.limit == 1000 && dql.adj_limit == 2000 && dql_avail(&dql) == 1000);
	dql_reset(&dql);
	CHECK(dql.num_queued == 0 && dql.limit == 0);

	__this_cpu_write(softnet_data.xmit.more, 1);
	CHECK(netdev_xmit_more());
	__this_cpu_write(softnet_data.xmit.more, 0);
	CHECK(!netdev_xmit_more());

	/* ::1 -> ::1, 8 bytes of UDP: the folded pseudo-header sum is 0x001b, complemented 0xffe4. */
	CHECK((__force u16)csum_ipv6_magic(&a, &a, 8, IPPROTO_UDP, 0) == (__force u16)htons(0xffe4));

	ethtool_convert_legacy_u32_to_link_mode(modes, 0x2f);
	CHECK(ethtool_convert_link_mode_to_legacy_u32(&legacy, modes) && legacy == 0x2f);
	__set_bit(40, modes); /* beyond the legacy 32 */
	CHECK(!ethtool_convert_link_mode_to_legacy_u32(&legacy, modes) && legacy == 0x2f);
	return 0;
}

static int __init side_test_netdev_init(void)
{
	int err;

	devs[0] = tnet_create(1);
	devs[1] = tnet_create(2);
	CHECK(devs[0] && devs[1]);
	CHECK(!strcmp(devs[0]->name, "eth0") && !strcmp(devs[1]->name, "eth1"));
	CHECK(devs[0]->mtu == 1500 && devs[0]->min_mtu == ETH_MIN_MTU && devs[0]->max_mtu == 9000);
	CHECK(devs[0]->reg_state == NETREG_REGISTERED && netif_device_present(devs[0]) && !netif_running(devs[0]));
	CHECK(ether_addr_equal(devs[1]->dev_addr, ((u8[]){ 2, 0, 0, 0, 0, 2 })));
	if (bad == 1) {
		free_netdev(devs[0]);
		pr_err("side_test_netdev: survived freeing a registered device\n");
	}
	unregister_netdev(devs[0]);
	CHECK(devs[0]->reg_state == NETREG_UNREGISTERED);
	free_netdev(devs[0]);
	devs[0] = tnet_create(3);
	CHECK(devs[0]);
	err = test_helpers(devs[0]);
	if (err)
		return err;
	pr_info("side_test_netdev: ok names %s %s\n", devs[0]->name, devs[1]->name);
	return 0;
}

static void __exit side_test_netdev_exit(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		unregister_netdev(devs[i]);
		free_netdev(devs[i]);
	}
	pr_info("side_test_netdev: removed\n");
}

module_init(side_test_netdev_init);
module_exit(side_test_netdev_exit);
MODULE_LICENSE("GPL");
