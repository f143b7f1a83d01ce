// Register copies end to end: a domain's RemotePlatform on one side of a channel, the supervisor's ChannelServer and
// an e1000 model on the other, as in an isolated domain. e1000's EECD is read from its copy, without a crossing, once
// the supervisor has carried out every write before the read; a read never returns a value the device would not.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "devices/device_models.h"
#include "devices/e1000/regs.h"
#include "domain/remote_platform.h"
#include "domain/vcpu.h"
#include "supervisor/channel_server.h"
#include "supervisor/machine.h"
#include "support/memory_domain.h"

namespace side::supervisor {
namespace {

using namespace side::e1000;

class RegisterCopiesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(memory_.data()) + 63) & ~uintptr_t{63});
    auto c = ipc::Channel::attach(base_, ipc::Channel::size_needed(), true);
    ASSERT_TRUE(c);
    channel_.emplace(std::move(*c));
    domain_.copies = &channel_->header();
    auto d = machine_.add_device(*side::devices::find_device_model("e1000"));
    ASSERT_TRUE(d);
    dev_ = *d;
    ASSERT_TRUE(machine_.config_write(dev_, 4, 2, 0x6));  // memory decoding and bus mastering on
    server_.emplace(*channel_, ChannelServer::Handlers{});
    server_->set_platform(&machine_);
    // A copy is waited for as long as it takes the serving thread to carry out the writes before the read (on a
    // loaded machine that thread may wait for a CPU longer than the default bound, and the read would ask).
    platform_.emplace(*channel_, domain::RemotePlatform::Options{.copy_wait_ns = 2'000'000'000});
    serving_ = std::thread([this] {
      while (!stop_.load()) {
        if (serve_.load()) server_->drain();
      }
    });
  }
  void TearDown() override {
    stop_ = true;
    serving_.join();
  }
  // Runs `f` on a thread that is virtual CPU `cpu` (0 unless told), as a driver's code would.
  template <class F>
  void on_vcpu(unsigned cpu, F&& f) {
    std::thread t([&] {
      alignas(64) static uint8_t percpu[256];
      ASSERT_TRUE(domain::become_vcpu(cpu, reinterpret_cast<uint64_t>(percpu)));
      f();
      domain::leave_vcpu();
    });
    t.join();
  }
  template <class F>
  void on_vcpu(F&& f) {
    on_vcpu(0, std::forward<F>(f));
  }
  void write_eecd(uint32_t v) { ASSERT_TRUE(platform_->bar_write(dev_, 0, EECD, 4, v)); }
  uint32_t read_eecd() {
    auto v = platform_->bar_read(dev_, 0, EECD, 4);
    EXPECT_TRUE(v);
    return v ? static_cast<uint32_t>(*v) : 0;
  }
  // e1000_read_eeprom's microwire cycle for one word: a clock edge per write, DO read after each rising edge.
  uint16_t read_word_bitbanged(int address) {
    uint32_t eecd = EECD_REQ | EECD_CS;
    write_eecd(eecd);
    const uint32_t command = (0x6u << 6) | static_cast<uint32_t>(address);  // start bit, READ (10b), 6 address bits
    for (int bit = 8; bit >= 0; --bit) {
      const uint32_t di = (command >> bit) & 1 ? EECD_DI : 0;
      write_eecd(eecd | di);
      write_eecd(eecd | di | EECD_SK);
      write_eecd(eecd | di);
    }
    uint16_t data = 0;
    for (int bit = 0; bit < 16; ++bit) {
      write_eecd(eecd | EECD_SK);
      data = static_cast<uint16_t>(data << 1 | ((read_eecd() & EECD_DO) ? 1 : 0));
      write_eecd(eecd);
    }
    write_eecd(EECD_REQ);  // CS low: the cycle ends
    return data;
  }
  // The model's word, read through EERD on the supervisor's side.
  uint16_t model_word(int address) {
    EXPECT_TRUE(machine_.bar_write(dev_, 0, EERD, 4, EERD_START | static_cast<uint32_t>(address) << EERD_ADDR_SHIFT));
    auto v = machine_.bar_read(dev_, 0, EERD, 4);
    return v ? static_cast<uint16_t>(*v >> EERD_DATA_SHIFT) : 0;
  }

  std::vector<uint8_t> memory_ = std::vector<uint8_t>(ipc::Channel::size_needed() + 64);
  void* base_ = nullptr;
  std::optional<ipc::Channel> channel_;
  side::testing::MemoryDomain domain_;
  Machine machine_{domain_};
  uint32_t dev_ = 0;
  std::optional<ChannelServer> server_;
  std::optional<domain::RemotePlatform> platform_;
  std::atomic<bool> stop_{false}, serve_{true};
  std::thread serving_;
};

