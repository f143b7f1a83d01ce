// SPDX-License-Identifier: GPL-2.0-only
/*
 * Transmit offloads the host asks for (struct side_tx_offload: a virtio-net header's fields), as the kernel turns
 * them into an skb and checks them against the device before ndo_start_xmit:
 *   - include/linux/virtio_net.h virtio_net_hdr_to_skb(): CHECKSUM_PARTIAL at csum_start/csum_offset, and for
 *     segmentation gso_size/gso_type with the headers checked (the packet is untrusted, as SKB_GSO_DODGY makes
 *     tcp_gso_segment() check it) and gso_segs computed;
 *   - net/core/dev.c validate_xmit_skb(): netif_skb_features() (gso_max_segs, ndo_features_check), then what the
 *     device cannot do: a checksum it cannot insert is computed here (skb_checksum_help()); a segmentation it cannot
 *     do is not done in software here: the packet is dropped and counted in the device's tx_dropped (the host asks
 *     for segmentation only from a device whose features include it, so this happens only when they change).
 * Nothing of the frame is trusted: every offset is checked against the frame before the skb points into it.
 */
#include <linux/etherdevice.h>
#include <linux/if_vlan.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <net/checksum.h>

#include "kapi.h"
#include "net_core.h"

struct net_device_core_stats __percpu *netdev_core_stats_alloc(struct net_device *dev)
{
	struct net_device_core_stats __percpu *p = alloc_percpu_gfp(struct net_device_core_stats, GFP_ATOMIC);

	/* As the kernel: the first caller's allocation wins, a racing one is freed. */
	if (p && cmpxchg(&dev->core_stats, NULL, p))
		free_percpu(p);
	return READ_ONCE(dev->core_stats);
}

/* The network header's offset and protocol after the Ethernet header and at most one VLAN tag. */
static int side_offload_network(const struct sk_buff *skb, __be16 *proto)
{
	const struct ethhdr *eth = (const struct ethhdr *)skb->data;

	*proto = eth->h_proto;
	if (eth_type_vlan(*proto)) {
		if (skb->len < VLAN_ETH_HLEN)
			return -EINVAL;
		*proto = ((const struct vlan_ethhdr *)skb->data)->h_vlan_encapsulated_proto;
		return VLAN_ETH_HLEN;
	}
	return ETH_HLEN;
}

/* A TCP segmentation request fits its packet: an IP header of the right version carrying TCP, whose TCP header
 * starts at csum_start (the checksum at offset 16), all of it in the frame. Returns the headers' length. */
static int side_offload_tcp_headers(struct sk_buff *skb, const struct side_tx_offload *o, int nh, __be16 proto)
{
	unsigned int th = o->csum_start, thlen;

	if (o->csum_offset != offsetof(struct tcphdr, check) || th + sizeof(struct tcphdr) > skb->len)
		return -EINVAL;
	if (o->gso_type == SIDE_TX_GSO_TCPV4) {
		const struct iphdr *ip = (const struct iphdr *)(skb->data + nh);

		if (proto != htons(ETH_P_IP) || nh + sizeof(*ip) > th || ip->version != 4 || ip->protocol != IPPROTO_TCP ||
		    nh + ip->ihl * 4u != th || ip->ihl < 5)
			return -EINVAL;
	} else {
		const struct ipv6hdr *ip6 = (const struct ipv6hdr *)(skb->data + nh);

		if (proto != htons(ETH_P_IPV6) || nh + sizeof(*ip6) != th || ip6->version != 6 ||
		    ip6->nexthdr != IPPROTO_TCP)
			return -EINVAL;
	}
	thlen = tcp_hdr(skb)->doff * 4u;
	if (thlen < sizeof(struct tcphdr) || th + thlen > skb->len)
		return -EINVAL;
	return th + thlen;
}

