// Loading with sfi translation: the modules load, and every direct call or jump whose relocation names a symbol
// of a translated section (a local function, a .cold part, the section itself) reaches that target's new place.
#include <Zydis/Zydis.h>
#include <elf.h>
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <map>

#include "loader/module_info.h"
#include "loader/module_loader.h"

namespace side::loader {
namespace {

class Env : public LoadEnvironment {
 public:
  ~Env() override {
    for (auto [addr, size] : images_) munmap(reinterpret_cast<void*>(addr), size);
  }
  Result<uint64_t> allocate_image(uint64_t size) override {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (p == MAP_FAILED) return make_error("mmap");
    images_.emplace(reinterpret_cast<uint64_t>(p), size);
    return reinterpret_cast<uint64_t>(p);
  }
  Status protect_image(uint64_t, uint64_t, bool, bool) override { return {}; }
  Result<uint64_t> allocate_percpu(uint64_t size, uint64_t) override {
    const uint64_t off = next_;
    next_ += (size + 63) & ~63ull;
    return off;
  }
  void init_percpu(uint64_t, std::span<const uint8_t>) override {}
  std::optional<uint64_t> resolve(const std::string& name) override {
    return name == "__fentry__" ? 0x200000 : 0x100000;
  }
  Result<uint64_t> missing_symbol_address(const std::string&) override { return make_error("none"); }

 private:
  std::map<uint64_t, uint64_t> images_;
  uint64_t next_ = 64;
};

const sfi::CheckAbi kAbi{0x40000000, 30, 0x7f0000000000, 0x7f0000001000, 0x18, 0x28, 0xf0000, 0x100000};

struct Loaded {
  ElfFile elf;
  LoadedModule mod;
};

std::optional<Loaded> load(const std::string& rel, Env& env) {
  auto elf = ElfFile::read(std::string(SIDE_TEST_MODULE_CACHE) + "/" + rel);
  EXPECT_TRUE(elf);
  if (!elf) return std::nullopt;
  auto info = read_module_info(*elf);
  EXPECT_TRUE(info);
  LoadOptions options;
  options.allow_missing = true;
  options.sfi = &kAbi;
  auto mod = load_module(*elf, *info, env, options);
  EXPECT_TRUE(mod) << mod.error().message;
  if (!mod) return std::nullopt;
  return Loaded{std::move(*elf), std::move(*mod)};
}

// The absolute target of the branch at `at` (call/jmp/jcc rel32).
uint64_t branch_target(uint64_t at) {
  ZydisDecoder d;
  ZydisDecoderInit(&d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&d, reinterpret_cast<const void*>(at), 15, &insn, ops))) return 0;
  ZyanU64 target = 0;
  if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &ops[0], at, &target))) return 0;
  return target;
}

