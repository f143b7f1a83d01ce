// SPDX-License-Identifier: GPL-2.0-only
/*
 * Socket buffers, with the semantics of net/core/skbuff.c. An skb's head is kmalloc'd arena memory or a page fragment
 * (from a page_frag_cache: compound pages whose refcount counts the fragments handed out), so virt_to_page() and DMA
 * mapping of skb->data work. struct skb_shared_info sits at skb_end_pointer(); its dataref counts clones sharing
 * the head, and paged fragments hold page references that are dropped when the last user of the data goes.
 *
 * sk_buff shells are kmalloc'd one by one (no fclones, no per-cpu head caches: they only save time). Freeing an skb
 * whose users count is already zero, or a pointer that is no live allocation, is a detected driver fault.
 */
#include <linux/etherdevice.h>
#include <linux/highmem.h>
#include <linux/interrupt.h>
#include <linux/mm.h>
#include <linux/netdevice.h>
#include <linux/phy.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "kapi.h"
#include "net_core.h"

/* ---- page fragments ------------------------------------------------------------------------------------------ */

/*
 * A page_frag_cache hands out pieces of one compound page from its end downwards. Rather than touching the page's
 * refcount for every piece, it takes a large number of references up front and keeps the unused ones as
 * pagecnt_bias; when the page is used up it gives the unused ones back, and the page is freed once every piece has
 * been released with page_frag_free().
 */
static struct page *side_frag_refill(struct page_frag_cache *nc, gfp_t gfp)
{
	gfp_t big = (gfp & ~__GFP_DIRECT_RECLAIM) | __GFP_COMP | __GFP_NOWARN | __GFP_NORETRY | __GFP_NOMEMALLOC;
	struct page *page;

	page = alloc_pages(big, PAGE_FRAG_CACHE_MAX_ORDER);
	nc->size = page ? PAGE_FRAG_CACHE_MAX_SIZE : PAGE_SIZE;
	if (!page)
		page = alloc_pages(gfp, 0);
	nc->va = page ? page_address(page) : NULL;
	return page;
}

void *page_frag_alloc_align(struct page_frag_cache *nc, unsigned int fragsz, gfp_t gfp, unsigned int align_mask)
{
	struct page *page;
	int offset;

	if (unlikely(!nc->va)) {
refill:
		page = side_frag_refill(nc, gfp);
		if (!page)
			return NULL;
		/* One reference for every piece the page can possibly hold, plus the cache's own. */
		page_ref_add(page, PAGE_FRAG_CACHE_MAX_SIZE);
		nc->pfmemalloc = false;
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		nc->offset = nc->size;
	}

	offset = nc->offset - fragsz;
	if (unlikely(offset < 0)) {
		page = virt_to_page(nc->va);
		/* Give back the references no piece took; if none is still out, the page can be reused whole. */
		if (!page_ref_sub_and_test(page, nc->pagecnt_bias))
			goto refill;
		set_page_count(page, PAGE_FRAG_CACHE_MAX_SIZE + 1);
		nc->pagecnt_bias = PAGE_FRAG_CACHE_MAX_SIZE + 1;
		offset = nc->size - fragsz;
		if (unlikely(offset < 0)) {
			/* A piece larger than the cache's page: the kernel fails such requests too. */
			return NULL;
		}
	}

	nc->pagecnt_bias--;
	offset &= align_mask;
	nc->offset = offset;
	return nc->va + offset;
}

void __page_frag_cache_drain(struct page *page, unsigned int count)
{
	if (page_ref_sub_and_test(page, count))
		__free_pages(page, compound_order(page));
}

static DEFINE_PER_CPU(struct page_frag_cache, side_netdev_frag_cache);
static DEFINE_PER_CPU(struct page_frag_cache, side_napi_frag_cache);

/* The kernel keeps a separate cache for hard-interrupt context; the NAPI one is used with bottom halves off. */
static void *side_frag_alloc(unsigned int fragsz, unsigned int align_mask)
{
	void *data;

	if (in_hardirq() || irqs_disabled())
		return page_frag_alloc_align(this_cpu_ptr(&side_netdev_frag_cache), fragsz, GFP_ATOMIC, align_mask);
	local_bh_disable();
	data = page_frag_alloc_align(this_cpu_ptr(&side_napi_frag_cache), fragsz, GFP_ATOMIC, align_mask);
	local_bh_enable();
	return data;
}

