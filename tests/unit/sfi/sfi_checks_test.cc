// --isolation sfi: the write checks at their edges. Extreme lengths (0, 2^32 - 1, 2^32, 2^63) through the layer's
// checked memset/memcpy, its slow path called directly, and the translator's range check of `rep stos` (whose
// byte count, count * size, may overflow 64 bits); and no window between a check and the store it guards: a
// pointer changed in memory by another thread, and the scratch register the check spills below rsp overwritten
// there by another thread (tests/modules/side_test_sfi.c). And what side's device emulator writes for the driver.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "domain/domain.h"
#include "domain/domain_bus.h"
#include "kapi/side_host.h"
#include "sfi/layout.h"
#include "sfi/runtime.h"
#include "sfi_test_module.h"

namespace {

using side::testing::kSfiMark;
using side::testing::sfi_domain;
using side::testing::sfi_request;

using side::domain::Domain;

using side::testing::kSfiAck;

// Loads the module with `attack`; a length of 0 writes nothing and is no fault, any other given here is one
// (an sfi write located in the module).
void expect_refused(const std::string& attack, uint64_t len, uint64_t skip, bool refused) {
  SCOPED_TRACE(attack + " len=" + std::to_string(len) + " skip=" + std::to_string(skip));
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  auto m = d->load(sfi_request(attack, 0, len, skip));
  auto faults = d->faults();
  if (!refused) {
    EXPECT_TRUE(m) << (m ? "" : m.error().message);
    EXPECT_TRUE(faults.empty());
    return;
  }
  EXPECT_FALSE(m);
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_SFI_WRITE) << faults[0].message;
  EXPECT_NE(faults[0].location.find("side_test_sfi"), std::string::npos) << faults[0].location;
}

constexpr uint64_t kExtreme[] = {0xffffffffull, 0x100000000ull, 0x8000000000000000ull, 65};

TEST(SfiChecks, ExtremeLengthsThroughTheCheckedMemsetAndMemcpy) {
  expect_refused("length", 0, 4, false);
  for (uint64_t len : kExtreme) expect_refused("length", len, 4, true);
}

// ioread32_rep() fills 4 * count bytes: counts past the object, whose bytes reach 2^34 or wrap (2^62 words are
// 2^64 bytes), are refused whole before the export runs.
TEST(SfiChecks, ExtremeCountsThroughTheCheckedIoreadRep) {
  for (uint64_t count : {17ull, 0xffffffffull, 0x4000000000000000ull, 0x8000000000000000ull, ~0ull}) {
    expect_refused("ioread", count, 4, true);
  }
}

// rep stosb writes rcx bytes; rep stosq 8 * rcx, which wraps to 0 (2^61) or to 8 (2^61 + 1) modulo 2^64.
TEST(SfiChecks, ExtremeCountsOfRepStos) {
  expect_refused("rep", 0, 1, false);
  expect_refused("rep", 0, 8, false);
  for (uint64_t len : kExtreme) expect_refused("rep", len, 1, true);
  for (uint64_t len : {uint64_t{1} << 61, (uint64_t{1} << 61) + 1, uint64_t{1} << 60, uint64_t{9}}) {
    expect_refused("rep", len, 8, true);
  }
}

// The slow path itself (the translator's violation entry calls it) on a granted 64-byte object, each length in a
// fresh domain (a fault leaves a domain faulty).
bool slow_path_allows(uint64_t len) {
  auto d = sfi_domain();
  if (!d) return false;
  const auto& entries = d->address_space().modules().kapi()->entry_points;
  auto slow = entries.find("side_kapi_sfi_slow_path");
  EXPECT_NE(slow, entries.end());
  if (slow == entries.end()) return false;
  auto* slow_path = reinterpret_cast<void (*)(unsigned long, unsigned long, unsigned long)>(slow->second);
  const auto a = reinterpret_cast<unsigned long>(side_host_kmalloc(64, 8));
  const bool ok = d->call([&] { slow_path(a, len, 0); });
  EXPECT_EQ(d->faults().size(), ok ? 0u : 1u);
  if (!ok) {
    EXPECT_EQ(d->faults()[0].kind, SIDE_FAULT_SFI_WRITE);
  }
  return ok;
}

TEST(SfiChecks, ExtremeLengthsThroughTheSlowPath) {
  EXPECT_TRUE(slow_path_allows(0));
  EXPECT_TRUE(slow_path_allows(64));
  for (uint64_t len : {uint64_t{0xffffffff}, uint64_t{1} << 32, uint64_t{1} << 63, ~uint64_t{0}, uint64_t{65}}) {
    EXPECT_FALSE(slow_path_allows(len)) << len;
  }
}

