// --isolation sfi: the checks that live in the kernel-API layer (the checked string exports, the indirect-branch
// and return thunks, syscall user dispatch) and the translator's write checks stop a hostile test module before
// its write, branch or system call happens, report it with the module's (original) location, and leave a
// well-behaved module alone. The rights bitmap is checked directly: what the layer hands out is writable, what it takes
// back is not.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "domain/arena.h"
#include "domain/domain.h"
#include "kapi/side_host.h"
#include "session/session_domain.h"
#include "sfi/layout.h"
#include "sfi/runtime.h"
#include "sfi_test_module.h"
#include "supervisor/recoverable_domain.h"

namespace {

using side::domain::Domain;
using side::domain::DomainConfig;
using side::domain::FaultReport;
using side::testing::sfi_domain;
using side::testing::sfi_module_path;

std::string params(const std::string& attack, uint64_t target = 0, uint64_t len = 64) {
  return "attack=" + attack + " target=" + std::to_string(target) + " len=" + std::to_string(len);
}

// Loads side_test_sfi with one attack; expects exactly one fault of `kind`, located in the module.
FaultReport expect_caught(Domain& d, const std::string& attack, int kind, uint64_t target = 0) {
  auto m = d.load({sfi_module_path(), params(attack, target)});
  EXPECT_FALSE(m) << attack << " was not stopped";
  return side::testing::one_sfi_fault(d, kind);
}

TEST(SfiRuntime, AWellBehavedModuleRunsUnharmed) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  auto m = d->load({sfi_module_path(), params("none")});
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(d->faults().empty());
  EXPECT_EQ(side::sfi::Runtime::active()->checks_failed(), 0u);
}

TEST(SfiRuntime, AWriteIntoSidesHeapIsStoppedBeforeItHappens) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  std::vector<uint8_t> heap(64, 0x11);
  auto f = expect_caught(*d, "heap", SIDE_FAULT_SFI_WRITE, reinterpret_cast<uint64_t>(heap.data()));
  EXPECT_NE(f.message.find("side's own memory"), std::string::npos) << f.message;
  EXPECT_TRUE(std::all_of(heap.begin(), heap.end(), [](uint8_t b) { return b == 0x11; }));
  EXPECT_EQ(side::sfi::Runtime::active()->checks_failed(), 1u);
}

// The layer is trusted, unchecked code: an export that writes through a pointer the driver passes (a result, a
// buffer it fills, a kernel object it locks or initialises) checks the range first, or it would write wherever the
// driver pointed it. Each is caught at the driver's call, before the write.
TEST(SfiRuntime, ExportsWritingThroughADriversPointerCheckItFirst) {
  for (const char* attack : {"ts64", "random", "lock", "timer"}) {
    SCOPED_TRACE(attack);
    auto d = sfi_domain();
    ASSERT_TRUE(d);
    std::vector<uint8_t> heap(128, 0x11);
    auto f = expect_caught(*d, attack, SIDE_FAULT_SFI_WRITE, reinterpret_cast<uint64_t>(heap.data()));
    EXPECT_NE(f.message.find("side's own memory"), std::string::npos) << f.message;
    EXPECT_TRUE(std::all_of(heap.begin(), heap.end(), [](uint8_t b) { return b == 0x11; }));
  }
}

// A checked variant replaces an export of the same name; the layer's own sfi entry points share the prefix of the
// checked variants but are no exports, so a driver importing them by the rest of their name (the crossing into
// driver code, whose stack bookkeeping it would corrupt, or the per-cpu crossing state) is refused at load.
TEST(SfiRuntime, TheLayersCrossingsCannotBeImportedByName) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  auto m = d->load({std::string(SIDE_TEST_MODULES_DIR) + "/side_test_sfi_entry.ko", ""});
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("enter_driver"), std::string::npos) << m.error().message;
  EXPECT_NE(m.error().message.find("crossing"), std::string::npos) << m.error().message;
  EXPECT_TRUE(d->faults().empty());
}

