// SPDX-License-Identifier: GPL-2.0-only
/*
 * --isolation sfi: where each vCPU's stacks continue at a crossing between driver code and the layer (sfi_abi.h,
 * sfi_thunks.S). A per-cpu variable of the layer: the layer's per-cpu data is never granted to a driver, so no
 * driver code can move where the layer's stack continues. The host sets driver_sp to the top of the vCPU's driver
 * stack when a guarded call begins, and puts both values back when it ends (a fault unwinds past the crossings).
 *
 * side calls a driver module's init and exit functions through the layer, so that in sfi mode they too are entered
 * through the layer's (checked, stack-switching) indirect thunk; in the other modes this is one plain call more.
 */
#include <linux/percpu.h>

#include "sfi_abi.h"

DEFINE_PER_CPU(struct side_sfi_crossing, side_kapi_sfi_crossing);

int side_kapi_call_init(int (*init)(void))
{
	return init();
}

void side_kapi_call_exit(void (*exit)(void))
{
	exit();
}
