// Loader phases and the kernel-API layer core, end to end through the project's own test modules.
#include <gtest/gtest.h>
#include <unistd.h>

#include "kapi/side_host.h"
#include "test_domain.h"

using side::testing::test_module;
using side::testing::TestDomain;

TEST(Domain, PrintkDeliversKernelStyleLines) {
  TestDomain d;
  auto m = d->load({test_module("side_test_printk")});
  ASSERT_TRUE(m) << m.error().message << d.log();
  EXPECT_TRUE(d.logged("side_test_printk: info 7 seven"));
  EXPECT_TRUE(d.logged("side_test_printk: mac 00:1b:21:0a:bc:de ip 192.168.0.1"));
  EXPECT_TRUE(d.logged("side_test_printk: symbol side_test_printk_marker+0x0/"));
  EXPECT_TRUE(d.logged("[side_test_printk]"));
  EXPECT_TRUE(d.logged("side_test_printk: errptr -ENOMEM"));
  EXPECT_TRUE(d.logged("side_test_printk: cont one two"));
  EXPECT_EQ(d.count("side_test_printk: cont"), 1u);
  EXPECT_TRUE(d->faults().empty());
}

TEST(Domain, AllocationsWorkAndAreAllReturned) {
  TestDomain d;
  auto before = d->arena().stats();
  size_t vmallocs = d->private_memory().vmalloc_count();
  auto m = d->load({test_module("side_test_alloc")});
  ASSERT_TRUE(m) << m.error().message << d.log();
  EXPECT_TRUE(d.logged("side_test_alloc: ok"));
  auto after = d->arena().stats();
  EXPECT_EQ(after.kmalloc_objects, before.kmalloc_objects);
  EXPECT_EQ(after.kmalloc_bytes, before.kmalloc_bytes);
  EXPECT_EQ(d->private_memory().vmalloc_count(), vmallocs);
}

TEST(Domain, LocksAndVirtualInterruptFlag) {
  TestDomain d;
  auto m = d->load({test_module("side_test_locks")});
  ASSERT_TRUE(m) << m.error().message << d.log();
  EXPECT_TRUE(d.logged("side_test_locks: ok"));
}

TEST(Domain, PercpuAndCurrent) {
  TestDomain d;
  uint64_t before = d->percpu().bytes_in_use();
  auto m = d->load({test_module("side_test_percpu")});
  ASSERT_TRUE(m) << m.error().message << d.log();
  EXPECT_TRUE(d.logged("side_test_percpu: ok cpu=0 comm=side/0"));
  // The module's static per-cpu section stays; its alloc_percpu() was freed.
  EXPECT_EQ(d->percpu().bytes_in_use(), before + (*m)->percpu_size);
}

TEST(Domain, WarnReportsWithSymbolAndContinues) {
  TestDomain d;
  auto m = d->load({test_module("side_test_warn")});
  ASSERT_TRUE(m) << m.error().message << d.log();
  EXPECT_TRUE(d.logged("------------[ cut here ]------------"));
  EXPECT_TRUE(d.logged("side_test_warn: warning number 1"));
  EXPECT_TRUE(d.logged("side_test_warn.c:15 side_test_warn_init+0x"));
  EXPECT_TRUE(d.logged("[side_test_warn]"));
  // WARN_ON_ONCE hit twice reports once.
  EXPECT_EQ(d.count("WARNING: CPU: 0 PID: 1 at"), 2u) << d.log();
  EXPECT_TRUE(d.logged("side_test_warn: continued after 3 warnings"));
  EXPECT_TRUE(d->faults().empty());
}

TEST(Domain, BugIsADriverFault) {
  TestDomain d;
  auto m = d->load({test_module("side_test_bug")});
  ASSERT_FALSE(m);
  auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_BUG);
  EXPECT_NE(faults[0].message.find("side_test_bug.c:11"), std::string::npos);
  EXPECT_NE(faults[0].location.find("side_test_bug_init+0x"), std::string::npos);
  EXPECT_FALSE(d.logged("survived"));
  EXPECT_TRUE(d->faulty());
  // A faulty domain runs no more driver code.
  auto again = d->load({test_module("side_test_printk")});
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("faulty"), std::string::npos);
}

