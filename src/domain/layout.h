// Fixed parts of a driver domain's address space.
//
// Kernel modules are compiled with -mcmodel=kernel: their 32-bit relocations (PC32, PLT32, 32S) reach only
// symbols within ±2 GiB, sign-extended. So module images, the kernel-API layer, the stubs through which the layer
// calls side's host services (side itself is position-independent and lies far above) and the trap pages of
// missing symbols all live below 2 GiB, at fixed addresses from 1.5 GiB up: clear of the low addresses the kernel
// keeps unmapped and of anything placed by default (the PIE binary, its heap and mmap are far higher). Everything
// stays below 0x7fff8000, which also keeps clear of AddressSanitizer's shadow memory.
#pragma once

#include <cstdint>

namespace side::domain {

constexpr uint64_t kPageSize = 4096;

// Module images (text, data, bss of the kernel-API layer and every driver).
constexpr uint64_t kImageBase = 0x60000000;
constexpr uint64_t kImageLimit = 0x78000000;

// One inaccessible 64 KiB slot per kernel symbol a driver imports but the layer does not implement (only when the
// user allows loading such a driver). Any call to, or load/store through, the symbol faults inside its slot, which
// names the symbol.
constexpr uint64_t kMissingBase = 0x78000000;
constexpr uint64_t kMissingSlot = 0x10000;
constexpr uint64_t kMissingLimit = 0x7fff0000;

// "Physical" addresses of the DMA-able arena start here (256 MiB), so that no valid physical address is small, and
// DMA addresses (identity-mapped: the bus address is the physical address) fit a 32-bit DMA mask.
constexpr uint64_t kArenaPhysBase = 0x10000000;

// Per-cpu areas: the first 64 bytes mirror the kernel's fixed_percpu_data (stack canary at %gs:40).
constexpr uint64_t kPercpuFixedSize = 64;
constexpr uint64_t kPercpuCanaryOffset = 40;
constexpr uint64_t kPercpuAreaSize = 256 * 1024;
constexpr unsigned kMaxVcpus = 8;

// sizeof(struct page) in Debian's 6.1 x86-64 ABI; the layer checks it against the headers at start-up.
constexpr uint64_t kStructPageSize = 64;

}  // namespace side::domain
