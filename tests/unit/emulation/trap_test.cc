// End to end: real trapping accesses. A PROT_NONE page stands in for a BAR window; ring-3 port I/O raises #GP. A
// SIGSEGV handler decodes the faulting instruction, cross-checks the fault, emulates it against a fake device and
// resumes, as side's domain fault handler does.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "emulation/decode_cache.h"
#include "emulation/emulate.h"
#include "emulation/ucontext.h"

namespace side::emulation {
namespace {

constexpr size_t kWindowSize = 4096;

struct DeviceEvent {
  bool write;
  Space space;
  uint64_t offset;  // from the window start for memory, the port for ports
  unsigned width;
  uint64_t value;
};

// Everything the handler touches is static and fixed-size: a signal handler must not allocate.
struct TrapState {
  uint8_t* window = nullptr;
  uint8_t registers[kWindowSize];  // the device's register file behind the window
  uint8_t ports[65536 + 4];        // a 4-byte access at port 0xffff stays inside
  DeviceEvent log[64];
  unsigned log_count = 0;
  unsigned memory_traps = 0;
  unsigned port_traps = 0;
  char failure[512] = {};
  DecodeCache cache;
};
TrapState* g_state;

class TrapDevice final : public Bus {
 public:
  Result<uint64_t> read(Space space, uint64_t address, unsigned width) override {
    uint64_t v = 0;
    if (space == Space::kPort) {
      std::memcpy(&v, &g_state->ports[address], width);  // little-endian, like the device
      record(false, space, address, width, v);
    } else if (in_window(address, width)) {
      uint64_t offset = address - reinterpret_cast<uint64_t>(g_state->window);
      std::memcpy(&v, &g_state->registers[offset], width);
      record(false, space, offset, width, v);
    } else {
      std::memcpy(&v, reinterpret_cast<const void*>(address), width);  // ordinary memory (outs source)
    }
    return v;
  }
  Status write(Space space, uint64_t address, unsigned width, uint64_t value) override {
    if (space == Space::kPort) {
      std::memcpy(&g_state->ports[address], &value, width);
      record(true, space, address, width, value);
    } else if (in_window(address, width)) {
      uint64_t offset = address - reinterpret_cast<uint64_t>(g_state->window);
      std::memcpy(&g_state->registers[offset], &value, width);
      record(true, space, offset, width, value);
    } else {
      std::memcpy(reinterpret_cast<void*>(address), &value, width);  // ordinary memory (ins destination)
    }
    return {};
  }

 private:
  static bool in_window(uint64_t address, unsigned width) {
    uint64_t base = reinterpret_cast<uint64_t>(g_state->window);
    return address >= base && address + width <= base + kWindowSize;
  }
  static void record(bool write, Space space, uint64_t offset, unsigned width, uint64_t value) {
    if (g_state->log_count < std::size(g_state->log)) {
      g_state->log[g_state->log_count++] = {write, space, offset, width, value};
    }
  }
};

void fail(const char* what, const std::string& detail = {}) {
  std::snprintf(g_state->failure, sizeof g_state->failure, "%s %s", what, detail.c_str());
  const char prefix[] = "trap_test: ";
  (void)!::write(2, prefix, sizeof prefix - 1);
  (void)!::write(2, g_state->failure, std::strlen(g_state->failure));
  (void)!::write(2, "\n", 1);
  ::signal(SIGSEGV, SIG_DFL);  // returning re-executes the access and dies with the default action
}

void on_segv(int, siginfo_t* si, void* context) {
  auto* uc = static_cast<ucontext_t*>(context);
  // The faulting instruction lies in this test's text, so 15 bytes are readable.
  const auto* rip = reinterpret_cast<const uint8_t*>(uc->uc_mcontext.gregs[REG_RIP]);
  TrapDevice device;
  Result<Access> access = emulate_trap(*si, *uc, std::span(rip, kMaxInstructionLength), g_state->cache, device);
  if (!access) return fail("emulate_trap:", access.error().message);
  ++(si->si_code == SI_KERNEL ? g_state->port_traps : g_state->memory_traps);
}

class TrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = new TrapState();
    g_state = state_;
    void* p = mmap(nullptr, kWindowSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    state_->window = static_cast<uint8_t*>(p);
    struct sigaction sa = {};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(sigaction(SIGSEGV, &sa, &old_), 0);
  }
  void TearDown() override {
    sigaction(SIGSEGV, &old_, nullptr);
    munmap(state_->window, kWindowSize);
    EXPECT_STREQ(state_->failure, "");
    g_state = nullptr;
    delete state_;
  }
  template <class T>
  void set_register(size_t offset, T value) {
    std::memcpy(&state_->registers[offset], &value, sizeof value);
  }
  template <class T>
  T device_register(size_t offset) {
    T v;
    std::memcpy(&v, &state_->registers[offset], sizeof v);
    return v;
  }
  const DeviceEvent& event(unsigned i) { return state_->log[i]; }

