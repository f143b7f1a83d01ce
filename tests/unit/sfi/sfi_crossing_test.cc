// --isolation sfi: driver code runs on its vCPU's driver stack, the kernel-API layer and side on the vCPU thread's
// own stack (kapi/sfi_thunks.S), so a driver can reach none of their frames: not by overwriting the driver stack
// above its own frame, not by storing at the layer's return address it can read the location of, not from another
// thread while the layer runs. And the write checks' edges: extreme lengths through the checked exports, the
// slow path and `rep stos`, and no window between a check and its store (tests/modules/side_test_sfi.c).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "domain/domain.h"
#include "kapi/side_host.h"
#include "sfi/layout.h"
#include "sfi/runtime.h"
#include "sfi_test_module.h"

namespace {

using side::testing::kSfiMark;
using side::testing::one_sfi_fault;
using side::testing::sfi_domain;
using side::testing::sfi_request;

using side::domain::Domain;
using side::domain::DomainConfig;

uint64_t symbol(const side::loader::LoadedModule& m, const std::string& name) {
  for (const auto& s : m.symbols) {
    if (s.name == name) return s.address;
  }
  ADD_FAILURE() << name << " not found";
  return 0;
}

// What was on the driver stack above a driver function's frame (the layer's and side's frames before they moved
// off it), up to the stack's top guard, is overwritten with a function entry; nothing of side's or the layer's
// follows it: the call returns.
TEST(SfiCrossing, OverwritingTheDriverStackAboveItsFrameReachesNoFrameOfTheLayer) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  auto m = d->load(sfi_request("above", 0, side::sfi::kStackGuard));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(d->faults().empty());
  const int written = *reinterpret_cast<const int*>(symbol(**m, "side_test_sfi_result"));
  // The driver stack starts SIDE_SFI_STACK_TOP_GAP below its top: 4 KiB above the guard, and init's frame.
  EXPECT_GT(written, 500) << "words overwritten above the driver's frame";
}

// The driver reads where the layer's stack continues (the layer's crossing state is readable) and stores at the
// layer's return address there: the store is outside the window, stopped before it happens.
TEST(SfiCrossing, AStoreAtTheLayersReturnAddressIsStopped) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  const uint64_t crossing = side::sfi::Runtime::active()->crossing_offset();
  ASSERT_NE(crossing, 0u);
  auto m = d->load(sfi_request("layer", crossing, 0));
  EXPECT_FALSE(m);
  auto f = one_sfi_fault(*d, SIDE_FAULT_SFI_WRITE);
  EXPECT_NE(f.message.find("side's own memory"), std::string::npos) << f.message;
  const size_t at = f.message.find(" to 0x");
  ASSERT_NE(at, std::string::npos) << f.message;
  const uint64_t slot = std::stoull(f.message.substr(at + 4), nullptr, 16);
  EXPECT_FALSE(side::sfi::in_window(slot, 8)) << std::hex << slot;
}

// Finds the frame the test module marked on vCPU `cpu`'s driver stack and overwrites the whole stack half (but its
// guards, which no access may touch).
bool overwrite_marked(side::sfi::Runtime& sfi, unsigned cpu) {
  const uint64_t lo = sfi.stack_floor(cpu), hi = sfi.stack_hi(cpu) - side::sfi::kStackGuard;
  for (uint64_t a = lo; a + 8 <= hi; a += 8) {
    if (*reinterpret_cast<const volatile uint64_t*>(a) != kSfiMark) continue;
    EXPECT_TRUE(sfi.rights().allowed(lo, hi - lo));  // any driver code may write all of it
    for (uint64_t p = lo; p < hi; p += 8) *reinterpret_cast<volatile uint64_t*>(p) = 0x4141414141414141ull;
    return true;
  }
  return false;
}

