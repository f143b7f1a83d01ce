// SPDX-License-Identifier: GPL-2.0-only
/*
 * kmalloc, slab caches and vmalloc. Every allocation is made and tracked by the host (kmalloc memory lives in the
 * domain's DMA-able arena, vmalloc memory in private memory), so freeing something never allocated, freeing twice
 * and exceeding the domain's memory limit are detected there. A kmem_cache here is only a size, an alignment and
 * a constructor; the objects themselves are host allocations.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "kapi.h"

struct side_cache {
	const char *name;
	unsigned int size;
	unsigned int align;
	slab_flags_t flags;
	void (*ctor)(void *);
	atomic_long_t live;
};

#define SIDE_CACHE(s) ((struct side_cache *)(s))

struct kmem_cache *kmalloc_caches[NR_KMALLOC_TYPES][KMALLOC_SHIFT_HIGH + 1] __ro_after_init;
static struct side_cache side_kmalloc_caches[NR_KMALLOC_TYPES][KMALLOC_SHIFT_HIGH + 1];

int side_kapi_slab_init(void)
{
	int type, index;

	for (type = 0; type < NR_KMALLOC_TYPES; type++) {
		for (index = 1; index <= KMALLOC_SHIFT_HIGH; index++) {
			struct side_cache *c = &side_kmalloc_caches[type][index];

			if (index == 1)
				c->size = 96;
			else if (index == 2)
				c->size = 192;
			else if (index < KMALLOC_SHIFT_LOW)
				continue;
			else
				c->size = 1U << index;
			c->name = "kmalloc";
			c->align = ARCH_KMALLOC_MINALIGN;
			kmalloc_caches[type][index] = (struct kmem_cache *)c;
		}
	}
	return 0;
}

static void *side_alloc(size_t size, size_t align, gfp_t flags)
{
	void *p;

	if (!size)
		return ZERO_SIZE_PTR;
	p = side_host_kmalloc(size, align < ARCH_KMALLOC_MINALIGN ? ARCH_KMALLOC_MINALIGN : align);
	if (!p) {
		if (!(flags & __GFP_NOWARN))
			pr_warn("side: kmalloc: allocation of %zu bytes failed\n", size);
		return NULL;
	}
	if (flags & __GFP_ZERO)
		memset(p, 0, size);
	return p;
}

void *kmalloc_trace(struct kmem_cache *s, gfp_t flags, size_t size)
{
	return side_alloc(SIDE_CACHE(s)->size, 0, flags);
}

void *kmalloc_node_trace(struct kmem_cache *s, gfp_t flags, int node, size_t size)
{
	return side_alloc(SIDE_CACHE(s)->size, 0, flags);
}

void *__kmalloc(size_t size, gfp_t flags)
{
	return side_alloc(kmalloc_size_roundup(size), 0, flags);
}

void *__kmalloc_node(size_t size, gfp_t flags, int node)
{
	return __kmalloc(size, flags);
}

void *__kmalloc_node_track_caller(size_t size, gfp_t flags, int node, unsigned long caller)
{
	return __kmalloc(size, flags);
}

void *kmalloc_large(size_t size, gfp_t flags)
{
	return side_alloc(PAGE_ALIGN(size), PAGE_SIZE, flags);
}

void *kmalloc_large_node(size_t size, gfp_t flags, int node)
{
	return kmalloc_large(size, flags);
}

size_t kmalloc_size_roundup(size_t size)
{
	unsigned int index;

	if (size <= KMALLOC_MIN_SIZE)
		return KMALLOC_MIN_SIZE;
	if (size > KMALLOC_MAX_CACHE_SIZE)
		return PAGE_ALIGN(size);
	if (size > 64 && size <= 96)
		return 96;
	if (size > 128 && size <= 192)
		return 192;
	index = fls64(size - 1);
	return (size_t)1 << index;
}

void kfree(const void *p)
{
	if (ZERO_OR_NULL_PTR(p))
		return;
	side_host_kfree(p, SIDE_CALLER);
}

void kfree_sensitive(const void *p)
{
	size_t n;

	if (ZERO_OR_NULL_PTR(p))
		return;
	n = side_host_ksize(p);
	if (n)
		memzero_explicit((void *)p, n);
	side_host_kfree(p, SIDE_CALLER);
}

size_t __ksize(const void *p)
{
	if (ZERO_OR_NULL_PTR(p))
		return 0;
	return side_host_ksize(p);
}

size_t ksize(const void *p)
{
	return __ksize(p);
}

void *krealloc(const void *p, size_t new_size, gfp_t flags)
{
	size_t old = __ksize(p);
	void *n;

	if (!new_size) {
		kfree(p);
		return ZERO_SIZE_PTR;
	}
	if (old >= new_size)
		return (void *)p;
	n = __kmalloc(new_size, flags);
	if (n && !ZERO_OR_NULL_PTR(p)) {
		memcpy(n, p, old);
		kfree(p);
	}
	return n;
}

void *kmemdup(const void *src, size_t len, gfp_t gfp)
{
	void *p = __kmalloc(len, gfp);

	if (p)
		memcpy(p, src, len);
	return p;
}

char *kstrdup(const char *s, gfp_t gfp)
{
	return s ? kmemdup(s, strlen(s) + 1, gfp) : NULL;
}

char *kstrndup(const char *s, size_t max, gfp_t gfp)
{
	size_t len;
	char *buf;

	if (!s)
		return NULL;
	len = strnlen(s, max);
	buf = __kmalloc(len + 1, gfp);
	if (buf) {
		memcpy(buf, s, len);
		buf[len] = '\0';
	}
	return buf;
}

const char *kstrdup_const(const char *s, gfp_t gfp)
{
	return kstrdup(s, gfp);
}

void kfree_const(const void *x)
{
	kfree(x);
}

struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, unsigned int align,
				     slab_flags_t flags, void (*ctor)(void *))
{
	struct side_cache *c = kzalloc(sizeof(*c), GFP_KERNEL);

	if (!c)
		return NULL;
	c->name = kstrdup_const(name, GFP_KERNEL);
	c->size = ALIGN(size, sizeof(void *));
	c->align = (flags & SLAB_HWCACHE_ALIGN) ? max_t(unsigned int, align, L1_CACHE_BYTES) : align;
	c->flags = flags;
	c->ctor = ctor;
	return (struct kmem_cache *)c;
}

struct kmem_cache *kmem_cache_create_usercopy(const char *name, unsigned int size, unsigned int align,
					      slab_flags_t flags, unsigned int useroffset, unsigned int usersize,
					      void (*ctor)(void *))
{
	return kmem_cache_create(name, size, align, flags, ctor);
}

void kmem_cache_destroy(struct kmem_cache *s)
{
	struct side_cache *c = SIDE_CACHE(s);

	if (!c)
		return;
	if (atomic_long_read(&c->live))
		pr_err("kmem_cache_destroy %s: Slab cache still has objects\n", c->name);
	kfree_const(c->name);
	kfree(c);
}

void *kmem_cache_alloc(struct kmem_cache *s, gfp_t flags)
{
	struct side_cache *c = SIDE_CACHE(s);
	void *p = side_alloc(c->size, c->align, flags);

	if (p) {
		atomic_long_inc(&c->live);
		if (c->ctor)
			c->ctor(p);
	}
	return p;
}

void *kmem_cache_alloc_lru(struct kmem_cache *s, struct list_lru *lru, gfp_t flags)
{
	return kmem_cache_alloc(s, flags);
}

void *kmem_cache_alloc_node(struct kmem_cache *s, gfp_t flags, int node)
{
	return kmem_cache_alloc(s, flags);
}

void kmem_cache_free(struct kmem_cache *s, void *p)
{
	if (!p)
		return;
	side_host_kfree(p, SIDE_CALLER);
	atomic_long_dec(&SIDE_CACHE(s)->live);
}

int kmem_cache_alloc_bulk(struct kmem_cache *s, gfp_t flags, size_t nr, void **p)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		p[i] = kmem_cache_alloc(s, flags);
		if (!p[i]) {
			while (i--)
				kmem_cache_free(s, p[i]);
			return 0;
		}
	}
	return nr;
}

void kmem_cache_free_bulk(struct kmem_cache *s, size_t nr, void **p)
{
	while (nr--)
		kmem_cache_free(s, p[nr]);
}

unsigned int kmem_cache_size(struct kmem_cache *s)
{
	return SIDE_CACHE(s)->size;
}

/* vmalloc: private memory of the domain, never DMA-able. */
void *vmalloc(unsigned long size)
{
	return size ? side_host_vmalloc(size) : NULL;
}

void *vzalloc(unsigned long size)
{
	void *p = vmalloc(size);

	if (p)
		memset(p, 0, size);
	return p;
}

void *vmalloc_node(unsigned long size, int node)
{
	return vmalloc(size);
}

void *vzalloc_node(unsigned long size, int node)
{
	return vzalloc(size);
}

void *__vmalloc(unsigned long size, gfp_t gfp)
{
	return (gfp & __GFP_ZERO) ? vzalloc(size) : vmalloc(size);
}

void vfree(const void *addr)
{
	if (addr)
		side_host_vfree(addr, SIDE_CALLER);
}

bool is_vmalloc_addr(const void *x)
{
	return side_host_is_vmalloc(x);
}

void *kvmalloc_node(size_t size, gfp_t flags, int node)
{
	return __kmalloc(size, flags);
}

void kvfree(const void *addr)
{
	if (is_vmalloc_addr(addr))
		vfree(addr);
	else
		kfree(addr);
}

void kvfree_sensitive(const void *addr, size_t len)
{
	if (addr) {
		memzero_explicit((void *)addr, len);
		kvfree(addr);
	}
}