TEST(SfiRuntime, AWriteIntoAnotherDriversMemoryIsStopped) {
  // Another driver's domain process: its arena is mapped into side (for its IOMMUs) as this one is.
  auto other = side::domain::Arena::create(4 << 20);
  ASSERT_TRUE(other);
  auto* page = static_cast<uint8_t*>(other->alloc_pages(0));
  ASSERT_NE(page, nullptr);
  std::memset(page, 0x22, 64);
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  expect_caught(*d, "heap", SIDE_FAULT_SFI_WRITE, reinterpret_cast<uint64_t>(page));
  EXPECT_TRUE(std::all_of(page, page + 64, [](uint8_t b) { return b == 0x22; }));
}

TEST(SfiRuntime, AWriteIntoTheKernelApiLayersDataIsStopped) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  // The juiciest target: the layer's own sfi state (clearing `enabled` would switch the checks off).
  const auto& entries = d->address_space().modules().kapi()->entry_points;
  auto state = entries.find("side_kapi_sfi");
  ASSERT_NE(state, entries.end());
  side_sfi_state before;
  std::memcpy(&before, reinterpret_cast<const void*>(state->second), sizeof before);
  auto f = expect_caught(*d, "kapi", SIDE_FAULT_SFI_WRITE, state->second);
  EXPECT_NE(f.message.find("the kernel-API layer"), std::string::npos) << f.message;
  EXPECT_EQ(std::memcmp(&before, reinterpret_cast<const void*>(state->second), sizeof before), 0);
  EXPECT_EQ(before.enabled, 1u);
}

TEST(SfiRuntime, AWriteIntoAFreedObjectIsStopped) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  auto f = expect_caught(*d, "freed", SIDE_FAULT_SFI_WRITE);
  EXPECT_NE(f.message.find("not allocated to the driver"), std::string::npos) << f.message;
  // The freed object still holds kzalloc's zeros: the memset never ran.
  const size_t at = f.message.find(" to 0x");
  ASSERT_NE(at, std::string::npos) << f.message;
  const uint64_t freed = std::stoull(f.message.substr(at + 4), nullptr, 16);
  ASSERT_TRUE(d->arena().contains(reinterpret_cast<const void*>(freed), 64));
  const auto* bytes = reinterpret_cast<const uint8_t*>(freed);
  EXPECT_TRUE(std::all_of(bytes, bytes + 64, [](uint8_t b) { return b == 0; }));
}

TEST(SfiRuntime, AnIndirectCallIntoTheMiddleOfAFunctionIsStopped) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  auto f = expect_caught(*d, "branch", SIDE_FAULT_SFI_BRANCH);
  EXPECT_NE(f.message.find("no function entry"), std::string::npos) << f.message;
}

TEST(SfiRuntime, ASmashedReturnAddressIsStopped) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  auto f = expect_caught(*d, "return", SIDE_FAULT_SFI_RETURN);
  EXPECT_NE(f.message.find("return address overwritten"), std::string::npos) << f.message;
}

TEST(SfiRuntime, ARawSystemCallIsStoppedBeforeTheKernelRunsIt) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  auto f = expect_caught(*d, "syscall", SIDE_FAULT_SYSCALL);
  EXPECT_NE(f.message.find("system call 39"), std::string::npos) << f.message;
}

// A plain `mov` to side's heap: caught by the check the translator put before it (sfi-translate's rewriting).
TEST(SfiRuntime, APlainStoreIsStoppedByTheTranslatedCheck) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  std::vector<uint64_t> heap(8, 0x11);
  auto f = expect_caught(*d, "store", SIDE_FAULT_SFI_WRITE, reinterpret_cast<uint64_t>(heap.data()));
  EXPECT_NE(f.message.find("write of 8 bytes"), std::string::npos) << f.message;
  EXPECT_EQ(heap[0], 0x11u);
  const auto& t = side::sfi::Runtime::active()->translation();
  EXPECT_TRUE(t.translated);
  EXPECT_GT(t.write_sites, 0u);
  EXPECT_GT(t.returns, 0u);
}

bool g_side_code_ran = false;
void side_code() {
  g_side_code_ran = true;
}

