// SPDX-License-Identifier: GPL-2.0-only
/*
 * Chained scatterlist tables (lib/sg_pool.c, lib/scatterlist.c): a table of `nents` entries that starts in the
 * caller's first chunk (a request's inline entries) and continues in chunks of SG_CHUNK_SIZE, each chunk's last
 * entry a chain link to the next. Only the chunks allocated here are freed here.
 */
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "kapi.h"

static void side_sg_free_chunks(struct sg_table *table, unsigned int first_chunk_ents)
{
	struct scatterlist *sgl = table->sgl;
	unsigned int left = table->orig_nents;
	bool first = first_chunk_ents != 0;

	while (left && sgl) {
		unsigned int max_ents = first ? first_chunk_ents : SG_CHUNK_SIZE;
		struct scatterlist *next = NULL;
		unsigned int used = left;

		if (left > max_ents) {
			next = sg_chain_ptr(&sgl[max_ents - 1]);
			used = max_ents - 1;
		}
		left -= used;
		if (!first)
			kfree(sgl);
		first = false;
		sgl = next;
	}
	table->sgl = NULL;
	table->nents = table->orig_nents = 0;
}

void sg_free_table_chained(struct sg_table *table, unsigned int nents_first_chunk)
{
	if (table->orig_nents <= nents_first_chunk)
		return;
	if (nents_first_chunk == 1)
		nents_first_chunk = 0;
	side_sg_free_chunks(table, nents_first_chunk);
}

/* Builds the chunks: each holds up to its capacity, one entry less when another chunk follows (the link). */
static int side_sg_build(struct sg_table *table, unsigned int nents, struct scatterlist *first_chunk,
			 unsigned int first_ents)
{
	struct scatterlist *prev = NULL;
	unsigned int prev_max = 0, left = nents;

	while (left) {
		unsigned int max_ents = (!prev && first_chunk) ? first_ents : SG_CHUNK_SIZE;
		unsigned int used = left > max_ents ? max_ents - 1 : left;
		unsigned int alloc = left > max_ents ? max_ents : left;
		struct scatterlist *sg;

		if (!prev && first_chunk) {
			sg = first_chunk;
		} else {
			sg = kmalloc_array(alloc, sizeof(*sg), GFP_ATOMIC);
			if (!sg)
				return -ENOMEM;
		}
		sg_init_table(sg, alloc);
		table->nents = table->orig_nents += used;
		if (prev)
			sg_chain(prev, prev_max, sg);
		else
			table->sgl = sg;
		left -= used;
		if (!left)
			sg_mark_end(&sg[used - 1]);
		prev = sg;
		prev_max = max_ents;
	}
	return 0;
}

int sg_alloc_table_chained(struct sg_table *table, int nents, struct scatterlist *first_chunk,
			   unsigned int nents_first_chunk)
{
	int ret;

	if (nents <= 0)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "sg_alloc_table_chained of %d entries", nents);
	if (first_chunk && nents_first_chunk && (unsigned int)nents <= nents_first_chunk) {
		table->nents = table->orig_nents = nents;
		sg_init_table(table->sgl, nents);
		return 0;
	}
	/* A first chunk of one entry would hold nothing but the link. */
	if (nents_first_chunk <= 1) {
		first_chunk = NULL;
		nents_first_chunk = 0;
	}
	table->sgl = NULL;
	table->nents = table->orig_nents = 0;
	ret = side_sg_build(table, nents, first_chunk, nents_first_chunk);
	if (ret)
		sg_free_table_chained(table, nents_first_chunk);
	return ret;
}