void *__netdev_alloc_frag_align(unsigned int fragsz, unsigned int align_mask)
{
	return side_frag_alloc(SKB_DATA_ALIGN(fragsz), align_mask);
}

void *__napi_alloc_frag_align(unsigned int fragsz, unsigned int align_mask)
{
	return page_frag_alloc_align(this_cpu_ptr(&side_napi_frag_cache), SKB_DATA_ALIGN(fragsz), GFP_ATOMIC,
				     align_mask);
}

/* No page pools exist in side, so no page is ever a page-pool page to recycle. */
bool page_pool_return_skb_page(struct page *page)
{
	return false;
}

/* ---- allocation ---------------------------------------------------------------------------------------------- */

static struct sk_buff *side_skb_shell(gfp_t gfp)
{
	/* Zeroed whole: the kernel clears everything before `tail` and sets the rest in __build_skb_around(). */
	return kzalloc(sizeof(struct sk_buff), gfp & ~GFP_DMA);
}

/* Lays an skb over `data`, whose last SKB_DATA_ALIGN(sizeof(skb_shared_info)) bytes of `size` hold the shinfo. */
static void side_skb_init(struct sk_buff *skb, void *data, unsigned int size)
{
	struct skb_shared_info *shinfo;

	size -= SKB_DATA_ALIGN(sizeof(struct skb_shared_info));
	skb->truesize = SKB_TRUESIZE(size);
	refcount_set(&skb->users, 1);
	skb->head = data;
	skb->data = data;
	skb_reset_tail_pointer(skb);
	skb_set_end_offset(skb, size);
	skb->mac_header = (typeof(skb->mac_header))~0U;
	skb->transport_header = (typeof(skb->transport_header))~0U;
	skb->alloc_cpu = raw_smp_processor_id();
	shinfo = skb_shinfo(skb);
	memset(shinfo, 0, offsetof(struct skb_shared_info, dataref));
	atomic_set(&shinfo->dataref, 1);
}

struct sk_buff *__alloc_skb(unsigned int size, gfp_t gfp_mask, int flags, int node)
{
	struct sk_buff *skb = side_skb_shell(gfp_mask);
	u8 *data;

	if (unlikely(!skb))
		return NULL;
	size = SKB_DATA_ALIGN(size) + SKB_DATA_ALIGN(sizeof(struct skb_shared_info));
	data = kmalloc(size, (gfp_mask & ~GFP_DMA) | __GFP_NOWARN);
	if (unlikely(!data)) {
		kfree(skb);
		return NULL;
	}
	/* The shinfo goes at the very end of what kmalloc really gave, leaving the most room for data. */
	side_skb_init(skb, data, ksize(data));
	/* SKB_ALLOC_FCLONE asks for a companion clone shell; a clone made later costs one allocation instead. */
	return skb;
}

static struct sk_buff *side_build_skb(void *data, unsigned int frag_size)
{
	struct sk_buff *skb = side_skb_shell(GFP_ATOMIC);

	if (unlikely(!skb))
		return NULL;
	side_skb_init(skb, data, frag_size ? frag_size : ksize(data));
	if (frag_size)
		skb->head_frag = 1;
	return skb;
}

struct sk_buff *__build_skb(void *data, unsigned int frag_size)
{
	struct sk_buff *skb = side_skb_shell(GFP_ATOMIC);

	if (unlikely(!skb))
		return NULL;
	side_skb_init(skb, data, frag_size ? frag_size : ksize(data));
	return skb;
}

struct sk_buff *build_skb(void *data, unsigned int frag_size)
{
	return side_build_skb(data, frag_size);
}

struct sk_buff *napi_build_skb(void *data, unsigned int frag_size)
{
	return side_build_skb(data, frag_size);
}

struct sk_buff *build_skb_around(struct sk_buff *skb, void *data, unsigned int frag_size)
{
	if (unlikely(!skb))
		return NULL;
	side_skb_init(skb, data, frag_size ? frag_size : ksize(data));
	if (frag_size)
		skb->head_frag = 1;
	return skb;
}

/*
 * Receive buffers: small and large heads come from kmalloc, medium ones (up to a page with the shinfo) from the
 * fragment caches, as the kernel chooses.
 */