// The layer calls the driver's function pointers (ops tables, timers, work: memory the driver may write) through
// its own indirect thunks; in sfi mode those are checked too, so an ops pointer aimed at side's code is stopped.
TEST(SfiRuntime, TheLayersOwnIndirectCallsAreCheckedToo) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  const auto& exports = d->address_space().modules().kapi()->exports;
  auto thunk = exports.find("__x86_indirect_thunk_rax");
  ASSERT_NE(thunk, exports.end());
  const auto target = reinterpret_cast<uint64_t>(&side_code);
  const uint64_t via = thunk->second;
  EXPECT_FALSE(d->call([&] {
    asm volatile("call *%1"
                 :
                 : "a"(target), "r"(via)
                 : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
  }));
  EXPECT_FALSE(g_side_code_ran);
  auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_SFI_BRANCH);
  EXPECT_NE(faults[0].message.find("side's own memory"), std::string::npos) << faults[0].message;
}

TEST(SfiRuntime, RightsFollowAllocationsAndFrees) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  side::sfi::Rights& rights = side::sfi::Runtime::active()->rights();
  void* p = side_host_kmalloc(100, 8);
  ASSERT_NE(p, nullptr);
  const auto a = reinterpret_cast<uint64_t>(p);
  EXPECT_TRUE(rights.allowed(a, 100));
  EXPECT_FALSE(rights.allowed(a, 129));  // the 128-byte class, and not a byte past it
  d->call([&] { side_host_kfree(p, 0); });
  EXPECT_FALSE(rights.allowed(a, 8));
  // The driver stacks are writable, their guards and shadows not; the window's edges hold.
  auto* sfi = side::sfi::Runtime::active();
  EXPECT_TRUE(rights.allowed(sfi->stack_floor(0), 64));
  EXPECT_FALSE(rights.allowed(sfi->stack_lo(0), 8));
  EXPECT_FALSE(rights.allowed(sfi->stack_hi(0) - 8, 8));
  EXPECT_FALSE(rights.allowed(sfi->stack_hi(0), 8));
  EXPECT_FALSE(rights.allowed(side::sfi::kWindowBase - 8, 16));
  EXPECT_FALSE(rights.allowed(reinterpret_cast<uint64_t>(&rights), 8));
}

TEST(SfiRuntime, TheDomainGoesAndTheNextStartsClean) {
  uint64_t granted = 0;
  {
    auto d = sfi_domain();
    ASSERT_TRUE(d);
    void* p = side_host_kmalloc(64, 8);
    granted = reinterpret_cast<uint64_t>(p);
    EXPECT_TRUE(side::sfi::Runtime::active()->rights().allowed(granted, 64));
  }
  EXPECT_EQ(side::sfi::Runtime::active(), nullptr);
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  EXPECT_FALSE(side::sfi::Runtime::active()->rights().allowed(granted, 64));
  auto m = d->load({sfi_module_path(), params("none")});
  EXPECT_TRUE(m) << (m ? "" : m.error().message);
}

}  // namespace

namespace {

// Recovery in sfi mode: a fault tears the in-process domain down (every region, right and stack given back) and a
// fresh sfi domain with the driver loaded takes its place.
TEST(SfiRecovery, AFaultRestartsTheDriverInAFreshSfiDomain) {
  side::session::SessionDomainConfig c;
  c.isolation = "sfi";
  c.domain.kapi_path = SIDE_TEST_KAPI;
  c.domain.symvers_path = SIDE_TEST_SYMVERS;
  c.domain.modules_dir = SIDE_TEST_MODULES_DIR;
  c.load = {sfi_module_path(), params("none")};
  c.policy = side::supervisor::RecoveryPolicy::for_deliberate_faults(3);
  auto s = side::session::start_session_domain(c);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_NE(s->recoverable, nullptr);
  EXPECT_STREQ(s->domain->isolation(), "sfi");
  ASSERT_NE(side::sfi::Runtime::active(), nullptr);
  s->domain->report_fault(SIDE_FAULT_SFI_WRITE, "test: a write outside the driver's memory");
  ASSERT_TRUE(s->recoverable->wait_recovered(10000));
  for (int i = 0; i < 1000 && s->recoverable->recoveries().empty(); ++i) usleep(10000);
  auto r = s->recoverable->recoveries();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].ok) << r[0].error;
  EXPECT_EQ(s->domain->generation(), 1u);
  EXPECT_FALSE(s->domain->faulty());
  EXPECT_NE(side::sfi::Runtime::active(), nullptr);  // the new generation's
  s->domain->shutdown();
}

}  // namespace
