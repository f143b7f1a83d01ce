// SPDX-License-Identifier: GPL-2.0-only
/*
 * A PCI driver for the emulated 82540EM that exercises, from its probe, the kernel functions the classic Debian NIC
 * drivers import beyond e1000's: block I/O copies, the checksum copy, RCU, resource regions, DMA pools, managed
 * (devres) resources, MSI refusal, firmware lookup, MAC address helpers, power states. Each part logs "ok <part>".
 * `fail_probe` makes the probe fail after acquiring managed resources (devres must release them); `fault` selects a
 * deliberate driver bug at the end: 1 frees a pool block twice, 2 rcu_read_unlock() without a lock, 3
 * synchronize_rcu() inside a reader, 4 devm_kfree() of an unmanaged pointer.
 */
#include <linux/aer.h>
#include <linux/cc_platform.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/dmapool.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/firmware.h>
#include <linux/if_arp.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/pm_qos.h>
#include <linux/pm_runtime.h>
#include <linux/ptp_clock_kernel.h>
#include <linux/suspend.h>
#include <linux/timecounter.h>
#include <linux/uaccess.h>
#include <asm/cpu.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <net/checksum.h>

static int fault;
module_param(fault, int, 0);
static int fail_probe;
module_param(fail_probe, int, 0);

#define MTA 0x5200

