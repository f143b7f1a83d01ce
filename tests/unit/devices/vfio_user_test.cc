// The vfio-user client: the codec's checks of what a server sends, the connection's bounds (a silent server, one
// that closes mid-message, answers another request or passes descriptors), and the PCI device against an in-test
// server (fake_vfio_user_server.h): firmware rules, interrupts from the eventfd, DMA memory, faults and reconnects.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>

#include "devices/iommu/iommu.h"
#include "devices/vfio_user/client.h"
#include "devices/vfio_user/codec.h"
#include "devices/vfio_user/vfio_user_device.h"
#include "fake_vfio_user_server.h"

namespace side::vfio_user {
namespace {

using testing::FakeServer;
using testing::Misbehave;
using namespace std::chrono_literals;

std::vector<uint8_t> le(std::initializer_list<std::pair<int, uint64_t>> fields) {
  std::vector<uint8_t> out;
  for (auto [n, v] : fields) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  return out;
}

// ---- codec -----------------------------------------------------------------------------------------------------

TEST(VfioUserCodec, HeaderRoundTripsAndBoundsAreChecked) {
  Header h{7, 9, 32, kTypeReply, 0};
  auto bytes = encode_header(h);
  auto back = decode_header(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id, 7);
  EXPECT_EQ(back->size, 32u);
  EXPECT_FALSE(decode_header(std::span(bytes).first(15)));
  h.size = 15;
  EXPECT_FALSE(decode_header(encode_header(h))) << "smaller than a header";
  h.size = kMaxMessageSize + 1;
  EXPECT_FALSE(decode_header(encode_header(h))) << "larger than any message the client accepts";
  h.size = 16;
  h.flags = 1u << 6;
  EXPECT_FALSE(decode_header(encode_header(h))) << "unknown flag bit";
  h.flags = 2;
  EXPECT_FALSE(decode_header(encode_header(h))) << "type 2";
  h.flags = kTypeReply;
  h.command = 15;
  EXPECT_FALSE(decode_header(encode_header(h))) << "command 15";
}

TEST(VfioUserCodec, ReplyMustAnswerTheRequest) {
  EXPECT_TRUE(check_reply({3, 9, 16, kTypeReply, 0}, 3, Command::kRegionRead, 0));
  EXPECT_FALSE(check_reply({4, 9, 16, kTypeReply, 0}, 3, Command::kRegionRead, 0)) << "another id";
  EXPECT_FALSE(check_reply({3, 10, 16, kTypeReply, 0}, 3, Command::kRegionRead, 0)) << "another command";
  EXPECT_FALSE(check_reply({3, 9, 16, kTypeCommand, 0}, 3, Command::kRegionRead, 0)) << "a command, not a reply";
  auto err = check_reply({3, 9, 16, kTypeReply | kFlagError, 22}, 3, Command::kRegionRead, 0);
  ASSERT_FALSE(err);
  EXPECT_NE(err.error().message.find("22"), std::string::npos) << err.error().message;
  EXPECT_FALSE(check_reply({3, 9, 20, kTypeReply | kFlagError, 22}, 3, Command::kRegionRead, 4))
      << "an error reply carries no body";
}

std::vector<uint8_t> version_body(const std::string& json, uint16_t major = 0, uint16_t minor = 1) {
  auto b = le({{2, major}, {2, minor}});
  b.insert(b.end(), json.begin(), json.end());
  b.push_back(0);
  return b;
}

TEST(VfioUserCodec, VersionCapabilitiesAreValidated) {
  auto ok = decode_version(version_body(R"({"capabilities":{"max_msg_fds":8,"max_data_xfer_size":4096}})"), 1 << 20);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->max_msg_fds, 8u);
  EXPECT_EQ(ok->max_data_xfer, 4096u);
  EXPECT_TRUE(decode_version(le({{2, 0}, {2, 0}}), 1 << 20)) << "no JSON at all is allowed";
  EXPECT_FALSE(decode_version(version_body("{}", 1, 0), 1 << 20)) << "major 1";
  EXPECT_FALSE(decode_version(version_body("{}", 0, 2), 1 << 20)) << "a minor above the proposed one";
  EXPECT_FALSE(decode_version(version_body("{not json"), 1 << 20));
  EXPECT_FALSE(decode_version(version_body(R"({"capabilities":{"migration":{}}})"), 1 << 20)) << "not proposed";
  EXPECT_FALSE(decode_version(version_body(R"({"capabilities":{"max_msg_fds":-1}})"), 1 << 20));
  EXPECT_FALSE(decode_version(version_body(R"({"capabilities":{"max_data_xfer_size":1.5}})"), 1 << 20));
  auto unterminated = version_body("{}");
  unterminated.pop_back();
  EXPECT_FALSE(decode_version(unterminated, 1 << 20)) << "JSON without its NUL";
  auto huge = decode_version(version_body(R"({"capabilities":{"max_data_xfer_size":4000000000}})"), 1 << 20);
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->max_data_xfer, 1u << 20) << "never more than the client proposed";
}

