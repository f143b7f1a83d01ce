// SPDX-License-Identifier: GPL-2.0-only
/*
 * Page fragments and scatter-gather views of socket buffers (net/core/sock.c's skb_page_frag_refill,
 * net/core/skbuff.c's skb_coalesce_rx_frag, skb_partial_csum_set and skb_to_sgvec), as drivers that receive into
 * page fragments and hand buffers to a device as scatterlists (virtio_net) use them.
 */
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/skbuff.h>
#include <net/dst.h>
#include <net/sock.h>

#include "kapi.h"

/* Pages of 32 KiB (SKB_FRAG_PAGE_ORDER) first, single pages when those are not to be had. */
bool skb_page_frag_refill(unsigned int sz, struct page_frag *pfrag, gfp_t gfp)
{
	if (pfrag->page) {
		if (page_ref_count(pfrag->page) == 1) {
			pfrag->offset = 0;
			return true;
		}
		if (pfrag->offset + sz <= pfrag->size)
			return true;
		put_page(pfrag->page);
	}
	pfrag->offset = 0;
	if (SKB_FRAG_PAGE_ORDER) {
		pfrag->page = alloc_pages((gfp & ~__GFP_DIRECT_RECLAIM) | __GFP_COMP | __GFP_NOWARN | __GFP_NORETRY,
					  SKB_FRAG_PAGE_ORDER);
		if (likely(pfrag->page)) {
			pfrag->size = PAGE_SIZE << SKB_FRAG_PAGE_ORDER;
			return true;
		}
	}
	pfrag->page = alloc_page(gfp);
	if (likely(pfrag->page)) {
		pfrag->size = PAGE_SIZE;
		return true;
	}
	return false;
}

void skb_coalesce_rx_frag(struct sk_buff *skb, int i, int size, unsigned int truesize)
{
	skb_frag_t *frag = &skb_shinfo(skb)->frags[i];

	skb_frag_size_add(frag, size);
	skb->len += size;
	skb->data_len += size;
	skb->truesize += truesize;
}

bool skb_partial_csum_set(struct sk_buff *skb, u16 start, u16 off)
{
	u32 csum_end = (u32)start + (u32)off + sizeof(__sum16);
	u32 csum_start = skb_headroom(skb) + (u32)start;

	if (unlikely(csum_start > U16_MAX || csum_end > skb_headlen(skb))) {
		net_warn_ratelimited("bad partial csum: csum=%u/%u headroom=%u headlen=%u\n", start, off,
				     skb_headroom(skb), skb_headlen(skb));
		return false;
	}
	skb->ip_summed = CHECKSUM_PARTIAL;
	skb->csum_start = csum_start;
	skb->csum_offset = off;
	skb_set_transport_header(skb, start);
	return true;
}

/* The kernel's bound on frag_list nesting (__skb_to_sgvec's recursion level). */
#define SIDE_SKB_SG_MAX_DEPTH 24

/* __skb_to_sgvec(): the head as one entry, each fragment's part as one, frag_list members recursively. */
static int side_skb_to_sg(struct sk_buff *skb, struct scatterlist *sg, int offset, int len, int depth)
{
	int start = skb_headlen(skb), i, copy, elt = 0;
	struct sk_buff *frag_iter;

	if (unlikely(depth > SIDE_SKB_SG_MAX_DEPTH))
		return -EMSGSIZE;
	copy = start - offset;
	if (copy > 0) {
		copy = min(copy, len);
		sg_set_buf(sg, skb->data + offset, copy);
		elt++;
		len -= copy;
		offset += copy;
	}
	for (i = 0; i < skb_shinfo(skb)->nr_frags && len > 0; i++) {
		const skb_frag_t *frag = &skb_shinfo(skb)->frags[i];
		int end = start + skb_frag_size(frag);

		copy = end - offset;
		if (copy > 0) {
			copy = min(copy, len);
			sg_set_page(&sg[elt++], skb_frag_page(frag), copy, skb_frag_off(frag) + offset - start);
			len -= copy;
			offset += copy;
		}
		start = end;
	}
	skb_walk_frags(skb, frag_iter) {
		int end = start + frag_iter->len, ret;

		if (len <= 0)
			break;
		copy = end - offset;
		if (copy > 0) {
			copy = min(copy, len);
			ret = side_skb_to_sg(frag_iter, sg + elt, offset - start, copy, depth + 1);
			if (unlikely(ret < 0))
				return ret;
			elt += ret;
			len -= copy;
			offset += copy;
		}
		start = end;
	}
	return len > 0 ? -EMSGSIZE : elt;
}

int skb_to_sgvec(struct sk_buff *skb, struct scatterlist *sg, int offset, int len)
{
	int nsg = side_skb_to_sg(skb, sg, offset, len, 0);

	if (nsg <= 0)
		return nsg;
	sg_mark_end(&sg[nsg - 1]);
	return nsg;
}

/* side attaches no route to a socket buffer; dropping none is the only call a driver can rightly make. */
void dst_release(struct dst_entry *dst)
{
	if (dst)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "dst_release(%px): side creates no routing entries", dst);
}
