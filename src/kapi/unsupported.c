// SPDX-License-Identifier: GPL-2.0-only
/* The reporter behind unsupported_calls.S's entries, and the data objects that belong with them. */
#include <net/flow_dissector.h>

#include "kapi.h"

static const char *const side_unsupported_reasons[] = {
	"side runs no failover pair (net_failover/VIRTIO_NET_F_STANDBY): a domain holds one device",
	"side has no flow dissector: no receive offload that needs one is negotiated",
	"side's socket buffers carry no connection-tracking entry",
};

/* The flow dissector's key set for basic keys; empty, as nothing in a domain dissects (see unsupported_calls.S). */
struct flow_dissector flow_keys_basic_dissector;

void __noreturn side_unsupported_call(const char *name, unsigned int reason, unsigned long caller);

void __noreturn side_unsupported_call(const char *name, unsigned int reason, unsigned long caller)
{
	side_fault(SIDE_FAULT_MISSING_SYMBOL, caller, "call to unsupported kernel function %s(): %s", name,
		   reason < ARRAY_SIZE(side_unsupported_reasons) ? side_unsupported_reasons[reason] : "?");
}
