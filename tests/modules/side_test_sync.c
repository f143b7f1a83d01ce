// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sleeping synchronisation and the kernel library nvme uses, each checked against Linux's semantics from init:
 * completions and wait queues ended from the workqueue (vCPU 2) while init (vCPU 0) sleeps, rw-semaphores,
 * SRCU grace periods that wait for an earlier reader, mempools falling back on their reserve, the XArray, chrdev
 * regions, sysfs links, hwmon devices, async calls, DO_ONCE, memchr_inv and param_set_uint_minmax. Every check
 * logs its line on failure; the last line says "ok" with what was measured. With fault=NAME, init then misuses
 * one of them (or calls a function a domain does not offer), which must be a detected fault.
 */
#include <linux/async.h>
#include <linux/blkdev.h>
#include <linux/cdev.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/device.h>
#include <linux/dmi.h>
#include <linux/hwmon.h>
#include <linux/jiffies.h>
#include <linux/mempool.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/once.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#define CHECK(cond)                                                                                  \
	do {                                                                                         \
		if (!(cond)) {                                                                       \
			pr_err("side_test_sync: check failed: %s (line %d)\n", #cond, __LINE__);     \
			return -EIO;                                                                 \
		}                                                                                    \
	} while (0)

static char *fault = "";
module_param(fault, charp, 0444);

/* ---- completions and wait queues, ended by work on the worker */
static DECLARE_COMPLETION(done);
static DECLARE_WAIT_QUEUE_HEAD(wq);
static int flag;
static void completer_fn(struct work_struct *w)
{
	msleep(20);
	complete(&done);
}
static DECLARE_WORK(completer, completer_fn);
static void waker_fn(struct work_struct *w)
{
	msleep(20);
	WRITE_ONCE(flag, 1);
	wake_up(&wq);
}
static DECLARE_WORK(waker, waker_fn);

static int check_completions(void)
{
	unsigned long left;

	schedule_work(&completer);
	left = wait_for_completion_io_timeout(&done, msecs_to_jiffies(5000));
	CHECK(left > 0);
	/* Consumed: a second wait times out, and returns 0. */
	CHECK(wait_for_completion_io_timeout(&done, msecs_to_jiffies(30)) == 0);
	complete(&done);
	complete(&done);
	CHECK(wait_for_completion_io_timeout(&done, 1) > 0);
	CHECK(wait_for_completion_io_timeout(&done, 1) > 0);
	CHECK(wait_for_completion_io_timeout(&done, 1) == 0);
	complete_all(&done);
	CHECK(wait_for_completion_io_timeout(&done, 1) > 0 && wait_for_completion_io_timeout(&done, 1) > 0);
	schedule_work(&waker);
	wait_event(wq, READ_ONCE(flag));
	CHECK(READ_ONCE(flag) == 1 && list_empty(&wq.head));
	return 0;
}

/* ---- rw-semaphores */
static DECLARE_RWSEM(sem);
static int writer_got;
static void writer_fn(struct work_struct *w)
{
	down_write(&sem);
	WRITE_ONCE(writer_got, 1);
	up_write(&sem);
}
static DECLARE_WORK(writer, writer_fn);

static int check_rwsem(void)
{
	down_read(&sem);
	down_read(&sem); /* readers share it */
	CHECK(rwsem_is_locked(&sem) && !down_write_trylock(&sem));
	schedule_work(&writer);
	msleep(30);
	CHECK(!READ_ONCE(writer_got)); /* the writer waits for both readers */
	up_read(&sem);
	up_read(&sem);
	flush_work(&writer);
	CHECK(READ_ONCE(writer_got) && !rwsem_is_locked(&sem));
	return 0;
}

/* ---- SRCU: a grace period waits for the reader that started before it */
static struct srcu_struct srcu;
static int reader_left;
static void reader_fn(struct work_struct *w)
{
	int idx = srcu_read_lock(&srcu);

	msleep(50);
	WRITE_ONCE(reader_left, 1);
	srcu_read_unlock(&srcu, idx);
}
static DECLARE_WORK(reader, reader_fn);

static int check_srcu(void)
{
	int idx;

	CHECK(init_srcu_struct(&srcu) == 0);
	idx = srcu_read_lock(&srcu);
	srcu_read_unlock(&srcu, idx);
	synchronize_srcu(&srcu); /* no reader: at once */
	schedule_work(&reader);
	msleep(10);
	synchronize_srcu(&srcu);
	CHECK(READ_ONCE(reader_left));
	flush_work(&reader);
	cleanup_srcu_struct(&srcu);
	return 0;
}

/* ---- mempools: the reserve serves when the allocator fails */
static int allocs_fail;
static void *pool_alloc(gfp_t gfp, void *data)
{
	return READ_ONCE(allocs_fail) ? NULL : kmalloc((size_t)data, gfp);
}

static int check_mempool(void)
{
	mempool_t *pool = mempool_create_node(2, pool_alloc, mempool_kfree, (void *)64, GFP_KERNEL, NUMA_NO_NODE);
	void *a, *b, *c;

	CHECK(pool && pool->curr_nr == 2);
	WRITE_ONCE(allocs_fail, 1);
	a = mempool_alloc(pool, GFP_NOWAIT);
	b = mempool_alloc(pool, GFP_NOWAIT);
	c = mempool_alloc(pool, GFP_NOWAIT);
	CHECK(a && b && !c && pool->curr_nr == 0);
	mempool_free(a, pool);
	CHECK(pool->curr_nr == 1);
	c = mempool_alloc(pool, GFP_KERNEL);
	CHECK(c == a);
	WRITE_ONCE(allocs_fail, 0);
	mempool_free(b, pool);
	mempool_free(c, pool);
	CHECK(pool->curr_nr == 2);
	mempool_destroy(pool);
	return 0;
}

/* ---- the XArray */
static int check_xarray(void)
{
	DEFINE_XARRAY(xa);
	unsigned long index = 0, n = 0, sum = 0;
	void *entry;

	CHECK(xa_empty(&xa) && !xa_load(&xa, 5));
	CHECK(!xa_store(&xa, 5, xa_mk_value(50), GFP_KERNEL));
	CHECK(!xa_store(&xa, 1, xa_mk_value(10), GFP_KERNEL));
	CHECK(!xa_store(&xa, 1000000, xa_mk_value(7), GFP_KERNEL));
	CHECK(xa_store(&xa, 5, xa_mk_value(55), GFP_KERNEL) == xa_mk_value(50));
	CHECK(xa_load(&xa, 5) == xa_mk_value(55) && !xa_load(&xa, 6) && !xa_empty(&xa));
	xa_for_each(&xa, index, entry) {
		n++;
		sum += index;
	}
	CHECK(n == 3 && sum == 1000006);
	index = 2;
	CHECK(xa_find(&xa, &index, 4, XA_PRESENT) == NULL);
	CHECK(xa_find(&xa, &index, 9, XA_PRESENT) == xa_mk_value(55) && index == 5);
	CHECK(xa_find_after(&xa, &index, ULONG_MAX, XA_PRESENT) == xa_mk_value(7) && index == 1000000);
	index = 0;
	CHECK(xa_find(&xa, &index, ULONG_MAX, XA_MARK_0) == NULL); /* no marks set */
	CHECK(xa_erase(&xa, 5) == xa_mk_value(55) && !xa_load(&xa, 5) && !xa_erase(&xa, 5));
	CHECK(xa_is_err(xa_store(&xa, 3, xa_mk_internal(1), GFP_KERNEL)));
	xa_destroy(&xa);
	CHECK(xa_empty(&xa));
	return 0;
}

/* ---- device numbers, links, hwmon */
static void noop_release(struct device *dev)
{
}

static umode_t hw_visible(const void *data, enum hwmon_sensor_types type, u32 attr, int channel)
{
	return 0444;
}
static const struct hwmon_ops hw_ops = { .is_visible = hw_visible };
static const struct hwmon_channel_info *hw_info[] = { HWMON_CHANNEL_INFO(temp, HWMON_T_INPUT), NULL };
static const struct hwmon_chip_info hw_chip = { .ops = &hw_ops, .info = hw_info };
static const struct hwmon_chip_info hw_bad_chip = { .info = hw_info };

static int check_devices(dev_t *first, dev_t *second, const char **hwname)
{
	static struct device parent;
	struct device *hw;

	CHECK(alloc_chrdev_region(first, 0, 4, "side-a") == 0);
	CHECK(alloc_chrdev_region(second, 0, 4, "side-b") == 0);
	CHECK(MAJOR(*first) != MAJOR(*second) && MINOR(*first) == 0);
	device_initialize(&parent);
	parent.release = noop_release;
	CHECK(dev_set_name(&parent, "parent") == 0);
	CHECK(sysfs_create_link(&parent.kobj, &parent.kobj, "self") == 0);
	CHECK(sysfs_create_link(&parent.kobj, &parent.kobj, "self") == -EEXIST);
	sysfs_remove_link(&parent.kobj, "self");
	CHECK(sysfs_create_link(&parent.kobj, &parent.kobj, "self") == 0);
	sysfs_remove_link(&parent.kobj, "self");
	CHECK(IS_ERR(hwmon_device_register_with_info(&parent, "side", NULL, &hw_bad_chip, NULL)));
	hw = hwmon_device_register_with_info(&parent, "side", &parent, &hw_chip, NULL);
	CHECK(!IS_ERR(hw) && hw->parent == &parent && dev_get_drvdata(hw) == &parent);
	*hwname = kstrdup(dev_name(hw), GFP_KERNEL);
	hwmon_device_unregister(hw);
	unregister_chrdev_region(*second, 4);
	unregister_chrdev_region(*first, 4);
	put_device(&parent);
	return 0;
}

/* ---- async calls, DO_ONCE, string and parameter helpers */
static atomic_t async_runs = ATOMIC_INIT(0);
static async_cookie_t async_seen;
static void async_fn(void *data, async_cookie_t cookie)
{
	WRITE_ONCE(async_seen, cookie);
	atomic_add((int)(long)data, &async_runs);
}

static int once_calls;
static void once_fn(void)
{
	once_calls++;
}

static int check_library(void)
{
	static const char zeros[16];
	char buf[16] = { 0 };
	unsigned int value = 0;
	struct kernel_param kp = { .arg = &value };
	async_cookie_t c1, c2;
	int i;

	c1 = async_schedule(async_fn, (void *)1L);
	c2 = async_schedule(async_fn, (void *)2L);
	async_synchronize_full();
	CHECK(c2 == c1 + 1 && atomic_read(&async_runs) == 3 && READ_ONCE(async_seen) == c2);
	for (i = 0; i < 3; i++)
		DO_ONCE(once_fn);
	CHECK(once_calls == 1);
	buf[9] = 7;
	CHECK(!memchr_inv(zeros, 0, sizeof(zeros)) && memchr_inv(buf, 0, sizeof(buf)) == &buf[9]);
	CHECK(param_set_uint_minmax("17", &kp, 16, 4096) == 0 && value == 17);
	CHECK(param_set_uint_minmax("15", &kp, 16, 4096) == -EINVAL && value == 17);
	CHECK(param_set_uint_minmax("x", &kp, 16, 4096) == -EINVAL);
	CHECK(!dmi_match(DMI_SYS_VENDOR, "QEMU") && dmi_match(DMI_SYS_VENDOR, NULL));
	return 0;
}

static int misuse(void)
{
	if (!strcmp(fault, "up_write")) {
		up_write(&sem);
	} else if (!strcmp(fault, "unsupported")) {
		bdev_disk_changed(NULL, false);
	}
	return 0;
}

static int __init side_test_sync_init(void)
{
	dev_t first = 0, second = 0;
	const char *hwname = NULL;
	int ret = check_completions();

	if (!ret)
		ret = check_rwsem();
	if (!ret)
		ret = check_srcu();
	if (!ret)
		ret = check_mempool();
	if (!ret)
		ret = check_xarray();
	if (!ret)
		ret = check_devices(&first, &second, &hwname);
	if (!ret)
		ret = check_library();
	if (ret)
		return ret;
	pr_info("side_test_sync: ok chrdev %u,%u %s\n", MAJOR(first), MAJOR(second), hwname);
	kfree(hwname);
	return misuse();
}

static void __exit side_test_sync_exit(void)
{
}

module_init(side_test_sync_init);
module_exit(side_test_sync_exit);
MODULE_LICENSE("GPL");
