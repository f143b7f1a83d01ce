#!/usr/bin/env python3
"""Generates decode_table.inc: the instruction bytes of every case come from the GNU assembler (`as`), not from hand
encoding, so the tests check side's decoder against an independent encoder. Run from this directory and commit the
output:  ./gen_decode_table.py > decode_table.inc
Each case is (AT&T source, C++ expression for the expected Access without length/rip) or, for refusals,
(AT&T source, substring expected in the error)."""
import os
import re
import subprocess
import sys
import tempfile

ACCEPT = [
    # mov loads, every width; high-byte vs REX byte registers; addressing modes.
    ("movb (%rax),%al", "load(1, r8(RAX), mem(RAX))"),
    ("movb (%rax),%ah", "load(1, hi(RAX), mem(RAX))"),
    ("movb (%rcx),%ch", "load(1, hi(RCX), mem(RCX))"),
    ("movb (%rdx),%dh", "load(1, hi(RDX), mem(RDX))"),
    ("movb (%rbx),%bh", "load(1, hi(RBX), mem(RBX))"),
    ("movb (%rax),%spl", "load(1, r8(RSP), mem(RAX))"),
    ("movb (%rax),%sil", "load(1, r8(RSI), mem(RAX))"),
    ("movb (%rax),%dil", "load(1, r8(RDI), mem(RAX))"),
    ("movb (%rax),%r15b", "load(1, r8(R15), mem(RAX))"),
    ("movw 0x10(%rax),%cx", "load(2, r16(RCX), mem(RAX, NONE, 1, 0x10))"),
    ("movw (%r8),%r9w", "load(2, r16(R9), mem(R8))"),
    ("movl (%rdi),%eax", "load(4, r32(RAX), mem(RDI))"),
    ("movl 0x1c(%rbx,%rcx,4),%edx", "load(4, r32(RDX), mem(RBX, RCX, 4, 0x1c))"),
    ("movl -8(%r12,%r13,8),%r14d", "load(4, r32(R14), mem(R12, R13, 8, -8))"),
    ("movl 0x1000(%rax,%rax,2),%eax", "load(4, r32(RAX), mem(RAX, RAX, 2, 0x1000))"),
    ("movl (%rsp),%eax", "load(4, r32(RAX), mem(RSP))"),
    ("movl (%rbp),%eax", "load(4, r32(RAX), mem(RBP))"),
    ("movl (%r13),%eax", "load(4, r32(RAX), mem(R13))"),
    ("movl (%r12),%eax", "load(4, r32(RAX), mem(R12))"),
    ("movl 0x12345678(,%rax,2),%eax", "load(4, r32(RAX), mem(NONE, RAX, 2, 0x12345678))"),
    ("movl 0x7ffffff0,%eax", "load(4, r32(RAX), mem(NONE, NONE, 1, 0x7ffffff0))"),
    ("movl -0x100(%rip),%eax", "load(4, r32(RAX), mem(RIP, NONE, 1, -0x100))"),
    ("movq (%rax),%rax", "load(8, r64(RAX), mem(RAX))"),
    ("movq 8(%r11),%r10", "load(8, r64(R10), mem(R11, NONE, 1, 8))"),
    ("movabs 0x1122334455667788,%eax", "load(4, r32(RAX), mem(NONE, NONE, 1, 0x1122334455667788))"),
    ("movabs 0xffffc90000000010,%rax", "load(8, r64(RAX), mem(NONE, NONE, 1, int64_t(0xffffc90000000010)))"),
    ("movl (%eax),%ecx", "load(4, r32(RCX), mem(RAX, NONE, 1, 0, 4))"),
    ("movl 4(%eip),%eax", "load(4, r32(RAX), mem(RIP, NONE, 1, 4, 4))"),
    ("movl %ds:(%rax),%eax", "load(4, r32(RAX), mem(RAX))"),
    ("movl %cs:8(%rax),%eax", "load(4, r32(RAX), mem(RAX, NONE, 1, 8))"),
    # mov stores.
    ("movb %al,(%rax)", "store(1, mem(RAX), reg(r8(RAX)))"),
    ("movb %ah,(%rax)", "store(1, mem(RAX), reg(hi(RAX)))"),
    ("movb %bh,0x3(%rsi)", "store(1, mem(RSI, NONE, 1, 3), reg(hi(RBX)))"),
    ("movb %spl,(%rax)", "store(1, mem(RAX), reg(r8(RSP)))"),
    ("movb %bpl,(%rax)", "store(1, mem(RAX), reg(r8(RBP)))"),
    ("movb %r8b,(%r9)", "store(1, mem(R9), reg(r8(R8)))"),
    ("movw %ax,(%rdx)", "store(2, mem(RDX), reg(r16(RAX)))"),
    ("movw %r10w,0x20(%rdx,%r11,2)", "store(2, mem(RDX, R11, 2, 0x20), reg(r16(R10)))"),
    ("movl %ecx,(%rdx)", "store(4, mem(RDX), reg(r32(RCX)))"),
    ("movl %ecx,0x38(%rip)", "store(4, mem(RIP, NONE, 1, 0x38), reg(r32(RCX)))"),
    ("movq %r15,0x40(%rax)", "store(8, mem(RAX, NONE, 1, 0x40), reg(r64(R15)))"),
    ("movabs %al,0x1122334455667788", "store(1, mem(NONE, NONE, 1, 0x1122334455667788), reg(r8(RAX)))"),
    ("movabs %rax,0x1122334455667788", "store(8, mem(NONE, NONE, 1, 0x1122334455667788), reg(r64(RAX)))"),
    ("movb $0x80,(%rax)", "store(1, mem(RAX), imm(0x80))"),
    ("movw $0x8234,(%rax)", "store(2, mem(RAX), imm(0x8234))"),
    ("movl $0xdeadbeef,(%rax)", "store(4, mem(RAX), imm(0xdeadbeef))"),
    ("movl $0x1,0x10(%rip)", "store(4, mem(RIP, NONE, 1, 0x10), imm(1))"),
    ("movq $-1,(%rax)", "store(8, mem(RAX), imm(0xffffffffffffffff))"),
    ("movq $0x7fffffff,(%rax)", "store(8, mem(RAX), imm(0x7fffffff))"),
    ("movq $-0x80000000,(%r8)", "store(8, mem(R8), imm(0xffffffff80000000))"),
    ("movnti %eax,(%rdi)", "store(4, mem(RDI), reg(r32(RAX)))"),
    ("movnti %r8,0x8(%rdi)", "store(8, mem(RDI, NONE, 1, 8), reg(r64(R8)))"),
    # movzx/movsx/movsxd loads.
    ("movzbl (%rax),%eax", "load(1, r32(RAX), mem(RAX), Extend::kZero)"),
    ("movzbw (%rax),%ax", "load(1, r16(RAX), mem(RAX), Extend::kZero)"),
    ("movzbq (%rax),%r8", "load(1, r64(R8), mem(RAX), Extend::kZero)"),
    ("movzwl (%rsi),%edi", "load(2, r32(RDI), mem(RSI), Extend::kZero)"),
    ("movzwq 0x2(%rax),%rax", "load(2, r64(RAX), mem(RAX, NONE, 1, 2), Extend::kZero)"),
    ("movsbl (%rax),%r9d", "load(1, r32(R9), mem(RAX), Extend::kSign)"),
    ("movsbw (%rax),%ax", "load(1, r16(RAX), mem(RAX), Extend::kSign)"),
    ("movsbq (%rax),%rcx", "load(1, r64(RCX), mem(RAX), Extend::kSign)"),
    ("movswl (%rax),%edx", "load(2, r32(RDX), mem(RAX), Extend::kSign)"),
    ("movswq (%rax),%rdx", "load(2, r64(RDX), mem(RAX), Extend::kSign)"),
    ("movslq (%rax),%rax", "load(4, r64(RAX), mem(RAX), Extend::kSign)"),
    ("movslq 0x4(%r10,%rbx,8),%r11", "load(4, r64(R11), mem(R10, RBX, 8, 4), Extend::kSign)"),
    # Read-modify-write, test and cmp.
    ("orl $0x40,(%rax)", "alu(AluOp::kOr, 4, mem(RAX), imm(0x40))"),
    ("orl $0x80000000,0x8(%rdx)", "alu(AluOp::kOr, 4, mem(RDX, NONE, 1, 8), imm(0x80000000))"),
    ("andl $0xfffffffb,(%rax)", "alu(AluOp::kAnd, 4, mem(RAX), imm(0xfffffffb))"),
    ("orw $-1,(%rax)", "alu(AluOp::kOr, 2, mem(RAX), imm(0xffff))"),
    ("orb $0x80,(%rax)", "alu(AluOp::kOr, 1, mem(RAX), imm(0x80))"),
    ("addq $-1,(%rax)", "alu(AluOp::kAdd, 8, mem(RAX), imm(0xffffffffffffffff))"),
    ("addl %ecx,(%rax)", "alu(AluOp::kAdd, 4, mem(RAX), reg(r32(RCX)))"),
    ("subb %dl,(%rbx)", "alu(AluOp::kSub, 1, mem(RBX), reg(r8(RDX)))"),
    ("subb %dh,(%rbx)", "alu(AluOp::kSub, 1, mem(RBX), reg(hi(RDX)))"),
    ("xorq %r10,(%r11)", "alu(AluOp::kXor, 8, mem(R11), reg(r64(R10)))"),
    ("xorw $0x1234,(%rax)", "alu(AluOp::kXor, 2, mem(RAX), imm(0x1234))"),
    ("orl (%rax),%ecx", "alu_to_reg(AluOp::kOr, 4, mem(RAX), r32(RCX))"),
    ("addq 0x8(%rsp),%r9", "alu_to_reg(AluOp::kAdd, 8, mem(RSP, NONE, 1, 8), r64(R9))"),
    ("testl $0x1,(%rax)", "alu(AluOp::kTest, 4, mem(RAX), imm(1))"),
    ("testb $0x80,0x3(%rdi)", "alu(AluOp::kTest, 1, mem(RDI, NONE, 1, 3), imm(0x80))"),
    ("testw $0x8000,(%rdi)", "alu(AluOp::kTest, 2, mem(RDI), imm(0x8000))"),
    ("testl %eax,(%rbx)", "alu(AluOp::kTest, 4, mem(RBX), reg(r32(RAX)))"),
    ("testq %rax,(%rbx)", "alu(AluOp::kTest, 8, mem(RBX), reg(r64(RAX)))"),
    ("cmpl $0x0,(%rax)", "alu(AluOp::kCmp, 4, mem(RAX), imm(0))"),
    ("cmpb $0xff,(%rax)", "alu(AluOp::kCmp, 1, mem(RAX), imm(0xff))"),
    ("cmpq $-2,(%rax)", "alu(AluOp::kCmp, 8, mem(RAX), imm(0xfffffffffffffffe))"),
    ("cmpl %ecx,(%rax)", "alu(AluOp::kCmp, 4, mem(RAX), reg(r32(RCX)))"),
    ("cmpl (%rax),%ecx", "alu_to_reg(AluOp::kCmp, 4, mem(RAX), r32(RCX))"),
    ("lock orl $1,(%rax)", "alu(AluOp::kOr, 4, mem(RAX), imm(1))"),
    # xchg with memory.
    ("xchgl %eax,(%rbx)", "xchg(4, mem(RBX), r32(RAX))"),
    ("xchgb %ah,(%rcx)", "xchg(1, mem(RCX), hi(RAX))"),
    ("xchgq (%rax),%r12", "xchg(8, mem(RAX), r64(R12))"),
    ("xchgw %si,0x2(%rdx)", "xchg(2, mem(RDX, NONE, 1, 2), r16(RSI))"),
    # Port I/O.
    ("inb $0x80,%al", "port_in(1, 0x80)"),
    ("inw $0x71,%ax", "port_in(2, 0x71)"),
    ("inl $0xfc,%eax", "port_in(4, 0xfc)"),
    ("inb (%dx),%al", "port_in_dx(1)"),
    ("inw (%dx),%ax", "port_in_dx(2)"),
    ("inl (%dx),%eax", "port_in_dx(4)"),
    ("outb %al,$0x80", "port_out(1, 0x80)"),
    ("outw %ax,$0x70", "port_out(2, 0x70)"),
    ("outl %eax,$0xff", "port_out(4, 0xff)"),
    ("outb %al,(%dx)", "port_out_dx(1)"),
    ("outw %ax,(%dx)", "port_out_dx(2)"),
    ("outl %eax,(%dx)", "port_out_dx(4)"),
    ("insb (%dx),%es:(%rdi)", "string_in(1, false)"),
    ("insw (%dx),%es:(%rdi)", "string_in(2, false)"),
    ("insl (%dx),%es:(%rdi)", "string_in(4, false)"),
    ("rep insb (%dx),%es:(%rdi)", "string_in(1, true)"),
    ("rep insl (%dx),%es:(%rdi)", "string_in(4, true)"),
    ("outsb %ds:(%rsi),(%dx)", "string_out(1, false)"),
    ("outsw %ds:(%rsi),(%dx)", "string_out(2, false)"),
    ("outsl %ds:(%rsi),(%dx)", "string_out(4, false)"),
    ("rep outsb %ds:(%rsi),(%dx)", "string_out(1, true)"),
    ("rep outsw %ds:(%rsi),(%dx)", "string_out(2, true)"),
]

