// Fuzzes decode_access() and emulate() with arbitrary instruction bytes and register state. The input is the code
// (up to 15 bytes) followed by register values; the bus answers every access with a value derived from its address and
// fails some of them. Besides memory safety and UB (ASan/UBSan), it checks the invariants callers rely on.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "emulation/decode_cache.h"
#include "emulation/emulate.h"
#include "emulation/ucontext.h"

namespace {

using namespace side::emulation;

[[noreturn]] void violated() {
  __builtin_trap();
}
#define CHECK(cond)          \
  do {                       \
    if (!(cond)) violated(); \
  } while (0)

class DummyBus final : public Bus {
 public:
  side::Result<uint64_t> read(Space space, uint64_t address, unsigned width) override {
    CHECK(width == 1 || width == 2 || width == 4 || width == 8);
    CHECK(space == Space::kMemory || width <= 4);
    CHECK(space == Space::kMemory || address <= 0xffff);
    ++count;
    if (address % 61 == 7) return side::Error{"refused"};
    return (address * 0x9e3779b97f4a7c15ull) >> (64 - 8 * width);
  }
  side::Status write(Space space, uint64_t address, unsigned width, uint64_t value) override {
    CHECK(width == 1 || width == 2 || width == 4 || width == 8);
    CHECK(space == Space::kMemory || width <= 4);
    CHECK(space == Space::kMemory || address <= 0xffff);
    CHECK((value & ~width_mask(width)) == 0);  // the emulator passes values truncated to the width
    ++count;
    if (address % 61 == 8) return side::Error{"refused"};
    return {};
  }
  uint64_t count = 0;
};

bool valid_gpr(const Gpr& g) {
  if (g.index > 15) return false;
  if (g.width != 1 && g.width != 2 && g.width != 4 && g.width != 8) return false;
  return !g.high_byte || (g.width == 1 && g.index < 4);
}

void check_access(const Access& a, size_t code_size) {
  CHECK(a.length >= 1 && a.length <= kMaxInstructionLength && a.length <= code_size);
  CHECK(a.width == 1 || a.width == 2 || a.width == 4 || a.width == 8);
  if (a.is_port_io()) CHECK(a.width <= 4);
  const MemoryOperand& m = a.memory;
  CHECK(m.base < 16 || m.base == MemoryOperand::kRip || m.base == MemoryOperand::kNone);
  CHECK(m.index < 16 || m.index == MemoryOperand::kNone);
  CHECK(m.scale == 1 || m.scale == 2 || m.scale == 4 || m.scale == 8);
  CHECK(m.address_width == 4 || m.address_width == 8);
  if (!a.src.is_immediate) CHECK(valid_gpr(a.src.reg));
  if (a.src.is_immediate) CHECK((a.src.immediate & ~width_mask(a.width)) == 0);
  CHECK(valid_gpr(a.dst));
  if (a.kind == Kind::kLoad) CHECK(a.dst.width >= a.width);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const size_t code_size = size < kMaxInstructionLength ? size : kMaxInstructionLength;
  std::span<const uint8_t> code(data, code_size);
  const uint64_t rip = 0xffffffffc0000000ull;

  Registers regs;
  regs.rip = rip;
  uint8_t state[16 * 8 + 8] = {};
  if (size > code_size) std::memcpy(state, data + code_size, std::min(sizeof state, size - code_size));
  std::memcpy(regs.gpr.data(), state, 16 * 8);
  std::memcpy(&regs.rflags, state + 16 * 8, 8);

  (void)disassemble(code, rip);

  // The signal-level entry point, with a fault report chosen by the input: it must never touch the context when it
  // refuses, and must agree with emulate() when it accepts.
  {
    ucontext_t uc;
    std::memset(&uc, 0, sizeof uc);
    registers_to_mcontext(regs, uc.uc_mcontext);
    const ucontext_t before = uc;
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    info.si_signo = SIGSEGV;
    const uint8_t selector = state[sizeof state - 1];
    info.si_code = (selector & 1) ? static_cast<int>(SI_KERNEL) : static_cast<int>(SEGV_ACCERR);
    side::Result<Access> pre = decode_access(code, rip);
    uint64_t fault = pre.ok() ? effective_address(*pre, regs) + (selector >> 1) % 9 : regs.gpr[selector % 16];
    info.si_addr = reinterpret_cast<void*>(fault);
    static DecodeCache trap_cache;
    DummyBus bus;
    side::Result<Access> t = emulate_trap(info, uc, code, trap_cache, bus);
    if (!t.ok() && !(pre.ok() && pre->is_string())) {
      CHECK(std::memcmp(&before.uc_mcontext.gregs, &uc.uc_mcontext.gregs, sizeof uc.uc_mcontext.gregs) == 0);
    }
    if (t.ok()) CHECK(pre.ok() && *t == *pre);
  }
  side::Result<Access> access = decode_access(code, rip);
  static DecodeCache cache;
  side::Result<Access> cached = cache.decode(code, rip);
  CHECK(access.ok() == cached.ok());
  if (!access) {
    CHECK(!access.error().message.empty());
    return 0;
  }
  CHECK(*access == *cached);
  check_access(*access, code_size);

  const Access& a = *access;
  (void)effective_address(a, regs);
  DummyBus bus;
  Registers after = regs;
  side::Status s = emulate(a, after, bus);
  if (a.is_string()) {
    CHECK(bus.count <= 2 * kMaxStringIterationsPerTrap);
    CHECK(after.rip == rip || after.rip == rip + a.length);
    return 0;
  }
  if (!s) {
    CHECK(after == regs);  // non-string kinds commit nothing on failure
    return 0;
  }
  CHECK(after.rip == rip + a.length);
  // Only the destination register (and for kAlu the arithmetic flags) may change.
  const bool writes_register =
      a.kind == Kind::kLoad || a.kind == Kind::kExchange || a.kind == Kind::kPortIn ||
      (a.kind == Kind::kAlu && !a.memory_first && a.alu != AluOp::kCmp && a.alu != AluOp::kTest);
  for (unsigned i = 0; i < 16; ++i) {
    if (!writes_register || i != a.dst.index) CHECK(after.gpr[i] == regs.gpr[i]);
  }
  if (a.kind == Kind::kAlu) {
    CHECK((after.rflags & ~kArithmeticFlags) == (regs.rflags & ~kArithmeticFlags));
  } else {
    CHECK(after.rflags == regs.rflags);
  }
  if (writes_register && a.dst.width < 4) {
    // 8/16-bit destinations preserve the rest of the register.
    uint64_t kept = a.dst.high_byte ? ~uint64_t{0xff00} : ~width_mask(a.dst.width);
    CHECK((after.gpr[a.dst.index] & kept) == (regs.gpr[a.dst.index] & kept));
  }
  if (writes_register && a.dst.width == 4) CHECK((after.gpr[a.dst.index] >> 32) == 0);
  return 0;
}
