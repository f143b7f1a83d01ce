// SPDX-License-Identifier: GPL-2.0-only
/*
 * Socket buffers: put/push/pull/trim, clones sharing data, pskb_expand_head, padding, skb_copy_bits across page
 * fragments, ___pskb_trim and __pskb_pull_tail on a paged skb, page-fragment heads, and (with double_free=1) a
 * second kfree_skb of the same skb.
 */
#include <linux/etherdevice.h>
#include <linux/gfp.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>

static int double_free;
module_param(double_free, int, 0444);

#define CHECK(cond)                                                                                  \
	do {                                                                                         \
		if (!(cond)) {                                                                       \
			pr_err("side_test_skb: check failed: %s (line %d)\n", #cond, __LINE__);      \
			return -EIO;                                                                 \
		}                                                                                    \
	} while (0)

static int test_linear(void)
{
	struct sk_buff *skb = alloc_skb(128, GFP_KERNEL), *clone;
	u8 *p, buf[64];
	int i;

	CHECK(skb);
	CHECK(skb->len == 0 && skb_headroom(skb) == 0 && skb_tailroom(skb) >= 128);
	CHECK(refcount_read(&skb->users) == 1 && atomic_read(&skb_shinfo(skb)->dataref) == 1);
	skb_reserve(skb, 16);
	p = skb_put(skb, 20);
	for (i = 0; i < 20; i++)
		p[i] = i;
	CHECK(skb->len == 20 && skb_headroom(skb) == 16 && skb_tail_pointer(skb) == skb->data + 20);
	p = skb_push(skb, 4);
	memset(p, 0xee, 4);
	CHECK(skb->len == 24 && skb_headroom(skb) == 12);
	skb_pull(skb, 6);
	CHECK(skb->len == 18 && skb->data[0] == 2);
	skb_trim(skb, 10);
	CHECK(skb->len == 10 && skb->data[9] == 11);
	skb_trim(skb, 50); /* longer than the data: no change */
	CHECK(skb->len == 10);

	/* A clone shares the data; expanding the clone's head gives it a private copy. */
	clone = skb_clone(skb, GFP_KERNEL);
	CHECK(clone && clone->data == skb->data && skb_cloned(skb) && skb_cloned(clone));
	CHECK(atomic_read(&skb_shinfo(skb)->dataref) == 2);
	CHECK(pskb_expand_head(clone, 32, 0, GFP_KERNEL) == 0);
	CHECK(clone->data != skb->data && !skb_cloned(clone) && skb_headroom(clone) >= 32 + 10);
	CHECK(clone->len == 10 && !memcmp(clone->data, skb->data, 10));
	clone->data[0] = 0x55;
	CHECK(skb->data[0] == 2);
	CHECK(atomic_read(&skb_shinfo(skb)->dataref) == 1);
	kfree_skb(clone);

	/* Padding beyond the tailroom reallocates and zero-fills. */
	skb_trim(skb, 10);
	CHECK(__skb_pad(skb, skb_tailroom(skb) + 100, false) == 0);
	CHECK(skb->len == 10 && skb_tailroom(skb) >= 100);
	memset(buf, 0xaa, sizeof(buf));
	CHECK(skb_copy_bits(skb, 0, buf, 10) == 0 && buf[0] == 2 && buf[9] == 11 && buf[10] == 0xaa);
	CHECK(skb->data[10] == 0 && skb->data[10 + 99] == 0);
	CHECK(skb_copy_bits(skb, 5, buf, 6) == -EFAULT);
	/* eth_skb_pad pads to ETH_ZLEN. */
	CHECK(eth_skb_pad(skb) == 0 && skb->len == ETH_ZLEN && skb->data[ETH_ZLEN - 1] == 0);
	consume_skb(skb);
	return 0;
}

static int test_paged(void)
{
	struct page *p1 = alloc_page(GFP_KERNEL), *p2 = alloc_page(GFP_KERNEL);
	struct sk_buff *skb = alloc_skb(64, GFP_KERNEL);
	u8 buf[64], *h;
	int i;

	CHECK(p1 && p2 && skb);
	for (i = 0; i < 32; i++) {
		((u8 *)page_address(p1))[100 + i] = 0x40 + i; /* frag 0: 0x40.. at page offset 100 */
		((u8 *)page_address(p2))[i] = 0x80 + i;       /* frag 1: 0x80.. */
	}
	h = skb_put(skb, 8);
	for (i = 0; i < 8; i++)
		h[i] = i;
	/* Our own reference on each page lets us watch the skb's. */
	get_page(p1);
	get_page(p2);
	skb_add_rx_frag(skb, 0, p1, 100, 16, PAGE_SIZE);
	skb_add_rx_frag(skb, 1, p2, 0, 32, PAGE_SIZE);
	CHECK(skb->len == 56 && skb->data_len == 48 && skb_headlen(skb) == 8);
	CHECK(page_ref_count(p1) == 2 && page_ref_count(p2) == 2);

	/* A copy across the linear part and both fragments. */
	CHECK(skb_copy_bits(skb, 6, buf, 20) == 0);
	CHECK(buf[0] == 6 && buf[1] == 7 && buf[2] == 0x40 && buf[17] == 0x4f && buf[18] == 0x80 && buf[19] == 0x81);

	/* Pull 10 bytes into the head: the first 10 of frag 0. */
	CHECK(__pskb_pull_tail(skb, 10));
	CHECK(skb_headlen(skb) == 18 && skb->data[8] == 0x40 && skb->data[17] == 0x49);
	CHECK(skb_shinfo(skb)->nr_frags == 2 && skb_frag_off(&skb_shinfo(skb)->frags[0]) == 110 &&
	      skb_frag_size(&skb_shinfo(skb)->frags[0]) == 6);
	CHECK(page_ref_count(p1) == 2);

	/* Pulling all of frag 0 and part of frag 1 drops frag 0's page reference. */
	{
		struct sk_buff *clone = skb_clone(skb, GFP_KERNEL);

		CHECK(clone);
		/*
		 * Trimming the cloned original gives it a private head with its own page references (3 each); the
		 * remaining 12 paged bytes then fit its tailroom, so they are pulled in and those references go (2).
		 */
		CHECK(___pskb_trim(skb, 30) == 0);
		CHECK(skb->len == 30 && !skb_cloned(skb) && !skb_is_nonlinear(skb) && skb_shinfo(skb)->nr_frags == 0);
		CHECK(page_ref_count(p1) == 2 && page_ref_count(p2) == 2);
		CHECK(skb_copy_bits(skb, 18, buf, 12) == 0 && buf[0] == 0x4a && buf[5] == 0x4f && buf[6] == 0x80 &&
		      buf[11] == 0x85);
		/* The clone still sees the untrimmed data through the shared fragments. */
		CHECK(clone->len == 56 && skb_copy_bits(clone, 50, buf, 6) == 0 && buf[5] == 0x9f);
		kfree_skb(clone);
		CHECK(page_ref_count(p1) == 1 && page_ref_count(p2) == 1);
	}
	kfree_skb(skb);
	CHECK(page_ref_count(p1) == 1 && page_ref_count(p2) == 1);
	__free_page(p1);
	__free_page(p2);
	return 0;
}

static int test_frags(void)
{
	struct net_device *dummy = kzalloc(sizeof(*dummy), GFP_KERNEL);
	struct sk_buff *skb;
	void *data;
	int i;

	CHECK(dummy);

	/* Medium sizes get a page-fragment head, as __netdev_alloc_skb chooses. */
	skb = netdev_alloc_skb(dummy, 1500);
	CHECK(skb && skb->head_frag && skb->dev == dummy && skb_headroom(skb) == NET_SKB_PAD);
	CHECK(skb_tailroom(skb) >= 1500);
	memset(skb_put(skb, 1500), 0x11, 1500);
	/* The head is a piece of a compound page that holds a reference for it. */
	CHECK(PageHead(virt_to_head_page(skb->data)) && page_ref_count(virt_to_head_page(skb->data)) >= 1);
	dev_kfree_skb_any(skb);
	skb = netdev_alloc_skb(dummy, 100);
	CHECK(skb && !skb->head_frag);
	napi_consume_skb(skb, 64);

	/* build_skb over a fragment: the driver's own receive buffers (e1000's non-copybreak path). */
	for (i = 0; i < 20; i++) {
		unsigned int len = SKB_DATA_ALIGN(2048 + NET_SKB_PAD) + SKB_DATA_ALIGN(sizeof(struct skb_shared_info));

		data = netdev_alloc_frag(len);
		CHECK(data);
		skb = napi_build_skb(data, len);
		CHECK(skb && skb->head_frag && skb->head == data);
		skb_reserve(skb, NET_SKB_PAD);
		skb_put(skb, 1514);
		CHECK(skb_tailroom(skb) >= 2048 - 1514);
		consume_skb(skb);
	}
	kfree(dummy);
	return 0;
}

static int __init side_test_skb_init(void)
{
	struct sk_buff *skb;
	int err;

	if (double_free) {
		skb = alloc_skb(64, GFP_KERNEL);
		kfree_skb(skb);
		pr_info("side_test_skb: freeing again\n");
		kfree_skb(skb);
		pr_err("side_test_skb: survived a double free\n");
		return 0;
	}
	err = test_linear();
	if (!err)
		err = test_paged();
	if (!err)
		err = test_frags();
	if (err)
		return err;
	pr_info("side_test_skb: ok\n");
	return 0;
}

static void __exit side_test_skb_exit(void)
{
}

module_init(side_test_skb_init);
module_exit(side_test_skb_exit);
MODULE_LICENSE("GPL");