TEST(VfioUserCodec, RepliesEchoTheirRequests) {
  EXPECT_TRUE(decode_region_info(le({{4, 32}, {4, 3}, {4, 2}, {4, 0}, {8, 4096}, {8, 0}}), 2));
  EXPECT_FALSE(decode_region_info(le({{4, 32}, {4, 3}, {4, 1}, {4, 0}, {8, 4096}, {8, 0}}), 2)) << "region 1";
  EXPECT_FALSE(decode_region_info(le({{4, 32}, {4, 3}, {4, 2}, {4, 0}, {8, 4096}}), 2)) << "24 bytes";
  EXPECT_FALSE(decode_region_info(le({{4, 32}, {4, 1u << 9}, {4, 2}, {4, 0}, {8, 4096}, {8, 0}}), 2)) << "flags";
  EXPECT_FALSE(decode_region_info(le({{4, 32}, {4, 3}, {4, 2}, {4, 0}, {8, 1ull << 41}, {8, 0}}), 2)) << "size";
  uint8_t out[4];
  EXPECT_TRUE(decode_region_read(le({{8, 0x10}, {4, 0}, {4, 4}, {4, 0xabcd}}), 0, 0x10, out));
  EXPECT_EQ(out[0], 0xcd);
  EXPECT_FALSE(decode_region_read(le({{8, 0x10}, {4, 0}, {4, 2}, {2, 0xabcd}}), 0, 0x10, out)) << "2 of 4 bytes";
  EXPECT_FALSE(decode_region_read(le({{8, 0x14}, {4, 0}, {4, 4}, {4, 0}}), 0, 0x10, out)) << "another offset";
  EXPECT_FALSE(decode_region_read(le({{8, 0x10}, {4, 1}, {4, 4}, {4, 0}}), 0, 0x10, out)) << "another region";
  EXPECT_FALSE(decode_device_info(le({{4, 16}, {4, 1}, {4, 9}, {4, 5}}))) << "not PCI";
  EXPECT_FALSE(decode_device_info(le({{4, 16}, {4, 3}, {4, 7}, {4, 5}}))) << "fewer than the PCI regions";
  EXPECT_FALSE(decode_device_info(le({{4, 16}, {4, 3}, {4, 9}, {4, 500}}))) << "500 interrupt types";
  EXPECT_FALSE(decode_irq_info(le({{4, 16}, {4, 1}, {4, 0}, {4, 100000}}), 0)) << "100000 vectors";
  EXPECT_FALSE(decode_dma_unmap(le({{4, 24}, {4, 0}, {8, 0x1000}, {8, 0x2000}}), 0x1000, 0x1000));
  EXPECT_FALSE(decode_empty(le({{4, 0}}), Command::kDeviceReset));
}

// ---- connection ------------------------------------------------------------------------------------------------

// The clients' exchange timeout: long enough for the fake server's thread on a loaded machine under the sanitizers
// (300 ms was not), short enough for the tests of a silent server.
constexpr std::chrono::milliseconds kExchangeTimeout{1000};

struct ClientFixture : ::testing::Test {
  FakeServer server;
  std::unique_ptr<Client> client;
  void SetUp() override {
    int fd = server.start();
    ASSERT_GE(fd, 0);
    client = std::make_unique<Client>(Fd(fd), kExchangeTimeout);
  }
};

TEST_F(ClientFixture, NegotiatesAndReadsRegions) {
  ASSERT_TRUE(client->negotiate());
  EXPECT_EQ(client->device_info().num_regions, 9u);
  EXPECT_EQ(client->region(0).size, 4096u);
  EXPECT_EQ(client->irq(kIrqIntx).count, 1u);
  auto vendor = client->read(kRegionConfig, 0, 2);
  ASSERT_TRUE(vendor);
  EXPECT_EQ(*vendor, 0x1234u);
  EXPECT_FALSE(client->read(0, 4094, 4)) << "crosses the region's end: refused before sending";
  EXPECT_FALSE(client->read(12, 0, 4)) << "no region 12";
}

TEST_F(ClientFixture, SilentServerTimesOutAndBreaksTheConnection) {
  ASSERT_TRUE(client->negotiate());
  server.misbehave(Misbehave::kSilent);
  const auto t = std::chrono::steady_clock::now();
  auto v = client->read(kRegionConfig, 0, 4);
  const auto waited = std::chrono::steady_clock::now() - t;
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("did not answer"), std::string::npos) << v.error().message;
  EXPECT_GE(waited, kExchangeTimeout - 50ms);
  EXPECT_LT(waited, 3 * kExchangeTimeout);
  EXPECT_TRUE(client->connection().broken());
  EXPECT_FALSE(client->read(kRegionConfig, 0, 4)) << "broken for good";
}

TEST_F(ClientFixture, ServerClosingMidMessageIsReported) {
  ASSERT_TRUE(client->negotiate());
  server.misbehave(Misbehave::kCloseMidMessage);
  auto v = client->read(kRegionConfig, 0, 4);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("closed"), std::string::npos) << v.error().message;
}

