// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel services the virtio modules need beyond the common ones: the driver core for a bus a module defines
 * (a device added before and after its driver, match, probe, remove, release), IDA allocation, uevent variables,
 * scatterlists from socket buffers, page-fragment refills, CPU hotplug states and instances, the wrapping CPU
 * walk, XDP queue registration and the virtual-device ethtool settings. With unsupported=1 it calls a function
 * of the failover set, which must be a detected fault naming it.
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/etherdevice.h>
#include <linux/device.h>
#include <linux/ethtool.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/scatterlist.h>
#include <linux/skbuff.h>
#include <net/sock.h>
#include <net/xdp.h>

static int unsupported;
module_param(unsupported, int, 0444);

#define CHECK(cond)                                                                                  \
	do {                                                                                         \
		if (!(cond)) {                                                                       \
			pr_err("side_test_virtio_core: check failed: %s (line %d)\n", #cond, __LINE__); \
			return -EIO;                                                                 \
		}                                                                                    \
	} while (0)

struct test_dev {
	struct device dev;
	int id;
};

static int probes, removes, releases;

static int test_match(struct device *dev, struct device_driver *drv)
{
	return container_of(dev, struct test_dev, dev)->id == 7;
}

static int test_probe(struct device *dev)
{
	probes++;
	return 0;
}

static void test_remove(struct device *dev)
{
	removes++;
}

static struct bus_type test_bus = {
	.name = "side_test_bus", .match = test_match, .probe = test_probe, .remove = test_remove,
};
static struct device_driver test_drv = { .name = "side_test_drv", .bus = &test_bus };

static void test_release(struct device *dev)
{
	releases++;
	kfree(container_of(dev, struct test_dev, dev));
}

static struct test_dev *test_add(int id, const char *name)
{
	struct test_dev *t = kzalloc(sizeof(*t), GFP_KERNEL);

	if (!t)
		return NULL;
	t->id = id;
	t->dev.bus = &test_bus;
	t->dev.release = test_release;
	device_initialize(&t->dev);
	if (dev_set_name(&t->dev, "%s%d", name, id) || device_add(&t->dev)) {
		put_device(&t->dev);
		return NULL;
	}
	return t;
}

static int test_driver_core(void)
{
	struct test_dev *before, *other, *after;

	CHECK(bus_register(&test_bus) == 0);
	CHECK(bus_register(&test_bus) == -EEXIST);
	before = test_add(7, "tdev");
	other = test_add(3, "tdev");
	CHECK(before && other && probes == 0 && !strcmp(dev_name(&before->dev), "tdev7"));
	CHECK(driver_register(&test_drv) == 0);
	CHECK(probes == 1 && before->dev.driver == &test_drv && !other->dev.driver);
	CHECK(driver_register(&test_drv) == -EBUSY);
	after = test_add(7, "late");
	CHECK(after && probes == 2 && after->dev.driver == &test_drv);
	get_device(&after->dev);
	device_unregister(&after->dev);
	CHECK(removes == 1 && releases == 0 && !after->dev.driver);
	put_device(&after->dev);
	CHECK(releases == 1);
	driver_unregister(&test_drv);
	CHECK(removes == 2 && !before->dev.driver);
	device_unregister(&before->dev);
	device_unregister(&other->dev);
	CHECK(releases == 3 && removes == 2);
	bus_unregister(&test_bus);
	CHECK(driver_register(&test_drv) == -EINVAL);
	pr_info("side_test_virtio_core: driver core ok (probes %d removes %d releases %d)\n", probes, removes,
		releases);
	return 0;
}

static DEFINE_IDA(test_ida);

static int test_ida_and_uevent(void)
{
	struct kobj_uevent_env *env;
	int a, b, c;

	a = ida_alloc(&test_ida, GFP_KERNEL);
	b = ida_alloc(&test_ida, GFP_KERNEL);
	c = ida_alloc_range(&test_ida, 100, 100, GFP_KERNEL);
	CHECK(a == 0 && b == 1 && c == 100);
	CHECK(ida_alloc_range(&test_ida, 100, 100, GFP_KERNEL) == -ENOSPC);
	ida_free(&test_ida, 0);
	CHECK(ida_alloc(&test_ida, GFP_KERNEL) == 0);
	ida_free(&test_ida, 0);
	ida_free(&test_ida, 1);
	ida_free(&test_ida, 100);
	CHECK(ida_is_empty(&test_ida));
	ida_destroy(&test_ida);

	env = kzalloc(sizeof(*env), GFP_KERNEL);
	CHECK(env);
	CHECK(add_uevent_var(env, "MODALIAS=virtio:d%08Xv%08X", 1, 0x1af4) == 0);
	CHECK(add_uevent_var(env, "X=%d", 5) == 0);
	CHECK(env->envp_idx == 2 && !strcmp(env->envp[0], "MODALIAS=virtio:d00000001v00001AF4") &&
	      !strcmp(env->envp[1], "X=5") && env->buflen == 35 + 4);
	kfree(env);
	pr_info("side_test_virtio_core: ida and uevent ok\n");
	return 0;
}

static int test_sg(void)
{
	struct page_frag frag = {};
	struct scatterlist sg[4];
	struct sk_buff *skb;
	char hdr[12];

	sg_init_table(sg, 4);
	CHECK(sg_is_last(&sg[3]) && sg_next(&sg[2]) == &sg[3] && !sg_next(&sg[3]));
	sg_init_one(sg, hdr, sizeof(hdr));
	CHECK(sg_virt(sg) == hdr && sg->length == sizeof(hdr) && sg_is_last(sg));

	CHECK(skb_page_frag_refill(2048, &frag, GFP_KERNEL) && frag.page && frag.size >= 2048 && !frag.offset);
	skb = alloc_skb(128, GFP_KERNEL);
	CHECK(skb);
	skb_put(skb, 60);
	get_page(frag.page);
	skb_add_rx_frag(skb, 0, frag.page, 0, 100, 200);
	skb_coalesce_rx_frag(skb, 0, 50, 100);
	CHECK(skb->len == 210 && skb->data_len == 150 && skb_frag_size(&skb_shinfo(skb)->frags[0]) == 150);
	sg_init_table(sg, 4);
	CHECK(skb_to_sgvec(skb, sg, 0, skb->len) == 2);
	CHECK(sg_virt(&sg[0]) == skb->data && sg[0].length == 60 && sg_page(&sg[1]) == frag.page &&
	      sg[1].length == 150 && sg_is_last(&sg[1]));
	CHECK(skb_to_sgvec(skb, sg, 70, 20) == 1 && sg[0].offset == 10 && sg[0].length == 20);
	CHECK(skb_partial_csum_set(skb, 14 + 20, 16) && skb->ip_summed == CHECKSUM_PARTIAL);
	CHECK(!skb_partial_csum_set(skb, 50, 16));
	kfree_skb(skb);
	/* The fragment page is ours alone again: a refill reuses it from the start. */
	frag.offset = 1000;
	CHECK(skb_page_frag_refill(2048, &frag, GFP_KERNEL) && frag.offset == 0);
	put_page(frag.page);
	pr_info("side_test_virtio_core: scatterlists and fragments ok\n");
	return 0;
}

static int cpu_calls;
static int test_cpu_online(unsigned int cpu, struct hlist_node *node)
{
	cpu_calls++;
	return 0;
}

static int test_cpus(void)
{
	struct hlist_node node;
	int state;

	state = cpuhp_setup_state_multi(CPUHP_AP_ONLINE_DYN, "side/test:online", test_cpu_online, NULL);
	CHECK(state >= CPUHP_AP_ONLINE_DYN && state <= CPUHP_AP_ONLINE_DYN_END);
	CHECK(cpuhp_state_add_instance_nocalls(state, &node) == 0 && cpu_calls == 0);
	CHECK(cpuhp_state_remove_instance_nocalls(state, &node) == 0);
	CHECK(cpuhp_state_add_instance(state, &node) == 0 && cpu_calls == num_online_cpus());
	CHECK(cpuhp_state_remove_instance_nocalls(state, &node) == 0);
	cpuhp_remove_multi_state(state);
	cpus_read_lock();
	cpus_read_unlock();
	CHECK(cpumask_next_wrap(-1, cpu_online_mask, 0, false) == 0);
	/* Past the last CPU the walk wraps to CPU 0, unless that is where it started (then it is over). */
	CHECK(cpumask_next_wrap(nr_cpu_ids - 1, cpu_online_mask, 1, false) == 0);
	CHECK(cpumask_next_wrap(nr_cpu_ids - 1, cpu_online_mask, 0, true) >= nr_cpu_ids);
	pr_info("side_test_virtio_core: cpu hotplug state %d ok, %d online callbacks\n", state, cpu_calls);
	return 0;
}

static int test_net(void)
{
	struct ethtool_link_ksettings cmd = {};
	struct xdp_rxq_info rxq = {};
	struct net_device *dev;
	u32 speed = 0;
	u8 duplex = 0;

	dev = alloc_etherdev(0);
	CHECK(dev);
	CHECK(xdp_rxq_info_reg_mem_model(&rxq, MEM_TYPE_PAGE_SHARED, NULL) == -EFAULT);
	CHECK(xdp_rxq_info_reg(&rxq, dev, 0, 0) == 0 && rxq.reg_state == 1 && rxq.dev == dev);
	CHECK(xdp_rxq_info_reg_mem_model(&rxq, MEM_TYPE_PAGE_SHARED, NULL) == 0);
	xdp_rxq_info_unreg(&rxq);
	CHECK(rxq.reg_state == 2 && !rxq.dev); /* REG_STATE_UNREGISTERED */

	cmd.base.speed = SPEED_10000;
	cmd.base.duplex = DUPLEX_FULL;
	cmd.base.port = PORT_OTHER;
	CHECK(ethtool_virtdev_set_link_ksettings(dev, &cmd, &speed, &duplex) == 0 && speed == SPEED_10000 &&
	      duplex == DUPLEX_FULL);
	cmd.base.autoneg = AUTONEG_ENABLE;
	CHECK(ethtool_virtdev_set_link_ksettings(dev, &cmd, &speed, &duplex) == -EINVAL);
	cmd.base.autoneg = 0;
	cmd.base.speed = 12345; /* any speed up to INT_MAX is one, as in the kernel; a duplex must be known */
	cmd.base.duplex = 7;
	CHECK(ethtool_virtdev_set_link_ksettings(dev, &cmd, &speed, &duplex) == -EINVAL);
	cmd.base.duplex = DUPLEX_HALF;
	CHECK(ethtool_virtdev_set_link_ksettings(dev, &cmd, &speed, &duplex) == 0 && speed == 12345 &&
	      duplex == DUPLEX_HALF);
	free_netdev(dev);
	pr_info("side_test_virtio_core: xdp queue info and ethtool ok\n");
	return 0;
}

static int __init side_test_virtio_core_init(void)
{
	int ret;

	if (unsupported) {
		/* Not a tail call: the fault names this function as the caller. */
		ret = dev_open(NULL, NULL);
		pr_info("side_test_virtio_core: dev_open returned %d\n", ret);
		return ret;
	}
	ret = test_driver_core();
	ret = ret ?: test_ida_and_uevent();
	ret = ret ?: test_sg();
	ret = ret ?: test_cpus();
	ret = ret ?: test_net();
	if (!ret)
		pr_info("side_test_virtio_core: ok\n");
	return ret;
}

static void __exit side_test_virtio_core_exit(void)
{
}

module_init(side_test_virtio_core_init);
module_exit(side_test_virtio_core_exit);
MODULE_LICENSE("GPL");
