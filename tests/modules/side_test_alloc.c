// SPDX-License-Identifier: GPL-2.0-only
/* kmalloc, slab caches, pages and vmalloc: sizes, zeroing, alignment and the page/virtual address mapping. */
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <asm/io.h>

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			pr_err("side_test_alloc: check failed: %s (line %d)\n", #cond, __LINE__); \
			return -EIO;                                                 \
		}                                                                    \
	} while (0)

struct item {
	u64 a, b;
};

static void item_ctor(void *p)
{
	((struct item *)p)->a = 0x5a5a;
}

static int __init side_test_alloc_init(void)
{
	u8 *small, *big, *zeroed;
	struct kmem_cache *cache;
	struct item *it;
	struct page *page;
	void *v;
	int i;

	small = kmalloc(24, GFP_KERNEL);
	CHECK(small);
	CHECK(ksize(small) >= 24);
	memset(small, 0xab, 24);
	big = kmalloc(20000, GFP_KERNEL);
	CHECK(big);
	CHECK(ksize(big) >= 20000);
	memset(big, 1, 20000);
	zeroed = kzalloc(300, GFP_KERNEL);
	CHECK(zeroed);
	for (i = 0; i < 300; i++)
		CHECK(zeroed[i] == 0);
	CHECK(kmalloc(0, GFP_KERNEL) == ZERO_SIZE_PTR);
	kfree(small);
	kfree(big);
	kfree(zeroed);
	kfree(NULL);

	cache = kmem_cache_create("side_test_items", sizeof(struct item), 64, 0, item_ctor);
	CHECK(cache);
	it = kmem_cache_alloc(cache, GFP_KERNEL);
	CHECK(it);
	CHECK(it->a == 0x5a5a);
	CHECK(IS_ALIGNED((unsigned long)it, 64));
	kmem_cache_free(cache, it);
	kmem_cache_destroy(cache);

	page = alloc_pages(GFP_KERNEL | __GFP_ZERO, 2);
	CHECK(page);
	CHECK(virt_to_page(page_address(page)) == page);
	CHECK(page_to_pfn(page) == virt_to_phys(page_address(page)) >> PAGE_SHIFT);
	CHECK(((u8 *)page_address(page))[4 * PAGE_SIZE - 1] == 0);
	CHECK(page_ref_count(page) == 1);
	__free_pages(page, 2);

	page = alloc_pages(GFP_KERNEL | __GFP_COMP, 1);
	CHECK(page);
	CHECK(PageHead(page));
	CHECK(compound_head(page + 1) == page);
	get_page(page);
	put_page(page);
	put_page(page); /* the last reference frees the compound page */

	v = vzalloc(3 * PAGE_SIZE + 5);
	CHECK(v);
	CHECK(is_vmalloc_addr(v));
	CHECK(!is_vmalloc_addr(&i));
	vfree(v);

	pr_info("side_test_alloc: ok\n");
	return 0;
}

module_init(side_test_alloc_init);
MODULE_LICENSE("GPL");
