// The parts a Domain is composed of, on their own: the interrupt lines (counts, storms), the PCI driver table
// (names unique, first match binds) and the fault log. The transmit queue has its own (transmit_queue_test.cc).
#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "domain/driver_signals.h"
#include "domain/fault_log.h"
#include "domain/interrupt_lines.h"
#include "domain/pci_driver_table.h"
#include "kapi/side_host.h"

namespace side::domain {
namespace {

TEST(InterruptLines, CountsDeliveredAndClaimed) {
  InterruptLines lines;
  EXPECT_FALSE(lines.raise(64));
  ASSERT_TRUE(lines.raise(3));
  ASSERT_TRUE(lines.raise(5));
  lines.deliver(lines.take_pending(), [](uint32_t irq) { return irq == 3; });
  EXPECT_EQ(lines.take_pending(), 0u);
  EXPECT_EQ(lines.stats().delivered, 2u);
  EXPECT_EQ(lines.stats().handled, 1u);
}

// An edge that arrives while its line's handler runs (the device's next cause, after the handler read the last one)
// is latched, as Linux's handle_edge_irq keeps it pending, and delivered in the next round: not merged into the
// running delivery and lost.
TEST(InterruptLines, AnEdgeWhileTheHandlerRunsIsDeliveredInTheNextRound) {
  InterruptLines lines;
  ASSERT_TRUE(lines.raise(3));
  int runs = 0;
  lines.deliver(lines.take_pending(), [&](uint32_t irq) {
    if (++runs == 1) {
      EXPECT_TRUE(lines.raise(irq));
    }
    return true;
  });
  EXPECT_EQ(runs, 1);
  lines.deliver(lines.take_pending(), [&](uint32_t) { return ++runs > 0; });
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(lines.take_pending(), 0u);
  EXPECT_EQ(lines.stats().handled, 2u);
}

TEST(InterruptLines, UnclaimedFloodIsAStorm) {
  InterruptLines lines;
  const uint64_t t0 = 10'000'000'000;
  EXPECT_FALSE(lines.storm(t0));  // opens the window
  for (int i = 0; i < 1001; ++i) lines.deliver(1, [](uint32_t) { return false; });
  auto storm = lines.storm(t0 + 1000);
  ASSERT_TRUE(storm);
  EXPECT_NE(storm->find("no handler claimed"), std::string::npos);
  EXPECT_FALSE(lines.storm(t0 + 2'000'000'000));  // a new window
}

TEST(PciDriverTable, NamesAreUniqueAndTheFirstMatchBinds) {
  PciDriverTable t;
  const side_pci_id any_intel{0x8086, 0xffffffff, 0xffffffff, 0xffffffff, 0, 0};
  const side_pci_id e1000{0x8086, 0x100e, 0xffffffff, 0xffffffff, 0, 0};
  ASSERT_EQ(t.add(1, "first", "m1", &any_intel, 1), 0);
  EXPECT_EQ(t.add(2, "first", "m2", &e1000, 1), -EBUSY);
  ASSERT_EQ(t.add(3, "second", "m2", &e1000, 1), 0);
  auto d = t.match(0x8086, 0x100e, 0, 0, 0);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->name, "first");
  t.remove(1);
  d = t.match(0x8086, 0x100e, 0, 0, 0);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->name, "second");
  EXPECT_FALSE(t.match(0x10ec, 0x8139, 0, 0, 0));
}

TEST(FaultLog, RecordsInOrderAndWarnsOnce) {
  FaultLog log;
  EXPECT_FALSE(log.faulty());
  EXPECT_EQ(log.last_message(), "");
  log.record(SIDE_FAULT_BUG, "first", 0x10, "f+0x0/0x4 [m]");
  log.record(SIDE_FAULT_MEMORY, "second", 0, "");
  EXPECT_TRUE(log.faulty());
  ASSERT_EQ(log.all().size(), 2u);
  EXPECT_EQ(log.all()[0].kind_name, "BUG");
  EXPECT_EQ(log.all()[0].location, "f+0x0/0x4 [m]");
  EXPECT_EQ(log.last_message(), "second");
  EXPECT_TRUE(log.first_warning(0x42));
  EXPECT_FALSE(log.first_warning(0x42));
}

// Recovery is told of each fault as it is recorded (it no longer polls every 500 us), after the fault is visible.
TEST(FaultLog, TellsItsListenerOfEachFaultOnceRecorded) {
  FaultLog log;
  std::vector<size_t> seen;
  log.set_listener([&] { seen.push_back(log.all().size()); });
  log.record(SIDE_FAULT_BUG, "first", 0, "");
  log.record(SIDE_FAULT_MEMORY, "second", 0, "");
  EXPECT_EQ(seen, (std::vector<size_t>{1, 2}));
}

// A code page flipped writable for a patch faults the fetch of every instruction on it, including one that
// starts on the page before: the CPU reports the first byte it could not fetch, on the flipped page. Seen as
// "unable to handle page fault for address: 0x60062000 at e1000_clean_rx_irq+0x27e", a five-byte call at
// 0x60061ffe, while a spare domain's first rewrite of an access site flipped the page after it.
TEST(InstructionFetch, IsTheFaultAtTheInstructionOrAtThePageItStraddlesInto) {
  EXPECT_TRUE(is_instruction_fetch(0x60061ffe, 0x60061ffe));
  EXPECT_TRUE(is_instruction_fetch(0x60062000, 0x60061ffe));
  EXPECT_TRUE(is_instruction_fetch(0x60062000, 0x60061ff2));   // a 15-byte instruction, its last byte over
  EXPECT_FALSE(is_instruction_fetch(0x60062000, 0x60061ff1));  // too far: no instruction is 16 bytes long
  EXPECT_FALSE(is_instruction_fetch(0x60062001, 0x60061ffe));  // not a page start: a data access
  EXPECT_FALSE(is_instruction_fetch(0x60061000, 0x60061ffe));  // before the instruction
}

}  // namespace
}  // namespace side::domain