  TrapState* state_ = nullptr;
  struct sigaction old_ = {};
};

TEST_F(TrapTest, MmioLoadsAndStores) {
  uint8_t* w = state_->window;
  set_register<uint32_t>(0x10, 0xdeadbeef);
  set_register<uint16_t>(0x20, 0x8001);
  set_register<uint64_t>(0x28, 0x1122334455667788);

  uint32_t v32;
  asm volatile("movl 0x10(%1), %0" : "=r"(v32) : "r"(w) : "memory");
  EXPECT_EQ(v32, 0xdeadbeefu);

  asm volatile("movb %0, 3(%1)" : : "q"(uint8_t{0x5a}), "r"(w) : "memory");
  EXPECT_EQ(state_->registers[3], 0x5a);

  uint32_t zx;
  asm volatile("movzwl 0x20(%1), %0" : "=r"(zx) : "r"(w) : "memory");
  EXPECT_EQ(zx, 0x8001u);

  uint64_t sx;
  asm volatile("movswq 0x20(%1), %0" : "=r"(sx) : "r"(w) : "memory");
  EXPECT_EQ(sx, 0xffffffffffff8001u);

  // A 16-bit load into a register keeps its upper 48 bits; a 32-bit one clears them.
  uint64_t partial = 0xaaaaaaaaaaaaaaaa;
  asm volatile("movw 0x20(%1), %w0" : "+r"(partial) : "r"(w) : "memory");
  EXPECT_EQ(partial, 0xaaaaaaaaaaaa8001u);
  uint64_t full = 0xaaaaaaaaaaaaaaaa;
  asm volatile("movl 0x10(%1), %k0" : "+r"(full) : "r"(w) : "memory");
  EXPECT_EQ(full, 0xdeadbeefu);

  uint64_t v64;
  asm volatile("movq 0x28(%1), %0" : "=r"(v64) : "r"(w) : "memory");
  EXPECT_EQ(v64, 0x1122334455667788u);

  // movb %ah: the high-byte register of RAX.
  asm volatile("movb %%ah, 4(%1)" : : "a"(uint64_t{0x1234}), "c"(w) : "memory");  // no REX: AH is encodable
  EXPECT_EQ(state_->registers[4], 0x12);

  // Immediate store, sign-extended to 64 bits; indexed addressing.
  uint64_t index = 6;
  asm volatile("movq $-2, 0x8(%0,%1,8)" : : "r"(w), "r"(index) : "memory");
  EXPECT_EQ(device_register<uint64_t>(0x38), 0xfffffffffffffffeu);

  // xchg returns the old value and stores the register.
  uint32_t x = 0x600df00d;
  asm volatile("xchgl %0, 0x10(%1)" : "+r"(x) : "r"(w) : "memory");
  EXPECT_EQ(x, 0xdeadbeefu);
  EXPECT_EQ(device_register<uint32_t>(0x10), 0x600df00du);

  EXPECT_EQ(state_->memory_traps, 10u);
  ASSERT_EQ(state_->log_count, 11u);  // xchg is a read and a write
  EXPECT_FALSE(event(0).write);
  EXPECT_EQ(event(0).offset, 0x10u);
  EXPECT_EQ(event(0).width, 4u);
  EXPECT_TRUE(event(1).write);
  EXPECT_EQ(event(1).offset, 3u);
  EXPECT_EQ(event(1).width, 1u);
  EXPECT_EQ(event(1).value, 0x5au);
  EXPECT_EQ(event(2).width, 2u);
  EXPECT_EQ(event(8).offset, 0x38u);
  EXPECT_EQ(event(8).width, 8u);
}

// Runs `insn` (an AT&T `op src, mem` with the memory operand as %1) on ordinary memory and on the window, and
// checks that the results and the arithmetic flags agree with the CPU's.
#define SIDE_COMPARE_WITH_CPU(insn, src_constraint, src, initial)                                \
  do {                                                                                           \
    uint32_t plain = (initial);                                                                  \
    uint64_t plain_flags, trap_flags;                                                            \
    asm volatile(insn "\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %0\n\tlea 128(%%rsp), %%rsp" \
                 : "=r"(plain_flags), "+m"(plain)                                                \
                 : src_constraint(src)                                                           \
                 : "cc", "memory");                                                              \
    set_register<uint32_t>(0x40, (initial));                                                     \
    asm volatile(insn "\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %0\n\tlea 128(%%rsp), %%rsp" \
                 : "=r"(trap_flags), "+m"(*reinterpret_cast<uint32_t*>(state_->window + 0x40))   \
                 : src_constraint(src)                                                           \
                 : "cc", "memory");                                                              \
    EXPECT_EQ(device_register<uint32_t>(0x40), plain) << insn;                                   \
    EXPECT_EQ(trap_flags& mask, plain_flags& mask)                                               \
        << insn << std::hex << " cpu " << plain_flags << " emu " << trap_flags;                  \
  } while (0)

TEST_F(TrapTest, ReadModifyWriteMatchesTheCpu) {
  const uint64_t mask = kArithmeticFlags & ~kFlagAF;  // AF is undefined after logical operations
  SIDE_COMPARE_WITH_CPU("orl %2, %1", "ri", 0x40, 0x3);
  SIDE_COMPARE_WITH_CPU("andl %2, %1", "ri", ~0x4u, 0x4);
  SIDE_COMPARE_WITH_CPU("xorl %2, %1", "r", 0x80000001u, 0x80000001u);
  SIDE_COMPARE_WITH_CPU("testl %2, %1", "ri", 0x80000000u, 0x80000000u);
  const uint64_t all = kArithmeticFlags;
  {
    const uint64_t mask = all;
    SIDE_COMPARE_WITH_CPU("addl %2, %1", "ri", 0x7fffffff, 0x1);
    SIDE_COMPARE_WITH_CPU("addl %2, %1", "r", 0xffffffffu, 0xf);
    SIDE_COMPARE_WITH_CPU("subl %2, %1", "ri", 0x10, 0x1);
    SIDE_COMPARE_WITH_CPU("cmpl %2, %1", "ri", 0x80000000u, 0x7fffffff);
    SIDE_COMPARE_WITH_CPU("cmpl %2, %1", "ri", 0, 0);
  }
  EXPECT_EQ(state_->memory_traps, 9u);
}

TEST_F(TrapTest, PortIoFromUserModeTraps) {
  state_->ports[0x71] = 0x42;
  uint32_t cf8 = 0x87654321;
  std::memcpy(&state_->ports[0xcf8], &cf8, 4);

  asm volatile("outb %%al, $0x80" : : "a"(uint8_t{0x99}) : "memory");
  EXPECT_EQ(state_->ports[0x80], 0x99);

  uint32_t v;
  asm volatile("inl (%%dx), %%eax" : "=a"(v) : "d"(uint16_t{0xcf8}) : "memory");
  EXPECT_EQ(v, 0x87654321u);

  uint64_t al = 0xffffffffffffffff;
  asm volatile("inb $0x71, %%al" : "+a"(al) : : "memory");
  EXPECT_EQ(al, 0xffffffffffffff42u);

  asm volatile("outw %%ax, (%%dx)" : : "a"(uint16_t{0xbeef}), "d"(uint16_t{0x1f0}) : "memory");
  EXPECT_EQ(state_->ports[0x1f0], 0xef);
  EXPECT_EQ(state_->ports[0x1f1], 0xbe);

  // rep outsb / rep insw move between ordinary memory and a port.
  const char message[] = "side";
  const void* rsi = message;
  uint64_t rcx = 4;
  asm volatile("rep outsb" : "+S"(rsi), "+c"(rcx) : "d"(uint16_t{0x3f8}) : "memory");
  EXPECT_EQ(rcx, 0u);
  EXPECT_EQ(rsi, static_cast<const void*>(message + 4));
  EXPECT_EQ(state_->ports[0x3f8], 'e');  // the last of the four bytes; the log has them all
  uint16_t buffer[3] = {};
  void* rdi = buffer;
  rcx = 3;
  asm volatile("rep insw" : "+D"(rdi), "+c"(rcx) : "d"(uint16_t{0x1f0}) : "memory");
  EXPECT_EQ(buffer[0], 0xbeef);
  EXPECT_EQ(buffer[2], 0xbeef);
  EXPECT_EQ(rdi, static_cast<void*>(buffer + 3));

  EXPECT_EQ(state_->port_traps, 6u);
  EXPECT_EQ(state_->memory_traps, 0u);
  ASSERT_EQ(state_->log_count, 4u + 4 + 3);
  EXPECT_TRUE(event(0).write);
  EXPECT_EQ(event(0).space, Space::kPort);
  EXPECT_EQ(event(0).offset, 0x80u);
  EXPECT_EQ(event(0).width, 1u);
  EXPECT_EQ(event(0).value, 0x99u);
  EXPECT_FALSE(event(1).write);
  EXPECT_EQ(event(1).offset, 0xcf8u);
  EXPECT_EQ(event(1).width, 4u);
  for (unsigned i = 0; i < 4; ++i) EXPECT_EQ(event(4 + i).value, static_cast<uint64_t>(message[i]));
}

// emulate_trap's cross-checks, with hand-made fault reports.
class EmulateTrapChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    std::memset(&uc_, 0, sizeof uc_);
    std::memset(&info_, 0, sizeof info_);
    info_.si_signo = SIGSEGV;
    uc_.uc_mcontext.gregs[REG_RIP] = 0x401000;
    uc_.uc_mcontext.gregs[REG_RBX] = 0x7000;
  }
  Result<Access> trap(std::initializer_list<uint8_t> bytes, int code, uint64_t address) {
    std::vector<uint8_t> insn(bytes);
    info_.si_code = code;
    info_.si_addr = reinterpret_cast<void*>(address);
    return emulate_trap(info_, uc_, insn, cache_, bus_);
  }
  class NullBus final : public Bus {
   public:
    Result<uint64_t> read(Space, uint64_t, unsigned) override { return uint64_t{0x5a}; }
    Status write(Space, uint64_t, unsigned, uint64_t) override { return {}; }
  } bus_;
  DecodeCache cache_;
  siginfo_t info_;
  ucontext_t uc_;
};

