// Decoding of the one instruction a driver was executing when it touched a device: an MMIO load/store to a PROT_NONE
// BAR window (SIGSEGV with si_addr, but neither register nor width) or a port-I/O instruction (SIGSEGV with
// si_code == SI_KERNEL and si_addr == 0, because ring 3 has no I/O permission). The decoding is done by Zydis; this
// file reduces Zydis' general description to the few shapes side knows how to emulate, and refuses everything else
// with an error that names the instruction.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/result.h"

namespace side::emulation {

// The longest legal x86 instruction (Intel SDM Vol. 2A, 2.3.11). Callers should offer this many code bytes when they
// can (fewer are fine if the mapping ends earlier: decoding then fails only if the instruction really is cut off).
inline constexpr size_t kMaxInstructionLength = 15;

// A general-purpose register operand. `index` uses the hardware encoding order (0 = RAX, 1 = RCX, 2 = RDX, 3 = RBX,
// 4 = RSP, 5 = RBP, 6 = RSI, 7 = RDI, 8..15 = R8..R15), which is also the index into Registers::gpr.
struct Gpr {
  uint8_t index = 0;
  uint8_t width = 8;       // bytes: 1, 2, 4 or 8
  bool high_byte = false;  // AH/CH/DH/BH: bits 8..15 of index 0..3 (only encodable without a REX prefix)

  friend bool operator==(const Gpr&, const Gpr&) = default;
};

// A memory operand's effective-address components (Intel SDM Vol. 1, 3.7.5): base + index * scale + displacement,
// truncated to the address size. The caller computes the address from the trapped registers (effective_address() in
// emulate.h) and should cross-check it against the fault address.
struct MemoryOperand {
  static constexpr uint8_t kNone = 0xff;
  static constexpr uint8_t kRip = 16;  // RIP-relative: the base is the address of the *next* instruction

  uint8_t base = kNone;   // Gpr index, kRip or kNone
  uint8_t index = kNone;  // Gpr index or kNone (RSP cannot be an index)
  uint8_t scale = 1;      // 1, 2, 4 or 8
  int64_t displacement = 0;
  uint8_t address_width = 8;  // bytes: 8, or 4 with a 67h prefix (the sum is then truncated to 32 bits)

  friend bool operator==(const MemoryOperand&, const MemoryOperand&) = default;
};

// A register or an immediate. An immediate is stored as the value the instruction uses at its operand width, after
// the sign extension the encoding defines (e.g. `movq $-1, (m)` with imm32: 0xffffffffffffffff; `orw $-1, (m)` with
// imm8: 0xffff; `movb $0x80, (m)`: 0x80).
struct Operand {
  bool is_immediate = false;
  Gpr reg;
  uint64_t immediate = 0;

  friend bool operator==(const Operand&, const Operand&) = default;
};

enum class Kind : uint8_t {
  kLoad,       // dst <- extend(mem): mov r, m; movzx; movsx; movsxd
  kStore,      // mem <- src: mov m, r/imm; movnti
  kAlu,        // add/sub/and/or/xor/cmp/test with exactly one memory operand; sets arithmetic flags
  kExchange,   // xchg m, r: dst (== src) <- mem, mem <- src
  kPortIn,     // in al/ax/eax, imm8/dx
  kPortOut,    // out imm8/dx, al/ax/eax
  kStringIn,   // ins[bwd] (optionally rep): es:[rdi] <- port[dx]
  kStringOut,  // outs[bwd] (optionally rep): port[dx] <- ds:[rsi]
};

enum class AluOp : uint8_t { kAdd, kSub, kAnd, kOr, kXor, kCmp, kTest };

// How a loaded value of `Access::width` bytes becomes a value of `dst.width` bytes (before the x86-64 register-write
// rule is applied; see write_gpr() in registers.h).
enum class Extend : uint8_t { kNone, kZero, kSign };

struct Access {
  Kind kind = Kind::kLoad;
  uint8_t width = 0;   // bytes moved to or from the device per access: 1, 2, 4 or 8 (ports: 1, 2 or 4)
  uint8_t length = 0;  // instruction length; RIP advances by this much
  uint64_t rip = 0;    // the address the instruction was decoded at

  // Memory kinds (kLoad, kStore, kAlu, kExchange).
  MemoryOperand memory;
  // kStore: the value written. kAlu: the non-memory operand. kExchange: the register.
  Operand src;
  // kLoad, kExchange, kPortIn, and kAlu with memory_first == false: the register written.
  Gpr dst;
  Extend extend = Extend::kNone;  // kLoad only

  // kAlu.
  AluOp alu = AluOp::kAdd;
  bool memory_first = true;  // the memory operand is the first (destination) operand; false: `op r, m`

  // Port kinds: the port is DX (zero-extended 16 bits) or an 8-bit immediate.
  bool port_in_dx = false;
  uint16_t port = 0;

  // String kinds: REP prefix (repeat RCX times).
  bool rep = false;

  bool is_port_io() const { return kind == Kind::kPortIn || kind == Kind::kPortOut || is_string(); }
  bool is_string() const { return kind == Kind::kStringIn || kind == Kind::kStringOut; }
  // Whether the access reads device memory (as opposed to only writing it). kAlu with cmp/test only reads.
  bool reads_memory() const { return kind == Kind::kLoad || kind == Kind::kAlu || kind == Kind::kExchange; }
  bool writes_memory() const {
    return kind == Kind::kStore || kind == Kind::kExchange ||
           (kind == Kind::kAlu && memory_first && alu != AluOp::kCmp && alu != AluOp::kTest);
  }

  friend bool operator==(const Access&, const Access&) = default;
};

// Decodes the instruction at the start of `code` (64-bit mode) that was about to access device memory or ports when
// it trapped at `rip`. Refuses, with an error naming the instruction, everything that is not one of the forms above:
// undecodable or truncated bytes, instructions without a memory or port operand (including LEA, which computes but
// never accesses), implicit-stack and control-flow accesses, FS/GS segment overrides, SSE/AVX/x87 forms, string ops
// with REPNE or a 67h address-size prefix, and every other read-modify-write (inc, dec, not, neg, adc, sbb, shifts,
// bit tests, xadd, cmpxchg, ...). Does not allocate unless it fails.
Result<Access> decode_access(std::span<const uint8_t> code, uint64_t rip);

// The instruction at the start of `code` in AT&T syntax (as objdump shows kernel code), or "(bad)"; for messages.
std::string disassemble(std::span<const uint8_t> code, uint64_t rip);

}  // namespace side::emulation