TEST_F(ClientFixture, ReplyToAnotherRequestBreaksTheConnection) {
  ASSERT_TRUE(client->negotiate());
  server.misbehave(Misbehave::kWrongId);
  EXPECT_FALSE(client->read(kRegionConfig, 0, 4));
  EXPECT_TRUE(client->connection().broken());
}

TEST_F(ClientFixture, ReplyForAnotherCommandBreaksTheConnection) {
  ASSERT_TRUE(client->negotiate());
  server.misbehave(Misbehave::kWrongCommand);
  EXPECT_FALSE(client->read(kRegionConfig, 0, 4));
  EXPECT_TRUE(client->connection().broken());
}

TEST_F(ClientFixture, BodyOfTheWrongSizeBreaksTheConnection) {
  ASSERT_TRUE(client->negotiate());
  server.misbehave(Misbehave::kWrongSize);
  EXPECT_FALSE(client->read(kRegionConfig, 0, 4));
  EXPECT_TRUE(client->connection().broken());
}

TEST_F(ClientFixture, DescriptorsInAReplyAreRefused) {
  ASSERT_TRUE(client->negotiate());
  server.misbehave(Misbehave::kSendFd);
  auto v = client->reset();
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message.find("descriptors"), std::string::npos) << v.error().message;
}

TEST_F(ClientFixture, ErrorReplyLeavesTheConnectionUsable) {
  ASSERT_TRUE(client->negotiate());
  EXPECT_FALSE(client->connection().call(Command::kDirtyPages, {}));  // the fake refuses it with EOPNOTSUPP
  EXPECT_FALSE(client->connection().broken());
  EXPECT_TRUE(client->read(kRegionConfig, 0, 4));
}

// ---- the PCI device --------------------------------------------------------------------------------------------

struct Sink : pci::InterruptSink {
  std::atomic<int> edges{0};
  void set_irq_level(bool asserted) override { edges += asserted; }
  std::mutex mu;
  std::vector<uint32_t> messages;
  void message(uint32_t data) override {
    std::lock_guard lock(mu);
    messages.push_back(data);
  }
  std::vector<uint32_t> taken() {
    std::lock_guard lock(mu);
    return std::exchange(messages, {});
  }
};

struct DeviceFixture : ::testing::Test {
  FakeServer server;
  std::vector<uint8_t> arena_bytes = std::vector<uint8_t>(1 << 16);
  iommu::Iommu mmu{arena_bytes.data(), arena_bytes.size()};
  int arena_fd = -1;
  std::vector<std::string> faults;
  std::unique_ptr<VfioUserDevice> dev;
  Sink sink;
  int reconnects = 0;
  FakeServer second;

  void SetUp() override {
    arena_fd = memfd_create("test-arena", MFD_CLOEXEC);
    ASSERT_EQ(ftruncate(arena_fd, 1 << 16), 0);
    auto client = std::make_unique<Client>(Fd(server.start()), kExchangeTimeout);
    ASSERT_TRUE(client->negotiate());
    auto found = discover(*client);
    ASSERT_TRUE(found) << found.error().message;
    pci::DeviceContext ctx{mmu, [] { return uint64_t{0}; }, [](uint64_t) {}};
    ctx.dma_memory = {arena_fd, 0x10000000, 1 << 16};
    ctx.device_fault = [this](const std::string& why) { faults.push_back(why); };
    dev = std::make_unique<VfioUserDevice>(ctx, "fake", *found, std::move(client),
                                           [this]() -> Result<std::unique_ptr<Client>> {
                                             ++reconnects;
                                             auto c = std::make_unique<Client>(Fd(second.start()), kExchangeTimeout);
                                             SIDE_TRY(c->negotiate());
                                             return c;
                                           });
    dev->set_interrupt_sink(&sink);
    ASSERT_TRUE(dev->start());
  }
  void TearDown() override {
    dev.reset();
    if (arena_fd >= 0) close(arena_fd);
  }
  void enable() {
    dev->config_write(pci::kBar0, 4, 0xfebc0000);
    dev->config_write(pci::kCommand, 2, pci::kCommandMemory | pci::kCommandBusMaster);
  }
};

TEST_F(DeviceFixture, IdentityAndBarsComeFromTheServer) {
  EXPECT_EQ(dev->config().bar_spec(0).kind, pci::BarKind::kMemory32);
  EXPECT_EQ(dev->config().bar_spec(0).size, 4096u);
  EXPECT_EQ(dev->config().bar_spec(1).kind, pci::BarKind::kNone);
  EXPECT_EQ(dev->config_read(pci::kDeviceId, 2), 0x5678u);
}

TEST(VfioUserConfigOverlay, ReplacesTheByteOnlyWhenTheAccessCoversIt) {
  EXPECT_EQ(overlay_config_byte(0x08, 1, 0x20, 0x08, 0x10), 0x10u);
  EXPECT_EQ(overlay_config_byte(0x08, 4, 0x02000020, 0x08, 0x10), 0x02000010u);  // revision + class code
  EXPECT_EQ(overlay_config_byte(0x06, 4, 0x00200290, 0x08, 0x10), 0x00100290u);  // an unaligned dword
  EXPECT_EQ(overlay_config_byte(0x04, 4, 0x12345678, 0x08, 0x10), 0x12345678u);  // before it
  EXPECT_EQ(overlay_config_byte(0x09, 2, 0x1234, 0x08, 0x10), 0x1234u);          // after it
}