REFUSE = [
    ("incl (%rax)", "unsupported instruction"),
    ("negq (%rax)", "unsupported instruction"),
    ("adcl $1,(%rax)", "unsupported instruction"),
    ("shll $1,(%rax)", "unsupported instruction"),
    ("btl $3,(%rax)", "unsupported instruction"),
    ("cmpxchgl %ecx,(%rax)", "unsupported instruction"),
    ("xaddl %ecx,(%rax)", "unsupported instruction"),
    ("rep movsb", "unsupported instruction"),
    ("rep stosl", "unsupported instruction"),
    ("pushq (%rax)", "unsupported instruction"),
    ("call *(%rax)", "unsupported instruction"),
    ("leaq 8(%rax),%rax", "neither accesses memory"),
    ("movl %eax,%ebx", "neither accesses memory"),
    ("nop", "neither accesses memory"),
    ("movl $1,%eax", "neither accesses memory"),
    ("movl %fs:(%rax),%eax", "%fs/%gs"),
    ("movq %gs:0x10,%rax", "%fs/%gs"),
    ("movl %eax,%gs:(%rbx)", "%fs/%gs"),
    ("outsb %fs:(%rsi),(%dx)", "%fs/%gs"),
    ("movdqa (%rax),%xmm0", "SSE/AVX"),
    ("movups %xmm1,(%rax)", "SSE/AVX"),
    ("movd (%rax),%xmm0", "SSE/AVX"),
    ("vmovdqu (%rax),%ymm0", "SSE/AVX"),
    ("vmovdqu64 (%rax),%zmm0", "SSE/AVX"),
    ("movq (%rax),%mm0", "SSE/AVX"),
    ("fldl (%rax)", "SSE/AVX"),
    ("movntdq %xmm0,(%rax)", "SSE/AVX"),
    ("movw %es,(%rax)", "not a general-purpose register"),
    ("movw (%rax),%ds", "not a general-purpose register"),
    ("repne insb (%dx),%es:(%rdi)", "REPNE"),
    ("addr32 insb (%dx),%es:(%edi)", "32-bit address size"),
    ("addr32 rep outsl %ds:(%esi),(%dx)", "32-bit address size"),
]


