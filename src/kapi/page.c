// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pages. The domain's "physical memory" is its DMA-able arena; the host hands out blocks of 2^order pages and keeps
 * the struct page array (vmemmap) for them, so the kernel's inline page_address()/virt_to_page() arithmetic through
 * page_offset_base and vmemmap_base works unchanged in driver code.
 */
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/page_ref.h>
#include <linux/string.h>

#include "kapi.h"

unsigned long page_offset_base __ro_after_init;
unsigned long vmemmap_base __ro_after_init;
unsigned long phys_base __ro_after_init;
DEFINE_STATIC_KEY_FALSE(devmap_managed_key);
DEFINE_STATIC_KEY_FALSE(hugetlb_optimize_vmemmap_key);

static struct side_memory_layout side_layout;

int side_kapi_page_init(void)
{
	side_host_memory_layout(&side_layout);
	if (side_layout.page_struct_size != sizeof(struct page)) {
		pr_err("side: host reserved %llu bytes per struct page, the kernel ABI needs %zu\n",
		       side_layout.page_struct_size, sizeof(struct page));
		return -EINVAL;
	}
	page_offset_base = side_layout.page_offset_base;
	vmemmap_base = side_layout.vmemmap_base;
	return 0;
}

static bool side_page_valid(const struct page *page)
{
	unsigned long pfn = page_to_pfn(page);

	return pfn >= side_layout.first_pfn && pfn < side_layout.first_pfn + side_layout.nr_pages;
}

static void side_prep_pages(struct page *page, unsigned int order, gfp_t gfp)
{
	unsigned long i, nr = 1UL << order;

	for (i = 0; i < nr; i++) {
		memset(&page[i], 0, sizeof(struct page));
		INIT_LIST_HEAD(&page[i].lru);
	}
	set_page_count(page, 1);
	if (order && (gfp & __GFP_COMP)) {
		__SetPageHead(page);
		for (i = 1; i < nr; i++)
			set_compound_head(&page[i], page);
		set_compound_order(page, order);
		set_compound_page_dtor(page, COMPOUND_PAGE_DTOR);
	} else {
		/* Remember the order of a non-compound block for __free_pages() checks. */
		set_page_private(page, order);
	}
}

struct page *alloc_pages(gfp_t gfp, unsigned int order)
{
	void *addr;
	struct page *page;

	if (order > MAX_ORDER - 1)
		return NULL;
	addr = side_host_pages_alloc(order);
	if (!addr) {
		if (!(gfp & __GFP_NOWARN))
			pr_warn("side: page allocation failure: order:%u, mode:%#x\n", order, gfp);
		return NULL;
	}
	page = virt_to_page(addr);
	side_prep_pages(page, order, gfp);
	if (gfp & __GFP_ZERO)
		memset(addr, 0, PAGE_SIZE << order);
	return page;
}

struct page *__alloc_pages(gfp_t gfp, unsigned int order, int preferred_nid, nodemask_t *nodemask)
{
	return alloc_pages(gfp, order);
}

struct folio *__folio_alloc(gfp_t gfp, unsigned int order, int preferred_nid, nodemask_t *nodemask)
{
	return (struct folio *)alloc_pages(gfp | __GFP_COMP, order);
}

static void side_release(struct page *page, unsigned int order, unsigned long caller)
{
	if (!side_page_valid(page))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, caller, "freeing a page that is not domain memory: %px", page);
	if (PageHead(page))
		__ClearPageHead(page);
	side_host_pages_free(page_address(page), order, caller);
}

void __free_pages(struct page *page, unsigned int order)
{
	if (!side_page_valid(page))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "__free_pages of a page that is not domain memory");
	if (page_ref_count(page) <= 0)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "__free_pages of a free page (refcount %d)",
			   page_ref_count(page));
	if (put_page_testzero(page))
		side_release(page, order, SIDE_CALLER);
}

void free_pages(unsigned long addr, unsigned int order)
{
	if (addr)
		__free_pages(virt_to_page((void *)addr), order);
}

unsigned long __get_free_pages(gfp_t gfp, unsigned int order)
{
	struct page *page = alloc_pages(gfp & ~__GFP_HIGHMEM, order);

	return page ? (unsigned long)page_address(page) : 0;
}

unsigned long get_zeroed_page(gfp_t gfp)
{
	return __get_free_pages(gfp | __GFP_ZERO, 0);
}

/* Called when the last reference to a folio is dropped (put_page()). */
void __folio_put(struct folio *folio)
{
	struct page *page = &folio->page;

	side_release(page, folio_test_large(folio) ? folio_order(folio) : 0, SIDE_CALLER);
}

/* side's memory has no ZONE_DEVICE pages, so no page is ever a devmap-managed page. */
bool __put_devmap_managed_page_refs(struct page *page, int refs)
{
	return false;
}

void page_frag_free(void *addr)
{
	struct page *page = virt_to_head_page(addr);

	if (unlikely(put_page_testzero(page)))
		side_release(page, compound_order(page), SIDE_CALLER);
}

/*
 * alloc_pages_exact(): the kernel splits the 2^order block and frees the pages past `size`; the host's allocator
 * takes a block back only whole, so the tail stays with it until free_pages_exact() (same size) returns it all.
 */
void *alloc_pages_exact(size_t size, gfp_t gfp)
{
	if (WARN_ON(gfp & (__GFP_COMP | __GFP_HIGHMEM)))
		gfp &= ~(__GFP_COMP | __GFP_HIGHMEM);
	return (void *)__get_free_pages(gfp, get_order(size));
}

void free_pages_exact(void *virt, size_t size)
{
	if (virt)
		free_pages((unsigned long)virt, get_order(size));
}
