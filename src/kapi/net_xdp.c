// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP as a domain has it (net/core/xdp.c, net/core/filter.c, kernel/bpf): a driver registers its receive queues'
 * XDP information (real: kept in the queue's xdp_rxq_info, with the kernel's state checks), but no XDP program is
 * ever attached to a device in a domain (the host never calls ndo_bpf, and there is no bpf() system call), so the
 * paths that run, redirect, transmit or free XDP frames are never taken by a correct driver. Reaching one is a
 * detected driver fault naming the function. The static keys and the per-CPU redirect state exist, off and empty.
 */
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/netdevice.h>
#include <net/xdp.h>
#include <trace/events/xdp.h>

#include "kapi.h"

/* net/core/xdp.c's private registration states of an xdp_rxq_info. */
enum side_xdp_reg_state { SIDE_REG_STATE_NEW, SIDE_REG_STATE_REGISTERED, SIDE_REG_STATE_UNREGISTERED,
			  SIDE_REG_STATE_UNUSED };

DEFINE_STATIC_KEY_FALSE(bpf_stats_enabled_key);
DEFINE_STATIC_KEY_FALSE(bpf_master_redirect_enabled_key);
DEFINE_PER_CPU(struct bpf_redirect_info, bpf_redirect_info);

struct static_call_key __SCK__tp_func_xdp_exception;
struct tracepoint __tracepoint_xdp_exception = {
	.name = "xdp_exception",
	.key = STATIC_KEY_INIT_FALSE,
};

int __xdp_rxq_info_reg(struct xdp_rxq_info *xdp_rxq, struct net_device *dev, u32 queue_index, unsigned int napi_id,
		       u32 frag_size)
{
	if (!dev) {
		WARN(1, "Missing net_device from driver");
		return -ENODEV;
	}
	if (xdp_rxq->reg_state == SIDE_REG_STATE_UNUSED) {
		WARN(1, "Driver promised not to register this");
		return -EINVAL;
	}
	if (xdp_rxq->reg_state == SIDE_REG_STATE_REGISTERED) {
		WARN(1, "Missing unregister, handled but fix driver");
		xdp_rxq_info_unreg(xdp_rxq);
	}
	memset(xdp_rxq, 0, sizeof(*xdp_rxq));
	xdp_rxq->dev = dev;
	xdp_rxq->queue_index = queue_index;
	xdp_rxq->napi_id = napi_id;
	xdp_rxq->frag_size = frag_size;
	xdp_rxq->reg_state = SIDE_REG_STATE_REGISTERED;
	return 0;
}

void xdp_rxq_info_unreg(struct xdp_rxq_info *xdp_rxq)
{
	if (xdp_rxq->reg_state == SIDE_REG_STATE_UNUSED)
		return;
	WARN(!(xdp_rxq->reg_state == SIDE_REG_STATE_REGISTERED), "Driver BUG");
	/* No memory model holds anything to release here: page pools are refused below. */
	xdp_rxq->mem.id = 0;
	xdp_rxq->mem.type = 0;
	xdp_rxq->reg_state = SIDE_REG_STATE_UNREGISTERED;
	xdp_rxq->dev = NULL;
}

/* Page-shared and order-0 memory need no allocator; a page pool or an AF_XDP pool would, and neither exists in a
 * domain (page_pool_create() is not provided), so an allocator passed here is no object side made. */
int xdp_rxq_info_reg_mem_model(struct xdp_rxq_info *xdp_rxq, enum xdp_mem_type type, void *allocator)
{
	if (xdp_rxq->reg_state != SIDE_REG_STATE_REGISTERED) {
		WARN(1, "Missing register, driver bug");
		return -EFAULT;
	}
	if (type >= MEM_TYPE_MAX)
		return -EOPNOTSUPP;
	if (allocator)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "XDP memory model %d with allocator %px: no page pool "
			   "or AF_XDP pool exists in a domain", type, allocator);
	if (type == MEM_TYPE_PAGE_POOL)
		return -EINVAL;
	xdp_rxq->mem.type = type;
	xdp_rxq->mem.id = 0;
	return 0;
}

void xdp_warn(const char *msg, const char *func, const int line)
{
	WARN(1, "XDP_WARN: %s(line:%d): %s\n", func, line, msg);
}

#define SIDE_NO_XDP(fn) side_fault(SIDE_FAULT_MISSING_SYMBOL, SIDE_CALLER, "%s(): no XDP program can run in a domain", fn)

unsigned int bpf_dispatcher_xdp_func(const void *ctx, const struct bpf_insn *insnsi, bpf_func_t bpf_func)
{
	SIDE_NO_XDP(__func__);
}

void bpf_prog_add(struct bpf_prog *prog, int i)
{
	SIDE_NO_XDP(__func__);
}

void bpf_prog_sub(struct bpf_prog *prog, int i)
{
	SIDE_NO_XDP(__func__);
}

void bpf_prog_put(struct bpf_prog *prog)
{
	SIDE_NO_XDP(__func__);
}

void bpf_warn_invalid_xdp_action(struct net_device *dev, struct bpf_prog *prog, u32 act)
{
	SIDE_NO_XDP(__func__);
}

void xdp_do_flush(void)
{
	SIDE_NO_XDP(__func__);
}

int xdp_do_redirect(struct net_device *dev, struct xdp_buff *xdp, struct bpf_prog *xdp_prog)
{
	SIDE_NO_XDP(__func__);
}

u32 xdp_master_redirect(struct xdp_buff *xdp)
{
	SIDE_NO_XDP(__func__);
}

void xdp_return_frame(struct xdp_frame *xdpf)
{
	SIDE_NO_XDP(__func__);
}

void xdp_return_frame_rx_napi(struct xdp_frame *xdpf)
{
	SIDE_NO_XDP(__func__);
}

struct xdp_frame *xdp_convert_zc_to_xdp_frame(struct xdp_buff *xdp)
{
	SIDE_NO_XDP(__func__);
}
