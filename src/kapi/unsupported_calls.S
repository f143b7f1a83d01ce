/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel functions a module imports for a feature a domain does not have, so that the module loads and the call,
 * if a driver ever makes it, is a detected driver fault naming the function and why (unsupported.c) instead of a
 * refused load. Each entry passes its name, its reason and the caller's return address to side_unsupported_call.
 * Only functions that the supported paths of the drivers never reach belong here.
 */
#include <linux/linkage.h>

.macro SIDE_UNSUPPORTED name, reason
	.pushsection .rodata.str1.1, "aMS", @progbits, 1
.Lname_\name:
	.asciz "\name"
	.popsection
SYM_FUNC_START(\name)
	leaq .Lname_\name(%rip), %rdi
	movl $\reason, %esi
	movq (%rsp), %rdx
	jmp side_unsupported_call
SYM_FUNC_END(\name)
.endm

/* Reasons (unsupported.c's table). */
#define SIDE_NO_FAILOVER 0
#define SIDE_NO_FLOW_DISSECTOR 1
#define SIDE_NO_CONNTRACK 2

	.text
/* net/core/failover.c and drivers/net/net_failover.c pair a paravirtual NIC with a passthrough one
 * (VIRTIO_NET_F_STANDBY); a domain holds one device and no stack to enslave it to. */
SIDE_UNSUPPORTED netdev_master_upper_dev_link, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED netdev_upper_dev_unlink, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED netdev_rx_handler_register, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED netdev_rx_handler_unregister, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED __dev_queue_xmit, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED __ethtool_get_link_ksettings, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED dev_open, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED dev_mc_sync_multiple, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED dev_mc_unsync, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED dev_uc_sync_multiple, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED dev_uc_unsync, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED netdev_change_features, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED netdev_core_stats_alloc, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED netdev_increment_features, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED netdev_lower_state_changed, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED netdev_pick_tx, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED vlan_uses_dev, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED vlan_vid_add, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED vlan_vid_del, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED vlan_vids_add_by_dev, SIDE_NO_FAILOVER
SIDE_UNSUPPORTED vlan_vids_del_by_dev, SIDE_NO_FAILOVER

/* The flow dissector parses headers of segmentation-offload frames a device hands up (virtio_net_hdr_to_skb);
 * side negotiates no receive offload that produces them. */
SIDE_UNSUPPORTED __skb_flow_dissect, SIDE_NO_FLOW_DISSECTOR

/* side's socket buffers never carry a connection-tracking entry (nf_reset_ct() finds none to drop). */
SIDE_UNSUPPORTED nf_conntrack_destroy, SIDE_NO_CONNTRACK