TEST_F(DeviceFixture, FirmwarePresentsAnotherRevisionAndNothingElse) {
  const uint32_t ids = dev->config_read(pci::kVendorId, 4);
  const uint32_t rev_class = dev->config_read(pci::kRevisionId, 4);
  dev->present_revision(0x10);
  EXPECT_EQ(dev->config_read(pci::kRevisionId, 1), 0x10u);
  EXPECT_EQ(dev->config_read(pci::kRevisionId, 4), (rev_class & ~0xffu) | 0x10u);
  EXPECT_EQ(dev->config_read(pci::kVendorId, 4), ids);
}

TEST_F(DeviceFixture, NoBarAccessReachesTheServerBeforeCommandEnablesIt) {
  server.bar0[1] = 0xcafe;
  EXPECT_EQ(dev->bar_read(0, 4, 4), 0xffffffffu);
  dev->bar_write(0, 4, 4, 1);
  EXPECT_EQ(server.bar_accesses.load(), 0);
  enable();
  EXPECT_EQ(server.last_command_word.load(), pci::kCommandMemory | pci::kCommandBusMaster);
  EXPECT_EQ(dev->bar_read(0, 4, 4), 0xcafeu);
  dev->bar_write(0, 8, 4, 0x55);
  EXPECT_EQ(dev->bar_read(0, 8, 4), 0x55u) << "the posted write is ordered before the read";
  EXPECT_GE(server.posted.load(), 1) << "BAR writes are posted";
}

// QEMU's rtl8139 takes queued frames only when CAPR is written (model_quirks.h): an IntrMask write that unmasks
// RxOverflow is followed by CAPR read and written back unchanged, inside the same locked access; no other write is.
TEST_F(DeviceFixture, AWriteTheQuirkNamesIsFollowedByItsRegisterWrittenBackUnchanged) {
  enable();
  server.bar0[0x38 / 4] = 0x1234;  // CAPR
  dev->set_quirks({.rewrite_after_write = rtl8139_flush_on_unmask});
  (void)server.take_bar_log();
  // Posted writes are processed in order before the reply to the next request: a config read waits for them.
  auto served = [&] { return dev->config_read(pci::kVendorId, 2), server.take_bar_log(); };
  dev->bar_write(0, 0x3c, 2, 0xc07f);  // 8139too's rtl8139_intr_mask
  EXPECT_EQ(served(), (std::vector<std::string>{"w 3c/2=c07f", "r 38/2", "w 38/2=1234"}));
  dev->bar_write(0, 0x3c, 2, 0xc06f);  // rtl8139_norx_intr_mask: RxOverflow stays masked
  dev->bar_write(0, 0x38, 2, 0x0ff0);  // the driver's own CAPR write
  EXPECT_EQ(served(), (std::vector<std::string>{"w 3c/2=c06f", "w 38/2=ff0"}));
  EXPECT_EQ(dev->bar_read(0, 0x38, 2), 0x0ff0u);
}

TEST(ModelQuirks, Rtl8139RewritesCaprOnlyAfterAnIntrMaskWriteThatUnmasksRxOverflow) {
  for (int bar : {0, 1}) {
    auto r = rtl8139_flush_on_unmask(bar, 0x3c, 2, 0x0010);
    ASSERT_TRUE(r) << "BAR " << bar;
    EXPECT_EQ(r->offset, 0x38u);
    EXPECT_EQ(r->width, 2u);
  }
  EXPECT_FALSE(rtl8139_flush_on_unmask(2, 0x3c, 2, 0x0010)) << "no such window";
  EXPECT_TRUE(rtl8139_flush_on_unmask(1, 0x3c, 1, 0x10)) << "a byte write to IntrMask's low byte unmasks it too";
  EXPECT_FALSE(rtl8139_flush_on_unmask(1, 0x3d, 1, 0x10)) << "the high byte has no RxOverflow";
  EXPECT_FALSE(rtl8139_flush_on_unmask(1, 0x3c, 2, 0xffef)) << "RxOverflow masked";
  EXPECT_FALSE(rtl8139_flush_on_unmask(1, 0x3e, 2, 0xffff)) << "IntrStatus";
}

uint64_t counter(const pci::PciDevice::NamedCounters& all, const std::string& name) {
  for (const auto& [n, v] : all) {
    if (n == name) return v;
  }
  ADD_FAILURE() << "no counter " << name;
  return 0;
}

// Waits (at most 2 s) until `done`.
template <class F>
void wait_for(F done) {
  for (int i = 0; i < 400 && !done(); ++i) std::this_thread::sleep_for(5ms);
}

