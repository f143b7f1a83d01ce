/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Static-call trampolines of the tracepoints drivers import (net_xdp.c defines the tracepoints). A tracepoint's
 * call site runs only while its static key is on, and no tracer ever turns one on in a domain; were it called, a
 * tracepoint without probes does nothing, which is what this returns to.
 */
#include <linux/linkage.h>
#include <asm/linkage.h>
#include <asm/nospec-branch.h>

SYM_FUNC_START(__SCT__tp_func_xdp_exception)
	RET
SYM_FUNC_END(__SCT__tp_func_xdp_exception)

SYM_FUNC_START(__SCT__tp_func_block_bio_complete)
	RET
SYM_FUNC_END(__SCT__tp_func_block_bio_complete)

SYM_FUNC_START(__SCT__tp_func_block_bio_remap)
	RET
SYM_FUNC_END(__SCT__tp_func_block_bio_remap)