// The module stores `len` times through a pointer it reads from side's slot, which this thread flips between NULL
// (the module's own global) and side's memory. The check and the store use the register the pointer was read
// into: the store it lets through goes where it checked, side's memory never changes.
TEST(SfiChecks, APointerChangedInMemoryBetweenCheckAndStoreChangesNothing) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  std::vector<uint64_t> victim(4, 0x11);
  std::atomic<uint64_t*> slot{nullptr};
  std::atomic<bool> done{false};
  std::thread flipper([&] {
    while (!done.load()) {
      slot.store(victim.data() + 1);
      slot.store(nullptr);
    }
  });
  auto m = d->load(sfi_request("race", reinterpret_cast<uint64_t>(&slot), 100000000));
  done.store(true);
  flipper.join();
  EXPECT_FALSE(m) << "the store through side's pointer was never tried";
  auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_SFI_WRITE) << faults[0].message;
  EXPECT_TRUE(std::all_of(victim.begin(), victim.end(), [](uint64_t v) { return v == 0x11; }));
}

// The module stores through r11 in a loop; the check saves r11 below rsp (on the driver stack, which any vCPU's
// driver code may write) and takes it back before the store. This thread writes side's address over the stack
// below the module's frame all along: the store still goes where it was checked (r11 comes back from the
// layer's per-cpu slot, which no driver code can write), side's memory never changes.
TEST(SfiChecks, AScratchRegisterSpillOverwrittenBetweenCheckAndStoreChangesNothing) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  auto* sfi = side::sfi::Runtime::active();
  std::vector<uint64_t> victim(4, 0x11);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> overwrites{0};
  std::thread racer([&] {
    uint64_t mark = 0;
    while (!done.load() && !mark) {
      for (uint64_t a = sfi->stack_floor(0); a + 16 <= sfi->stack_hi(0) - side::sfi::kStackGuard && !mark; a += 8) {
        const auto* w = reinterpret_cast<const volatile uint64_t*>(a);
        if (w[0] == kSfiMark && w[1] == kSfiMark) mark = a;
      }
    }
    // Until the loop ends (mark[0] cleared); then the module is told this thread stopped writing its stack.
    auto* words = reinterpret_cast<volatile uint64_t*>(mark);
    while (!done.load() && mark && words[0] == kSfiMark) {
      for (uint64_t p = mark - 256; p < mark; p += 8) {
        *reinterpret_cast<volatile uint64_t*>(p) = reinterpret_cast<uint64_t>(victim.data() + 1);
      }
      overwrites.fetch_add(1);
    }
    if (mark) words[1] = kSfiAck;
  });
  auto m = d->load(sfi_request("spill", 0, 50000000));
  done.store(true);
  racer.join();
  EXPECT_GT(overwrites.load(), 1000u) << "the racer never ran alongside the stores";
  EXPECT_TRUE(std::all_of(victim.begin(), victim.end(), [](uint64_t v) { return v == 0x11; }));
  // Overwriting the flags image below rsp may well end the loop with a fault of its own; never with a store.
  for (const auto& f : d->faults()) EXPECT_NE(f.kind, SIDE_FAULT_SFI_WRITE) << f.message;
  (void)m;
}

// The memory operand of a driver's string I/O (`rep ins`, trapped or at a rewritten site) is written by side's
// emulator, not by driver code; in sfi mode it writes only what the driver itself may write: its own object yes,
// a freed object or the vCPU thread's own stack (the layer's and side's frames) no. The translator's check before
// the instruction does not cover it: a rewritten site's trampoline keeps the registers on the driver stack, where
// driver code on another vCPU can change rdi after the check.
TEST(SfiChecks, TheDeviceEmulatorWritesOnlyWhatTheDriverMayWrite) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  auto* own = static_cast<uint64_t*>(side_host_kmalloc(64, 8));
  auto* freed = static_cast<uint64_t*>(side_host_kmalloc(64, 8));
  ASSERT_NE(own, nullptr);
  ASSERT_NE(freed, nullptr);
  side_host_kfree(freed, 0);
  const uint64_t freed_before = *freed;
  bool ran = false;
  ASSERT_TRUE(d->call([&] {
    side::domain::DomainBus bus(*d);
    volatile uint64_t frame_word = 7;  // on the vCPU thread's stack
    constexpr auto kMemory = side::emulation::Space::kMemory;
    EXPECT_TRUE(bus.write(kMemory, reinterpret_cast<uint64_t>(own), 8, 0x1111));
    EXPECT_FALSE(bus.write(kMemory, reinterpret_cast<uint64_t>(freed), 8, 0x2222));
    EXPECT_FALSE(bus.write(kMemory, reinterpret_cast<uint64_t>(&frame_word), 8, 0x3333));
    EXPECT_EQ(frame_word, 7u);
    ran = true;
  }));
  EXPECT_TRUE(ran);
  EXPECT_EQ(*own, 0x1111u);
  EXPECT_EQ(*freed, freed_before);
  side_host_kfree(own, 0);
}

}  // namespace