TEST_F(EmulateTrapChecks, AcceptsMatchingFaults) {
  auto a = trap({0x8b, 0x43, 0x04}, SEGV_ACCERR, 0x7004);  // movl 4(%rbx),%eax
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(uc_.uc_mcontext.gregs[REG_RAX], 0x5a);
  EXPECT_EQ(uc_.uc_mcontext.gregs[REG_RIP], 0x401003);
  // A misaligned access whose first bytes were accessible faults at a later byte.
  uc_.uc_mcontext.gregs[REG_RIP] = 0x401000;
  EXPECT_TRUE(trap({0x8b, 0x43, 0x04}, SEGV_ACCERR, 0x7007).ok());
  uc_.uc_mcontext.gregs[REG_RIP] = 0x401000;
  EXPECT_TRUE(trap({0xee}, SI_KERNEL, 0).ok());  // outb %al,(%dx)
}

TEST_F(EmulateTrapChecks, RefusesMismatchedFaultsAndLeavesTheContextAlone) {
  const ucontext_t before = uc_;
  auto a = trap({0x8b, 0x43, 0x04}, SEGV_ACCERR, 0x7008);  // one past the 4 bytes read
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("does not match"), std::string::npos) << a.error().message;
  EXPECT_FALSE(trap({0x8b, 0x43, 0x04}, SEGV_ACCERR, 0x7003).ok());
  EXPECT_FALSE(trap({0xee}, SEGV_MAPERR, 0x7000).ok());  // port I/O cannot page-fault
  a = trap({0x8b, 0x43, 0x04}, SI_KERNEL, 0);            // #GP on a memory access: non-canonical
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("general-protection"), std::string::npos) << a.error().message;
  a = trap({0xff, 0x03}, SEGV_ACCERR, 0x7000);  // incl (%rbx): refused by the decoder
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(std::memcmp(&before.uc_mcontext.gregs, &uc_.uc_mcontext.gregs, sizeof before.uc_mcontext.gregs), 0);
}

}  // namespace
}  // namespace side::emulation