// A write a model needs carried out before the driver goes on is sent with a reply awaited, not posted.
TEST_F(DeviceFixture, AWriteTheModelMustActOnAtOnceWaitsForTheServer) {
  enable();
  dev->set_quirks({.write_waits = [](int bar, uint64_t offset, unsigned) { return bar == 0 && offset == 0x20; }});
  const int posted = server.posted.load();
  dev->bar_write(0, 0x20, 4, 0xcafe);  // a command register
  EXPECT_EQ(server.posted.load(), posted) << "awaited";
  EXPECT_EQ(server.bar0[0x20 / 4], 0xcafeu) << "carried out by the time bar_write returned";
  EXPECT_EQ(counter(dev->model_counters(), "server_waited_writes"), 1u);
  dev->bar_write(0, 0x24, 4, 0x01);  // any other register: posted as ever
  EXPECT_EQ(dev->bar_read(0, 0x24, 4), 0x01u);
  EXPECT_EQ(server.posted.load(), posted + 1);
}

TEST(ModelQuirks, Vmxnet3CommandRegisterWaits) {
  EXPECT_TRUE(vmxnet3_command_waits(1, 0x20, 4));
  EXPECT_FALSE(vmxnet3_command_waits(0, 0x20, 4)) << "BAR 0 holds the doorbells, posted";
  EXPECT_FALSE(vmxnet3_command_waits(1, 0x28, 4));
  EXPECT_FALSE(vmxnet3_command_waits(1, 0x18, 4)) << "MAC address low";
}

TEST_F(DeviceFixture, ServerInterruptBecomesAnEdge) {
  ASSERT_TRUE(server.raise_intx());
  wait_for([&] { return sink.edges.load() > 0; });
  server.lower_intx();
  EXPECT_GE(sink.edges.load(), 1);
  // Once the line is low nothing more arrives.
  std::this_thread::sleep_for(3 * VfioUserDevice::kLevelRecheck);
  const int settled = sink.edges.load();
  std::this_thread::sleep_for(3 * VfioUserDevice::kLevelRecheck);
  EXPECT_EQ(sink.edges.load(), settled);
}

// A line asserted without an edge from the server is found by the idle check and interrupts, within a bounded time;
// nothing more once it falls.
TEST_F(DeviceFixture, ALineAssertedWithoutAnEdgeStillInterrupts) {
  enable();
  server.assert_intx_without_edge();
  wait_for([&] { return sink.edges.load() > 0; });
  EXPECT_GE(sink.edges.load(), 1);
  EXPECT_GE(counter(dev->model_counters(), "server_interrupts_without_edge"), 1u);
  EXPECT_EQ(counter(dev->model_counters(), "server_interrupts"), 0u) << "no signal came from the server";
  server.lower_intx();
  std::this_thread::sleep_for(2 * VfioUserDevice::kIdleLevelCheck);
  const int settled = sink.edges.load();
  std::this_thread::sleep_for(3 * VfioUserDevice::kIdleLevelCheck);
  EXPECT_EQ(sink.edges.load(), settled);
}

// An edge whose line has fallen again by the time it is read (Status.Interrupt clear) is not an interrupt: a
// level-triggered line is seen only while asserted. The next real one still is.
TEST_F(DeviceFixture, AnEdgeWhoseLineHasFallenIsNotDelivered) {
  ASSERT_TRUE(server.raise_intx(/*level=*/false));
  wait_for([&] { return counter(dev->model_counters(), "server_interrupts_stale") > 0; });
  EXPECT_EQ(counter(dev->model_counters(), "server_interrupts_stale"), 1u);
  std::this_thread::sleep_for(3 * VfioUserDevice::kLevelRecheck);
  EXPECT_EQ(sink.edges.load(), 0);
  ASSERT_TRUE(server.raise_intx());
  wait_for([&] { return sink.edges.load() > 0; });
  server.lower_intx();
  EXPECT_GE(sink.edges.load(), 1);
  EXPECT_EQ(counter(dev->model_counters(), "server_interrupts"), 2u);
}

// A line the driver's handler left asserted, with no new edge from the server, interrupts again (as a level-
// triggered line does once the handler returns) until it falls: a missed edge delays an interrupt, never loses it.
TEST_F(DeviceFixture, ALineLeftAssertedInterruptsAgainUntilItFalls) {
  ASSERT_TRUE(server.raise_intx());
  wait_for([&] { return sink.edges.load() >= 3; });
  EXPECT_GE(sink.edges.load(), 3);
  EXPECT_GE(counter(dev->model_counters(), "server_interrupts_reasserted"), 2u);
  EXPECT_EQ(counter(dev->model_counters(), "server_interrupts"), 1u) << "one edge from the server";
  server.lower_intx();
  std::this_thread::sleep_for(3 * VfioUserDevice::kLevelRecheck);
  const int settled = sink.edges.load();
  std::this_thread::sleep_for(5 * VfioUserDevice::kLevelRecheck);
  EXPECT_EQ(sink.edges.load(), settled);
}

TEST_F(DeviceFixture, DeviceReachesTheDomainArenaAtItsBusAddresses) {
  EXPECT_TRUE(server.dma_write(0x10000000 + 0x123, 0x5a));
  uint8_t b = 0;
  ASSERT_EQ(pread(arena_fd, &b, 1, 0x123), 1);
  EXPECT_EQ(b, 0x5a);
  EXPECT_FALSE(server.dma_write(0x10000000 + (1 << 16), 1)) << "nothing beyond the arena is mapped";
}

