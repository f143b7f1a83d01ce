// The load pipeline against a fake environment: layout, resolution, relocation overflow, exports, bug table.
#include "loader/module_loader.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <map>

using namespace side::loader;

namespace {

// Images come from MAP_32BIT memory (below 2 GiB, as a domain's are); imports resolve from a table.
class FakeEnvironment : public LoadEnvironment {
 public:
  ~FakeEnvironment() override {
    for (auto [addr, size] : images) munmap(reinterpret_cast<void*>(addr), size);
  }
  side::Result<uint64_t> allocate_image(uint64_t size) override {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (p == MAP_FAILED) return side::make_error("mmap");
    images.emplace(reinterpret_cast<uint64_t>(p), size);
    return reinterpret_cast<uint64_t>(p);
  }
  side::Status protect_image(uint64_t addr, uint64_t size, bool write, bool exec) override {
    protections.push_back({addr, size, write, exec});
    return {};
  }
  side::Result<uint64_t> allocate_percpu(uint64_t size, uint64_t) override {
    uint64_t off = next_percpu;
    next_percpu += size;
    return off;
  }
  void init_percpu(uint64_t, std::span<const uint8_t>) override {}
  std::optional<uint64_t> resolve(const std::string& name) override {
    auto it = symbols.find(name);
    if (it != symbols.end()) return it->second;
    return resolve_everything ? std::optional<uint64_t>(0x100000) : std::nullopt;
  }
  side::Result<uint64_t> missing_symbol_address(const std::string& name) override {
    missing.push_back(name);
    return 0x60000000 + missing.size() * 0x10000;
  }

  struct Protection {
    uint64_t addr, size;
    bool write, exec;
  };
  std::map<uint64_t, uint64_t> images;
  std::vector<Protection> protections;
  std::map<std::string, uint64_t> symbols;
  std::vector<std::string> missing;
  bool resolve_everything = true;
  uint64_t next_percpu = 64;
};

struct Module {
  ElfFile elf;
  ModuleInfo info;
};

Module open(const std::string& name) {
  auto elf = ElfFile::read(std::string(SIDE_TEST_MODULES_DIR) + "/" + name + ".ko");
  EXPECT_TRUE(elf);
  auto info = read_module_info(*elf);
  EXPECT_TRUE(info);
  return {std::move(*elf), std::move(*info)};
}

}  // namespace

TEST(ModuleLoader, LaysOutResolvesAndCollects) {
  FakeEnvironment env;
  Module m = open("side_test_base");
  auto loaded = load_module(m.elf, m.info, env, {});
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->name, "side_test_base");
  EXPECT_LT(loaded->image + loaded->image_size, 1ull << 31);
  EXPECT_NE(loaded->init, 0u);
  EXPECT_NE(loaded->exit, 0u);
  EXPECT_NE(loaded->this_module, 0u);
  ASSERT_EQ(loaded->exports.size(), 2u);
  EXPECT_TRUE(loaded->exports.count("side_test_base_add"));
  EXPECT_TRUE(loaded->exports.count("side_test_base_value"));
  EXPECT_EQ(loaded->crcs.size(), 2u);
  // Text is read+execute and rodata read-only; the last group (data) keeps its writable mapping.
  ASSERT_FALSE(env.protections.empty());
  EXPECT_TRUE(env.protections[0].exec);
  EXPECT_FALSE(env.protections[0].write);
  EXPECT_TRUE(loaded->in_text(loaded->init));
  auto sym = loaded->symbolize(loaded->exports.at("side_test_base_add") + 1);
  ASSERT_TRUE(sym);
  EXPECT_EQ(sym->rfind("side_test_base_add+0x1/", 0), 0u) << *sym;
}

TEST(ModuleLoader, RelocatesCallsToTheResolvedAddress) {
  FakeEnvironment env;
  env.resolve_everything = true;
  Module m = open("side_test_user");
  env.symbols["side_test_base_add"] = 0x12345000;
  auto loaded = load_module(m.elf, m.info, env, {});
  ASSERT_TRUE(loaded) << loaded.error().message;
  // Somewhere in init there is a call whose PC-relative target is side_test_base_add.
  const auto* code = reinterpret_cast<const uint8_t*>(loaded->init);
  bool found = false;
  for (int i = 0; i < 64 && !found; ++i) {
    if (code[i] != 0xe8) continue;
    int32_t rel;
    std::memcpy(&rel, code + i + 1, 4);
    found = loaded->init + i + 5 + static_cast<int64_t>(rel) == 0x12345000;
  }
  EXPECT_TRUE(found);
}

TEST(ModuleLoader, RefusesARelocationThatOverflows) {
  FakeEnvironment env;
  Module m = open("side_test_user");
  env.symbols["side_test_base_add"] = 0x7fff00000000;  // out of reach of a 32-bit PC-relative call
  auto loaded = load_module(m.elf, m.info, env, {});
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("against 'side_test_base_add' overflows"), std::string::npos)
      << loaded.error().message;
}

TEST(ModuleLoader, ListsEveryMissingSymbolOrBindsThemToTraps) {
  FakeEnvironment env;
  env.resolve_everything = false;
  Module m = open("side_test_unknown");
  auto refused = load_module(m.elf, m.info, env, {});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("side_test_no_such_function"), std::string::npos);
  EXPECT_NE(refused.error().message.find("side_test_no_such_variable"), std::string::npos);
  EXPECT_NE(refused.error().message.find("_printk"), std::string::npos);

  LoadOptions allow;
  allow.allow_missing = true;
  auto loaded = load_module(m.elf, m.info, env, allow);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_FALSE(loaded->missing.empty());
  EXPECT_NE(std::find(loaded->missing.begin(), loaded->missing.end(), "side_test_no_such_function"),
            loaded->missing.end());
}

TEST(ModuleLoader, FindsBugTableEntries) {
  FakeEnvironment env;
  Module m = open("side_test_warn");
  auto loaded = load_module(m.elf, m.info, env, {});
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_GE(loaded->bugs.size(), 2u);
  for (const auto& b : loaded->bugs) {
    EXPECT_TRUE(loaded->in_text(b.address));
    EXPECT_NE(b.file.find("side_test_warn.c"), std::string::npos);
    // Every site is a ud2.
    const auto* code = reinterpret_cast<const uint8_t*>(b.address);
    EXPECT_EQ(code[0], 0x0f);
    EXPECT_EQ(code[1], 0x0b);
  }
  EXPECT_NE(loaded->find_bug(loaded->bugs[0].address), nullptr);
}

TEST(ModuleLoader, ListsImportsAndExports) {
  Module m = open("side_test_user");
  auto imports = imported_symbols(m.elf);
  EXPECT_NE(std::find(imports.begin(), imports.end(), "side_test_base_add"), imports.end());
  Module base = open("side_test_base");
  EXPECT_EQ(exported_symbols(base.elf, false),
            (std::vector<std::string>{"side_test_base_add", "side_test_base_value"}));
}