static struct sk_buff *side_alloc_rx_skb(struct net_device *dev, unsigned int len, unsigned int reserve,
					 gfp_t gfp, bool napi)
{
	struct sk_buff *skb;
	void *data;

	len += reserve;
	if (len <= SKB_WITH_OVERHEAD(1024) || len > SKB_WITH_OVERHEAD(PAGE_SIZE) ||
	    (gfp & (__GFP_DIRECT_RECLAIM | GFP_DMA))) {
		skb = __alloc_skb(len, gfp, SKB_ALLOC_RX, NUMA_NO_NODE);
		if (!skb)
			return NULL;
	} else {
		len = SKB_DATA_ALIGN(len + SKB_DATA_ALIGN(sizeof(struct skb_shared_info)));
		data = napi ? page_frag_alloc_align(this_cpu_ptr(&side_napi_frag_cache), len, gfp, ~0u)
			    : side_frag_alloc(len, ~0u);
		if (unlikely(!data))
			return NULL;
		skb = side_build_skb(data, len);
		if (unlikely(!skb)) {
			skb_free_frag(data);
			return NULL;
		}
	}
	skb_reserve(skb, reserve);
	skb->dev = dev;
	return skb;
}

struct sk_buff *__netdev_alloc_skb(struct net_device *dev, unsigned int len, gfp_t gfp_mask)
{
	return side_alloc_rx_skb(dev, len, NET_SKB_PAD, gfp_mask, false);
}

struct sk_buff *__napi_alloc_skb(struct napi_struct *napi, unsigned int len, gfp_t gfp_mask)
{
	return side_alloc_rx_skb(napi->dev, len, NET_SKB_PAD + NET_IP_ALIGN, gfp_mask, true);
}

void skb_add_rx_frag(struct sk_buff *skb, int i, struct page *page, int off, int size, unsigned int truesize)
{
	skb_fill_page_desc(skb, i, page, off, size);
	skb->len += size;
	skb->data_len += size;
	skb->truesize += truesize;
}

/* ---- freeing ------------------------------------------------------------------------------------------------- */

void side_skb_check_live(const struct sk_buff *skb, const char *what, unsigned long caller)
{
	if (!side_host_ksize(skb))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, caller, "%s(%px): not an allocated sk_buff (freed already?)", what,
			   skb);
	if (!refcount_read(&skb->users))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, caller, "%s(%px): sk_buff freed twice (users is 0)", what, skb);
}

static void side_skb_free_head(struct sk_buff *skb)
{
	if (skb->head_frag)
		skb_free_frag(skb->head);
	else
		kfree(skb->head);
}

/* Drops this skb's hold on its data: the head, its fragments and frag_list go with the last holder. */
static void side_skb_release_data(struct sk_buff *skb)
{
	struct skb_shared_info *shinfo = skb_shinfo(skb);
	int i;

	if (skb->cloned && atomic_sub_return(skb->nohdr ? (1 << SKB_DATAREF_SHIFT) + 1 : 1, &shinfo->dataref))
		return;
	for (i = 0; i < shinfo->nr_frags; i++)
		put_page(skb_frag_page(&shinfo->frags[i]));
	if (shinfo->frag_list)
		kfree_skb_list_reason(shinfo->frag_list, SKB_DROP_REASON_NOT_SPECIFIED);
	side_skb_free_head(skb);
}

void side_skb_free(struct sk_buff *skb, unsigned long caller)
{
	/*
	 * side attaches no dst, conntrack or extensions to an skb (nothing here creates them), so the head state is
	 * only the destructor.
	 */
	if (skb->destructor)
		skb->destructor(skb);
	if (likely(skb->head))
		side_skb_release_data(skb);
	refcount_set(&skb->users, 0);
	kfree(skb);
}

/* skb_unref() with the double-free check: true when the caller dropped the last reference. */
static bool side_skb_unref(struct sk_buff *skb, const char *what, unsigned long caller)
{
	side_skb_check_live(skb, what, caller);
	if (refcount_read(&skb->users) == 1)
		return true;
	return refcount_dec_and_test(&skb->users);
}

void __kfree_skb(struct sk_buff *skb)
{
	side_skb_check_live(skb, "__kfree_skb", SIDE_CALLER);
	side_skb_free(skb, SIDE_CALLER);
}

void kfree_skb_reason(struct sk_buff *skb, enum skb_drop_reason reason)
{
	if (unlikely(!skb))
		return;
	if (side_skb_unref(skb, "kfree_skb", SIDE_CALLER))
		side_skb_free(skb, SIDE_CALLER);
}

