// Decoding: a table of encodings produced by the GNU assembler (decode_table.inc, see gen_decode_table.py) with the
// Access each must decode to, and a table of instructions that must be refused with a clear reason.
#include <gtest/gtest.h>

#include <vector>

#include "emulation/access.h"

namespace side::emulation {
namespace {

enum : uint8_t { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
constexpr uint8_t NONE = MemoryOperand::kNone;
constexpr uint8_t RIP = MemoryOperand::kRip;

Gpr r8(uint8_t i) {
  return {i, 1, false};
}
Gpr hi(uint8_t i) {
  return {i, 1, true};
}
Gpr r16(uint8_t i) {
  return {i, 2, false};
}
Gpr r32(uint8_t i) {
  return {i, 4, false};
}
Gpr r64(uint8_t i) {
  return {i, 8, false};
}
Operand reg(Gpr g) {
  return {false, g, 0};
}
Operand imm(uint64_t v) {
  return {true, Gpr{}, v};
}
MemoryOperand mem(uint8_t base, uint8_t index = NONE, uint8_t scale = 1, int64_t disp = 0, uint8_t aw = 8) {
  return {base, index, scale, disp, aw};
}

Access load(uint8_t w, Gpr dst, MemoryOperand m, Extend e = Extend::kNone) {
  Access a;
  a.kind = Kind::kLoad, a.width = w, a.dst = dst, a.memory = m, a.extend = e;
  return a;
}
Access store(uint8_t w, MemoryOperand m, Operand src) {
  Access a;
  a.kind = Kind::kStore, a.width = w, a.memory = m, a.src = src;
  return a;
}
Access alu(AluOp op, uint8_t w, MemoryOperand m, Operand src) {
  Access a;
  a.kind = Kind::kAlu, a.alu = op, a.width = w, a.memory = m, a.src = src;
  return a;
}
Access alu_to_reg(AluOp op, uint8_t w, MemoryOperand m, Gpr r) {
  Access a = alu(op, w, m, reg(r));
  a.memory_first = false, a.dst = r;
  return a;
}
Access xchg(uint8_t w, MemoryOperand m, Gpr r) {
  Access a;
  a.kind = Kind::kExchange, a.width = w, a.memory = m, a.src = reg(r), a.dst = r;
  return a;
}
Access port_in(uint8_t w, uint16_t port) {
  Access a;
  a.kind = Kind::kPortIn, a.width = w, a.dst = Gpr{RAX, w, false}, a.port = port;
  return a;
}
Access port_in_dx(uint8_t w) {
  Access a = port_in(w, 0);
  a.port_in_dx = true;
  return a;
}
Access port_out(uint8_t w, uint16_t port) {
  Access a;
  a.kind = Kind::kPortOut, a.width = w, a.src = reg(Gpr{RAX, w, false}), a.port = port;
  return a;
}
Access port_out_dx(uint8_t w) {
  Access a = port_out(w, 0);
  a.port_in_dx = true;
  return a;
}
Access string_in(uint8_t w, bool rep) {
  Access a;
  a.kind = Kind::kStringIn, a.width = w, a.rep = rep, a.port_in_dx = true, a.memory.base = RDI;
  return a;
}
Access string_out(uint8_t w, bool rep) {
  Access a;
  a.kind = Kind::kStringOut, a.width = w, a.rep = rep, a.port_in_dx = true, a.memory.base = RSI;
  return a;
}

struct AcceptCase {
  const char* text;
  std::vector<uint8_t> bytes;
  Access expected;
};
struct RefuseCase {
  const char* text;
  std::vector<uint8_t> bytes;
  const char* reason;
};

#include "decode_table.inc"

constexpr uint64_t kRip = 0xffffffffc0001000;

std::string describe(const Access& a) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "kind=%d width=%u length=%u rip=%#lx mem{base=%u index=%u scale=%u disp=%ld aw=%u} "
                "src{imm=%d reg=%u/%u/%d value=%#lx} dst=%u/%u/%d extend=%d alu=%d memfirst=%d dx=%d port=%#x rep=%d",
                int(a.kind), a.width, a.length, (unsigned long)a.rip, a.memory.base, a.memory.index, a.memory.scale,
                (long)a.memory.displacement, a.memory.address_width, a.src.is_immediate, a.src.reg.index,
                a.src.reg.width, a.src.reg.high_byte, (unsigned long)a.src.immediate, a.dst.index, a.dst.width,
                a.dst.high_byte, int(a.extend), int(a.alu), a.memory_first, a.port_in_dx, a.port, a.rep);
  return buf;
}

TEST(DecodeAccess, AssemblerTable) {
  const AcceptCase cases[] = {SIDE_DECODE_ACCEPT_CASES};
  for (const AcceptCase& c : cases) {
    SCOPED_TRACE(c.text);
    // Trailing bytes beyond the instruction must not matter: the caller offers up to 15 bytes of code.
    std::vector<uint8_t> code = c.bytes;
    code.insert(code.end(), {0xcc, 0xcc, 0xcc, 0xcc});
    auto r = decode_access(code, kRip);
    ASSERT_TRUE(r.ok()) << r.error().message;
    Access expected = c.expected;
    expected.length = static_cast<uint8_t>(c.bytes.size());
    expected.rip = kRip;
    EXPECT_EQ(*r, expected) << "got      " << describe(*r) << "\nexpected " << describe(expected);
    // The exact bytes, with nothing after them, decode the same way.
    auto exact = decode_access(c.bytes, kRip);
    ASSERT_TRUE(exact.ok()) << exact.error().message;
    EXPECT_EQ(*exact, expected);
  }
}

TEST(DecodeAccess, RefusalTable) {
  const RefuseCase cases[] = {SIDE_DECODE_REFUSE_CASES};
  for (const RefuseCase& c : cases) {
    SCOPED_TRACE(c.text);
    auto r = decode_access(c.bytes, kRip);
    ASSERT_FALSE(r.ok()) << describe(*r);
    EXPECT_NE(r.error().message.find(c.reason), std::string::npos) << r.error().message;
    // The message names the instruction and where it is.
    EXPECT_NE(r.error().message.find("0xffffffffc0001000"), std::string::npos) << r.error().message;
  }
}

// Opcode 88 with ModRM reg field 4 means AH without a REX prefix and SPL with any REX prefix, even an empty 40h
// (SDM Vol. 2A, 3.1.1.1 Table 3-1 and 2.2.1.2).
TEST(DecodeAccess, HighByteRegisterDependsOnRexPresence) {
  const uint8_t ah[] = {0x88, 0x20};
  const uint8_t spl[] = {0x40, 0x88, 0x20};
  auto a = decode_access(ah, 0);
  auto b = decode_access(spl, 0);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->src.reg, (Gpr{RAX, 1, true}));
  EXPECT_EQ(b->src.reg, (Gpr{RSP, 1, false}));
  EXPECT_EQ(b->length, 3);
}

