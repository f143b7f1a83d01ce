// Sleeping synchronisation and the kernel library nvme imports, in the kernel-API layer, through the test module
// side_test_sync (tests/modules): completions and wait queues ended from the workqueue while init sleeps,
// rw-semaphores, an SRCU grace period that waits out an earlier reader, mempools on their reserve, the XArray,
// chrdev regions (Linux's dynamic majors), sysfs links, hwmon devices, async calls, DO_ONCE and the string and
// parameter helpers. Misuse and functions a domain does not offer are detected faults naming what happened.
#include <gtest/gtest.h>

#include <string>

#include "domain/domain.h"
#include "kapi/side_host.h"
#include "supervisor/driver_domain.h"
#include "test_supervised_domain.h"

namespace {

// Real time: the module's work items sleep (msleep) while init waits for them.
class SyncDomain : public side::testing::SupervisedDomain {
 public:
  SyncDomain() : SupervisedDomain(SIDE_TEST_MODULES_DIR, /*virtual_time=*/false) {}
};

const std::string kModule = std::string(SIDE_TEST_MODULES_DIR) + "/side_test_sync.ko";

TEST(KapiSync, EveryPrimitiveBehavesAsLinuxs) {
  SyncDomain d;
  auto m = d->load({kModule});
  ASSERT_TRUE(m) << m.error().message << d.log();
  // Linux's first two dynamic majors, and the first hwmon device's name.
  EXPECT_TRUE(d.logged("side_test_sync: ok chrdev 254,253 hwmon0")) << d.log();
  EXPECT_FALSE(d.logged("check failed")) << d.log();
  EXPECT_TRUE(d->faults().empty());
}

TEST(KapiSync, UpWriteOfASemaphoreNotHeldIsAFault) {
  SyncDomain d;
  auto m = d->load({kModule, "fault=up_write"});
  EXPECT_FALSE(m);
  ASSERT_EQ(d->faults().size(), 1u) << d.log();
  EXPECT_EQ(d->faults()[0].kind, SIDE_FAULT_BAD_ARGUMENT);
  EXPECT_NE(d->faults()[0].message.find("up_write of rw_semaphore"), std::string::npos) << d->faults()[0].message;
  EXPECT_NE(d->faults()[0].location.find("side_test_sync"), std::string::npos) << d->faults()[0].location;
}

TEST(KapiSync, AFunctionADomainDoesNotOfferIsAFaultNamingItAndWhy) {
  SyncDomain d;
  auto m = d->load({kModule, "fault=unsupported"});
  EXPECT_FALSE(m);
  ASSERT_EQ(d->faults().size(), 1u) << d.log();
  EXPECT_EQ(d->faults()[0].kind, SIDE_FAULT_MISSING_SYMBOL);
  EXPECT_NE(d->faults()[0].message.find("bdev_disk_changed(): side runs no NVMe multipath head"), std::string::npos)
      << d->faults()[0].message;
}

}  // namespace

namespace {

// tests/modules/side_test_blkq.c: four requests reach queue_rq (one parked while the queue was quiesced), the three
// issued without waiting end through the driver's end_io, the fourth (a bounced stack buffer) synchronously.
TEST(KapiBlkQueue, AQueueWithoutADiskServesPassthroughQuiescesFreezesAndGoes) {
  SyncDomain d;
  auto m = d->load({std::string(SIDE_TEST_MODULES_DIR) + "/side_test_blkq.ko"});
  ASSERT_TRUE(m) << m.error().message << d.log();
  EXPECT_TRUE(d.logged("side_test_blkq: ok 4 queued, 3 ended")) << d.log();
  EXPECT_FALSE(d.logged("check failed")) << d.log();
  EXPECT_TRUE(d->faults().empty());
}

}  // namespace