TEST(Domain, BugNotTriggeredWhenParameterSaysSo) {
  TestDomain d;
  auto m = d->load({test_module("side_test_bug"), "trigger=0"});
  ASSERT_TRUE(m) << m.error().message << d.log();
  EXPECT_TRUE(d.logged("side_test_bug: survived BUG"));
}

TEST(Domain, ParametersAsInsmodTakesThem) {
  TestDomain d;
  auto m =
      d->load({test_module("side_test_params"), "number=-5 unumber=0x10 flag word=\"two words\" list=1,2,3 nope=1"});
  ASSERT_TRUE(m) << m.error().message << d.log();
  EXPECT_TRUE(d.logged("side_test_params: number=-5 unumber=16 flag=1 word=two words list=3:1,2,3,9")) << d.log();
  EXPECT_TRUE(d.logged("side_test_params: unknown parameter 'nope' ignored"));
}

TEST(Domain, ParameterDefaults) {
  TestDomain d;
  ASSERT_TRUE(d->load({test_module("side_test_params")}));
  EXPECT_TRUE(d.logged("side_test_params: number=1 unumber=2 flag=0 word=default list=0:9,9,9,9"));
}

TEST(Domain, InvalidParameterRefusesTheLoad) {
  TestDomain d;
  auto m = d->load({test_module("side_test_params"), "number=abc"});
  ASSERT_FALSE(m);
  EXPECT_TRUE(d.logged("'abc' invalid for parameter 'number'"));
}

TEST(Domain, ArrayParameterBeyondItsSizeIsRefused) {
  TestDomain d;
  auto m = d->load({test_module("side_test_params"), "list=1,2,3,4,5"});
  ASSERT_FALSE(m);
  EXPECT_TRUE(d.logged("list: can only take 4 arguments"));
}

TEST(Domain, DependenciesLoadFirstAndResolve) {
  TestDomain d;
  auto m = d->load({test_module("side_test_user")});
  ASSERT_TRUE(m) << m.error().message << d.log();
  auto mods = d->modules();
  ASSERT_EQ(mods.size(), 2u);
  EXPECT_EQ(mods[0]->name, "side_test_base");
  EXPECT_EQ(mods[1]->name, "side_test_user");
  EXPECT_TRUE(d.logged("side_test_user: sum=42"));
  // The base module is in use; the user's unload takes the base its load brought in with it (newest first), and the
  // base's exit runs.
  EXPECT_FALSE(d->unload("side_test_base"));
  EXPECT_TRUE(d->unload("side_test_user"));
  EXPECT_TRUE(d.logged("side_test_base: unloaded"));
  EXPECT_TRUE(d->modules().empty());
}

TEST(Domain, UnknownSymbolsRefuseTheLoadListingEveryName) {
  TestDomain d;
  auto m = d->load({test_module("side_test_unknown")});
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("unknown symbols (2)"), std::string::npos);
  EXPECT_NE(m.error().message.find("side_test_no_such_function"), std::string::npos);
  EXPECT_NE(m.error().message.find("side_test_no_such_variable"), std::string::npos);
  EXPECT_FALSE(d->faulty());
}

TEST(Domain, CallingAnAllowedMissingFunctionIsAFaultNamingIt) {
  TestDomain d;
  auto m = d->load({test_module("side_test_unknown"), "", true});
  ASSERT_FALSE(m);
  auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_MISSING_SYMBOL);
  EXPECT_NE(faults[0].message.find("side_test_no_such_function()"), std::string::npos);
  EXPECT_NE(faults[0].location.find("side_test_unknown_init+0x"), std::string::npos);
}

