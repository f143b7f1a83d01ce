// Every executable section of the Debian modules side runs translates: every instruction decoded, every
// relocation placed. Prints, per module, the write sites, indirect branches and returns, and for e1000 the time
// and the code growth (issue #17's measurements).
#include <elf.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "loader/elf_file.h"
#include "loader/sfi_text.h"

namespace side::sfi {
namespace {

const char* const kModules[] = {
    "kernel/drivers/net/ethernet/intel/e1000/e1000.ko",
    "kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko",
    "kernel/drivers/net/ethernet/realtek/8139too.ko",
    "kernel/drivers/net/ethernet/realtek/8139cp.ko",
    "kernel/drivers/net/ethernet/8390/ne2k-pci.ko",
    "kernel/drivers/net/ethernet/8390/8390.ko",
    "kernel/drivers/net/ethernet/amd/pcnet32.ko",
    "kernel/drivers/net/ethernet/dec/tulip/tulip.ko",
    "kernel/drivers/net/vmxnet3/vmxnet3.ko",
    "kernel/drivers/net/virtio_net.ko",
    "kernel/drivers/virtio/virtio.ko",
    "kernel/drivers/virtio/virtio_ring.ko",
    "kernel/drivers/virtio/virtio_pci.ko",
    "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
    "kernel/drivers/net/net_failover.ko",
    "kernel/net/core/failover.ko",
    "kernel/drivers/block/virtio_blk.ko",
    "kernel/drivers/nvme/host/nvme.ko",
    "kernel/drivers/nvme/host/nvme-core.ko",
};

CheckAbi test_abi() {
  return CheckAbi{0x40000000, 30, 0x7f0000000000, 0x7f0000001000, 0x18, 0x28, 0xf0000, 0x100000};
}

struct Totals {
  uint64_t text = 0, translated = 0, relocs_in = 0, relocs_out = 0, derived = 0;
  TranslateCounts counts;
};

Result<Totals> translate_module(const std::string& path) {
  auto elf = loader::ElfFile::read(path);
  if (!elf) return elf.error();
  Totals t;
  for (const loader::Section& s : elf->sections()) {
    if (!s.allocated() || !s.executable() || s.type != SHT_PROGBITS || s.size == 0) continue;
    auto tr = loader::translate_section(*elf, s, test_abi(), path);
    if (!tr) return tr.error();
    for (const loader::Section* rela : elf->relocation_sections_for(s.index)) {
      t.relocs_in += elf->relocations(*rela).size();
    }
    for (const auto& r : tr->relocations) {
      t.relocs_out += r.name.empty() && !r.derived && !r.self ? 1 : 0;
      if (!r.derived || r.self) continue;
      // A check's address computation refers to the very address its instruction does.
      bool twin = false;
      for (const auto& o : tr->relocations) {
        twin |= !o.derived && o.name.empty() && o.symbol == r.symbol && o.type == r.type &&
                o.addend + o.bias == r.addend + r.bias && o.offset > r.offset && o.offset < r.offset + 256;
      }
      if (!twin) return Error{path + ": a check's relocation refers elsewhere than its instruction's"};
      ++t.derived;
    }
    t.text += s.size;
    t.translated += tr->code.size();
    t.counts += tr->counts;
  }
  return t;
}

TEST(SfiTranslateModules, EveryExecutableSectionTranslates) {
  std::printf("%-24s %8s %8s %7s %7s %7s %7s %7s %7s %7s %7s\n", "module", "text", "sfi", "insns", "writes", "string",
              "indir", "returns", "calls", "noflags", "noregs");
  uint64_t derived = 0;  // checks whose address has a relocation of its own: each was compared with its twin
  for (const char* m : kModules) {
    const std::string path = std::string(SIDE_TEST_MODULE_CACHE) + "/" + m;
    auto t = translate_module(path);
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->relocs_in, t->relocs_out + t->counts.fentry_removed)
        << m << ": every relocation placed exactly once, but those of the dropped `call __fentry__`";
    EXPECT_GT(t->counts.write_sites, 0u) << m;
    EXPECT_GT(t->counts.returns, 0u) << m;
    derived += t->derived;
    std::string name = m;
    name = name.substr(name.rfind('/') + 1);
    std::printf("%-24s %8lu %8lu %7lu %7lu %7lu %7lu %7lu %7lu %7lu %7lu\n", name.c_str(), t->text, t->translated,
                t->counts.instructions, t->counts.write_sites, t->counts.string_sites, t->counts.indirect_branches,
                t->counts.returns, t->counts.calls, t->counts.flagless_sites, t->counts.frameless_sites);
  }
  EXPECT_GT(derived, 100u);
}

TEST(SfiTranslateModules, E1000TimeAndGrowth) {
  const std::string path = std::string(SIDE_TEST_MODULE_CACHE) + "/" + kModules[0];
  const auto start = std::chrono::steady_clock::now();
  auto t = translate_module(path);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(t) << t.error().message;
  std::printf("e1000.ko: %lu bytes of text -> %lu translated (x%.2f), %lu instructions, %.1f ms (file read included)\n",
              t->text, t->translated, double(t->translated) / double(t->text), t->counts.instructions, ms);
  EXPECT_LT(ms, 2000.0);
}

}  // namespace
}  // namespace side::sfi