void kfree_skb_list_reason(struct sk_buff *segs, enum skb_drop_reason reason)
{
	while (segs) {
		struct sk_buff *next = segs->next;

		if (side_skb_unref(segs, "kfree_skb_list", SIDE_CALLER))
			side_skb_free(segs, SIDE_CALLER);
		segs = next;
	}
}

void consume_skb(struct sk_buff *skb)
{
	if (unlikely(!skb))
		return;
	if (side_skb_unref(skb, "consume_skb", SIDE_CALLER))
		side_skb_free(skb, SIDE_CALLER);
}

/*
 * The kernel defers frees from hard-interrupt context to NET_TX_SOFTIRQ only because its allocator may not be
 * entered there; side's may, so the skb goes at once. The reference semantics are the same.
 */
void __dev_kfree_skb_irq(struct sk_buff *skb, enum skb_free_reason reason)
{
	if (unlikely(!skb))
		return;
	if (side_skb_unref(skb, "dev_kfree_skb_irq", SIDE_CALLER))
		side_skb_free(skb, SIDE_CALLER);
}

void __dev_kfree_skb_any(struct sk_buff *skb, enum skb_free_reason reason)
{
	if (unlikely(!skb))
		return;
	if (side_skb_unref(skb, "dev_kfree_skb_any", SIDE_CALLER))
		side_skb_free(skb, SIDE_CALLER);
}

void napi_consume_skb(struct sk_buff *skb, int budget)
{
	/* A zero budget means a non-NAPI caller (netpoll); either way the reference goes now. */
	if (unlikely(!skb))
		return;
	if (side_skb_unref(skb, "napi_consume_skb", SIDE_CALLER))
		side_skb_free(skb, SIDE_CALLER);
}

void skb_tx_error(struct sk_buff *skb)
{
	/* Only zero-copy skbs carry a completion to report, and side never creates them. */
}

/* ---- clones and copies --------------------------------------------------------------------------------------- */

static void side_copy_skb_header(struct sk_buff *n, const struct sk_buff *skb)
{
	n->tstamp = skb->tstamp;
	n->dev = skb->dev;
	memcpy(n->cb, skb->cb, sizeof(skb->cb));
	n->queue_mapping = skb->queue_mapping;
	memcpy(&n->headers, &skb->headers, sizeof(n->headers));
}

struct sk_buff *skb_clone(struct sk_buff *skb, gfp_t gfp_mask)
{
	struct sk_buff *n;

	side_skb_check_live(skb, "skb_clone", SIDE_CALLER);
	n = side_skb_shell(gfp_mask);
	if (!n)
		return NULL;
	n->fclone = SKB_FCLONE_UNAVAILABLE;
	side_copy_skb_header(n, skb);
	n->len = skb->len;
	n->data_len = skb->data_len;
	n->mac_len = skb->mac_len;
	n->hdr_len = skb->nohdr ? skb_headroom(skb) : skb->hdr_len;
	n->cloned = 1;
	n->pfmemalloc = skb->pfmemalloc;
	n->tail = skb->tail;
	n->end = skb->end;
	n->head = skb->head;
	n->head_frag = skb->head_frag;
	n->data = skb->data;
	n->truesize = skb->truesize;
	refcount_set(&n->users, 1);
	atomic_inc(&skb_shinfo(skb)->dataref);
	skb->cloned = 1;
	return n;
}

void skb_headers_offset_update(struct sk_buff *skb, int off)
{
	if (skb->ip_summed == CHECKSUM_PARTIAL)
		skb->csum_start += off;
	skb->transport_header += off;
	skb->network_header += off;
	if (skb_mac_header_was_set(skb))
		skb->mac_header += off;
	skb->inner_transport_header += off;
	skb->inner_network_header += off;
	skb->inner_mac_header += off;
}

void skb_copy_header(struct sk_buff *new, const struct sk_buff *old)
{
	side_copy_skb_header(new, old);
	skb_shinfo(new)->gso_size = skb_shinfo(old)->gso_size;
	skb_shinfo(new)->gso_segs = skb_shinfo(old)->gso_segs;
	skb_shinfo(new)->gso_type = skb_shinfo(old)->gso_type;
}

/* A private linear copy of an skb, with its data and headers. */
struct sk_buff *skb_copy(const struct sk_buff *skb, gfp_t gfp_mask)
{
	int headroom = skb_headroom(skb);
	struct sk_buff *n = __alloc_skb(headroom + skb->len + skb_tailroom(skb), gfp_mask, SKB_ALLOC_RX, NUMA_NO_NODE);