TEST(Domain, ReadingAnAllowedMissingVariableIsAFaultNamingIt) {
  TestDomain d;
  auto m = d->load({test_module("side_test_unknown"), "call_it=0", true});
  ASSERT_FALSE(m);
  auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_MISSING_SYMBOL);
  EXPECT_NE(faults[0].message.find("side_test_no_such_variable"), std::string::npos);
}

TEST(Domain, DoubleFreeIsDetected) {
  TestDomain d;
  ASSERT_FALSE(d->load({test_module("side_test_double_free")}));
  auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_BAD_ARGUMENT);
  EXPECT_NE(faults[0].message.find("double free"), std::string::npos);
  EXPECT_NE(faults[0].location.find("side_test_double_free_init"), std::string::npos);
}

TEST(Domain, UnlockingAnUnlockedMutexIsDetected) {
  TestDomain d;
  ASSERT_FALSE(d->load({test_module("side_test_bad_unlock")}));
  auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_BAD_ARGUMENT);
  EXPECT_NE(faults[0].message.find("mutex_unlock"), std::string::npos);
}

TEST(Domain, NullDereferenceIsAMemoryFault) {
  TestDomain d;
  ASSERT_FALSE(d->load({test_module("side_test_null")}));
  auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_MEMORY);
  EXPECT_NE(faults[0].message.find("address: 0x0"), std::string::npos);
  EXPECT_NE(faults[0].location.find("side_test_null_init+0x"), std::string::npos);
}

TEST(Domain, OnlyOneDomainAtATimeAndTheNextOneStartsClean) {
  {
    TestDomain first;
    side::domain::DomainConfig config;
    config.kapi_path = SIDE_TEST_KAPI;
    config.symvers_path = SIDE_TEST_SYMVERS;
    auto second = side::domain::Domain::create(config);
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message.find("another driver domain"), std::string::npos);
    ASSERT_FALSE(first->load({test_module("side_test_null")}));
  }
  TestDomain fresh;
  EXPECT_FALSE(fresh->faulty());
  ASSERT_TRUE(fresh->load({test_module("side_test_alloc")}));
}

TEST(Domain, JiffiesAdvance) {
  TestDomain d;
  auto kapi_jiffies = d->address_space().resolve("jiffies");
  ASSERT_TRUE(kapi_jiffies);
  auto read = [&] { return *reinterpret_cast<volatile unsigned long*>(*kapi_jiffies); };
  unsigned long start = read();
  for (int i = 0; i < 200 && read() == start; ++i) usleep(5000);
  EXPECT_NE(read(), start);
}

// In a domain process the gate is the sandbox: no module image is even opened, let alone parsed, relocated, given
// its parameters or initialised, before it is passed; dependencies pass it too.
TEST(Domain, EveryLoadPassesTheGateBeforeTheImageIsOpened) {
  side::domain::DomainConfig config;
  config.kapi_path = SIDE_TEST_KAPI;
  config.symvers_path = SIDE_TEST_SYMVERS;
  config.modules_dir = SIDE_TEST_MODULES_DIR;
  std::vector<std::string> opened;
  bool gate_open = false;
  int gate_calls = 0;
  config.open_module = [&](const std::string& name) {
    opened.push_back(name);
    return side::loader::ElfFile::read(test_module(name));
  };
  config.before_driver_code = [&]() -> side::Status {
    ++gate_calls;
    if (!gate_open) return side::make_error("not sandboxed");
    return {};
  };
  auto d = side::domain::Domain::create(config);
  ASSERT_TRUE(d) << d.error().message;
  auto refused = (*d)->load({"side_test_params", "number=5"});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("not sandboxed"), std::string::npos) << refused.error().message;
  EXPECT_TRUE(opened.empty());
  gate_open = true;
  auto m = (*d)->load({"side_test_user"});
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(opened, (std::vector<std::string>{"side_test_user", "side_test_base"}));
  EXPECT_EQ(gate_calls, 3);
}
