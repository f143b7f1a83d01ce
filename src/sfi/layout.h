// The sfi window: in `--isolation sfi` the driver runs in side's own process, and everything it may ever write lies
// in one 2^30-aligned window below 2 GiB, so that the check the translator puts before each write is a range test
// and a bit test (check_abi.h). Inside the window, at fixed addresses:
//   the arena (kmalloc, pages, DMA memory), the per-cpu areas, the struct page array, the driver stacks with their
//   shadow stacks, vmalloc, and the module images (domain/layout.h: driver data and bss, but also code, the
//   kernel-API layer and the host stubs, whose rights bits are never set).
// A granule is writable only when its bit in the rights bitmap (outside the window) is set: the window says where
// a write may go at all, the bitmap says what the driver owns right now.
#pragma once

#include <cstdint>

#include "domain/layout.h"
#include "kapi/sfi_abi.h"
#include "sfi/check_abi.h"

namespace side::sfi {

constexpr uint64_t kWindowBase = 0x40000000;
constexpr unsigned kWindowLog2 = 30;
constexpr uint64_t kWindowSize = uint64_t{1} << kWindowLog2;
// kGranule (8 bytes per rights bit) is check_abi.h's.

constexpr uint64_t kArenaBase = 0x40000000;  // up to 256 MiB (the arena's size is checked against it)
constexpr uint64_t kArenaLimit = 0x50000000;
constexpr uint64_t kPercpuBase = 0x50000000;   // domain::kMaxVcpus areas of domain::kPercpuAreaSize
constexpr uint64_t kVmemmapBase = 0x50400000;  // struct page array: 64 bytes per arena page (4 MiB for 256 MiB)
constexpr uint64_t kVmemmapLimit = 0x50800000;
// One driver stack per vCPU, each followed by its shadow stack: the return site of a call whose return address
// lies at A is recorded at A + kShadowOffset, which the driver may not write (its rights bits stay clear). Each
// stack half has an unmapped guard at both ends (kapi/sfi_abi.h: SIDE_SFI_STACK_GUARD).
constexpr uint64_t kStackBase = 0x51000000;
constexpr uint64_t kStackSize = SIDE_SFI_STACK_SIZE;
constexpr uint64_t kStackGuard = SIDE_SFI_STACK_GUARD;
constexpr uint64_t kShadowOffset = kStackSize;
constexpr uint64_t kStackSlot = 2 * kStackSize;
constexpr uint64_t kStackLimit = kStackBase + domain::kMaxVcpus * kStackSlot;
constexpr uint64_t kVmallocBase = 0x52000000;
constexpr uint64_t kVmallocLimit = domain::kImageBase;

// The rights bitmap (rights.h) just below the window, when that address range is free: the translated checks then
// test a bit at a 32-bit absolute address instead of loading the bitmap's address into a register first.
constexpr uint64_t kRightsBase = 0x3f000000;

static_assert(domain::kPercpuAreaSize * domain::kMaxVcpus <= kVmemmapBase - kPercpuBase);
static_assert(kStackLimit <= kVmallocBase);
static_assert(domain::kMissingLimit <= kWindowBase + kWindowSize);

inline constexpr bool in_window(uint64_t addr, uint64_t len) {
  return addr >= kWindowBase && len <= kWindowSize && addr - kWindowBase <= kWindowSize - len;
}

}  // namespace side::sfi