// Another thread (standing for a driver on another vCPU: the driver stack is writable by every vCPU's driver
// code) overwrites the whole driver stack while the driver waits in the layer's mutex_lock() for a mutex the
// thread holds, then lets it go. The layer returns normally into the driver; the driver's own return address was
// overwritten too, which its shadow catches.
TEST(SfiCrossing, AStackOverwrittenWhileInTheLayerCannotRedirectTheLayer) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  auto* sfi = side::sfi::Runtime::active();
  // A struct mutex (its owner word first) held by someone who is not this vCPU.
  auto* mutex = static_cast<uint64_t*>(side_host_kmalloc(64, 8));
  ASSERT_NE(mutex, nullptr);
  std::memset(mutex, 0, 64);
  std::atomic_ref<uint64_t> owner(*mutex);
  owner.store(1);
  std::atomic<bool> done{false}, hit{false};
  std::thread attacker([&] {
    while (!done.load() && !hit.load()) {
      for (unsigned cpu = 0; cpu < DomainConfig{}.vcpus && !hit.load(); ++cpu) hit.store(overwrite_marked(*sfi, cpu));
    }
    owner.store(0);
  });
  auto m = d->load(sfi_request("wait", reinterpret_cast<uint64_t>(mutex), 0));
  done.store(true);
  attacker.join();
  ASSERT_TRUE(hit.load()) << "the driver's frame was never found";
  EXPECT_FALSE(m);
  auto f = one_sfi_fault(*d, SIDE_FAULT_SFI_RETURN);
  EXPECT_NE(f.message.find("0x4141414141414141"), std::string::npos) << f.message;
}

// Another thread (standing for driver code on another vCPU) that writes `entry` over 64 bytes of vCPU 0's driver
// stack all along, until the module's loop ends (it clears the mark), then acknowledges (kSfiAck), so that the
// module's later calls are not raced. The 64 bytes are those below the frame the test module marked (kBelowMark:
// the return addresses its calls push), or, for calls made at the stack pointer the module wrote after its mark,
// those below their return address (kBelowReturnAddress) or the return address and the 56 below it
// (kFromReturnAddress).
class StackRacer {
 public:
  enum class Range { kBelowMark, kBelowReturnAddress, kFromReturnAddress };
  StackRacer(side::sfi::Runtime& sfi, uint64_t entry, Range range)
      : thread_([this, &sfi, entry, range] { run(sfi, entry, range); }) {}
  // The number of times the whole range was written.
  uint64_t stop() {
    done_.store(true);
    thread_.join();
    return overwrites_.load();
  }

 private:
  void run(side::sfi::Runtime& sfi, uint64_t entry, Range range) {
    const uint64_t lo = sfi.stack_floor(0), hi = sfi.stack_hi(0) - side::sfi::kStackGuard;
    uint64_t mark = 0;
    while (!done_.load() && !mark) {
      for (uint64_t a = lo; a + 24 <= hi && !mark; a += 8) {
        const auto* w = reinterpret_cast<const volatile uint64_t*>(a);
        if (w[0] == kSfiMark && w[1] == kSfiMark) mark = a;
      }
    }
    auto* words = reinterpret_cast<volatile uint64_t*>(mark);
    uint64_t end = mark;
    if (mark && range == Range::kBelowReturnAddress) end = words[2] - 8;
    if (mark && range == Range::kFromReturnAddress) end = words[2];
    if (end < lo + 64 || end > hi) end = 0;  // not a stack pointer of this stack: nothing written
    while (!done_.load() && end && words[0] == kSfiMark) {
      for (uint64_t p = end - 64; p < end; p += 8) *reinterpret_cast<volatile uint64_t*>(p) = entry;
      overwrites_.fetch_add(1);
    }
    if (mark) words[1] = side::testing::kSfiAck;
  }

  std::atomic<bool> done_{false};
  std::atomic<uint64_t> overwrites_{0};
  std::thread thread_;
};

constexpr uint64_t kRacedCalls = 20000000;

// Loads the test module's `act` for kRacedCalls calls while a StackRacer writes a valid branch target (the layer's
// strlen itself) over `range` all along: the load succeeds without a fault and the module's result is `expected`.
void expect_raced_calls_unchanged(const char* act, StackRacer::Range range, int expected) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  const auto loaded = d->address_space().modules().kapi();
  ASSERT_TRUE(loaded);
  StackRacer racer(*side::sfi::Runtime::active(), loaded->exports.at("strlen"), range);
  auto m = d->load(sfi_request(act, 0, kRacedCalls));
  EXPECT_GT(racer.stop(), 1000u) << "the racer never ran alongside the calls";
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(d->faults().empty());
  EXPECT_EQ(*reinterpret_cast<const int*>(symbol(**m, "side_test_sfi_result")), expected);
}