#define CHECK(cond)                                                                                      \
	do {                                                                                             \
		if (!(cond)) {                                                                           \
			pr_err("side_test_nicapi: check failed: %s (line %d)\n", #cond, __LINE__);       \
			return -EIO;                                                                     \
		}                                                                                        \
	} while (0)

static int test_io(void __iomem *hw)
{
	u32 out[4] = { 0x11223344, 0x55667788, 0x99aabbcc, 0xddeeff00 }, in[4] = { 0 };

	memcpy_toio(hw + MTA, out, sizeof(out));
	CHECK(readl(hw + MTA) == out[0] && readl(hw + MTA + 12) == out[3]);
	memcpy_fromio(in, hw + MTA, sizeof(in));
	CHECK(!memcmp(in, out, sizeof(in)));
	memset_io(hw + MTA, 0xa5, 8);
	CHECK(readl(hw + MTA) == 0xa5a5a5a5 && readl(hw + MTA + 4) == 0xa5a5a5a5 && readl(hw + MTA + 8) == out[2]);
	memset_io(hw + MTA, 0, 16);
	pr_info("side_test_nicapi: ok io\n");
	return 0;
}

/* RFC 1071's example (sum 0xddf2, checksum 0x220d) as a frame whose stack asked for the checksum at offset 8. */
static int test_csum(void)
{
	static const u8 data[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	struct sk_buff *skb = alloc_skb(64, GFP_KERNEL);
	u8 to[64];
	int err = 0;

	CHECK(skb);
	skb_put_data(skb, data, sizeof(data));
	memset(skb_put(skb, 2), 0, 2); /* the checksum field, seeded with 0 */
	skb->ip_summed = CHECKSUM_PARTIAL;
	skb->csum_start = skb_headroom(skb);
	skb->csum_offset = sizeof(data);
	skb_copy_and_csum_dev(skb, to);
	if (memcmp(to, data, sizeof(data)) || to[8] != 0x22 || to[9] != 0x0d)
		err = -EIO;
	/* A checksummed block verifies to zero. */
	if (csum_fold(csum_partial(to, 10, 0)) != 0)
		err = -EIO;
	kfree_skb(skb);
	CHECK(!err);
	pr_info("side_test_nicapi: ok csum\n");
	return 0;
}

static int reader_started, reader_done;

static void reader_fn(struct work_struct *w)
{
	rcu_read_lock();
	WRITE_ONCE(reader_started, 1);
	mdelay(100);
	WRITE_ONCE(reader_done, 1);
	rcu_read_unlock();
}

static DECLARE_WORK(reader_work, reader_fn);

/* A grace period waits for the reader that runs on the worker CPU. */
static int test_rcu(void)
{
	int n;

	rcu_read_lock();
	rcu_read_lock();
	CHECK(current->rcu_read_lock_nesting == 2);
	rcu_read_unlock();
	rcu_read_unlock();
	CHECK(current->rcu_read_lock_nesting == 0);
	synchronize_rcu(); /* nobody reads */
	schedule_work(&reader_work);
	for (n = 0; n < 2000 && !READ_ONCE(reader_started); n++)
		msleep(1);
	CHECK(READ_ONCE(reader_started));
	synchronize_rcu();
	CHECK(READ_ONCE(reader_done));
	flush_work(&reader_work);
	pr_info("side_test_nicapi: ok rcu\n");
	return 0;
}

static int test_regions(struct pci_dev *pdev)
{
	resource_size_t mem = pci_resource_start(pdev, 0), io = 0;
	struct resource *r, *r2;
	int bar;

	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++)
		if (pci_resource_flags(pdev, bar) & IORESOURCE_IO)
			io = pci_resource_start(pdev, bar);
	r = request_mem_region(mem, 16, "nicapi");
	CHECK(r && r->parent == &pdev->resource[0]);
	CHECK(!request_mem_region(mem + 8, 16, "overlap"));
	r2 = request_mem_region(mem + 16, 16, "beside");
	CHECK(r2);
	/* Across the end of the BAR: a partial overlap with it. */
	CHECK(!request_mem_region(mem + pci_resource_len(pdev, 0) - 8, 16, "straddle"));
	release_mem_region(mem + 16, 16);
	release_mem_region(mem, 16);
	/* The whole BAR as the driver's regions, then nothing inside it. */
	CHECK(pci_request_regions(pdev, "nicapi") == 0);
	CHECK(!request_mem_region(mem, 4, "inside"));
	if (io) {
		CHECK(pci_resource_flags(pdev, 0) & IORESOURCE_MEM);
		CHECK(!request_region(io, 8, "taken"));
	}
	pci_release_regions(pdev);
	if (io) {
		r = request_region(io, 8, "nicapi-io");
		CHECK(r && r->parent->parent == &ioport_resource);
		release_region(io, 8);
	}
	release_mem_region(mem, 16); /* nothing there: the kernel's warning */
	pr_info("side_test_nicapi: ok regions\n");
	return 0;
}

static int test_dma_pool(struct pci_dev *pdev)
{
	struct dma_pool *pool;
	static dma_addr_t dma[300];
	static void *v[300];
	int i, j;

	CHECK(!dma_pool_create("bad-align", &pdev->dev, 24, 3, 0));
	CHECK(!dma_pool_create("bad-boundary", &pdev->dev, 128, 8, 64));
	pool = dma_pool_create("nicapi", &pdev->dev, 24, 16, 64);
	CHECK(pool);
	/* 300 blocks of 32 bytes, two per 64-byte boundary: more than one page. */
	for (i = 0; i < 300; i++) {
		v[i] = dma_pool_zalloc(pool, GFP_KERNEL, &dma[i]);
		CHECK(v[i] && dma[i] == virt_to_phys(v[i]));
		CHECK(!(dma[i] & 15) && !((dma[i] ^ (dma[i] + 31)) & ~63ULL));
		CHECK(((u8 *)v[i])[0] == 0 && ((u8 *)v[i])[23] == 0);
		memset(v[i], 0xee, 24);
	}
	for (i = 0; i < 300; i++)
		for (j = i + 1; j < 300; j++)
			CHECK(dma[i] + 24 <= dma[j] || dma[j] + 24 <= dma[i]);
	CHECK((dma[299] & PAGE_MASK) != (dma[0] & PAGE_MASK));
	for (i = 0; i < 300; i++)
		dma_pool_free(pool, v[i], dma[i]);
	/* A freed block comes back. */
	v[0] = dma_pool_alloc(pool, GFP_KERNEL, &dma[0]);
	CHECK(v[0]);
	if (fault == 1) {
		dma_pool_free(pool, v[0], dma[0]);
		dma_pool_free(pool, v[0], dma[0]);
	}
	dma_pool_free(pool, v[0], dma[0]);
	dma_pool_destroy(pool);
	dma_pool_destroy(NULL);
	pr_info("side_test_nicapi: ok dma_pool\n");
	return 0;
}

static u64 fake_cycles;

static u64 fake_read(const struct cyclecounter *cc)
{
	return fake_cycles;
}

/* What e1000e needs beyond the others: runtime PM, PCIe registers, time counters, QoS, PTP, user copies. */
static int test_e1000e_deps(struct pci_dev *pdev)
{
	struct cyclecounter cc = { .read = fake_read, .mask = CYCLECOUNTER_MASK(32), .mult = 3, .shift = 1 };
	struct ptp_clock_info info = { .name = "nicapi" };
	struct pm_qos_request req = {};
	struct timecounter tc;
	u8 buf[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, src[8] = { 9 };
	u16 v = 0xffff;

	/* The PCI core's default policy: runtime PM forbidden, so the device stays active. */
	CHECK(pm_runtime_get_sync(&pdev->dev) == 1);
	CHECK(pm_runtime_put_sync(&pdev->dev) == 0);
	CHECK(pm_runtime_idle(&pdev->dev) == -EAGAIN && pm_schedule_suspend(&pdev->dev, 10) == -EAGAIN);
	CHECK(pm_runtime_resume(&pdev->dev) == 1 && !pm_suspend_global_flags);
	/* The 82540EM is conventional PCI: no PCIe registers, no link, no AER. */
	CHECK(!pci_is_pcie(pdev));
	CHECK(pcie_capability_read_word(pdev, PCI_EXP_DEVCTL, &v) == 0 && v == 0);
	CHECK(pcie_capability_read_word(pdev, PCI_EXP_DEVCTL + 1, &v) == PCIBIOS_BAD_REGISTER_NUMBER);
	CHECK(pcie_capability_write_word(pdev, PCI_EXP_DEVCTL, 0) == 0);
	CHECK(pci_disable_link_state(pdev, PCIE_LINK_STATE_L0S) == -EINVAL);
	CHECK(pci_enable_pcie_error_reporting(pdev) == -EIO);
	/* 1.5 ns per cycle from 1000 ns at cycle 100; backwards, forwards and across the 32-bit wrap. */
	fake_cycles = 100;
	timecounter_init(&tc, &cc, 1000);
	fake_cycles = 110;
	CHECK(timecounter_read(&tc) == 1015);
	CHECK(timecounter_cyc2time(&tc, 108) == 1012 && timecounter_cyc2time(&tc, 120) == 1030);
	fake_cycles = 0xfffffff0ULL;
	timecounter_init(&tc, &cc, 0);
	fake_cycles = 0x10;
	CHECK(timecounter_read(&tc) == 48);
	cpu_latency_qos_add_request(&req, 100);
	CHECK(cpu_latency_qos_request_active(&req) && cpu_latency_qos_limit() == 100);
	cpu_latency_qos_update_request(&req, 50);
	CHECK(cpu_latency_qos_limit() == 50);
	cpu_latency_qos_remove_request(&req);
	CHECK(cpu_latency_qos_limit() == PM_QOS_CPU_LATENCY_DEFAULT_VALUE);
	CHECK(IS_ERR(ptp_clock_register(&info, &pdev->dev)));
	CHECK(copy_from_user(buf, (void __user *)src, sizeof(buf)) == sizeof(buf) && buf[0] == 0 && buf[7] == 0);
	CHECK(copy_to_user((void __user *)src, buf, sizeof(buf)) == sizeof(buf) && src[0] == 9);
	CHECK(x86_family(0x00a20f10) == 0x19 && x86_model(0x00a20f10) == 0x21 && x86_stepping(0x00a20f12) == 2);
	CHECK(boot_cpu_has(X86_FEATURE_FPU) && boot_cpu_data.x86 >= 6 && !boot_cpu_has(X86_FEATURE_ART));
	CHECK(passthru_features_check(NULL, NULL, NETIF_F_SG) == NETIF_F_SG);
	pr_info("side_test_nicapi: ok e1000e\n");
	return 0;
}

static struct pci_dev *managed_dev;

/* Added first, so released last: by then devres has disabled the device again. */
static void first_action(void *data)
{
	pr_info("side_test_nicapi: devres released, enable count %d\n", atomic_read(&managed_dev->enable_cnt));
}

static int test_devres(struct pci_dev *pdev)
{
	struct net_device *netdev;
	void __iomem *bar;
	dma_addr_t ring_dma;
	u8 *p, *q;

	managed_dev = pdev;
	CHECK(devm_add_action(&pdev->dev, first_action, NULL) == 0);
	p = devm_kzalloc(&pdev->dev, 100, GFP_KERNEL);
	CHECK(p && p[99] == 0 && !((unsigned long)p & 7));
	q = devm_kmalloc(&pdev->dev, 50, GFP_KERNEL);
	CHECK(q);
	devm_kfree(&pdev->dev, q);
	CHECK(pcim_enable_device(pdev) == 0 && pci_is_managed(pdev));
	CHECK(pcim_enable_device(pdev) == 0 && atomic_read(&pdev->enable_cnt) == 1);
	CHECK(pci_request_regions(pdev, "nicapi-managed") == 0);
	bar = pcim_iomap(pdev, 0, 0);
	CHECK(bar && !pcim_iomap(pdev, 0, 0));
	CHECK(pcim_iomap_table(pdev)[0] == bar);
	CHECK(dmam_alloc_coherent(&pdev->dev, 4096, &ring_dma, GFP_KERNEL));
	netdev = devm_alloc_etherdev(&pdev->dev, 16);
	CHECK(netdev);
	if (fault == 4)
		devm_kfree(&pdev->dev, netdev);
	pr_info("side_test_nicapi: ok devres\n");
	return 0;
}

static int test_netdev_helpers(void)
{
	struct net_device *dev = alloc_etherdev(0);
	struct sockaddr sa = { .sa_family = ARPHRD_ETHER };
	u8 key[NETDEV_RSS_KEY_LEN], key2[NETDEV_RSS_KEY_LEN], zero[NETDEV_RSS_KEY_LEN] = { 0 };
	u8 strings[2 * ETH_GSTRING_LEN], *s = strings;
	int err = 0;

	CHECK(dev);
	memcpy(sa.sa_data, "\x02\x11\x22\x33\x44\x55", ETH_ALEN);
	if (eth_mac_addr(dev, &sa) || memcmp(dev->dev_addr, sa.sa_data, ETH_ALEN))
		err = -EIO;
	sa.sa_data[0] = 1; /* multicast */
	if (eth_mac_addr(dev, &sa) != -EADDRNOTAVAIL)
		err = -EIO;
	netdev_get_tx_queue(dev, 0)->trans_start = 1234;
	if (dev_trans_start(dev) != 1234)
		err = -EIO;
	free_netdev(dev);
	CHECK(!err);
	ethtool_sprintf(&s, "rx_queue_%d", 7);
	ethtool_sprintf(&s, "tx");
	CHECK(s == strings + 2 * ETH_GSTRING_LEN && !strcmp(strings, "rx_queue_7") &&
	      !strcmp(strings + ETH_GSTRING_LEN, "tx"));
	netdev_rss_key_fill(key, sizeof(key));
	netdev_rss_key_fill(key2, sizeof(key2));
	CHECK(!memcmp(key, key2, sizeof(key)) && memcmp(key, zero, sizeof(key)));
	pr_info("side_test_nicapi: ok netdev\n");
	return 0;
}

static int test_platform(struct pci_dev *pdev)
{
	static const struct pci_device_id e1000[] = { { PCI_DEVICE(0x8086, 0x100e) }, {} };
	static const struct pci_device_id rtl[] = { { PCI_DEVICE(0x10ec, 0x8139) }, {} };
	const struct firmware *fw = (void *)1;
	unsigned long j = jiffies;

	CHECK(pci_dev_present(e1000) && !pci_dev_present(rtl));
	/* The platform has MSI, the 82540EM has no MSI capability: enabling it fails as on Linux. */
	CHECK(pci_msi_enabled() && !pdev->msi_cap && pci_enable_msi(pdev) == -EINVAL);
	CHECK(pci_alloc_irq_vectors(pdev, 1, 4, PCI_IRQ_ALL_TYPES) == 1 && pci_irq_vector(pdev, 0) == pdev->irq);
	CHECK(pci_alloc_irq_vectors(pdev, 2, 4, PCI_IRQ_MSIX) < 0);
	pci_free_irq_vectors(pdev);
	CHECK(request_firmware(&fw, "e100/d101m_ucode.bin", &pdev->dev) == -ENOENT && !fw);
	release_firmware(fw);
	CHECK(!cc_platform_has(CC_ATTR_MEM_ENCRYPT));
	CHECK(probe_irq_off(probe_irq_on()) == 0);
	CHECK(schedule_timeout_uninterruptible(5) == 0 && time_after_eq(jiffies, j + 5));
	CHECK(pci_choose_state(pdev, PMSG_SUSPEND) == (pdev->pm_cap ? PCI_D3hot : PCI_D0));
	CHECK(pci_prepare_to_sleep(pdev) == 0);
	CHECK(pdev->current_state == (pdev->pm_cap ? PCI_D3hot : PCI_D0));
	CHECK(pci_set_power_state(pdev, PCI_D0) == 0 && pdev->current_state == PCI_D0);
	pci_pme_active(pdev, false);
	pr_info("side_test_nicapi: ok platform\n");
	return 0;
}

static int test_probe(struct pci_dev *pdev, const struct pci_device_id *ent)
{
	void __iomem *hw;
	int err;

	err = pci_enable_device(pdev);
	if (err)
		return err;
	hw = pci_ioremap_bar(pdev, 0);
	err = hw ? test_io(hw) : -ENOMEM;
	if (hw)
		iounmap(hw);
	pci_disable_device(pdev);
	if (!err)
		err = test_csum();
	if (!err)
		err = test_rcu();
	if (!err)
		err = test_regions(pdev);
	if (!err)
		err = test_dma_pool(pdev);
	if (!err)
		err = test_netdev_helpers();
	if (!err)
		err = test_platform(pdev);
	if (!err)
		err = test_e1000e_deps(pdev);
	if (!err)
		err = test_devres(pdev);
	if (err)
		return err;
	if (fault == 2)
		rcu_read_unlock();
	if (fault == 3) {
		rcu_read_lock();
		synchronize_rcu();
	}
	pr_info("side_test_nicapi: ok\n");
	return fail_probe ? -ENODEV : 0;
}

static void test_remove(struct pci_dev *pdev)
{
	pr_info("side_test_nicapi: remove\n");
}

static const struct pci_device_id test_ids[] = {
	{ PCI_DEVICE(0x8086, 0x100e) },
	{}
};

static struct pci_driver test_driver = {
	.name = "side_test_nicapi",
	.id_table = test_ids,
	.probe = test_probe,
	.remove = test_remove,
};

module_pci_driver(test_driver);
MODULE_LICENSE("GPL");