TEST(DecodeAccess, RefusesUndecodableAndTruncatedBytes) {
  auto empty = decode_access({}, 0x1000);
  ASSERT_FALSE(empty.ok());
  const uint8_t truncated[] = {0x8b};  // mov r32, r/m32 without its ModRM byte
  auto t = decode_access(truncated, 0x1000);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("truncated"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find("8b"), std::string::npos) << t.error().message;
  const uint8_t truncated_disp[] = {0x8b, 0x80, 0x00, 0x10};  // disp32 cut short
  EXPECT_FALSE(decode_access(truncated_disp, 0x1000).ok());
  const uint8_t invalid[] = {0x06};  // push %es: invalid in 64-bit mode
  auto i = decode_access(invalid, 0x1000);
  ASSERT_FALSE(i.ok());
  EXPECT_NE(i.error().message.find("invalid"), std::string::npos) << i.error().message;
  const uint8_t lock_mov[] = {0xf0, 0x89, 0x00};  // LOCK is #UD on MOV (SDM Vol. 2A, "LOCK")
  EXPECT_FALSE(decode_access(lock_mov, 0x1000).ok());
  const uint8_t too_long[] = {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                              0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x89, 0x00};  // 16 bytes: over the 15-byte limit
  EXPECT_FALSE(decode_access(too_long, 0x1000).ok());
}

TEST(DecodeAccess, Disassemble) {
  const uint8_t code[] = {0x8b, 0x54, 0x8b, 0x1c};
  EXPECT_EQ(disassemble(code, 0), "mov 0x1C(%rbx,%rcx,4), %edx");
  const uint8_t bad[] = {0x06};
  EXPECT_EQ(disassemble(bad, 0), "(bad)");
}

}  // namespace
}  // namespace side::emulation
