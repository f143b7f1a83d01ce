// Runs translated code in this process: writes inside the window pass with every register and the flags intact,
// writes outside reach the violation entry with r11 = address and r10 = length (it records them and longjmps
// out), rep stos is checked with its whole range, bts checks the word it really touches, a widened rel8 loop still
// loops, an arbitrary rsp is checked against the stack before it is used, and calls come back through the return
// site they stored in the shadow slot. The code runs on a stack of the sandbox's with a shadow above it, and GS
// points at the sandbox's per-cpu word holding the stack's floor (check_abi.h).
#include <Zydis/Zydis.h>
#include <asm/prctl.h>
#include <elf.h>
#include <gtest/gtest.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "sfi/translate.h"

extern "C" {
uint64_t sfi_seen_ea, sfi_seen_len, sfi_seen_count, sfi_seen_rax;
uint8_t sfi_allow;
jmp_buf sfi_jump;
[[noreturn]] void sfi_test_deny() {
  longjmp(sfi_jump, 1);
}
void sfi_test_violation();
// Loads rax..r15 (not rsp) and the flags from in[0..16], calls code on the stack below stack_top (its return site
// in the shadow slot, as translated calls do), stores them into out[0..16].
void sfi_call_with(const uint64_t* in, uint64_t* out, const void* code, uint64_t stack_top);
}

// The test's violation entry, with check_abi.h's contract: records r11/r10, returns with everything preserved if
// the test allows the write, else leaves through longjmp.
asm(R"(
  .text
  .globl sfi_test_violation
sfi_test_violation:
  pushfq
  mov %r11, sfi_seen_ea(%rip)
  mov %r10, sfi_seen_len(%rip)
  mov %rax, sfi_seen_rax(%rip)
  incq sfi_seen_count(%rip)
  cmpb $0, sfi_allow(%rip)
  je 1f
  popfq
  ret
1:
  and $-16, %rsp
  call sfi_test_deny
  .globl sfi_call_with
sfi_call_with:
  push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15
  mov %rsp, %rax
  mov %rcx, %rsp
  push %rax
  push %rsi
  push %rdx
  lea 1f(%rip), %rcx
  mov %rcx, 0x100000-8(%rsp)
  mov %rdi, %rax
  push 128(%rax); popfq
  mov 8(%rax), %rbx; mov 16(%rax), %rcx; mov 24(%rax), %rdx; mov 32(%rax), %rsi; mov 40(%rax), %rdi
  mov 48(%rax), %rbp; mov 56(%rax), %r8; mov 64(%rax), %r9; mov 72(%rax), %r10; mov 80(%rax), %r11
  mov 88(%rax), %r12; mov 96(%rax), %r13; mov 104(%rax), %r14; mov 112(%rax), %r15; mov 0(%rax), %rax
  call *(%rsp)
1:
  lea -0x100000(%rsp), %rsp
  push %rax
  mov 16(%rsp), %rax
  mov %rbx, 8(%rax); mov %rcx, 16(%rax); mov %rdx, 24(%rax); mov %rsi, 32(%rax); mov %rdi, 40(%rax)
  mov %rbp, 48(%rax); mov %r8, 56(%rax); mov %r9, 64(%rax); mov %r10, 72(%rax); mov %r11, 80(%rax)
  mov %r12, 88(%rax); mov %r13, 96(%rax); mov %r14, 104(%rax); mov %r15, 112(%rax)
  pushfq; pop 128(%rax)
  pop %rcx; mov %rcx, 0(%rax)
  add $16, %rsp
  pop %rsp
  pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx
  ret
)");

