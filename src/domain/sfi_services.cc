// The host side of the sfi checks in the kernel-API layer (kapi/sfi_checked.c, sfi_thunks.S): a failed check is a
// driver fault, reported with what the driver tried (the address written, branched or returned to, and whose
// memory that is) and where (the original instruction, through the translator's map). Called before the write or
// branch happens; never returns.
#include <cinttypes>
#include <cstdio>

#include "domain/domain.h"
#include "domain/layout.h"
#include "kapi/sfi_abi.h"
#include "kapi/side_host.h"
#include "sfi/layout.h"
#include "sfi/runtime.h"

namespace {

using side::domain::Domain;

// Whose memory `addr` is, in a few words, for the report. Plain buffers only: the fault unwinds with siglongjmp.
void describe(Domain& d, uint64_t addr, char* out, size_t len) {
  namespace sfi = side::sfi;
  const side::loader::LoadedModule* m = d.address_space().modules().at(addr);
  if (!sfi::in_window(addr, 1)) {
    std::snprintf(out, len, "outside the driver's window: side's own memory");
  } else if (m) {
    std::snprintf(out, len, "%s in %s", m->in_text(addr) ? "code" : "data the driver may not write",
                  m->name == "sidekapi" ? "the kernel-API layer" : m->name.c_str());
  } else if (d.arena().contains(reinterpret_cast<const void*>(addr))) {
    std::snprintf(out, len, "arena memory not allocated to the driver (never, or freed)");
  } else if (addr >= sfi::kStackBase && addr < sfi::kStackLimit) {
    const sfi::Runtime* runtime = sfi::Runtime::active();
    const char* what = (addr - sfi::kStackBase) % sfi::kStackSlot >= sfi::kStackSize ? "the shadow stack"
                       : runtime && runtime->in_stack_guard(addr)                    ? "a guard of the stack"
                                                                                     : "the driver stack";
    std::snprintf(out, len, "%s of vCPU %lu", what,
                  static_cast<unsigned long>((addr - sfi::kStackBase) / sfi::kStackSlot));
  } else {
    std::snprintf(out, len, "memory not allocated to the driver");
  }
}

}  // namespace

extern "C" __attribute__((force_align_arg_pointer)) void side_host_sfi_fault(int what, unsigned long addr,
                                                                             unsigned long len, unsigned long caller) {
  Domain& d = *Domain::active();
  side::sfi::Runtime* sfi = side::sfi::Runtime::active();
  uint64_t where = caller;
  if (sfi) {
    sfi->count_failure();
    where = sfi->origin(caller);
  }
  char whose[96], message[256];
  describe(d, addr, whose, sizeof whose);
  int kind = SIDE_FAULT_SFI_WRITE;
  switch (what) {
    case SIDE_SFI_WRITE:
      std::snprintf(message, sizeof message, "write of %lu bytes to %#lx refused (%s)", len, addr, whose);
      break;
    case SIDE_SFI_BRANCH:
      kind = SIDE_FAULT_SFI_BRANCH;
      std::snprintf(message, sizeof message, "indirect branch to %#lx, which is no function entry (%s)", addr, whose);
      break;
    case SIDE_SFI_RETURN:
      kind = SIDE_FAULT_SFI_RETURN;
      std::snprintf(message, sizeof message,
                    "return to %#lx, but the call came from %#" PRIx64
                    " (return address "
                    "overwritten)",
                    addr, where);
      break;
    default:
      kind = SIDE_FAULT_SFI_RETURN;
      std::snprintf(message, sizeof message, "driver code's stack pointer %#lx is outside its vCPU's driver stack (%s)",
                    addr, whose);
      break;
  }
  d.fault(kind, message, where);
}
