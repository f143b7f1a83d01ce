// The layer's functions that compiled driver code calls from inside an asm statement naming only some registers
// (arch_hweight.h's alternative to popcnt: input rdi, output rax) must give every other register back unchanged;
// the caller keeps live values in them across the call.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <memory>
#include <string>

#include "domain/domain.h"

namespace {

// What the call left in the registers the caller did not give up.
struct Registers {
  uint64_t rax, rdi, rsi, rdx, rcx, r8, r9, r10, r11;
};

constexpr uint64_t kPattern = 0x5a5a000000000000ull;

// Calls `function` with `argument` in rdi and a distinct pattern in every other caller-saved register, as the asm
// statement of arch_hweight.h does, below the red zone (the call's push would overwrite it).
Registers call_naming_only_rdi(uint64_t function, uint64_t argument) {
  register uint64_t rax asm("rax") = function;
  register uint64_t rdi asm("rdi") = argument;
  register uint64_t rsi asm("rsi") = kPattern | 1;
  register uint64_t rdx asm("rdx") = kPattern | 2;
  register uint64_t rcx asm("rcx") = kPattern | 3;
  register uint64_t r8 asm("r8") = kPattern | 4;
  register uint64_t r9 asm("r9") = kPattern | 5;
  register uint64_t r10 asm("r10") = kPattern | 6;
  register uint64_t r11 asm("r11") = kPattern | 7;
  asm volatile("subq $128, %%rsp\n\tcall *%%rax\n\taddq $128, %%rsp"
               : "+r"(rax), "+r"(rdi), "+r"(rsi), "+r"(rdx), "+r"(rcx), "+r"(r8), "+r"(r9), "+r"(r10), "+r"(r11)
               :
               : "memory", "cc");
  return {rax, rdi, rsi, rdx, rcx, r8, r9, r10, r11};
}

class KapiRegisters : public ::testing::Test {
 protected:
  void SetUp() override {
    side::domain::DomainConfig config;
    config.kapi_path = SIDE_TEST_KAPI;
    config.symvers_path = SIDE_TEST_SYMVERS;
    config.modules_dir = SIDE_TEST_MODULES_DIR;
    auto d = side::domain::Domain::create(config);
    ASSERT_TRUE(d) << d.error().message;
    domain_ = std::move(*d);
  }
  uint64_t layer_function(const std::string& name) {
    const auto* layer = domain_->address_space().modules().kapi();
    EXPECT_NE(layer, nullptr);
    return layer ? layer->exports.at(name) : 0;
  }
  void expect_only_rax_changed(const std::string& name, uint64_t argument, uint64_t count) {
    const Registers r = call_naming_only_rdi(layer_function(name), argument);
    EXPECT_EQ(r.rax, count) << name;
    EXPECT_EQ(r.rdi, argument) << name;
    const uint64_t kept[] = {r.rsi, r.rdx, r.rcx, r.r8, r.r9, r.r10, r.r11};
    for (uint64_t i = 0; i < std::size(kept); ++i) EXPECT_EQ(kept[i], kPattern | (i + 1)) << name << " register " << i;
  }

  std::unique_ptr<side::domain::Domain> domain_;
};

TEST_F(KapiRegisters, SoftwarePopulationCountsKeepEveryRegisterButTheResult) {
  for (uint64_t v : {0ull, 1ull, 0xf0f0f0f0ull, 0xffffffffull, 0x8000000180000001ull, ~0ull}) {
    expect_only_rax_changed("__sw_hweight32", v, std::popcount(static_cast<uint32_t>(v)));
    expect_only_rax_changed("__sw_hweight64", v, std::popcount(v));
  }
}

}  // namespace