	if (!n)
		return NULL;
	skb_reserve(n, headroom);
	skb_put(n, skb->len);
	if (skb_copy_bits(skb, -headroom, n->head, headroom + skb->len))
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "skb_copy: skb_copy_bits failed");
	skb_copy_header(n, skb);
	return n;
}

/*
 * Reallocates the head with nhead/ntail more bytes; the skb itself stays. If the head was shared with clones, this
 * skb takes its own references on the fragments and lets go of the shared data.
 */
int pskb_expand_head(struct sk_buff *skb, int nhead, int ntail, gfp_t gfp_mask)
{
	unsigned int osize = skb_end_offset(skb);
	unsigned int size;
	long off;
	u8 *data;
	int i;

	if (nhead < 0 || ntail < 0)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "pskb_expand_head(nhead %d, ntail %d): negative room", nhead,
			   ntail);
	if (skb_shared(skb))
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "pskb_expand_head of a shared skb (users %d)",
			   refcount_read(&skb->users));

	size = SKB_DATA_ALIGN(osize + nhead + ntail);
	data = kmalloc(size + SKB_DATA_ALIGN(sizeof(struct skb_shared_info)), (gfp_mask & ~GFP_DMA) | __GFP_NOWARN);
	if (!data)
		return -ENOMEM;
	size = SKB_WITH_OVERHEAD(ksize(data));

	memcpy(data + nhead, skb->head, skb_tail_pointer(skb) - skb->head);
	memcpy((struct skb_shared_info *)(data + size), skb_shinfo(skb),
	       offsetof(struct skb_shared_info, frags[skb_shinfo(skb)->nr_frags]));

	if (skb_cloned(skb)) {
		for (i = 0; i < skb_shinfo(skb)->nr_frags; i++)
			skb_frag_ref(skb, i);
		if (skb_has_frag_list(skb)) {
			struct sk_buff *list;

			skb_walk_frags(skb, list)
				skb_get(list);
		}
		side_skb_release_data(skb);
	} else {
		side_skb_free_head(skb);
	}
	off = (data + nhead) - skb->head;

	skb->head = data;
	skb->head_frag = 0;
	skb->data += off;
	skb_set_end_offset(skb, size);
	/* tail is an offset from head on 64-bit kernels: it moves by the new headroom only. */
	skb->tail += nhead;
	skb_headers_offset_update(skb, nhead);
	skb->cloned = 0;
	skb->hdr_len = 0;
	skb->nohdr = 0;
	atomic_set(&skb_shinfo(skb)->dataref, 1);
	skb_metadata_clear(skb);
	if (!skb->sk)
		skb->truesize += size - osize;
	return 0;
}

struct sk_buff *skb_realloc_headroom(struct sk_buff *skb, unsigned int headroom)
{
	int delta = headroom - skb_headroom(skb);
	struct sk_buff *n;

	if (delta <= 0)
		return pskb_copy(skb, GFP_ATOMIC);
	n = skb_clone(skb, GFP_ATOMIC);
	if (n && pskb_expand_head(n, SKB_DATA_ALIGN(delta), 0, GFP_ATOMIC)) {
		kfree_skb(n);
		n = NULL;
	}
	return n;
}

/* A copy with a private head (headroom + linear part) sharing the paged fragments. */
struct sk_buff *__pskb_copy_fclone(struct sk_buff *skb, int headroom, gfp_t gfp_mask, bool fclone)
{
	unsigned int size = skb_headlen(skb) + headroom;
	struct sk_buff *n = __alloc_skb(size, gfp_mask, SKB_ALLOC_RX, NUMA_NO_NODE);
	int i;

	if (!n)
		return NULL;
	skb_reserve(n, headroom);
	skb_put(n, skb_headlen(skb));
	skb_copy_from_linear_data(skb, n->data, n->len);
	n->truesize += skb->data_len;
	n->data_len = skb->data_len;
	n->len = skb->len;
	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		skb_shinfo(n)->frags[i] = skb_shinfo(skb)->frags[i];
		skb_frag_ref(skb, i);
	}
	skb_shinfo(n)->nr_frags = i;
	if (skb_has_frag_list(skb)) {
		struct sk_buff *list;

		skb_shinfo(n)->frag_list = skb_shinfo(skb)->frag_list;
		skb_walk_frags(n, list)
			skb_get(list);
	}
	skb_copy_header(n, skb);
	return n;
}

