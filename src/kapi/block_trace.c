// SPDX-License-Identifier: GPL-2.0-only
/*
 * The block layer's tracepoints drivers fire (include/trace/events/block.h): registered with no probe, their
 * static keys off, as in a kernel no tracer attached to. A call site runs only while its key is on; the static
 * call trampolines (tracepoints.S) return at once, as a tracepoint without probes does.
 */
#include <linux/jump_label.h>
#include <linux/static_call_types.h>
#include <linux/tracepoint-defs.h>

#include "kapi.h"

struct static_call_key __SCK__tp_func_block_bio_complete;
struct tracepoint __tracepoint_block_bio_complete = {
	.name = "block_bio_complete",
	.key = STATIC_KEY_INIT_FALSE,
};

struct static_call_key __SCK__tp_func_block_bio_remap;
struct tracepoint __tracepoint_block_bio_remap = {
	.name = "block_bio_remap",
	.key = STATIC_KEY_INIT_FALSE,
};