// The racer writes over the return address of each of the module's calls into the layer, between the call that
// pushed it and the crossing that returns: the crossing returns through the shadow slot the call site wrote, never
// through the stack, so every call comes back where it was made.
TEST(SfiCrossing, AReturnAddressOverwrittenDuringACrossingChangesNothing) {
  expect_raced_calls_unchanged("recross", StackRacer::Range::kBelowMark, static_cast<int>(8 * kRacedCalls));
}

// The racer writes below the return address of the module's indirect calls of its own function (the return check
// guards the address itself): the checked thunk keeps the target it checked (and the registers it borrows) in the
// vCPU's crossing state, not on the driver stack, so the racer's entry never becomes the target. (With the target
// kept on the driver stack, a swapped one sent a call with an int argument into strlen.) Half of the calls add 1,
// half 2.
TEST(SfiCrossing, AnIndirectCallsTargetCannotBeSwappedAfterItsCheck) {
  expect_raced_calls_unchanged("icall", StackRacer::Range::kBelowReturnAddress, static_cast<int>(kRacedCalls / 2 * 3));
}

// The racer writes over the return address (and below) of the module's calls of hweight64(): the layer's
// __sw_hweight64 through the stub for functions called with every register live, which switches to the layer's
// stack through the vCPU's crossing state and returns through the call's shadow slot, so neither the return nor
// the registers the caller keeps live across the call (the results add up) are the racer's. Half the calls count
// 32 bits, half 33.
TEST(SfiCrossing, AKeepRegistersStubsReturnCannotBeRedirected) {
  expect_raced_calls_unchanged("hweight", StackRacer::Range::kFromReturnAddress,
                               static_cast<int>(kRacedCalls / 2 * 65));
}

// rsp set to another vCPU's driver stack (writable memory, but not this vCPU's stack) is stopped before the push.
TEST(SfiCrossing, AStackPointerMovedToAnotherVcpusStackIsStopped) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  auto* sfi = side::sfi::Runtime::active();
  const uint64_t other = sfi->stack_floor(1) + 0x10000;
  const uint64_t before = *reinterpret_cast<const uint64_t*>(other - 8);
  auto m = d->load(sfi_request("stack", other, 0));
  EXPECT_FALSE(m);
  auto f = one_sfi_fault(*d, SIDE_FAULT_SFI_RETURN);
  EXPECT_NE(f.message.find("outside its vCPU's driver stack"), std::string::npos) << f.message;
  EXPECT_EQ(*reinterpret_cast<const uint64_t*>(other - 8), before) << "the push happened";
}

// Steps of rsp below the translator's threshold for a check, with no access in between, walk into the guard under
// the stack: the probe after each step faults there, before anything is pushed past it.
TEST(SfiCrossing, WalkingTheStackPointerDownInSmallStepsFaultsAtTheGuard) {
  auto d = sfi_domain();
  ASSERT_TRUE(d);
  auto m = d->load(sfi_request("walk", 0, 300));
  EXPECT_FALSE(m);
  auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_NE(faults[0].location.find("side_test_sfi"), std::string::npos) << faults[0].location;
  EXPECT_NE(faults[0].message.find("guard"), std::string::npos) << faults[0].message;
}

// What a crossing costs: 10^7 calls of the layer's strlen() from driver code, in an sfi domain (a stub and a
// stack switch each way) and in an in-process one (a plain call); the figure is printed for the README.
TEST(SfiCrossing, ACallIntoTheLayerAndBackIsCheap) {
  constexpr uint64_t kCalls = 10000000;
  double ns[2] = {};
  for (bool sfi : {false, true}) {
    DomainConfig config;
    config.kapi_path = SIDE_TEST_KAPI;
    config.symvers_path = SIDE_TEST_SYMVERS;
    config.modules_dir = SIDE_TEST_MODULES_DIR;
    config.sfi = sfi;
    auto d = Domain::create(config);
    ASSERT_TRUE(d) << d.error().message;
    const uint64_t start = side::monotonic_ns();
    auto m = (*d)->load(sfi_request("cross", 0, kCalls));
    ns[sfi] = static_cast<double>(side::monotonic_ns() - start) / kCalls;
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(*reinterpret_cast<const int*>(symbol(**m, "side_test_sfi_result")), static_cast<int>(8 * kCalls));
  }
  std::printf("strlen() from driver code: %.1f ns a call in process, %.1f ns in sfi (crossings and checks)\n", ns[0],
              ns[1]);
}

}  // namespace