def assemble(lines):
    """Returns the bytes of each line, assembled separately between labels."""
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "t.s")
        with open(src, "w") as f:
            for i, text in enumerate(lines):
                f.write(f"s{i}: {text}\n")
            f.write(f"s{len(lines)}:\n")
        obj = os.path.join(d, "t.o")
        subprocess.run(["as", "--64", src, "-o", obj], check=True)
        nm = subprocess.run(["nm", obj], check=True, capture_output=True, text=True).stdout
        addr = {m.group(2): int(m.group(1), 16) for m in re.finditer(r"^([0-9a-f]+) t (s\d+)$", nm, re.M)}
        text = subprocess.run(["objcopy", "-O", "binary", "-j", ".text", obj, "/dev/stdout"], check=True,
                              capture_output=True).stdout
    return [text[addr[f"s{i}"]:addr[f"s{i + 1}"]] for i in range(len(lines))]


def cbytes(b):
    return "{" + ", ".join(f"0x{x:02x}" for x in b) + "}"


def main():
    out = ["// Generated by gen_decode_table.py from the GNU assembler's encodings; do not edit.", ""]
    out.append("#define SIDE_DECODE_ACCEPT_CASES \\")
    for (text, expect), b in zip(ACCEPT, assemble([t for t, _ in ACCEPT])):
        out.append(f'  {{"{text}", {cbytes(b)}, {expect}}}, \\')
    out.append("  /* end of SIDE_DECODE_ACCEPT_CASES */")
    out.append("")
    out.append("#define SIDE_DECODE_REFUSE_CASES \\")
    for (text, why), b in zip(REFUSE, assemble([t for t, _ in REFUSE])):
        out.append(f'  {{"{text}", {cbytes(b)}, "{why}"}}, \\')
    out.append("  /* end of SIDE_DECODE_REFUSE_CASES */")
    out.append("")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