TEST_F(DeviceFixture, DeadServerIsOneFaultAndResetReconnects) {
  enable();
  server.misbehave(Misbehave::kSilent);
  EXPECT_EQ(dev->bar_read(0, 0, 4), 0xffffffffu);
  EXPECT_EQ(dev->bar_read(0, 0, 4), 0xffffffffu);
  ASSERT_EQ(faults.size(), 1u) << "reported once";
  EXPECT_NE(faults[0].find("did not answer"), std::string::npos) << faults[0];
  EXPECT_TRUE(dev->server_failed());
  dev->reset();
  EXPECT_EQ(reconnects, 1);
  EXPECT_FALSE(dev->server_failed());
  EXPECT_EQ(dev->config_read(pci::kCommand, 2), 0u) << "the fresh function is disabled";
  enable();
  second.bar0[0] = 7;
  EXPECT_EQ(dev->bar_read(0, 0, 4), 7u);
  EXPECT_TRUE(second.dma_write(0x10000000, 1)) << "the arena is mapped into the new server";
}

// A write that waits, to a server that never answers: bounded by the exchange timeout, one fault, nothing after.
TEST_F(DeviceFixture, AWaitedWriteToASilentServerIsOneFaultInBoundedTime) {
  enable();
  dev->set_quirks({.write_waits = [](int, uint64_t, unsigned) { return true; }});
  server.misbehave(Misbehave::kSilent);
  const auto start = std::chrono::steady_clock::now();
  dev->bar_write(0, 0x20, 4, 1);
  dev->bar_write(0, 0x20, 4, 2);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3 * kExchangeTimeout) << "one timeout, then nothing reaches it";
  ASSERT_EQ(faults.size(), 1u) << "reported once";
  EXPECT_TRUE(dev->server_failed());
}

TEST_F(DeviceFixture, ResetKeepsTheConnectionAndClearsCommand) {
  enable();
  dev->reset();
  EXPECT_EQ(server.resets.load(), 1);
  EXPECT_EQ(server.last_command_word.load(), 0u);
  EXPECT_EQ(dev->bar_read(0, 0, 4), 0xffffffffu) << "decoding is off after a reset";
  EXPECT_EQ(reconnects, 0);
}

TEST_F(DeviceFixture, NewDmaMemoryReplacesTheOld) {
  int other = memfd_create("other", MFD_CLOEXEC);
  ASSERT_EQ(ftruncate(other, 1 << 16), 0);
  dev->set_dma_memory({other, 0x10000000, 1 << 16});
  EXPECT_EQ(server.unmaps.load(), 1);
  EXPECT_TRUE(server.dma_write(0x10000000 + 1, 9));
  uint8_t b = 0;
  ASSERT_EQ(pread(other, &b, 1, 1), 1);
  EXPECT_EQ(b, 9);
  close(other);
}

// ---- message-signalled interrupts -------------------------------------------------------------------------------

TEST(VfioUserCodec, SetIrqsIsCheckedBeforeItLeaves) {
  const IrqInfo msix{kIrqMsix, kIrqInfoEventfd, 5};
  const uint32_t trigger_fds = kIrqSetActionTrigger | kIrqSetDataEventfd;
  EXPECT_TRUE(check_set_irqs(msix, trigger_fds, 0, 5, 5));
  EXPECT_TRUE(check_set_irqs(msix, trigger_fds, 3, 2, 2));
  EXPECT_FALSE(check_set_irqs(msix, trigger_fds, 3, 3, 3)) << "past the server's 5 vectors";
  EXPECT_FALSE(check_set_irqs(msix, trigger_fds, 5, 1, 1)) << "start past the end";
  EXPECT_FALSE(check_set_irqs(msix, trigger_fds, 0xffffffff, 2, 2)) << "start + count wraps";
  EXPECT_FALSE(check_set_irqs(msix, trigger_fds, 0, 2, 1)) << "one descriptor for two vectors";
  EXPECT_FALSE(check_set_irqs(msix, kIrqSetActionTrigger | kIrqSetDataNone, 0, 1, 1)) << "descriptors without eventfd";
  EXPECT_TRUE(check_set_irqs(msix, kIrqSetActionTrigger | kIrqSetDataNone, 0, 0, 0)) << "the disable form";
  EXPECT_FALSE(check_set_irqs(msix, kIrqSetActionTrigger | kIrqSetDataNone, 1, 0, 0)) << "disable from 1";
  EXPECT_FALSE(check_set_irqs(msix, kIrqSetActionMask | kIrqSetActionTrigger | kIrqSetDataNone, 0, 1, 0));
  EXPECT_FALSE(check_set_irqs(msix, kIrqSetActionTrigger | kIrqSetDataBool, 0, 1, 0)) << "bool is never sent";
  EXPECT_FALSE(check_set_irqs(msix, trigger_fds | (1u << 9), 0, 1, 1)) << "unknown flag";
  EXPECT_FALSE(check_set_irqs(msix, kIrqSetActionMask | kIrqSetDataNone, 0, 1, 0)) << "not maskable";
  const IrqInfo maskable{kIrqMsix, kIrqInfoEventfd | kIrqInfoMaskable, 5};
  EXPECT_TRUE(check_set_irqs(maskable, kIrqSetActionUnmask | kIrqSetDataNone, 1, 4, 0));
  EXPECT_FALSE(check_set_irqs(maskable, kIrqSetActionMask | kIrqSetDataEventfd, 1, 1, 1)) << "mask with data";
  const auto set = encode_set_irqs(trigger_fds, kIrqMsix, 1, 4);
  EXPECT_EQ(set, le({{4, 20}, {4, 0x24}, {4, 2}, {4, 1}, {4, 4}}));
}