/* ---- data area ----------------------------------------------------------------------------------------------- */

static void __noreturn side_skb_panic(struct sk_buff *skb, unsigned int sz, unsigned long caller, const char *msg)
{
	side_fault(SIDE_FAULT_BUG, caller, "skbuff: %s: len:%d put:%d head:%px data:%px tail:%#lx end:%#lx dev:%s",
		   msg, skb->len, sz, skb->head, skb->data, (unsigned long)skb->tail, (unsigned long)skb->end,
		   skb->dev ? skb->dev->name : "<NULL>");
}

void *skb_put(struct sk_buff *skb, unsigned int len)
{
	void *tmp = skb_tail_pointer(skb);

	if (skb_is_nonlinear(skb))
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "skb_put on a non-linear skb (data_len %u)", skb->data_len);
	skb->tail += len;
	skb->len += len;
	if (unlikely(skb->tail > skb->end))
		side_skb_panic(skb, len, SIDE_CALLER, "skb_over_panic");
	return tmp;
}

void *pskb_put(struct sk_buff *skb, struct sk_buff *tail, int len)
{
	if (tail != skb) {
		skb->data_len += len;
		skb->len += len;
	}
	return skb_put(tail, len);
}

void *skb_push(struct sk_buff *skb, unsigned int len)
{
	skb->data -= len;
	skb->len += len;
	if (unlikely(skb->data < skb->head))
		side_skb_panic(skb, len, SIDE_CALLER, "skb_under_panic");
	return skb->data;
}

void *skb_pull(struct sk_buff *skb, unsigned int len)
{
	return skb_pull_inline(skb, len);
}

void *skb_pull_data(struct sk_buff *skb, size_t len)
{
	void *data = skb->data;

	if (skb->len < len)
		return NULL;
	skb_pull(skb, len);
	return data;
}

void skb_trim(struct sk_buff *skb, unsigned int len)
{
	if (skb->len > len)
		__skb_trim(skb, len);
}

static void side_skb_condense(struct sk_buff *skb)
{
	if (skb->data_len) {
		if (skb->data_len > skb->end - skb->tail || skb_cloned(skb))
			return;
		/* The paged part fits in the tailroom: pull it in and free the pages now. */
		__pskb_pull_tail(skb, skb->data_len);
	}
	skb->truesize = SKB_TRUESIZE(skb_end_offset(skb));
}

/* Trims a possibly non-linear skb to `len` bytes, dropping whole fragments and shortening the one cut. */
int ___pskb_trim(struct sk_buff *skb, unsigned int len)
{
	struct skb_shared_info *shinfo;
	unsigned int offset = skb_headlen(skb);
	struct sk_buff **fragp, *frag;
	int nfrags, i = 0, err;
	bool cut = false;

	if (skb_cloned(skb)) {
		err = pskb_expand_head(skb, 0, 0, GFP_ATOMIC);
		if (err)
			return err;
	}
	shinfo = skb_shinfo(skb);
	nfrags = shinfo->nr_frags;

	if (offset < len) {
		for (; i < nfrags; i++) {
			unsigned int end = offset + skb_frag_size(&shinfo->frags[i]);

			if (end >= len) {
				skb_frag_size_set(&shinfo->frags[i], len - offset);
				i++;
				cut = true;
				break;
			}
			offset = end;
		}
		if (!cut) {
			/* Every page fragment stays; the cut is in frag_list. */
			for (fragp = &shinfo->frag_list; (frag = *fragp); fragp = &frag->next) {
				unsigned int end = offset + frag->len;

				if (skb_shared(frag)) {
					struct sk_buff *nfrag = skb_clone(frag, GFP_ATOMIC);

					if (unlikely(!nfrag))
						return -ENOMEM;
					nfrag->next = frag->next;
					consume_skb(frag);
					frag = nfrag;
					*fragp = frag;
				}
				if (end < len) {
					offset = end;
					continue;
				}
				if (end > len) {
					err = pskb_trim(frag, len - offset);
					if (unlikely(err))
						return err;
				}
				if (frag->next) {
					kfree_skb_list(frag->next);
					frag->next = NULL;
				}
				break;
			}
			goto done;
		}
	}
	/* Fragments from i on are cut off entirely, and so is any frag_list. */
	shinfo->nr_frags = i;
	for (; i < nfrags; i++)
		put_page(skb_frag_page(&shinfo->frags[i]));
	if (skb_has_frag_list(skb)) {
		kfree_skb_list(shinfo->frag_list);
		shinfo->frag_list = NULL;
	}
done:
	if (len > skb_headlen(skb)) {
		skb->data_len -= skb->len - len;
		skb->len = len;
	} else {
		skb->len = len;
		skb->data_len = 0;
		skb_set_tail_pointer(skb, len);
	}
	if (!skb->sk)
		side_skb_condense(skb);
	return 0;
}

