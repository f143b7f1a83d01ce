// Emulation against a fake bus: exact register results (x86-64 partial-register rules, extensions), effective
// addresses, flags (checked against the CPU itself), port and string I/O.
#include "emulation/emulate.h"

#include <gtest/gtest.h>

#include <random>

#include "fake_bus.h"

namespace side::emulation {
namespace {

using testing::BusEvent;
using testing::FakeBus;

constexpr uint64_t kRip = 0x401000;
constexpr uint64_t kPattern = 0x1122334455667788;
enum : uint8_t { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

Access decode(std::initializer_list<uint8_t> bytes) {
  std::vector<uint8_t> code(bytes);
  auto r = decode_access(code, kRip);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : Access{};
}

Registers initial() {
  Registers regs;
  for (unsigned i = 0; i < 16; ++i) regs.gpr[i] = kPattern + i * 0x0101010101010101ull;
  regs.rip = kRip;
  regs.rflags = 0x202;  // IF and the always-one bit 1
  return regs;
}

// Emulates `bytes` with RBX pointing at the device register at 0x1000, which reads as `device_value`.
struct Trial {
  Registers before, after;
  FakeBus bus;
};
Trial run(std::initializer_list<uint8_t> bytes, uint64_t device_value, Registers regs = initial()) {
  Trial r;
  regs.gpr[RBX] = 0x1000;
  r.before = regs;
  r.bus.values[{Space::kMemory, 0x1000}] = device_value;
  r.after = regs;
  Access a = decode(bytes);
  Status s = emulate(a, r.after, r.bus);
  EXPECT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(r.after.rip, kRip + a.length);
  return r;
}

TEST(Emulate, LoadsFollowPartialRegisterRules) {
  // movb (%rbx),%al / %ah / %sil: only the addressed byte changes (SDM Vol. 1, 3.4.1.1).
  EXPECT_EQ(run({0x8a, 0x03}, 0xab).after.gpr[RAX], 0x11223344556677abull);
  EXPECT_EQ(run({0x8a, 0x23}, 0xab).after.gpr[RAX], 0x112233445566ab88ull);
  EXPECT_EQ(run({0x40, 0x8a, 0x33}, 0xab).after.gpr[RSI], ((kPattern + 6 * 0x0101010101010101ull) & ~0xffull) | 0xab);
  // movw (%rbx),%ax: the low 16 bits.
  EXPECT_EQ(run({0x66, 0x8b, 0x03}, 0xabcd).after.gpr[RAX], 0x112233445566abcdull);
  // movl (%rbx),%eax: a 32-bit write zero-extends.
  EXPECT_EQ(run({0x8b, 0x03}, 0xdeadbeef).after.gpr[RAX], 0xdeadbeefull);
  // movq (%rbx),%r9.
  EXPECT_EQ(run({0x4c, 0x8b, 0x0b}, 0x8877665544332211).after.gpr[R9], 0x8877665544332211ull);
  // Nothing else changes.
  Trial r = run({0x8b, 0x03}, 0xdeadbeef);
  for (unsigned i = 1; i < 16; ++i) EXPECT_EQ(r.after.gpr[i], r.before.gpr[i]) << i;
  EXPECT_EQ(r.after.rflags, r.before.rflags);
  ASSERT_EQ(r.bus.log.size(), 1u);
  EXPECT_EQ(r.bus.log[0], (BusEvent{false, Space::kMemory, 0x1000, 4, 0xdeadbeef}));
}

TEST(Emulate, ExtendingLoads) {
  EXPECT_EQ(run({0x0f, 0xb6, 0x03}, 0x80).after.gpr[RAX], 0x80ull);                        // movzbl
  EXPECT_EQ(run({0x66, 0x0f, 0xb6, 0x03}, 0x80).after.gpr[RAX], 0x1122334455660080ull);    // movzbw
  EXPECT_EQ(run({0x48, 0x0f, 0xb6, 0x03}, 0x80).after.gpr[RAX], 0x80ull);                  // movzbq
  EXPECT_EQ(run({0x0f, 0xb7, 0x03}, 0x8001).after.gpr[RAX], 0x8001ull);                    // movzwl
  EXPECT_EQ(run({0x0f, 0xbe, 0x03}, 0x80).after.gpr[RAX], 0xffffff80ull);                  // movsbl
  EXPECT_EQ(run({0x66, 0x0f, 0xbe, 0x03}, 0x80).after.gpr[RAX], 0x112233445566ff80ull);    // movsbw
  EXPECT_EQ(run({0x48, 0x0f, 0xbe, 0x03}, 0x80).after.gpr[RAX], 0xffffffffffffff80ull);    // movsbq
  EXPECT_EQ(run({0x48, 0x0f, 0xbe, 0x03}, 0x7f).after.gpr[RAX], 0x7full);                  // movsbq, positive
  EXPECT_EQ(run({0x0f, 0xbf, 0x03}, 0x8001).after.gpr[RAX], 0xffff8001ull);                // movswl
  EXPECT_EQ(run({0x48, 0x0f, 0xbf, 0x03}, 0x8001).after.gpr[RAX], 0xffffffffffff8001ull);  // movswq
  EXPECT_EQ(run({0x48, 0x63, 0x03}, 0x80000000).after.gpr[RAX], 0xffffffff80000000ull);    // movslq
  EXPECT_EQ(run({0x63, 0x03}, 0x80000000).after.gpr[RAX], 0x80000000ull);  // movsxd r32: a plain 32-bit load
  // The device's value is truncated to the access width even if the bus returns more.
  EXPECT_EQ(run({0x0f, 0xb6, 0x03}, 0x1234).after.gpr[RAX], 0x34ull);
}

TEST(Emulate, Stores) {
  Registers regs = initial();
  auto store = [&](std::initializer_list<uint8_t> bytes) {
    Trial r = run(bytes, 0, regs);
    EXPECT_EQ(r.after.gpr, r.before.gpr);
    EXPECT_EQ(r.after.rflags, r.before.rflags);
    EXPECT_EQ(r.bus.log.size(), 1u);
    return r.bus.log.empty() ? BusEvent{} : r.bus.log[0];
  };
  EXPECT_EQ(store({0x88, 0x03}), (BusEvent{true, Space::kMemory, 0x1000, 1, 0x88}));              // movb %al
  EXPECT_EQ(store({0x88, 0x23}), (BusEvent{true, Space::kMemory, 0x1000, 1, 0x77}));              // movb %ah
  EXPECT_EQ(store({0x40, 0x88, 0x23}), (BusEvent{true, Space::kMemory, 0x1000, 1, 0x8c}));        // movb %spl
  EXPECT_EQ(store({0x66, 0x89, 0x0b}), (BusEvent{true, Space::kMemory, 0x1000, 2, 0x7889}));      // movw %cx
  EXPECT_EQ(store({0x44, 0x89, 0x03}), (BusEvent{true, Space::kMemory, 0x1000, 4, 0x5d6e7f90}));  // movl %r8d
  EXPECT_EQ(store({0x48, 0x89, 0x03}), (BusEvent{true, Space::kMemory, 0x1000, 8, kPattern}));    // movq %rax
  EXPECT_EQ(store({0xc6, 0x03, 0x80}), (BusEvent{true, Space::kMemory, 0x1000, 1, 0x80}));        // movb $0x80
  EXPECT_EQ(store({0x48, 0xc7, 0x03, 0xff, 0xff, 0xff, 0xff}),
            (BusEvent{true, Space::kMemory, 0x1000, 8, 0xffffffffffffffff}));  // movq $-1: imm32 sign-extended
  EXPECT_EQ(store({0x0f, 0xc3, 0x03}), (BusEvent{true, Space::kMemory, 0x1000, 4, 0x55667788}));  // movnti %eax
}

TEST(Emulate, EffectiveAddresses) {
  Registers regs = initial();
  regs.gpr[R12] = 0x10000;
  regs.gpr[R13] = 3;
  // movl -8(%r12,%r13,8),%r14d
  Access a = decode({0x47, 0x8b, 0x74, 0xec, 0xf8});
  EXPECT_EQ(effective_address(a, regs), 0x10000u + 24 - 8);
  // movl 0x100(%rip),%eax: relative to the next instruction.
  a = decode({0x8b, 0x05, 0x00, 0x01, 0x00, 0x00});
  EXPECT_EQ(effective_address(a, regs), kRip + 6 + 0x100);
  // movl (%eax),%ecx with 67h: 32-bit address arithmetic.
  regs.gpr[RAX] = 0xffffffff00001234;
  a = decode({0x67, 0x8b, 0x08});
  EXPECT_EQ(effective_address(a, regs), 0x1234u);
  // movl -4(%eax),%ecx wraps within 32 bits.
  regs.gpr[RAX] = 0x2;
  a = decode({0x67, 0x8b, 0x48, 0xfc});
  EXPECT_EQ(effective_address(a, regs), 0xfffffffeu);
  // movabs 0xffffc90000000010,%rax
  a = decode({0x48, 0xa1, 0x10, 0x00, 0x00, 0x00, 0x00, 0xc9, 0xff, 0xff});
  EXPECT_EQ(effective_address(a, regs), 0xffffc90000000010u);
  // 64-bit wrap-around of base + disp.
  regs.gpr[RBX] = 0;
  a = decode({0x8b, 0x43, 0xfc});  // movl -4(%rbx),%eax
  EXPECT_EQ(effective_address(a, regs), 0xfffffffffffffffcu);
}

// The CPU's own result and flags for `a op b`, to check compute_alu against. The stack pointer is moved past the red
// zone around pushfq, because the compiler may keep locals there, with LEA, which leaves the flags alone.
#define SIDE_NATIVE_ALU(mnemonic, mod)                                                              \
  asm volatile(mnemonic " %" mod "2, %" mod                                                         \
                        "0\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %1\n\tlea 128(%%rsp), %%rsp" \
               : "+r"(x), "=r"(flags)                                                               \
               : "r"(y)                                                                             \
               : "cc", "memory")
#define SIDE_NATIVE_WIDTHS(mnemonic)      \
  switch (width) {                        \
    case 1:                               \
      SIDE_NATIVE_ALU(mnemonic "b", "b"); \
      break;                              \
    case 2:                               \
      SIDE_NATIVE_ALU(mnemonic "w", "w"); \
      break;                              \
    case 4:                               \
      SIDE_NATIVE_ALU(mnemonic "l", "k"); \
      break;                              \
    default:                              \
      SIDE_NATIVE_ALU(mnemonic "q", "q"); \
      break;                              \
  }

// AT&T `op src, dst` computes dst = dst op src, so x is the first (destination) operand and y the second.
AluResult native_alu(AluOp op, uint64_t a, uint64_t b, unsigned width) {
  uint64_t x = a, y = b, flags = 0;
  switch (op) {
    case AluOp::kAdd:
      SIDE_NATIVE_WIDTHS("add");
      break;
    case AluOp::kSub:
      SIDE_NATIVE_WIDTHS("sub");
      break;
    case AluOp::kAnd:
      SIDE_NATIVE_WIDTHS("and");
      break;
    case AluOp::kOr:
      SIDE_NATIVE_WIDTHS("or");
      break;
    case AluOp::kXor:
      SIDE_NATIVE_WIDTHS("xor");
      break;
    case AluOp::kCmp:
      SIDE_NATIVE_WIDTHS("cmp");
      break;
    case AluOp::kTest:
      SIDE_NATIVE_WIDTHS("test");
      break;
  }
  return {x & width_mask(width), flags & kArithmeticFlags};
}

void expect_alu_matches_cpu(AluOp op, uint64_t a, uint64_t b, unsigned width) {
  AluResult cpu = native_alu(op, a, b, width);
  AluResult emu = compute_alu(op, a, b, width);
  // AF is undefined after logical operations (SDM Vol. 2); compare it only for add/sub/cmp.
  const bool logical = op == AluOp::kAnd || op == AluOp::kOr || op == AluOp::kXor || op == AluOp::kTest;
  const uint64_t compared = logical ? kArithmeticFlags & ~kFlagAF : kArithmeticFlags;
  ASSERT_EQ(emu.flags & compared, cpu.flags & compared)
      << "op " << int(op) << " width " << width << " a " << std::hex << a << " b " << b;
  // cmp and test leave the destination alone on the CPU; compute_alu reports the sub/and result for them.
  if (op != AluOp::kCmp && op != AluOp::kTest) {
    ASSERT_EQ(emu.value, cpu.value) << "op " << int(op) << " width " << width << std::hex << " a " << a << " b " << b;
  }
}

constexpr AluOp kAllOps[] = {AluOp::kAdd, AluOp::kSub, AluOp::kAnd, AluOp::kOr, AluOp::kXor, AluOp::kCmp, AluOp::kTest};

TEST(ComputeAlu, MatchesTheCpuExhaustivelyAtEightBits) {
  for (AluOp op : kAllOps) {
    for (unsigned a = 0; a < 256; ++a) {
      for (unsigned b = 0; b < 256; ++b) expect_alu_matches_cpu(op, a, b, 1);
    }
  }
}

TEST(ComputeAlu, MatchesTheCpuOnEdgeAndRandomValuesAtWiderWidths) {
  std::mt19937_64 rng(42);
  for (unsigned width : {2u, 4u, 8u}) {
    const uint64_t mask = width_mask(width);
    const uint64_t sign = uint64_t{1} << (8 * width - 1);
    std::vector<uint64_t> values = {0, 1, 2, 0xf, 0x10, sign - 1, sign, sign + 1, mask - 1, mask};
    for (int i = 0; i < 200; ++i) values.push_back(rng() & mask);
    for (AluOp op : kAllOps) {
      for (uint64_t a : values) {
        for (uint64_t b : values) expect_alu_matches_cpu(op, a, b, width);
      }
    }
  }
}

TEST(Emulate, ReadModifyWriteWritesResultAndFlags) {
  Registers regs = initial();
  regs.rflags = 0x202 | kFlagCF | kFlagDF;  // CF must be recomputed, DF and IF preserved
  // orl $0x40,(%rbx) on 0x3
  Trial r = run({0x83, 0x0b, 0x40}, 0x3, regs);
  ASSERT_EQ(r.bus.log.size(), 2u);
  EXPECT_EQ(r.bus.log[0], (BusEvent{false, Space::kMemory, 0x1000, 4, 0x3}));
  EXPECT_EQ(r.bus.log[1], (BusEvent{true, Space::kMemory, 0x1000, 4, 0x43}));
  EXPECT_EQ(r.after.rflags, 0x202u | kFlagDF);  // 0x43 has odd parity: PF clear; CF, ZF, SF, OF clear
  EXPECT_EQ(r.after.gpr, r.before.gpr);
  // andl $~4,(%rbx) on 4 -> 0: ZF and PF.
  r = run({0x83, 0x23, 0xfb}, 0x4);
  EXPECT_EQ(r.bus.log.back(), (BusEvent{true, Space::kMemory, 0x1000, 4, 0}));
  EXPECT_EQ(r.after.rflags, 0x202u | kFlagZF | kFlagPF);
  // addb %al,(%rbx): 0x88 + 0x88 = 0x110 -> 0x10 with CF, OF, AF.
  r = run({0x00, 0x03}, 0x88);
  EXPECT_EQ(r.bus.log.back(), (BusEvent{true, Space::kMemory, 0x1000, 1, 0x10}));
  EXPECT_EQ(r.after.rflags, 0x202u | kFlagCF | kFlagOF | kFlagAF);
  // orl (%rbx),%ecx: the register is the destination; 32-bit result zero-extends RCX.
  r = run({0x0b, 0x0b}, 0x80000000);
  ASSERT_EQ(r.bus.log.size(), 1u);
  EXPECT_EQ(r.after.gpr[RCX], (r.before.gpr[RCX] & 0xffffffff) | 0x80000000);
  EXPECT_EQ(r.after.rflags & kFlagSF, kFlagSF);
}

TEST(Emulate, CompareAndTestOnlyRead) {
  // cmpl $0x0,(%rbx) on 0: ZF, PF.
  Trial r = run({0x83, 0x3b, 0x00}, 0);
  ASSERT_EQ(r.bus.log.size(), 1u);
  EXPECT_FALSE(r.bus.log[0].write);
  EXPECT_EQ(r.after.rflags, 0x202u | kFlagZF | kFlagPF);
  // cmpl (%rbx),%ecx: flags of ecx - mem (operand order matters for CF).
  Registers regs = initial();
  regs.gpr[RCX] = 1;
  r = run({0x3b, 0x0b}, 2, regs);
  EXPECT_EQ(r.after.rflags & (kFlagCF | kFlagSF | kFlagZF), kFlagCF | kFlagSF);
  EXPECT_EQ(r.after.gpr, r.before.gpr);
  // cmpl %ecx,(%rbx): mem - ecx = 2 - 1.
  r = run({0x39, 0x0b}, 2, regs);
  EXPECT_EQ(r.after.rflags & (kFlagCF | kFlagSF | kFlagZF), 0u);
  // testb $0x80,(%rbx) on 0x80: SF, not ZF.
  r = run({0xf6, 0x03, 0x80}, 0x80);
  ASSERT_EQ(r.bus.log.size(), 1u);
  EXPECT_EQ(r.after.rflags, 0x202u | kFlagSF);
  // testl $1,(%rbx) on 2: ZF.
  r = run({0xf7, 0x03, 0x01, 0x00, 0x00, 0x00}, 2);
  EXPECT_EQ(r.after.rflags, 0x202u | kFlagZF | kFlagPF);
}

TEST(Emulate, Exchange) {
  // xchgl %eax,(%rbx)
  Trial r = run({0x87, 0x03}, 0xcafef00d);
  ASSERT_EQ(r.bus.log.size(), 2u);
  EXPECT_EQ(r.bus.log[0], (BusEvent{false, Space::kMemory, 0x1000, 4, 0xcafef00d}));
  EXPECT_EQ(r.bus.log[1], (BusEvent{true, Space::kMemory, 0x1000, 4, 0x55667788}));
  EXPECT_EQ(r.after.gpr[RAX], 0xcafef00dull);
  // xchgb %ah,(%rbx)
  r = run({0x86, 0x23}, 0xee);
  EXPECT_EQ(r.bus.log[1].value, 0x77u);
  EXPECT_EQ(r.after.gpr[RAX], 0x112233445566ee88ull);
}

TEST(Emulate, PortIo) {
  Registers regs = initial();
  regs.gpr[RDX] = 0xffff0cfc;  // only DX is the port
  FakeBus bus;
  bus.values[{Space::kPort, 0xcfc}] = 0x12345678;
  bus.values[{Space::kPort, 0x71}] = 0xab;
  auto go = [&](std::initializer_list<uint8_t> bytes) {
    Registers r = regs;
    Status s = emulate(decode(bytes), r, bus);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return r;
  };
  EXPECT_EQ(go({0xed}).gpr[RAX], 0x12345678ull);                // inl (%dx),%eax: zero-extends
  EXPECT_EQ(go({0x66, 0xed}).gpr[RAX], 0x1122334455665678ull);  // inw (%dx),%ax: merges
  EXPECT_EQ(go({0xec}).gpr[RAX], 0x1122334455667778ull);        // inb (%dx),%al
  EXPECT_EQ(go({0xe4, 0x71}).gpr[RAX], 0x11223344556677abull);  // inb $0x71,%al
  EXPECT_EQ(go({0xe4, 0x71}).rip, kRip + 2);
  bus.log.clear();
  go({0xe6, 0x80});  // outb %al,$0x80
  go({0xef});        // outl %eax,(%dx)
  go({0x66, 0xef});  // outw %ax,(%dx)
  ASSERT_EQ(bus.log.size(), 3u);
  EXPECT_EQ(bus.log[0], (BusEvent{true, Space::kPort, 0x80, 1, 0x88}));
  EXPECT_EQ(bus.log[1], (BusEvent{true, Space::kPort, 0xcfc, 4, 0x55667788}));
  EXPECT_EQ(bus.log[2], (BusEvent{true, Space::kPort, 0xcfc, 2, 0x7788}));
}

TEST(Emulate, StringPortIo) {
  Registers regs = initial();
  regs.gpr[RDX] = 0x1f0;
  regs.gpr[RDI] = 0x5000;
  regs.gpr[RSI] = 0x6000;
  regs.gpr[RCX] = 3;
  FakeBus bus;
  // rep insw: three port reads stored at RDI, RDI+2, RDI+4.
  Registers r = regs;
  ASSERT_TRUE(emulate(decode({0xf3, 0x66, 0x6d}), r, bus).ok());
  EXPECT_EQ(r.gpr[RDI], 0x5006u);
  EXPECT_EQ(r.gpr[RCX], 0u);
  EXPECT_EQ(r.rip, kRip + 3);
  ASSERT_EQ(bus.log.size(), 6u);
  EXPECT_EQ(bus.log[1], (BusEvent{true, Space::kMemory, 0x5000, 2, bus.log[0].value}));
  EXPECT_EQ(bus.log[5].address, 0x5004u);
  // rep outsl with DF set: descending.
  bus.log.clear();
  r = regs;
  r.rflags |= kFlagDF;
  ASSERT_TRUE(emulate(decode({0xf3, 0x6f}), r, bus).ok());
  EXPECT_EQ(r.gpr[RSI], 0x6000u - 12);
  EXPECT_EQ(r.gpr[RCX], 0u);
  ASSERT_EQ(bus.log.size(), 6u);
  EXPECT_EQ(bus.log[0].address, 0x6000u);
  EXPECT_EQ(bus.log[2].address, 0x5ffcu);
  EXPECT_EQ(bus.log[1], (BusEvent{true, Space::kPort, 0x1f0, 4, bus.log[0].value}));
  // outsb without REP: once, RCX untouched.
  bus.log.clear();
  r = regs;
  ASSERT_TRUE(emulate(decode({0x6e}), r, bus).ok());
  EXPECT_EQ(r.gpr[RSI], 0x6001u);
  EXPECT_EQ(r.gpr[RCX], 3u);
  EXPECT_EQ(bus.log.size(), 2u);
  // rep insb with RCX == 0 does nothing but advance.
  bus.log.clear();
  r = regs;
  r.gpr[RCX] = 0;
  ASSERT_TRUE(emulate(decode({0xf3, 0x6c}), r, bus).ok());
  EXPECT_TRUE(bus.log.empty());
  EXPECT_EQ(r.gpr[RDI], 0x5000u);
  EXPECT_EQ(r.rip, kRip + 2);
}

TEST(Emulate, LongRepStopsAndResumes) {
  Registers r = initial();
  r.gpr[RCX] = kMaxStringIterationsPerTrap + 5;
  r.gpr[RSI] = 0;
  FakeBus bus;
  Access a = decode({0xf3, 0x6e});  // rep outsb
  ASSERT_TRUE(emulate(a, r, bus).ok());
  EXPECT_EQ(r.rip, kRip);  // not finished: the instruction will trap again
  EXPECT_EQ(r.gpr[RCX], 5u);
  EXPECT_EQ(r.gpr[RSI], kMaxStringIterationsPerTrap);
  ASSERT_TRUE(emulate(a, r, bus).ok());
  EXPECT_EQ(r.rip, kRip + 2);
  EXPECT_EQ(r.gpr[RCX], 0u);
  EXPECT_EQ(bus.log.size(), 2 * (kMaxStringIterationsPerTrap + 5));
}

TEST(Emulate, BusFailureLeavesRegistersAlone) {
  for (auto bytes : {std::vector<uint8_t>{0x8b, 0x03}, {0x89, 0x03}, {0x83, 0x0b, 0x40}, {0x87, 0x03}, {0x0b, 0x0b}}) {
    Registers regs = initial();
    regs.gpr[RBX] = 0x1000;
    Registers r = regs;
    FakeBus bus;
    bus.fail_at = 0x1000;
    auto a = decode_access(bytes, kRip);
    ASSERT_TRUE(a.ok());
    Status s = emulate(*a, r, bus);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("no device here"), std::string::npos) << s.error().message;
    EXPECT_EQ(r, regs);
  }
}

TEST(Emulate, RefusesAccessDecodedElsewhere) {
  Registers r = initial();
  r.rip = kRip + 1;
  FakeBus bus;
  Status s = emulate(decode({0x8b, 0x03}), r, bus);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(bus.log.empty());
}

}  // namespace
}  // namespace side::emulation
