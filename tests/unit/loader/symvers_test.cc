// The ABI check: vermagic and every __versions CRC must match the kernel's Module.symvers.
#include "loader/symvers.h"

#include <gtest/gtest.h>

#include "loader/module_loader.h"

using namespace side::loader;

namespace {
ModuleInfo info_of(const std::string& name) {
  auto elf = ElfFile::read(std::string(SIDE_TEST_MODULES_DIR) + "/" + name + ".ko");
  return *read_module_info(*elf);
}
}  // namespace

TEST(KernelAbi, AcceptsAModuleBuiltAgainstTheHeaders) {
  ModuleInfo info = info_of("side_test_alloc");
  auto abi = KernelAbi::load(SIDE_TEST_SYMVERS, info.get("vermagic"));
  ASSERT_TRUE(abi) << abi.error().message;
  EXPECT_GT(abi->size(), 10000u);
  EXPECT_TRUE(abi->check(info));
}

TEST(KernelAbi, RefusesAnotherVermagic) {
  ModuleInfo info = info_of("side_test_alloc");
  auto abi = KernelAbi::load(SIDE_TEST_SYMVERS, "5.10.0-99-amd64 SMP mod_unload modversions ");
  auto s = abi->check(info);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("version magic"), std::string::npos);
}

TEST(KernelAbi, RefusesACrcMismatchNamingTheSymbol) {
  ModuleInfo info = info_of("side_test_alloc");
  auto abi = KernelAbi::load(SIDE_TEST_SYMVERS, info.get("vermagic"));
  ASSERT_FALSE(info.versions.empty());
  info.versions[0].crc ^= 1;
  auto s = abi->check(info);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("disagrees about version of symbol '" + info.versions[0].name + "'"),
            std::string::npos);
}

TEST(KernelAbi, ChecksModuleExportsAgainstTheExporter) {
  ModuleInfo user = info_of("side_test_user");
  auto abi = KernelAbi::load(SIDE_TEST_SYMVERS, user.get("vermagic"));
  auto without = abi->check(user);
  ASSERT_FALSE(without);
  EXPECT_NE(without.error().message.find("no symbol version for 'side_test_base_add'"), std::string::npos);
  auto base = ElfFile::read(std::string(SIDE_TEST_MODULES_DIR) + "/side_test_base.ko");
  auto crcs = exported_crcs(*base);
  ASSERT_EQ(crcs.size(), 2u);
  auto lookup = [&](const std::string& s) -> std::optional<uint32_t> {
    auto it = crcs.find(s);
    return it == crcs.end() ? std::nullopt : std::optional<uint32_t>(it->second);
  };
  EXPECT_TRUE(abi->check(user, lookup));
}