/* Turns the plain skb holding the frame into the one virtio_net_hdr_to_skb() makes of `o`. 0 or -EINVAL. */
static int side_offload_to_skb(struct sk_buff *skb, const struct side_tx_offload *o)
{
	struct skb_shared_info *shinfo = skb_shinfo(skb);
	__be16 proto;
	int nh, hlen;

	if (o->flags & ~SIDE_TX_NEEDS_CSUM)
		return -EINVAL;
	nh = side_offload_network(skb, &proto);
	if (nh < 0)
		return nh;
	skb_set_network_header(skb, nh);
	if (o->flags & SIDE_TX_NEEDS_CSUM) {
		if (o->csum_start < nh || !skb_partial_csum_set(skb, o->csum_start, o->csum_offset))
			return -EINVAL;
	}
	if (o->gso_type == SIDE_TX_GSO_NONE)
		return o->gso_size ? -EINVAL : 0;
	if ((o->gso_type != SIDE_TX_GSO_TCPV4 && o->gso_type != SIDE_TX_GSO_TCPV6) || !o->gso_size ||
	    !(o->flags & SIDE_TX_NEEDS_CSUM))
		return -EINVAL;
	hlen = side_offload_tcp_headers(skb, o, nh, proto);
	if (hlen < 0)
		return hlen;
	/* Too small to need segmenting: a plain packet whose checksum is still to be inserted (as the kernel). */
	if (skb->len - hlen <= o->gso_size)
		return 0;
	shinfo->gso_size = o->gso_size;
	shinfo->gso_type = o->gso_type == SIDE_TX_GSO_TCPV4 ? SKB_GSO_TCPV4 : SKB_GSO_TCPV6;
	shinfo->gso_segs = DIV_ROUND_UP(skb->len - hlen, o->gso_size);
	return 0;
}

/* skb_checksum_help(): the checksum the device cannot insert, computed here from csum_start to the end. */
static int side_offload_checksum_help(struct sk_buff *skb)
{
	int start = skb_checksum_start_offset(skb);
	int at = start + skb->csum_offset;
	__sum16 sum;

	if (start < 0 || at + sizeof(__sum16) > skb_headlen(skb))
		return -EINVAL;
	sum = csum_fold(csum_partial(skb->data + start, skb_headlen(skb) - start, 0));
	*(__sum16 *)(skb->data + at) = sum ?: CSUM_MANGLED_0;
	skb->ip_summed = CHECKSUM_NONE;
	return 0;
}

/* netif_skb_features() for one queue-0 skb, without the encapsulation cases side never builds. */
static netdev_features_t side_offload_features(struct sk_buff *skb, struct net_device *dev)
{
	netdev_features_t features = dev->features;

	if (skb_is_gso(skb) && skb_shinfo(skb)->gso_segs > READ_ONCE(dev->gso_max_segs))
		features &= ~NETIF_F_GSO_MASK;
	if (skb_vlan_tagged(skb))
		features &= dev->vlan_features | NETIF_F_HW_VLAN_CTAG_TX | NETIF_F_HW_VLAN_STAG_TX;
	if (dev->netdev_ops->ndo_features_check)
		features &= dev->netdev_ops->ndo_features_check(skb, dev, features);
	return features;
}

/* The skb for one frame from the host: linear (the driver maps a long head in pieces, as e1000 does), with the
 * offloads `o` asks for made what the device can take. NULL if it must not be sent: -EINVAL for a frame or an
 * offload that does not fit together, -ENOMEM, or -EOPNOTSUPP for a segmentation the device cannot do (counted). */
struct sk_buff *side_xmit_build_skb(struct net_device *dev, const void *frame, u32 len,
				    const struct side_tx_offload *o, int *err)
{
	netdev_features_t features;
	struct sk_buff *skb;
	__be16 proto;

	skb = netdev_alloc_skb(dev, len);
	if (!skb) {
		*err = -ENOMEM;
		return NULL;
	}
	skb_put_data(skb, frame, len);
	skb_reset_mac_header(skb);
	skb_set_network_header(skb, ETH_HLEN);
	skb->mac_len = ETH_HLEN;
	proto = eth_hdr(skb)->h_proto;
	skb->protocol = eth_proto_is_802_3(proto) ? proto : htons(ETH_P_802_3);
	skb->ip_summed = CHECKSUM_NONE;
	*err = o ? side_offload_to_skb(skb, o) : 0;
	if (*err)
		goto drop;
	features = side_offload_features(skb, dev);
	if (skb_is_gso(skb) && !skb_gso_ok(skb, features)) {
		dev_core_stats_tx_dropped_inc(dev);
		*err = -EOPNOTSUPP;
		goto drop;
	}
	if (skb->ip_summed == CHECKSUM_PARTIAL && !skb_is_gso(skb) &&
	    !can_checksum_protocol(features, vlan_get_protocol(skb)))
		*err = side_offload_checksum_help(skb);
	if (*err)
		goto drop;
	return skb;
drop:
	kfree_skb(skb);
	return NULL;
}