TEST(VfioUserCodec, IrqInfoCountsAreBoundedPerType) {
  EXPECT_TRUE(decode_irq_info(le({{4, 16}, {4, 1}, {4, kIrqMsix}, {4, 2048}}), kIrqMsix));
  EXPECT_FALSE(decode_irq_info(le({{4, 16}, {4, 1}, {4, kIrqMsix}, {4, 2049}}), kIrqMsix));
  EXPECT_TRUE(decode_irq_info(le({{4, 16}, {4, 1}, {4, kIrqMsi}, {4, 32}}), kIrqMsi));
  EXPECT_FALSE(decode_irq_info(le({{4, 16}, {4, 1}, {4, kIrqMsi}, {4, 33}}), kIrqMsi)) << "MSI has at most 32";
  EXPECT_FALSE(decode_irq_info(le({{4, 16}, {4, 1}, {4, kIrqIntx}, {4, 2}}), kIrqIntx)) << "one INTx pin";
  EXPECT_FALSE(decode_irq_info(le({{4, 16}, {4, 1}, {4, kIrqMsi}, {4, 1}}), kIrqMsix)) << "another type";
  EXPECT_FALSE(decode_irq_info(le({{4, 16}, {4, 1u << 7}, {4, kIrqMsix}, {4, 1}}), kIrqMsix)) << "unknown flag";
}

struct MsixClientFixture : ClientFixture {
  MsixClientFixture() { server.with_msix(12); }
};

