// SPDX-License-Identifier: GPL-2.0-only
/* The reporter behind unsupported_calls.S's entries, and the data objects that belong with them. */
#include <linux/ioctl.h>
#include <linux/sed-opal.h>
#include <net/flow_dissector.h>

#include "kapi.h"

static const char *const side_unsupported_reasons[] = {
	"side runs no failover pair (net_failover/VIRTIO_NET_F_STANDBY): a domain holds one device",
	"side has no flow dissector: no receive offload that needs one is negotiated",
	"side's socket buffers carry no connection-tracking entry",
	"no tracer attaches to a domain's tracepoints or events, so their probes and output never run",
	"no user process reaches a domain: ioctls, user passthrough commands and io_uring commands are never issued",
	"side runs no NVMe multipath head: a domain holds one controller of a subsystem",
	"zoned block devices are not offered",
	"block integrity metadata is not offered",
	"a domain is never suspended (no system sleep, no PCI error recovery)",
	"self-encrypting drives (TCG Opal) are not offered",
	"SR-IOV is not offered: a domain's functions have no virtual functions",
	"controller memory buffers and PCI peer-to-peer memory are not offered",
	"NVMe over fabrics is not offered",
	"no sysfs write reaches a domain",
	"a driver that gives up on its device is restarted by side's recovery, never left unbound",
	"static keys never change in a domain: side applies no jump-label code patching",
};

/* The flow dissector's key set for basic keys; empty, as nothing in a domain dissects (see unsupported_calls.S). */
struct flow_dissector flow_keys_basic_dissector;

void __noreturn side_unsupported_call(const char *name, unsigned int reason, unsigned long caller);

void __noreturn side_unsupported_call(const char *name, unsigned int reason, unsigned long caller)
{
	side_fault(SIDE_FAULT_MISSING_SYMBOL, caller, "call to unsupported kernel function %s(): %s", name,
		   reason < ARRAY_SIZE(side_unsupported_reasons) ? side_unsupported_reasons[reason] : "?");
}

/* free_opal_dev(NULL) is what every remove does; a real Opal device cannot exist (init_opal_dev is a fault). */
void free_opal_dev(struct opal_dev *dev)
{
	if (dev)
		side_unsupported_call("free_opal_dev", 9, SIDE_CALLER);
}
