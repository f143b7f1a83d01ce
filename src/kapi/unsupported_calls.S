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
#define SIDE_NO_TRACER 3
#define SIDE_NO_USER 4
#define SIDE_NO_MULTIPATH 5
#define SIDE_NO_ZONED 6
#define SIDE_NO_INTEGRITY 7
#define SIDE_NO_SUSPEND 8
#define SIDE_NO_OPAL 9
#define SIDE_NO_SRIOV 10
#define SIDE_NO_CMB 11
#define SIDE_NO_FABRICS 12
#define SIDE_NO_SYSFS 13
#define SIDE_GAVE_UP 14
#define SIDE_NO_CODE_PATCHING 15

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

/* Trace events (nvme-core's): their raw-event, perf, bpf and output functions run only for an attached tracer. */
SIDE_UNSUPPORTED __trace_trigger_soft_disabled, SIDE_NO_TRACER
SIDE_UNSUPPORTED bpf_trace_run1, SIDE_NO_TRACER
SIDE_UNSUPPORTED bpf_trace_run2, SIDE_NO_TRACER
SIDE_UNSUPPORTED bpf_trace_run3, SIDE_NO_TRACER
SIDE_UNSUPPORTED perf_trace_buf_alloc, SIDE_NO_TRACER
SIDE_UNSUPPORTED perf_trace_run_bpf_submit, SIDE_NO_TRACER
SIDE_UNSUPPORTED trace_event_buffer_commit, SIDE_NO_TRACER
SIDE_UNSUPPORTED trace_event_buffer_reserve, SIDE_NO_TRACER
SIDE_UNSUPPORTED trace_event_printf, SIDE_NO_TRACER
SIDE_UNSUPPORTED trace_event_raw_init, SIDE_NO_TRACER
SIDE_UNSUPPORTED trace_event_reg, SIDE_NO_TRACER
SIDE_UNSUPPORTED trace_handle_return, SIDE_NO_TRACER
SIDE_UNSUPPORTED trace_print_symbols_seq, SIDE_NO_TRACER
SIDE_UNSUPPORTED trace_raw_output_prep, SIDE_NO_TRACER
SIDE_UNSUPPORTED trace_seq_printf, SIDE_NO_TRACER
SIDE_UNSUPPORTED trace_seq_putc, SIDE_NO_TRACER
/* What only a user process's system calls reach: ioctls, passthrough commands, io_uring, user copies. */
SIDE_UNSUPPORTED __check_object_size, SIDE_NO_USER
SIDE_UNSUPPORTED __put_user_4, SIDE_NO_USER
SIDE_UNSUPPORTED __put_user_8, SIDE_NO_USER
SIDE_UNSUPPORTED capable, SIDE_NO_USER
SIDE_UNSUPPORTED compat_ptr_ioctl, SIDE_NO_USER
SIDE_UNSUPPORTED blkdev_compat_ptr_ioctl, SIDE_NO_USER
SIDE_UNSUPPORTED blk_rq_map_user_io, SIDE_NO_USER
SIDE_UNSUPPORTED blk_rq_map_user_iov, SIDE_NO_USER
SIDE_UNSUPPORTED blk_rq_unmap_user, SIDE_NO_USER
SIDE_UNSUPPORTED bio_integrity_alloc, SIDE_NO_USER
SIDE_UNSUPPORTED bio_integrity_add_page, SIDE_NO_USER
SIDE_UNSUPPORTED bio_poll, SIDE_NO_USER
SIDE_UNSUPPORTED io_uring_cmd_complete_in_task, SIDE_NO_USER
SIDE_UNSUPPORTED io_uring_cmd_done, SIDE_NO_USER
SIDE_UNSUPPORTED io_uring_cmd_import_fixed, SIDE_NO_USER
/* NVMe multipath: the head disk stacked over the controllers' namespaces (nvme-core's multipath.c). */
SIDE_UNSUPPORTED __blk_alloc_disk, SIDE_NO_MULTIPATH
SIDE_UNSUPPORTED bio_associate_blkg, SIDE_NO_MULTIPATH
SIDE_UNSUPPORTED bio_endio, SIDE_NO_MULTIPATH
SIDE_UNSUPPORTED bio_split_to_limits, SIDE_NO_MULTIPATH
SIDE_UNSUPPORTED submit_bio_noacct, SIDE_NO_MULTIPATH
SIDE_UNSUPPORTED blk_steal_bios, SIDE_NO_MULTIPATH
SIDE_UNSUPPORTED blk_set_stacking_limits, SIDE_NO_MULTIPATH
SIDE_UNSUPPORTED blk_stack_limits, SIDE_NO_MULTIPATH
SIDE_UNSUPPORTED bdev_disk_changed, SIDE_NO_MULTIPATH
SIDE_UNSUPPORTED blk_revalidate_disk_zones, SIDE_NO_ZONED
SIDE_UNSUPPORTED disk_set_zoned, SIDE_NO_ZONED
SIDE_UNSUPPORTED blk_queue_max_zone_append_sectors, SIDE_NO_ZONED
SIDE_UNSUPPORTED blk_integrity_register, SIDE_NO_INTEGRITY
SIDE_UNSUPPORTED pci_load_saved_state, SIDE_NO_SUSPEND
SIDE_UNSUPPORTED init_opal_dev, SIDE_NO_OPAL
SIDE_UNSUPPORTED opal_unlock_from_suspend, SIDE_NO_OPAL
SIDE_UNSUPPORTED sed_ioctl, SIDE_NO_OPAL
SIDE_UNSUPPORTED pci_sriov_configure_simple, SIDE_NO_SRIOV
SIDE_UNSUPPORTED memremap_compat_align, SIDE_NO_CMB
SIDE_UNSUPPORTED pcibios_resource_to_bus, SIDE_NO_CMB
SIDE_UNSUPPORTED blk_mq_alloc_request_hctx, SIDE_NO_FABRICS
SIDE_UNSUPPORTED device_remove_file_self, SIDE_NO_SYSFS
SIDE_UNSUPPORTED device_release_driver, SIDE_GAVE_UP
/* side leaves __jump_table unapplied: every static branch keeps the instruction its key's initial value chose, so
 * a key can never change. (crc-t10dif disables its fallback key only once a crypto transform exists: never.) */
SIDE_UNSUPPORTED static_key_disable, SIDE_NO_CODE_PATCHING
SIDE_UNSUPPORTED static_key_enable, SIDE_NO_CODE_PATCHING