/*
 * Moves `delta` bytes from the paged part (fragments, then frag_list) into the linear part, expanding the head if
 * needed. NULL (skb unchanged) on allocation failure.
 */
void *__pskb_pull_tail(struct sk_buff *skb, int delta)
{
	struct skb_shared_info *shinfo;
	int i, k, eat = (skb->tail + delta) - skb->end;

	if (eat > 0 || skb_cloned(skb)) {
		if (pskb_expand_head(skb, 0, eat > 0 ? eat + 128 : 0, GFP_ATOMIC))
			return NULL;
	}
	if (skb_copy_bits(skb, skb_headlen(skb), skb_tail_pointer(skb), delta))
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "__pskb_pull_tail(%d): skb has only %u paged bytes", delta,
			   skb->data_len);
	shinfo = skb_shinfo(skb);

	if (skb_has_frag_list(skb)) {
		/* How much of the pull comes from frag_list rather than the page fragments. */
		eat = delta;
		for (i = 0; i < shinfo->nr_frags && eat > 0; i++)
			eat -= min_t(int, eat, skb_frag_size(&shinfo->frags[i]));
		if (eat) {
			struct sk_buff *list = shinfo->frag_list, *clone = NULL, *insp = NULL;

			do {
				if (list->len <= eat) {
					eat -= list->len;
					list = list->next;
					insp = list;
				} else {
					if (skb_shared(list)) {
						clone = skb_clone(list, GFP_ATOMIC);
						if (!clone)
							return NULL;
						insp = list->next;
						list = clone;
					} else {
						insp = list;
					}
					if (!pskb_pull(list, eat)) {
						kfree_skb(clone);
						return NULL;
					}
					break;
				}
			} while (eat);

			while ((list = shinfo->frag_list) != insp) {
				shinfo->frag_list = list->next;
				consume_skb(list);
			}
			if (clone) {
				clone->next = list;
				shinfo->frag_list = clone;
			}
		}
	}

	eat = delta;
	k = 0;
	for (i = 0; i < shinfo->nr_frags; i++) {
		int size = skb_frag_size(&shinfo->frags[i]);

		if (size <= eat) {
			put_page(skb_frag_page(&shinfo->frags[i]));
			eat -= size;
		} else {
			skb_frag_t *frag = &shinfo->frags[k];

			*frag = shinfo->frags[i];
			if (eat) {
				skb_frag_off_add(frag, eat);
				skb_frag_size_sub(frag, eat);
				eat = 0;
			}
			k++;
		}
	}
	shinfo->nr_frags = k;

	skb->tail += delta;
	skb->data_len -= delta;
	return skb_tail_pointer(skb);
}

/* Copies len bytes from offset (negative: into the headroom) of an skb, across fragments and frag_list. */
int skb_copy_bits(const struct sk_buff *skb, int offset, void *to, int len)
{
	int start = skb_headlen(skb);
	struct sk_buff *frag_iter;
	int i, copy;

	if (len < 0 || offset > (int)skb->len - len)
		return -EFAULT;

	copy = start - offset;
	if (copy > 0) {
		copy = min(copy, len);
		memcpy(to, skb->data + offset, copy);
		len -= copy;
		offset += copy;
		to += copy;
		if (!len)
			return 0;
	}

	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		const skb_frag_t *f = &skb_shinfo(skb)->frags[i];
		int end = start + skb_frag_size(f);

		copy = end - offset;
		if (copy > 0) {
			u32 p_off, p_len, copied;
			struct page *p;

			copy = min(copy, len);
			skb_frag_foreach_page(f, skb_frag_off(f) + offset - start, copy, p, p_off, p_len, copied) {
				u8 *vaddr = kmap_local_page(p);

				memcpy(to + copied, vaddr + p_off, p_len);
				kunmap_local(vaddr);
			}
			len -= copy;
			offset += copy;
			to += copy;
			if (!len)
				return 0;
		}
		start = end;
	}

	skb_walk_frags(skb, frag_iter) {
		int end = start + frag_iter->len;

		copy = end - offset;
		if (copy > 0) {
			copy = min(copy, len);
			if (skb_copy_bits(frag_iter, offset - start, to, copy))
				return -EFAULT;
			len -= copy;
			offset += copy;
			to += copy;
			if (!len)
				return 0;
		}
		start = end;
	}
	return len ? -EFAULT : 0;
}

