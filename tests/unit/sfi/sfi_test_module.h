// The sfi runtime tests' common ground: an sfi domain, and load requests for tests/modules/side_test_sfi.c with one
// attack and its parameters.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "domain/domain.h"

namespace side::testing {

// The marker side_test_sfi puts on its frame (SIDE_TEST_SFI_MARK), so that another thread can find it.
constexpr uint64_t kSfiMark = 0x5eed5eed5eed5eedull;
// What the other thread writes over the mark's second word once it stopped writing the stack (SIDE_TEST_SFI_ACK).
constexpr uint64_t kSfiAck = 0xac4ac4ac4ac4ac4aull;

inline std::unique_ptr<domain::Domain> sfi_domain() {
  domain::DomainConfig config;
  config.kapi_path = SIDE_TEST_KAPI;
  config.symvers_path = SIDE_TEST_SYMVERS;
  config.modules_dir = SIDE_TEST_MODULES_DIR;
  config.sfi = true;
  auto d = domain::Domain::create(config);
  if (!d) ADD_FAILURE() << d.error().message;
  return d ? std::move(*d) : nullptr;
}

inline std::string sfi_module_path() {
  return std::string(SIDE_TEST_MODULES_DIR) + "/side_test_sfi.ko";
}

inline domain::LoadRequest sfi_request(const std::string& attack, uint64_t target, uint64_t len, uint64_t skip = 4) {
  return {sfi_module_path(), "attack=" + attack + " target=" + std::to_string(target) + " len=" + std::to_string(len) +
                                 " skip=" + std::to_string(skip)};
}

// Exactly one fault, of `kind`, located in the test module.
inline domain::FaultReport one_sfi_fault(domain::Domain& d, int kind) {
  auto faults = d.faults();
  EXPECT_EQ(faults.size(), 1u);
  if (faults.empty()) return {};
  EXPECT_EQ(faults[0].kind, kind) << faults[0].kind_name << ": " << faults[0].message;
  EXPECT_NE(faults[0].location.find("side_test_sfi"), std::string::npos) << faults[0].location;
  return faults[0];
}

}  // namespace side::testing