TEST_F(RegisterCopiesTest, EveryEepromWordReadByBitBangingIsTheModelsAndItsReadsNeedNoCrossing) {
  std::vector<uint16_t> words;
  on_vcpu([&] {
    for (int a = 0; a < kEepromWords; ++a) words.push_back(read_word_bitbanged(a));
  });
  ASSERT_EQ(words.size(), static_cast<size_t>(kEepromWords));
  uint16_t sum = 0;
  for (int a = 0; a < kEepromWords; ++a) {
    EXPECT_EQ(words[a], model_word(a)) << "word " << a;
    sum = static_cast<uint16_t>(sum + words[a]);
  }
  EXPECT_EQ(sum, 0xBABA);  // a valid image, as the driver checks it
  // 16 EECD reads a word, each answered from the copy once the writes before it were carried out.
  EXPECT_EQ(platform_->shadow_reads(), 16u * kEepromWords);
}

// A read while a write that changes the register is still on its way is not answered from the (old) copy: it gets
// the value the device has after the write, however late the supervisor carries it out (here the read waits for
// the copy to be refreshed; with a shorter bound it asks the device, behind the write).
TEST_F(RegisterCopiesTest, AReadNeverOvertakesAPostedWriteThatChangesTheCopy) {
  uint32_t before = 0, after = 0, again = 0;
  uint64_t copies_after = 0;
  on_vcpu([&] {
    before = read_eecd();
    serve_ = false;  // the supervisor stalls: the write below stays in its ring
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    write_eecd(EECD_REQ | EECD_CS);
    std::thread late([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      serve_ = true;
    });
    after = read_eecd();
    late.join();
    // Nothing in flight now: the copy answers, and it is exact.
    serve_ = false;
    copies_after = platform_->shadow_reads();
    again = read_eecd();
  });
  EXPECT_FALSE(before & EECD_GNT);
  EXPECT_TRUE(after & EECD_GNT) << std::hex << after;
  EXPECT_TRUE(after & EECD_CS);
  EXPECT_EQ(again, after);
  EXPECT_EQ(platform_->shadow_reads(), copies_after + 1);
  EXPECT_EQ(again, static_cast<uint32_t>(*machine_.bar_read(dev_, 0, EECD, 4)));
}

// A read completes behind every write posted before it, whichever register that wrote (but a private one) and
// whichever vCPU posted it (after a lock it released, say): drivers flush their writes by reading a register. e1000
// masks its interrupts with IMC and reads STATUS (E1000_WRITE_FLUSH); the copy of STATUS answers, but only once IMC has
// reached the device. Answered earlier, the device went on raising interrupts that the driver's next handler found
// already taken (ICR 0: interrupts no handler claimed, an interrupt storm at receive).
TEST_F(RegisterCopiesTest, ACopyIsReadOnlyOnceEveryWritePostedBeforeTheReadIsCarriedOut) {
  for (unsigned writer : {0u, 2u}) {
    ASSERT_TRUE(machine_.bar_write(dev_, 0, IMS, 4, ICR_RXT0 | ICR_LSC));  // interrupts enabled
    uint32_t status = 0, ims_when_read = ~0u;
    uint64_t copies = 0;
    on_vcpu(writer, [&] {
      serve_ = false;  // the supervisor stalls: the write below stays in its ring
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      ASSERT_TRUE(platform_->bar_write(dev_, 0, IMC, 4, ~0u));
    });
    on_vcpu(0, [&] {
      std::thread late([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        serve_ = true;
      });
      copies = platform_->shadow_reads();
      auto v = platform_->bar_read(dev_, 0, STATUS, 4);
      ASSERT_TRUE(v);
      status = static_cast<uint32_t>(*v);
      ims_when_read = static_cast<uint32_t>(*machine_.bar_read(dev_, 0, IMS, 4));
      late.join();
    });
    EXPECT_EQ(ims_when_read, 0u) << "STATUS read before IMC (posted by vCPU " << writer << ") was carried out";
    EXPECT_EQ(platform_->shadow_reads(), copies + 1) << "the read was answered from the copy";
    EXPECT_EQ(status, static_cast<uint32_t>(*machine_.bar_read(dev_, 0, STATUS, 4)));
  }
}

// EECD's writes are private (only an EECD read sees them): a STATUS read, the driver's flush after each clock edge,
// is answered from its copy while an EECD write is still in flight, and is exact.
TEST_F(RegisterCopiesTest, AnEecdWriteInFlightLeavesTheStatusCopyReadable) {
  uint64_t copies = 0;
  uint32_t status = 0;
  on_vcpu([&] {
    (void)platform_->bar_read(dev_, 0, STATUS, 4);
    serve_ = false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    write_eecd(EECD_CS);
    copies = platform_->shadow_reads();
    status = static_cast<uint32_t>(*platform_->bar_read(dev_, 0, STATUS, 4));
    serve_ = true;
  });
  EXPECT_EQ(platform_->shadow_reads(), copies + 1);
  EXPECT_EQ(status, static_cast<uint32_t>(*machine_.bar_read(dev_, 0, STATUS, 4)));
}

}  // namespace
}  // namespace side::supervisor