TEST(SfiTranslateLoad, BranchesToTranslatedCodeLandOnTheirTargets) {
  Env env;
  auto m = load("kernel/drivers/net/ethernet/intel/e1000/e1000.ko", env);
  ASSERT_TRUE(m);
  EXPECT_GT(m->mod.sfi_counts.write_sites, 1000u);
  std::map<std::string, uint64_t> start;  // translated section -> its address
  for (const SfiText& t : m->mod.sfi_text) start[t.section] = t.start;
  unsigned checked = 0;
  for (const Section& s : m->elf.sections()) {
    if (!start.count(std::string(s.name))) continue;
    const SfiText* text = nullptr;
    for (const SfiText& t : m->mod.sfi_text) text = t.section == s.name ? &t : text;
    for (const Section* rela : m->elf.relocation_sections_for(s.index)) {
      for (const Relocation& r : m->elf.relocations(*rela)) {
        const Symbol& sym = m->elf.symbols()[r.symbol];
        if (r.type != R_X86_64_PLT32 && r.type != R_X86_64_PC32) continue;
        if (sym.undefined() || !start.count(std::string(m->elf.sections()[sym.shndx].name))) continue;
        const uint8_t op = s.data[r.offset - 1];
        if (op != 0xe8 && op != 0xe9) continue;  // call/jmp rel32 to a translated place
        const uint64_t insn = r.offset - 1;
        auto at = text->map.to_translated(insn);
        ASSERT_TRUE(at);
        const std::string target_section(m->elf.sections()[sym.shndx].name);
        const SfiText* tt = nullptr;
        for (const SfiText& t : m->mod.sfi_text) tt = t.section == target_section ? &t : tt;
        auto want = tt->map.to_translated(sym.value + r.addend + 4);
        ASSERT_TRUE(want) << s.name << "+" << insn;
        uint64_t where = text->start + *at;
        // A call's store of its return site into the shadow slot (movq $site, disp32(%rsp)) comes first.
        if (std::memcmp(reinterpret_cast<const void*>(where), "\x48\xc7\x84\x24", 4) == 0) where += 12;
        EXPECT_EQ(branch_target(where), tt->start + *want) << s.name << "+" << insn;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 100u);
  // __bug_table's place-relative pointers were mapped: every BUG()/WARN() site is still its ud2.
  ASSERT_FALSE(m->mod.bugs.empty());
  for (const BugSite& b : m->mod.bugs) {
    const auto* at = reinterpret_cast<const uint8_t*>(b.address);
    EXPECT_TRUE(m->mod.in_text(b.address) && at[0] == 0x0f && at[1] == 0x0b) << b.file << ":" << b.line;
  }
  // A fault inside translated code names the original instruction: e1000's .text starts with
  // e1000_alloc_dummy_rx_buffers (call __fentry__ at 0, now a one-byte nop, jmp __x86_return_thunk at 5) and
  // e1000_fix_features at 0x10.
  const SfiText& text = m->mod.sfi_text[0];
  ASSERT_EQ(text.section, ".text");
  EXPECT_EQ(m->mod.sfi_origin(text.start + 2), "e1000_alloc_dummy_rx_buffers+0x5 (.text+0x5)");
  auto fix = text.map.to_translated(0x15);  // e1000_fix_features+0x5
  ASSERT_TRUE(fix);
  EXPECT_EQ(m->mod.sfi_origin(text.start + *fix), "e1000_fix_features+0x5 (.text+0x15)");
  EXPECT_EQ(m->mod.sfi_origin(text.end - 1), ".text literal pool");
  EXPECT_FALSE(m->mod.sfi_origin(m->mod.image + m->mod.image_size - 1));  // data
}

// A pointer into the middle of an instruction cannot be translated: the load is refused, naming the place.
TEST(SfiTranslateLoad, RefusesAReferenceIntoAnInstruction) {
  const std::string path = std::string(SIDE_TEST_MODULE_CACHE) + "/kernel/drivers/net/ethernet/intel/e1000/e1000.ko";
  auto original = ElfFile::read(path);
  ASSERT_TRUE(original);
  // The first __bug_table entry's pointer to its ud2, moved one byte into the instruction.
  const Section* rela = original->find_section(".rela__bug_table");
  ASSERT_TRUE(rela);
  std::vector<uint8_t> bytes;
  {
    FILE* f = fopen(path.c_str(), "rb");
    ASSERT_TRUE(f);
    uint8_t buf[65536];
    for (size_t n; (n = fread(buf, 1, sizeof(buf), f)) > 0;) bytes.insert(bytes.end(), buf, buf + n);
    fclose(f);
  }
  int64_t addend;
  std::memcpy(&addend, bytes.data() + rela->offset + 16, 8);  // Elf64_Rela: offset, info, addend
  ++addend;
  std::memcpy(bytes.data() + rela->offset + 16, &addend, 8);
  auto elf = ElfFile::parse(std::move(bytes), path);
  ASSERT_TRUE(elf);
  auto info = read_module_info(*elf);
  ASSERT_TRUE(info);
  Env env;
  LoadOptions options;
  options.sfi = &kAbi;
  auto mod = load_module(*elf, *info, env, options);
  ASSERT_FALSE(mod);
  EXPECT_NE(mod.error().message.find("e1000: section __bug_table+0x0: section .text: offset "), std::string::npos)
      << mod.error().message;
  EXPECT_NE(mod.error().message.find("not an instruction boundary"), std::string::npos);
}

TEST(SfiTranslateLoad, EveryModuleLoads) {
  for (const char* m : {"kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko", "kernel/drivers/net/virtio_net.ko",
                        "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/nvme/host/nvme-core.ko",
                        "kernel/drivers/net/vmxnet3/vmxnet3.ko", "kernel/drivers/net/ethernet/amd/pcnet32.ko"}) {
    Env env;
    auto l = load(m, env);
    ASSERT_TRUE(l) << m;
    for (const ModuleSymbol& s : l->mod.symbols) {
      if (s.size && l->mod.in_text(s.address)) {
        EXPECT_TRUE(l->mod.in_text(s.address + s.size - 1)) << s.name;
      }
    }
  }
}

}  // namespace
}  // namespace side::loader