/*
 * Copies a whole frame for a device that cannot gather or checksum (8139too): with CHECKSUM_PARTIAL the checksum from
 * csum_start to the end is computed on the copy and stored at csum_offset, as the stack asked the device to.
 */
void skb_copy_and_csum_dev(const struct sk_buff *skb, u8 *to)
{
	unsigned int csstart = skb->ip_summed == CHECKSUM_PARTIAL ? skb_checksum_start_offset(skb) : skb_headlen(skb);

	if (csstart > skb_headlen(skb))
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "skb_copy_and_csum_dev: checksum start %u past the head (%u)",
			   csstart, skb_headlen(skb));
	if (skb_copy_bits(skb, 0, to, skb->len))
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "skb_copy_and_csum_dev: skb %px is shorter than its length",
			   skb);
	if (skb->ip_summed != CHECKSUM_PARTIAL)
		return;
	if (csstart + skb->csum_offset + sizeof(__sum16) > skb->len)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "skb_copy_and_csum_dev: checksum field past the frame");
	*(__sum16 *)(to + csstart + skb->csum_offset) = csum_fold(csum_partial(to + csstart, skb->len - csstart, 0));
}

/* Zero-fills `pad` bytes after the data, making the skb linear and private first if it has to. */
int __skb_pad(struct sk_buff *skb, int pad, bool free_on_error)
{
	int err, ntail;

	if (!skb_cloned(skb) && skb_tailroom(skb) >= pad) {
		memset(skb->data + skb->len, 0, pad);
		return 0;
	}
	ntail = skb->data_len + pad - (skb->end - skb->tail);
	if (likely(skb_cloned(skb) || ntail > 0)) {
		err = pskb_expand_head(skb, 0, ntail, GFP_ATOMIC);
		if (unlikely(err))
			goto free_skb;
	}
	err = skb_linearize(skb);
	if (unlikely(err))
		goto free_skb;
	memset(skb->data + skb->len, 0, pad);
	return 0;

free_skb:
	if (free_on_error)
		kfree_skb(skb);
	return err;
}

/* Zero-copy skbs (user pages) never exist in side; if one appeared, copying it is not something we can do. */
int skb_copy_ubufs(struct sk_buff *skb, gfp_t gfp_mask)
{
	side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "skb_copy_ubufs: zero-copy skbs are not supported");
}

/* ---- timestamps ---------------------------------------------------------------------------------------------- */

/*
 * Transmit timestamps go to the sending socket (software stamps) or a PHY timestamper (PTP frames of a socket).
 * side's skbs come from the host, never from a socket, and its devices have no PHY timestampers: there is nobody
 * to deliver a stamp to, which is exactly when the kernel does nothing too.
 */
void skb_clone_tx_timestamp(struct sk_buff *skb)
{
	if (!skb->sk || !skb->dev || !skb->dev->phydev)
		return;
	side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "skb_clone_tx_timestamp: PHY timestamping is not supported");
}

void skb_tstamp_tx(struct sk_buff *orig_skb, struct skb_shared_hwtstamps *hwtstamps)
{
	if (!orig_skb->sk)
		return;
	side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "skb_tstamp_tx: an skb with a socket in side");
}

void skb_complete_tx_timestamp(struct sk_buff *skb, struct skb_shared_hwtstamps *hwtstamps)
{
	/* The stamp has no socket to go to; the clone is released, as the kernel does without a socket. */
	consume_skb(skb);
}

/* Receive timestamps are deferred only for a PHY with a timestamper (mii_ts); side's devices have none. */
bool skb_defer_rx_timestamp(struct sk_buff *skb)
{
	if (!skb->dev || !skb->dev->phydev || !skb->dev->phydev->mii_ts)
		return false;
	side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "skb_defer_rx_timestamp: PHY timestamping is not supported");
}