TEST_F(MsixClientFixture, EventfdsGoInMessagesOfAtMostMaxMsgFds) {
  ASSERT_TRUE(client->negotiate());
  EXPECT_EQ(client->irq(kIrqMsix).count, 12u);
  std::vector<Fd> efds;
  std::vector<int> raw;
  for (int i = 0; i < 12; ++i) {
    efds.emplace_back(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    raw.push_back(efds.back().get());
  }
  ASSERT_TRUE(client->set_irq_eventfds(kIrqMsix, 0, raw));
  EXPECT_EQ(server.set_irqs_messages.load(), 2) << "8 + 4: the server takes 8 descriptors a message";
  ASSERT_TRUE(server.raise(11));
  uint64_t n = 0;
  for (int i = 0; i < 200 && ::read(raw[11], &n, sizeof n) != sizeof n; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(n, 1u) << "vector 11 reached the eventfd given for it";
  EXPECT_FALSE(client->set_irq_eventfds(kIrqMsix, 8, raw)) << "vectors 8..19 of 12: refused before sending";
  const int sent = server.commands.load();
  EXPECT_FALSE(client->mask_irqs(kIrqMsix, 0, 1, true)) << "the server does not report MSI-X maskable";
  EXPECT_EQ(server.commands.load(), sent) << "nothing left for either";
  EXPECT_FALSE(client->connection().broken());
}

struct MsixDeviceFixture : DeviceFixture {
  MsixDeviceFixture() { server.with_msix(5); }
  static constexpr uint32_t kCtrl = FakeServer::kMsixCap + 2;
  void program(uint32_t entry, uint32_t data) {
    const uint64_t at = FakeServer::kMsixTable + 16 * entry;
    dev->bar_write(0, at, 8, 0xfee00000);
    dev->bar_write(0, at + 8, 4, data);
    dev->bar_write(0, at + 12, 4, 0);  // unmasked
  }
  // Waits (at most a second) until the device has taken `n` signals from the server in all: what a signal led to
  // is then decided, however loaded the machine.
  void wait_signals(uint64_t n) {
    for (int i = 0; i < 200 && counter(dev->model_counters(), "server_interrupts") < n; ++i)
      std::this_thread::sleep_for(5ms);
    ASSERT_GE(counter(dev->model_counters(), "server_interrupts"), n);
  }
  std::vector<uint32_t> wait_messages(size_t n) {
    std::vector<uint32_t> got;
    for (int i = 0; i < 200 && got.size() < n; ++i) {
      auto more = sink.taken();
      got.insert(got.end(), more.begin(), more.end());
      if (got.size() < n) std::this_thread::sleep_for(5ms);
    }
    return got;
  }
};

// A server that signals without pause gets a bounded interrupt rate, and what it signalled meanwhile still arrives.
TEST_F(MsixDeviceFixture, AServerThatSignalsWithoutPauseIsThrottledNotLost) {
  dev->limit_interrupt_rate(1000, 10);
  enable();
  dev->config_write(kCtrl, 2, 0x8000);  // MSI-X on, nothing masked
  program(1, 77);
  std::atomic<bool> flooding{true};
  std::thread flood([&] {
    while (flooding) server.raise(1);
  });
  std::this_thread::sleep_for(300ms);
  flooding = false;
  flood.join();
  std::this_thread::sleep_for(20ms);  // the signal left pending at the end
  const size_t delivered = sink.taken().size();
  EXPECT_LE(delivered, 10u + 300u + 30u) << "the burst, then 1000 a second";
  EXPECT_GE(delivered, 100u) << "throttled, not stopped";
  EXPECT_GT(counter(dev->model_counters(), "server_interrupts_throttled"), 0u);
  ASSERT_TRUE(server.raise(1));
  EXPECT_EQ(wait_messages(1), std::vector<uint32_t>{77}) << "the next signal still arrives";
}

TEST_F(MsixDeviceFixture, EveryVectorHasItsEventfdBeforeTheDriverRuns) {
  EXPECT_TRUE(server.raise_intx()) << "vector 0";
  for (uint32_t v = 1; v < 5; ++v) EXPECT_TRUE(server.raise(v)) << "vector " << v;
  EXPECT_FALSE(server.raise(5));
  for (int i = 0; i < 200 && sink.edges.load() == 0; ++i) std::this_thread::sleep_for(5ms);
  server.lower_intx();  // the driver's handler cleared the cause: no level to re-deliver
  wait_signals(5);
  EXPECT_TRUE(sink.taken().empty()) << "MSI-X is off: vectors 1-4 mean nothing";
  EXPECT_EQ(sink.edges.load(), 1) << "slot 0 is INTx while MSI-X is off";
  EXPECT_EQ(server.set_irqs_messages.load(), 2) << "INTx, then the 5 MSI-X vectors in one message";
}

TEST_F(MsixDeviceFixture, VectorsBecomeTheMessagesTheKernelProgrammed) {
  enable();
  dev->config_write(kCtrl, 2, 0xc000);  // enable, function mask, as msix_capability_init()
  for (uint32_t e = 0; e < 3; ++e) program(e, 40 + e);
  ASSERT_TRUE(server.raise(2));
  wait_signals(1);
  EXPECT_TRUE(sink.taken().empty()) << "function-masked";
  dev->config_write(kCtrl + 1, 1, 0x80);  // the mask dropped through the high byte alone
  ASSERT_TRUE(server.raise(2));
  ASSERT_TRUE(server.raise(0));
  auto got = wait_messages(2);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<uint32_t>{40, 42}));
  EXPECT_EQ(sink.edges.load(), 0) << "slot 0 is MSI-X vector 0 now, not INTx";
  dev->bar_write(0, FakeServer::kMsixTable + 16 + 8, 2, 0x1234);  // half a data field
  ASSERT_TRUE(server.raise(1));
  EXPECT_EQ(wait_messages(1), std::vector<uint32_t>{0x1234});
  // The BAR write is posted: it reaches the server in its own time, after the message it changed went out.
  auto at_server = [&] { return std::atomic_ref<uint32_t>(server.bar0[(FakeServer::kMsixTable + 16 + 8) / 4]).load(); };
  for (int i = 0; i < 200 && at_server() != 0x1234u; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(at_server(), 0x1234u) << "the table still reaches the server";
}

TEST_F(MsixDeviceFixture, MsiUsesSlotZeroAndDisablingReturnsToIntx) {
  enable();
  dev->config_write(FakeServer::kMsiCap + 0x0c, 2, 37);  // 64-bit layout: data at 0x0c
  dev->config_write(FakeServer::kMsiCap + 2, 2, 1);
  ASSERT_TRUE(server.raise(0));
  EXPECT_EQ(wait_messages(1), std::vector<uint32_t>{37});
  ASSERT_TRUE(server.raise(1));
  dev->config_write(FakeServer::kMsiCap + 2, 2, 0);
  ASSERT_TRUE(server.raise_intx());
  for (int i = 0; i < 200 && sink.edges.load() == 0; ++i) std::this_thread::sleep_for(5ms);
  server.lower_intx();
  EXPECT_EQ(sink.edges.load(), 1);
  EXPECT_TRUE(sink.taken().empty()) << "vector 1 has no MSI meaning";
}

TEST_F(MsixDeviceFixture, ResetTurnsMessagesOff) {
  enable();
  program(0, 50);
  dev->config_write(kCtrl, 2, 0x8000);
  dev->reset();
  ASSERT_TRUE(server.raise_intx());
  for (int i = 0; i < 200 && sink.edges.load() == 0; ++i) std::this_thread::sleep_for(5ms);
  server.lower_intx();
  EXPECT_TRUE(sink.taken().empty());
  EXPECT_EQ(sink.edges.load(), 1) << "after a reset slot 0 is INTx again";
}

}  // namespace
}  // namespace side::vfio_user
