#include "sfi/runtime.h"

#include <sys/mman.h>

#include <cstring>
#include <memory>

#include "sfi/layout.h"

namespace side::sfi {
namespace {

std::atomic<Runtime*> g_active{nullptr};
constexpr uint64_t kCfiBytes = (domain::kImageLimit - domain::kImageBase) / 8;
static_assert(SIDE_SFI_SHADOW_OFFSET == kShadowOffset);

Status map_fixed(uint64_t base, uint64_t size) {
  void* p = mmap(reinterpret_cast<void*>(base), size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return make_error("cannot reserve the sfi driver stacks at " + std::to_string(base));
  return {};
}

}  // namespace

Runtime* Runtime::active() {
  return g_active.load(std::memory_order_acquire);
}

Result<Runtime*> Runtime::start(unsigned nr_cpus) {
  if (nr_cpus > domain::kMaxVcpus) return make_error("too many virtual CPUs for the sfi stacks");
  std::unique_ptr<Runtime> r(new Runtime());
  SIDE_TRY(r->reserve(nr_cpus));
  Runtime* expected = nullptr;
  if (!g_active.compare_exchange_strong(expected, r.get())) return make_error("another sfi domain is active");
  return r.release();
}

Status Runtime::reserve(unsigned nr_cpus) {
  auto rights = Rights::get();
  if (!rights) return rights.error();
  rights_ = *rights;
  rights_->clear();
  void* cfi = mmap(nullptr, kCfiBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (cfi == MAP_FAILED) return make_error("cannot reserve the sfi branch-target bitmap");
  cfi_ = static_cast<uint8_t*>(cfi);
  if (auto s = map_fixed(kStackBase, nr_cpus * kStackSlot); !s) {
    munmap(cfi_, kCfiBytes);
    return s;
  }
  nr_cpus_ = nr_cpus;
  // The stack halves are the driver's but for their guards, which no access may touch; the shadow halves never are.
  for (unsigned cpu = 0; cpu < nr_cpus; ++cpu) {
    for (uint64_t guard : {stack_lo(cpu), stack_hi(cpu) - kStackGuard}) {
      if (mprotect(reinterpret_cast<void*>(guard), kStackGuard, PROT_NONE) != 0) {
        munmap(reinterpret_cast<void*>(kStackBase), nr_cpus * kStackSlot);
        munmap(cfi_, kCfiBytes);
        return make_error("cannot place the guards of the sfi driver stacks");
      }
    }
    rights_->grant(stack_floor(cpu), kStackSize - 2 * kStackGuard);
  }
  return {};
}

void Runtime::stop() {
  Runtime* r = g_active.exchange(nullptr);
  if (!r) return;
  r->rights_->clear();
  munmap(reinterpret_cast<void*>(kStackBase), r->nr_cpus_ * kStackSlot);
  munmap(r->cfi_, kCfiBytes);
  delete r;
}

uint64_t Runtime::stack_lo(unsigned cpu) const {
  return kStackBase + uint64_t{cpu} * kStackSlot;
}

bool Runtime::in_stack_guard(uint64_t addr) const {
  if (addr < kStackBase || addr >= kStackBase + nr_cpus_ * kStackSlot) return false;
  const uint64_t at = (addr - kStackBase) % kStackSlot;
  return at < kStackGuard || (at < kStackSize && at >= kStackSize - kStackGuard);
}

void Runtime::set_branch_target(uint64_t addr, bool valid) {
  if (addr < domain::kImageBase || addr >= domain::kImageLimit) return;
  const uint64_t i = addr - domain::kImageBase;
  const auto bit = static_cast<uint8_t>(1u << (i % 8));
  std::atomic_ref<uint8_t> byte(cfi_[i / 8]);
  if (valid) {
    byte.fetch_or(bit);
  } else {
    byte.fetch_and(static_cast<uint8_t>(~bit));
  }
}

bool Runtime::valid_branch_target(uint64_t addr) const {
  if (addr < domain::kImageBase || addr >= domain::kImageLimit) return false;
  const uint64_t i = addr - domain::kImageBase;
  return cfi_[i / 8] & (1u << (i % 8));
}

side_sfi_state Runtime::kapi_state() const {
  side_sfi_state s{};
  s.enabled = 1;
  s.window_base = kWindowBase;
  s.window_log2 = kWindowLog2;
  s.rights = rights_->bitmap_address();
  s.cfi_bits = reinterpret_cast<uint64_t>(cfi_);
  s.cfi_base = domain::kImageBase;
  s.cfi_len = domain::kImageLimit - domain::kImageBase;
  s.stack_base = kStackBase;
  s.stack_len = nr_cpus_ * kStackSlot;
  return s;
}

}  // namespace side::sfi