namespace side::sfi {
namespace {

constexpr unsigned kLog2 = 20;          // a 1 MiB window
constexpr uint64_t kShadow = 0x100000;  // as in sfi_call_with
constexpr uint64_t kFloorSlot = 0x28;   // the per-cpu offset of the stack's floor
uint64_t g_stack_top = 0;               // the live sandbox's stack, where run() calls code
// lea kShadow(%rsp),%rsp; ret: a return through the shadow slot (kapi/sfi_thunks.S's return thunk, unchecked).
constexpr uint8_t kReturnStub[] = {0x48, 0x8d, 0xa4, 0x24, 0x00, 0x00, 0x10, 0x00, 0xc3};

// A window, its rights bitmap (optionally at a low fixed address so the check uses the absolute form), an
// executable page holding translated code followed by stubs for the thunks it references, and a stack with its
// shadow (GS points at the per-cpu word with its floor).
class Sandbox {
 public:
  explicit Sandbox(bool low_bitmap) {
    stack_ = static_cast<uint8_t*>(
        mmap(nullptr, 2 * kShadow, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    percpu_ = static_cast<uint64_t*>(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (stack_ != MAP_FAILED && percpu_ != MAP_FAILED) {
      set_floor(reinterpret_cast<uint64_t>(stack_) + 4096);
      syscall(SYS_arch_prctl, ARCH_SET_GS, reinterpret_cast<uint64_t>(percpu_));
      g_stack_top = stack_top();
    }
    window_ = static_cast<uint8_t*>(mmap(reinterpret_cast<void*>(0x40000000), 1 << kLog2, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
    bitmap_size_ = (1 << kLog2) / 64;
    void* hint = low_bitmap ? reinterpret_cast<void*>(0x30000000) : nullptr;
    bitmap_ = static_cast<uint8_t*>(mmap(hint, bitmap_size_, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS | (low_bitmap ? MAP_FIXED_NOREPLACE : 0), -1, 0));
    code_ = static_cast<uint8_t*>(
        mmap(nullptr, kCode, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0));
    abi_ = CheckAbi{reinterpret_cast<uint64_t>(window_),
                    kLog2,
                    reinterpret_cast<uint64_t>(bitmap_),
                    reinterpret_cast<uint64_t>(&sfi_test_violation),
                    0,
                    kFloorSlot,
                    kShadow - 2 * 4096,
                    kShadow};
    sfi_allow = 0;
    sfi_seen_count = 0;
  }
  ~Sandbox() {
    syscall(SYS_arch_prctl, ARCH_SET_GS, 0);
    munmap(stack_, 2 * kShadow);
    munmap(percpu_, 4096);
    munmap(window_, 1 << kLog2);
    munmap(bitmap_, bitmap_size_);
    munmap(code_, kCode);
  }
  // Places `bytes` untranslated (for comparisons), its final `ret` returning through the shadow slot as the
  // translated return thunk does (sfi_call_with expects it).
  const void* load_raw(std::vector<uint8_t> bytes) {
    if (!bytes.empty() && bytes.back() == 0xc3) {
      bytes.pop_back();
      bytes.insert(bytes.end(), std::begin(kReturnStub), std::end(kReturnStub));
    }
    std::memcpy(code_, bytes.data(), bytes.size());
    return code_;
  }
  bool ok() const {
    return window_ != MAP_FAILED && bitmap_ != MAP_FAILED && code_ != MAP_FAILED && stack_ != MAP_FAILED &&
           percpu_ != MAP_FAILED;
  }
  uint64_t stack_top() const { return reinterpret_cast<uint64_t>(stack_) + kShadow - 4096; }
  // The lowest rsp the translated stack checks let through.
  void set_floor(uint64_t floor) { percpu_[kFloorSlot / 8] = floor; }
  // Where the stubs after the code are: the return thunk (through the shadow slot) and `jmp *%rax`.
  uint64_t return_stub() const { return reinterpret_cast<uint64_t>(code_) + stubs_; }
  uint8_t* window() { return window_; }
  void grant(uint64_t off, uint64_t len) {
    for (uint64_t g = off / 8; g < (off + len + 7) / 8; ++g) bitmap_[g / 8] |= 1 << (g % 8);
  }

  // Translates `bytes` and places it; nullptr on failure.
  const void* load(std::vector<uint8_t> bytes, Translation* out = nullptr) {
    TranslateRequest req;
    req.code = bytes;
    req.symbol_name = [](uint32_t) { return std::string_view(); };
    req.abi = abi_;
    req.what = "test";
    auto t = translate(req);
    EXPECT_TRUE(t) << t.error().message;
    if (!t || t->code.size() + 64 > kCode) return nullptr;
    std::memcpy(code_, t->code.data(), t->code.size());
    stubs_ = (t->code.size() + 15) & ~15ull;
    // Every thunk the code names returns through the shadow slot here (`jmp *%rax` for indirect ones).
    std::memcpy(code_ + stubs_, kReturnStub, sizeof kReturnStub);
    code_[stubs_ + 9] = 0xff;  // jmp *%rax
    code_[stubs_ + 10] = 0xe0;
    for (const TranslatedRelocation& r : t->relocations) {
      if (r.self) {  // a return site: its absolute address (the code is below 2 GiB)
        const auto v = static_cast<uint32_t>(reinterpret_cast<uint64_t>(code_) + r.addend);
        std::memcpy(code_ + r.offset, &v, 4);
        continue;
      }
      EXPECT_FALSE(r.name.empty());
      const uint64_t target = r.name.starts_with("__x86_indirect_thunk_rax") ? stubs_ + 9 : stubs_;
      const int32_t v = static_cast<int32_t>(target + r.addend - r.offset);
      std::memcpy(code_ + r.offset, &v, 4);
    }
    if (out) *out = std::move(*t);
    return code_;
  }

 private:
  static constexpr size_t kCode = 1 << 16;
  uint8_t* stack_;
  uint64_t* percpu_;
  uint64_t stubs_ = 0;
  uint8_t* window_;
  uint8_t* bitmap_;
  size_t bitmap_size_;
  uint8_t* code_;
  CheckAbi abi_{};
};

enum Reg {
  RAX,
  RBX,
  RCX,
  RDX,
  RSI,
  RDI,
  RBP,
  R8,
  R9,
  R10,
  R11,
  R12,
  R13,
  R14,
  R15,
  kFlagsSlot = 16
};  // as sfi_call_with

struct Regs {
  uint64_t v[17] = {};
};

Regs pattern() {
  Regs r;
  for (int i = 0; i < 16; ++i) r.v[i] = 0x1111111111111111ull * (i + 1) ^ 0x0123456789abcdefull;
  r.v[kFlagsSlot] = 0x202 | 0x1 | 0x4 | 0x40 | 0x80 | 0x800;  // IF, CF, PF, ZF, SF, OF
  return r;
}

// Runs code; true if it returned, false if the violation entry longjmp'ed out.
bool run(const void* code, const Regs& in, Regs& out) {
  if (setjmp(sfi_jump)) return false;
  sfi_call_with(in.v, out.v, code, g_stack_top);
  return true;
}

constexpr uint64_t kStatusFlags = 0x8d5;  // CF PF AF ZF SF OF

TEST(SfiTranslateRun, WriteInsideTheWindowKeepsRegistersAndFlags) {
  for (bool low : {true, false}) {
    Sandbox box(low);
    ASSERT_TRUE(box.ok());
    box.grant(0x100, 8);
    Translation t;
    // mov %rsi,(%rdi); jc +0; push %r10; pop %r10; push %r11; pop %r11; ret: the flags and r10/r11 are live
    const void* f = box.load({0x48, 0x89, 0x37, 0x72, 0x00, 0x41, 0x52, 0x41, 0x5a, 0x41, 0x53, 0x41, 0x5b, 0xc3}, &t);
    ASSERT_TRUE(f);
    EXPECT_EQ(t.counts.flagless_sites, 0u) << "jc reads the flags: they are live";
    EXPECT_EQ(t.counts.frameless_sites, 0u) << "push reads r10 and r11";
    // The fast path puts the status flags back without popfq: every one of them, set or clear, comes back.
    for (uint64_t flags : {kStatusFlags, uint64_t{0}, uint64_t{0x800}, uint64_t{0x1}, uint64_t{0x10}, uint64_t{0xc4}}) {
      Regs in = pattern(), out;
      in.v[kFlagsSlot] = 0x202 | flags;
      in.v[RDI] = reinterpret_cast<uint64_t>(box.window()) + 0x100;
      ASSERT_TRUE(run(f, in, out));
      EXPECT_EQ(sfi_seen_count, 0u);
      uint64_t stored;
      std::memcpy(&stored, box.window() + 0x100, 8);
      EXPECT_EQ(stored, in.v[RSI]);
      for (int i = RAX; i <= R15; ++i) EXPECT_EQ(out.v[i], in.v[i]) << "register " << i;
      EXPECT_EQ(out.v[kFlagsSlot] & kStatusFlags, flags) << "flags " << flags;
    }
  }
}

TEST(SfiTranslateRun, DeadFlagsSkipPushfButKeepRegisters) {
  Sandbox box(true);
  ASSERT_TRUE(box.ok());
  box.grant(0x100, 8);
  Translation t;
  // mov %rsi,(%rdi); add $1,%eax (overwrites every status flag); mov %esi,(%rdi) (then a return); ret
  const void* f = box.load({0x48, 0x89, 0x37, 0x83, 0xc0, 0x01, 0x89, 0x37, 0xc3}, &t);
  ASSERT_TRUE(f);
  EXPECT_EQ(t.counts.flagless_sites, 2u);
  Regs in = pattern(), out;
  in.v[RDI] = reinterpret_cast<uint64_t>(box.window()) + 0x100;
  ASSERT_TRUE(run(f, in, out));
  EXPECT_EQ(out.v[RAX], static_cast<uint32_t>(in.v[RAX] + 1));  // add to eax zero-extends
  // r10 and r11 are dead at a return (call-clobbered): the check may leave them changed, nothing else.
  EXPECT_EQ(t.counts.frameless_sites, 2u);
  for (int i = RBX; i <= R9; ++i) EXPECT_EQ(out.v[i], in.v[i]) << "register " << i;
  for (int i = R12; i <= R15; ++i) EXPECT_EQ(out.v[i], in.v[i]) << "register " << i;
  in.v[RDI] += 0x100;  // not granted: the slow path still runs, with the frame laid out as with the flags
  EXPECT_FALSE(run(f, in, out));
  EXPECT_EQ(sfi_seen_ea, in.v[RDI]);
}

TEST(SfiTranslateRun, WriteOutsideReachesTheViolationEntry) {
  for (bool low : {true, false}) {
    Sandbox box(low);
    ASSERT_TRUE(box.ok());
    box.grant(0x100, 8);
    const void* f = box.load({0x89, 0x77, 0x04, 0xc3});  // mov %esi,4(%rdi); ret
    Regs in = pattern(), out;
    uint64_t outside = 0;
    in.v[RDI] = reinterpret_cast<uint64_t>(&outside) - 4;  // side's own stack: outside the window
    EXPECT_FALSE(run(f, in, out));
    EXPECT_EQ(sfi_seen_ea, reinterpret_cast<uint64_t>(&outside));
    EXPECT_EQ(sfi_seen_len, 4u);
    EXPECT_EQ(outside, 0u) << "the write must not happen";
    // Inside the window but not granted; and a write straddling into an ungranted granule.
    in.v[RDI] = reinterpret_cast<uint64_t>(box.window()) + 0x200;
    EXPECT_FALSE(run(f, in, out));
    EXPECT_EQ(sfi_seen_ea, in.v[RDI] + 4);
    in.v[RDI] = reinterpret_cast<uint64_t>(box.window()) + 0x100 + 2;  // bytes 0x106..0x109
    EXPECT_FALSE(run(f, in, out));
    EXPECT_EQ(sfi_seen_count, 3u);
  }
}

// Where the bytes `insn` occur in `code`, and every target of a relative branch in `code` (decoded linearly).
void copies_and_targets(const std::vector<uint8_t>& code, const std::vector<uint8_t>& insn,
                        std::vector<uint64_t>& copies, std::vector<uint64_t>& targets) {
  ZydisDecoder d;
  ZydisDecoderInit(&d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  for (uint64_t at = 0; at < code.size();) {
    ZydisDecodedInstruction i;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&d, code.data() + at, code.size() - at, &i, ops))) break;
    if (i.length == insn.size() && std::memcmp(code.data() + at, insn.data(), insn.size()) == 0) copies.push_back(at);
    ZyanU64 to = 0;
    if (i.operand_count_visible == 1 && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && ops[0].imm.is_relative &&
        ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&i, &ops[0], at, &to))) {
      targets.push_back(to);
    }
    at += i.length;
  }
}

// A plain write is placed twice (after the fast path, after the slow path's call) so that neither copy is a branch
// target (the device-access rewriter can then replace a device-window write by a jump): it still runs exactly once
// on either path.
TEST(SfiTranslateRun, AWritePlacedTwiceRunsOnceOnEitherPath) {
  Sandbox box(true);
  ASSERT_TRUE(box.ok());
  box.grant(0x100, 8);
  Translation t;
  const std::vector<uint8_t> add = {0x83, 0x07, 0x01};  // addl $1,(%rdi)
  const void* f = box.load({0x83, 0x07, 0x01, 0xc3}, &t);
  ASSERT_TRUE(f);
  std::vector<uint64_t> copies, targets;
  copies_and_targets(t.code, add, copies, targets);
  ASSERT_EQ(copies.size(), 2u);
  for (uint64_t c : copies) EXPECT_EQ(std::count(targets.begin(), targets.end(), c), 0) << "copy at " << c;
  Regs in = pattern(), out;
  in.v[RDI] = reinterpret_cast<uint64_t>(box.window()) + 0x100;
  std::memset(box.window() + 0x100, 0, 8);
  ASSERT_TRUE(run(f, in, out));  // the fast path
  EXPECT_EQ(box.window()[0x100], 1);
  EXPECT_EQ(sfi_seen_count, 0u);
  uint32_t outside = 41;
  in.v[RDI] = reinterpret_cast<uint64_t>(&outside);
  sfi_allow = 1;  // the slow path lets it through (as it does a device-window write)
  ASSERT_TRUE(run(f, in, out));
  EXPECT_EQ(outside, 42u);
  EXPECT_EQ(sfi_seen_count, 1u);
  EXPECT_EQ(sfi_seen_ea, in.v[RDI]);
  EXPECT_EQ(sfi_seen_len, 4u);
  for (int i : {RAX, RBX, RCX, RDX, RSI, RDI, RBP, R8, R9, R12, R13, R14, R15}) EXPECT_EQ(out.v[i], in.v[i]);
}

TEST(SfiTranslateRun, RepStosIsCheckedWithItsRange) {
  Sandbox box(true);
  ASSERT_TRUE(box.ok());
  box.grant(0, 4096);
  const void* f = box.load({0xf3, 0x48, 0xab, 0xc3});  // rep stosq; ret
  Regs in = pattern(), out;
  in.v[RDI] = reinterpret_cast<uint64_t>(box.window()) + 64;
  in.v[RCX] = 10;
  in.v[kFlagsSlot] &= ~0x400ull;
  sfi_allow = 1;  // the slow path decides; this one allows
  ASSERT_TRUE(run(f, in, out));
  EXPECT_EQ(sfi_seen_count, 1u);
  EXPECT_EQ(sfi_seen_ea, in.v[RDI]);
  EXPECT_EQ(sfi_seen_len, 80u);
  uint64_t last;
  std::memcpy(&last, box.window() + 64 + 72, 8);
  EXPECT_EQ(last, in.v[RAX]);
  EXPECT_EQ(out.v[RCX], 0u);
  for (int i : {RAX, RBX, RDX, RSI, RBP, R8, R9, R10, R11, R12, R13, R14, R15}) EXPECT_EQ(out.v[i], in.v[i]);
}

TEST(SfiTranslateRun, BtsChecksTheWordItTouches) {
  Sandbox box(true);
  ASSERT_TRUE(box.ok());
  box.grant(0x100, 8);
  const void* f = box.load({0xf0, 0x48, 0x0f, 0xab, 0x37, 0xc3});  // lock bts %rsi,(%rdi); ret
  Regs in = pattern(), out;
  in.v[RDI] = reinterpret_cast<uint64_t>(box.window()) + 0x100;
  in.v[RSI] = 3;  // the granted word
  ASSERT_TRUE(run(f, in, out));
  EXPECT_EQ(box.window()[0x100], 8);
  in.v[RSI] = 64 * 5 + 3;  // five words further: not granted
  EXPECT_FALSE(run(f, in, out));
  EXPECT_EQ(sfi_seen_ea, in.v[RDI] + 40);
  EXPECT_EQ(sfi_seen_len, 8u);
  in.v[RSI] = static_cast<uint64_t>(-64);  // the word before: negative offsets count too
  EXPECT_FALSE(run(f, in, out));
  EXPECT_EQ(sfi_seen_ea, in.v[RDI] - 8);
}

TEST(SfiTranslateRun, WidenedLoopStillLoops) {
  Sandbox box(true);
  ASSERT_TRUE(box.ok());
  box.grant(0, 64);
  Translation t;
  // xor %eax,%eax; 1: inc %eax; mov %eax,(%rdi); cmp %esi,%eax; jne 1b; ret
  const void* f = box.load({0x31, 0xc0, 0xff, 0xc0, 0x89, 0x07, 0x39, 0xf0, 0x75, 0xf8, 0xc3}, &t);
  EXPECT_EQ(t.counts.widened_branches, 1u);
  Regs in = pattern(), out;
  in.v[RDI] = reinterpret_cast<uint64_t>(box.window());
  in.v[RSI] = 37;
  ASSERT_TRUE(run(f, in, out));
  EXPECT_EQ(out.v[RAX], 37u);
  EXPECT_EQ(box.window()[0], 37);
  EXPECT_EQ(sfi_seen_count, 0u);
}

double ns_per_iteration(const void* f, uint64_t* window, uint64_t n) {
  Regs in = pattern(), out;
  in.v[RDI] = reinterpret_cast<uint64_t>(window);
  in.v[RSI] = n;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(run(f, in, out));
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / double(n);
}

// The cost of the inline check on a store loop, untranslated vs translated, with the flags dead at the store and
// with them live (printed; the bound only catches a check gone pathological, e.g. always taking the slow path).
TEST(SfiTranslateRun, CostOfTheCheckOnAStoreLoop) {
  Sandbox box(true);
  ASSERT_TRUE(box.ok());
  box.grant(0, 64);
  auto* window = reinterpret_cast<uint64_t*>(box.window());
  constexpr uint64_t kN = 20'000'000;
  // xor %eax,%eax; 1: inc %eax; mov %eax,(%rdi); cmp %esi,%eax; jne 1b; ret   (flags dead at the store)
  const std::vector<uint8_t> dead = {0x31, 0xc0, 0xff, 0xc0, 0x89, 0x07, 0x39, 0xf0, 0x75, 0xf8, 0xc3};
  // xor %eax,%eax; 1: inc %eax; cmp %esi,%eax; mov %eax,(%rdi); jne 1b; ret   (flags live across the store)
  const std::vector<uint8_t> live = {0x31, 0xc0, 0xff, 0xc0, 0x39, 0xf0, 0x89, 0x07, 0x75, 0xf8, 0xc3};
  for (const auto* code : {&dead, &live}) {
    const double raw = ns_per_iteration(box.load_raw(*code), window, kN);
    const double checked = ns_per_iteration(box.load(*code), window, kN);
    std::printf("store loop, flags %s: %.2f ns/iteration untranslated, %.2f translated (+%.2f ns per check)\n",
                code == &dead ? "dead" : "live", raw, checked, checked - raw);
    EXPECT_EQ(window[0], kN & 0xffffffff);
    EXPECT_LT(checked, raw + 50.0);
    EXPECT_EQ(sfi_seen_count, 0u);
  }
}

// A far rsp-relative write is checked at the right address whatever the check saves (nothing, the flags, r10/r11,
// or all three): the frame it pushes is accounted for.
TEST(SfiTranslateRun, FarStackWriteAddressWithEveryFrame) {
  Sandbox box(true);
  ASSERT_TRUE(box.ok());
  // mov %rsp,%rax; mov %rsi,0x2000(%rsp); then a tail that makes the flags and/or r10/r11 live; ret
  const std::vector<uint8_t> head = {0x48, 0x89, 0xe0, 0x48, 0x89, 0xb4, 0x24, 0x00, 0x20, 0x00, 0x00};
  const std::vector<std::vector<uint8_t>> tails = {
      {},                  // nothing live
      {0x72, 0x00},        // jc +0: flags live
      {0x4c, 0x01, 0xd9},  // add %r11,%rcx: r11 live
      {0x4c, 0x11, 0xd9},  // adc %r11,%rcx: both
  };
  for (size_t i = 0; i < tails.size(); ++i) {
    std::vector<uint8_t> code = head;
    code.insert(code.end(), tails[i].begin(), tails[i].end());
    code.push_back(0xc3);
    Translation t;
    const void* f = box.load(code, &t);
    ASSERT_TRUE(f);
    EXPECT_EQ(t.counts.flagless_sites, i == 0 || i == 2 ? 1u : 0u) << i;
    EXPECT_EQ(t.counts.frameless_sites, i < 2 ? 1u : 0u) << i;
    Regs in = pattern(), out;
    EXPECT_FALSE(run(f, in, out)) << i;  // the stack is outside the window
    EXPECT_EQ(sfi_seen_ea, sfi_seen_rax + 0x2000) << i;
    EXPECT_EQ(sfi_seen_len, 8u);
  }
}

TEST(SfiTranslateRun, AnArbitraryStackPointerIsCheckedBeforeUse) {
  Sandbox box(true);
  ASSERT_TRUE(box.ok());
  // mov %rsp,%rax; mov %rdi,%rsp; push %rsi; mov %rax,%rsp; ret
  Translation t;
  const void* f = box.load({0x48, 0x89, 0xe0, 0x48, 0x89, 0xfc, 0x56, 0x48, 0x89, 0xc4, 0xc3}, &t);
  ASSERT_TRUE(f);
  EXPECT_EQ(t.counts.stack_checks, 2u);
  Regs in = pattern(), out;
  // Elsewhere on the stack: both moves pass, with every register and the flags intact.
  in.v[RDI] = box.stack_top() - 0x8000;
  ASSERT_TRUE(run(f, in, out));
  EXPECT_EQ(sfi_seen_count, 0u);
  EXPECT_EQ(*reinterpret_cast<const uint64_t*>(in.v[RDI] - 8), in.v[RSI]);
  for (int i = RBX; i <= R15; ++i) EXPECT_EQ(out.v[i], in.v[i]) << "register " << i;
  EXPECT_EQ(out.v[kFlagsSlot] & kStatusFlags, in.v[kFlagsSlot] & kStatusFlags);
  // Memory the sandbox may even write, but no stack: refused before the push.
  uint64_t victim[4] = {};
  in.v[RDI] = reinterpret_cast<uint64_t>(&victim[2]);
  EXPECT_FALSE(run(f, in, out));
  EXPECT_EQ(sfi_seen_ea, in.v[RDI]);
  EXPECT_EQ(sfi_seen_len, kBadStackLength);
  EXPECT_EQ(victim[1], 0u) << "the push must not happen";
}

TEST(SfiTranslateRun, AligningRspFarDownIsChecked) {
  Sandbox box(true);
  ASSERT_TRUE(box.ok());
  Translation t;
  // mov %rsp,%rax; and $-0x2000,%rsp; mov %rax,%rsp; ret
  const void* f = box.load({0x48, 0x89, 0xe0, 0x48, 0x81, 0xe4, 0x00, 0xe0, 0xff, 0xff, 0x48, 0x89, 0xc4, 0xc3}, &t);
  ASSERT_TRUE(f);
  EXPECT_EQ(t.counts.stack_checks, 2u);
  Regs in = pattern(), out;
  EXPECT_TRUE(run(f, in, out));  // still on the stack
  box.set_floor(box.stack_top() - 0x100);
  EXPECT_FALSE(run(f, in, out));  // below the floor now
  EXPECT_EQ(sfi_seen_ea, sfi_seen_rax & ~uint64_t{0x1fff});
  EXPECT_EQ(sfi_seen_len, kBadStackLength);
}

// Small constant changes of rsp are not checked but probed (an access at the new top, which faults in a guard),
// keeping every register and the flags.
TEST(SfiTranslateRun, SmallStackPointerChangesAreProbed) {
  Sandbox box(true);
  ASSERT_TRUE(box.ok());
  Translation t;
  // sub $0x100,%rsp; lea 0x80(%rsp),%rsp; add $0x80,%rsp; ret
  const void* f = box.load({0x48, 0x81, 0xec, 0x00, 0x01, 0x00, 0x00, 0x48, 0x8d, 0xa4, 0x24, 0x80,
                            0x00, 0x00, 0x00, 0x48, 0x81, 0xc4, 0x80, 0x00, 0x00, 0x00, 0xc3},
                           &t);
  ASSERT_TRUE(f);
  EXPECT_EQ(t.counts.stack_checks, 0u);
  EXPECT_EQ(t.counts.stack_probes, 3u);
  Regs in = pattern(), out;
  ASSERT_TRUE(run(f, in, out));
  for (int i = RAX; i <= R15; ++i) EXPECT_EQ(out.v[i], in.v[i]) << "register " << i;
}

// A call stores its return site in the shadow slot and comes back through it: the callee overwrites the return
// address on the stack (as another vCPU could), and the call still returns where it was made.
TEST(SfiTranslateRun, ACallComesBackThroughTheShadowSlot) {
  Sandbox box(true);
  ASSERT_TRUE(box.ok());
  Translation t;
  const void* f = box.load({0xff, 0xd0, 0xc3}, &t);  // call *%rax; ret
  ASSERT_TRUE(f);
  EXPECT_EQ(t.counts.calls, 1u);
  // movq $0x41414141,(%rsp); lea kShadow(%rsp),%rsp; ret: a callee whose stacked return address was overwritten.
  static constexpr uint8_t kCallee[] = {0x48, 0xc7, 0x04, 0x24, 0x41, 0x41, 0x41, 0x41, 0x48,
                                        0x8d, 0xa4, 0x24, 0x00, 0x00, 0x10, 0x00, 0xc3};
  auto* callee = static_cast<uint8_t*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(callee, MAP_FAILED);
  std::memcpy(callee, kCallee, sizeof kCallee);
  Regs in = pattern(), out;
  in.v[RAX] = reinterpret_cast<uint64_t>(callee);
  ASSERT_TRUE(run(f, in, out));
  for (int i = RAX; i <= R15; ++i) EXPECT_EQ(out.v[i], in.v[i]) << "register " << i;
  munmap(callee, 4096);
}

// Per-cpu writes (%gs:offset, as the kernel's this_cpu ops) are checked at GS base + offset (rdgsbase).
TEST(SfiTranslateRun, GsRelativeWriteIsCheckedAtItsLinearAddress) {
  if (!(getauxval(AT_HWCAP2) & 2 /* HWCAP2_FSGSBASE */)) GTEST_SKIP() << "no FSGSBASE for user space";
  Sandbox box(true);
  ASSERT_TRUE(box.ok());
  box.grant(0x110, 8);
  // mov %esi,%gs:0x10; ret   (65 89 34 25 disp32)
  const void* f = box.load({0x65, 0x89, 0x34, 0x25, 0x10, 0x00, 0x00, 0x00, 0xc3});
  ASSERT_TRUE(f);
  const uint64_t base = reinterpret_cast<uint64_t>(box.window()) + 0x100;
  ASSERT_EQ(syscall(SYS_arch_prctl, ARCH_SET_GS, base), 0);
  Regs in = pattern(), out;
  const bool passed = run(f, in, out);
  uint32_t stored;
  std::memcpy(&stored, box.window() + 0x110, 4);
  ASSERT_EQ(syscall(SYS_arch_prctl, ARCH_SET_GS, base + 0x100), 0);  // now gs:0x10 is not granted
  const bool second = run(f, in, out);
  syscall(SYS_arch_prctl, ARCH_SET_GS, 0);
  EXPECT_TRUE(passed);
  EXPECT_EQ(stored, static_cast<uint32_t>(in.v[RSI]));
  EXPECT_FALSE(second);
  EXPECT_EQ(sfi_seen_ea, base + 0x110);
  EXPECT_EQ(sfi_seen_len, 4u);
}

TEST(SfiTranslateRun, RawIndirectCallAndReturnBecomeThunks) {
  Sandbox box(true);
  ASSERT_TRUE(box.ok());
  Translation t;
  const void* f = box.load({0xff, 0xd0, 0xc3}, &t);  // call *%rax; ret
  EXPECT_EQ(t.counts.converted_indirect, 1u);
  EXPECT_EQ(t.counts.converted_returns, 1u);
  std::vector<std::string> names;
  for (const auto& r : t.relocations) {
    if (!r.self) names.push_back(r.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"__x86_indirect_thunk_rax", "__x86_return_thunk"}));
  Regs in = pattern(), out;
  // The test's indirect thunk is `jmp *%rax`; aim it at the return stub, so the call returns through the code.
  in.v[RAX] = box.return_stub();
  ASSERT_TRUE(run(f, in, out));
  for (int i = RAX; i <= R15; ++i) EXPECT_EQ(out.v[i], in.v[i]) << "register " << i;
}

}  // namespace
}  // namespace side::sfi
