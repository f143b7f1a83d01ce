// The NBD server against a hand-written client that can misbehave: unknown options, out-of-range and oversized
// requests, bad magic, a client vanishing mid-request, one that never negotiates, pipelined requests answered in
// completion order, and a device that never completes. After each, the server still serves the next client.
#include "block/nbd_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "block/image_file_disk.h"
#include "block/nbd_protocol.h"
#include "block/socket_io.h"
#include "block_test_util.h"
#include "manual_disk.h"

namespace side::block {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;

void be(Bytes& b, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t get_be(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | p[i];
  return v;
}

// A client speaking the protocol byte by byte, with every read bounded.
class RawClient {
 public:
  explicit RawClient(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  bool connected() const { return connected_; }
  bool send(const Bytes& b) {
    iovec iov{const_cast<uint8_t*>(b.data()), b.size()};
    return write_full(fd_.get(), &iov, 1, 2000) == 0;
  }
  Bytes recv(size_t n, int ms = 5000) {
    Bytes b(n);
    return read_full(fd_.get(), b.data(), n, ms, ms) == 0 ? b : Bytes{};
  }
  // True when the server closed the connection (end of stream) within 5 s.
  bool closed_by_server() {
    uint8_t c;
    return read_full(fd_.get(), &c, 1, 5000, 5000) == EPIPE;
  }
  // Greeting, flags, then an option; returns the option reply's type.
  uint32_t option(uint32_t opt, const Bytes& data, Bytes* payload = nullptr) {
    Bytes b;
    be(b, nbd::kOptMagic, 8), be(b, opt, 4), be(b, data.size(), 4);
    b.insert(b.end(), data.begin(), data.end());
    if (!send(b)) return 0;
    return reply(payload);
  }
  uint32_t reply(Bytes* payload = nullptr) {
    const Bytes h = recv(20);
    if (h.size() != 20 || get_be(h.data(), 8) != nbd::kOptReplyMagic) return 0;
    const Bytes data = recv(get_be(h.data() + 16, 4));
    if (payload) *payload = data;
    return static_cast<uint32_t>(get_be(h.data() + 12, 4));
  }
  bool handshake() {
    const Bytes g = recv(nbd::kGreetingSize);
    if (g.size() != nbd::kGreetingSize || get_be(g.data(), 8) != nbd::kInitMagic) return false;
    Bytes f;
    be(f, nbd::kClientFixedNewstyle | nbd::kClientNoZeroes, 4);
    return send(f);
  }
  // GO on the default export; reads replies up to the final one.
  bool go() {
    Bytes d;
    be(d, 0, 4), be(d, 1, 2), be(d, nbd::kInfoBlockSize, 2);
    uint32_t type = option(nbd::kOptGo, d);
    for (int i = 0; i < 8 && type == nbd::kRepInfo; ++i) type = reply();
    return type == nbd::kRepAck;
  }
  bool request(uint16_t type, uint64_t handle, uint64_t offset, uint32_t length, const Bytes& data = {},
               uint16_t flags = 0) {
    Bytes b;
    be(b, nbd::kRequestMagic, 4), be(b, flags, 2), be(b, type, 2), be(b, handle, 8), be(b, offset, 8);
    be(b, length, 4);
    b.insert(b.end(), data.begin(), data.end());
    return send(b);
  }
  // A simple reply: sets the handle, returns the error (or -1 on a broken reply); reads `data_len` bytes of data
  // when there is no error.
  int64_t simple_reply(uint64_t* handle, size_t data_len = 0, Bytes* data = nullptr) {
    const Bytes h = recv(16);
    if (h.size() != 16 || get_be(h.data(), 4) != nbd::kSimpleReplyMagic) return -1;
    *handle = get_be(h.data() + 8, 8);
    const auto error = static_cast<int64_t>(get_be(h.data() + 4, 4));
    if (error == 0 && data_len) {
      *data = recv(data_len);
      if (data->size() != data_len) return -1;
    }
    return error;
  }
  void close() { fd_ = Fd(); }

 private:
  Fd fd_;
  bool connected_ = false;
};

class NbdServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ImageFileDisk::create_image(dir_ / "disk.img", kSize).ok());
    auto d = ImageFileDisk::open(dir_ / "disk.img", {});
    ASSERT_TRUE(d.ok());
    disk_ = std::move(*d);
    start(*disk_);
  }
  void start(BlockDevice& dev, NbdLimits limits = {}) {
    NbdServerOptions o;
    o.unix_path = socket_;
    o.max_clients = 3;
    o.limits = limits;
    auto s = NbdServer::start(dev, o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(*s);
  }
  // A client that negotiated and is in transmission.
  std::unique_ptr<RawClient> ready_client() {
    auto c = std::make_unique<RawClient>(socket_);
    EXPECT_TRUE(c->connected());
    EXPECT_TRUE(c->handshake());
    EXPECT_TRUE(c->go());
    return c;
  }
  // Writes a patterned range through a fresh client and reads it back.
  void expect_round_trip(uint32_t seed) {
    auto c = ready_client();
    const Bytes data = test::pattern(seed, 8192, 65536);
    uint64_t handle = 0;
    ASSERT_TRUE(c->request(nbd::kCmdWrite, 10, 8192, 65536, data));
    ASSERT_EQ(c->simple_reply(&handle), 0);
    EXPECT_EQ(handle, 10u);
    Bytes back;
    ASSERT_TRUE(c->request(nbd::kCmdRead, 11, 8192, 65536));
    ASSERT_EQ(c->simple_reply(&handle, 65536, &back), 0);
    EXPECT_EQ(handle, 11u);
    EXPECT_EQ(back, data);
    ASSERT_TRUE(c->request(nbd::kCmdDisc, 12, 0, 0));
    EXPECT_TRUE(c->closed_by_server());
  }

  static constexpr uint64_t kSize = 16 << 20;
  test::ScratchDir dir_;
  std::string socket_ = dir_ / "nbd.sock";
  std::unique_ptr<ImageFileDisk> disk_;
  std::unique_ptr<NbdServer> server_;
};

TEST_F(NbdServerTest, UnknownOptionIsUnsupportedThenGoServes) {
  RawClient c(socket_);
  ASSERT_TRUE(c.handshake());
  EXPECT_EQ(c.option(8 /* STRUCTURED_REPLY */, {}), nbd::kRepErrUnsup);
  EXPECT_EQ(c.option(0x12345678, Bytes(100, 7)), nbd::kRepErrUnsup);
  Bytes server;
  EXPECT_EQ(c.option(nbd::kOptList, {}, &server), nbd::kRepServer);
  EXPECT_EQ(c.reply(), nbd::kRepAck);
  EXPECT_EQ(std::string(server.begin(), server.end()), std::string("\0\0\0\4side", 8) + "disk exported by side");
  ASSERT_TRUE(c.go());
  uint64_t handle;
  ASSERT_TRUE(c.request(nbd::kCmdFlush, 1, 0, 0));
  EXPECT_EQ(c.simple_reply(&handle), 0);
  expect_round_trip(1);
}

TEST_F(NbdServerTest, BadRequestsGetErrorsAndTheConnectionGoesOn) {
  auto c = ready_client();
  uint64_t handle;
  ASSERT_TRUE(c->request(nbd::kCmdRead, 1, kSize, 4096));
  EXPECT_EQ(c->simple_reply(&handle), nbd::kEinval) << "read past the end";
  ASSERT_TRUE(c->request(nbd::kCmdWrite, 2, kSize - 512, 1024, Bytes(1024, 1)));
  EXPECT_EQ(c->simple_reply(&handle), nbd::kEnospc) << "write across the end";
  ASSERT_TRUE(c->request(nbd::kCmdRead, 3, 100, 512));
  EXPECT_EQ(c->simple_reply(&handle), nbd::kEinval) << "unaligned";
  ASSERT_TRUE(c->request(nbd::kCmdWrite, 4, 0, (32 << 20) + 512, Bytes((32 << 20) + 512, 9)));
  EXPECT_EQ(c->simple_reply(&handle), nbd::kEinval) << "oversized write: refused, its data read past";
  EXPECT_EQ(handle, 4u);
  ASSERT_TRUE(c->request(9, 5, 0, 512));
  EXPECT_EQ(c->simple_reply(&handle), nbd::kEinval) << "unknown command";
  Bytes back;
  ASSERT_TRUE(c->request(nbd::kCmdRead, 6, 0, 512));
  EXPECT_EQ(c->simple_reply(&handle, 512, &back), 0) << "still in step";
  EXPECT_EQ(back, Bytes(512, 0)) << "nothing of the refused write landed";
  EXPECT_EQ(server_->counters().error_replies.load(), 5u);
}

TEST_F(NbdServerTest, MalformedHeaderClosesOnlyThatClient) {
  auto c = ready_client();
  Bytes junk(28, 0xee);
  ASSERT_TRUE(c->send(junk));
  EXPECT_TRUE(c->closed_by_server());
  RawClient bad_option(socket_);
  ASSERT_TRUE(bad_option.handshake());
  ASSERT_TRUE(bad_option.send(Bytes(16, 0x11)));
  EXPECT_TRUE(bad_option.closed_by_server()) << "an option header without IHAVEOPT";
  RawClient bad_flags(socket_);
  ASSERT_TRUE(bad_flags.recv(nbd::kGreetingSize).size());
  ASSERT_TRUE(bad_flags.send(Bytes{0, 0, 0x10, 0}));
  EXPECT_TRUE(bad_flags.closed_by_server()) << "unknown client flags";
  expect_round_trip(2);
  EXPECT_GE(server_->counters().protocol_closes.load(), 3u);
}

TEST_F(NbdServerTest, ClientVanishingMidRequestLeavesTheServerServing) {
  {
    auto c = ready_client();
    Bytes half(1 << 19, 3);
    ASSERT_TRUE(c->request(nbd::kCmdWrite, 1, 0, 1 << 20, half));  // header and half of the data
    c->close();
  }
  {
    RawClient mid_option(socket_);
    ASSERT_TRUE(mid_option.handshake());
    Bytes b;
    be(b, nbd::kOptMagic, 8), be(b, nbd::kOptGo, 4), be(b, 1000, 4);
    ASSERT_TRUE(mid_option.send(b));  // promises 1000 bytes, sends none
  }
  expect_round_trip(3);
}

TEST_F(NbdServerTest, SilentClientDoesNotHoldUpOthers) {
  RawClient silent(socket_);
  ASSERT_TRUE(silent.connected());
  expect_round_trip(4);
  auto idle = ready_client();
  expect_round_trip(5);
}

TEST_F(NbdServerTest, ClientsBeyondTheLimitAreRefused) {
  auto a = ready_client(), b = ready_client(), c = ready_client();
  RawClient d(socket_);
  EXPECT_TRUE(d.closed_by_server());
  EXPECT_EQ(server_->counters().refused.load(), 1u);
  a.reset();
  // The ended connection is reaped when the next one arrives.
  for (int i = 0; i < 50 && server_->counters().accepted.load() < 4; ++i) {
    RawClient e(socket_);
    if (e.handshake()) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_GE(server_->counters().accepted.load(), 4u);
}

TEST_F(NbdServerTest, StopEndsIdleClientsPromptly) {
  auto idle = ready_client();
  const auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_TRUE(idle->closed_by_server());
  EXPECT_FALSE(std::filesystem::exists(socket_)) << "the socket file is removed";
}

TEST_F(NbdServerTest, TricklingOrDawdlingClientsAreCutOff) {
  server_.reset();
  NbdLimits limits;
  limits.step_ms = 300;
  limits.negotiate_ms = 1000;
  start(*disk_, limits);
  RawClient trickle(socket_);
  ASSERT_TRUE(trickle.handshake());
  Bytes header;
  be(header, nbd::kOptMagic, 8), be(header, nbd::kOptList, 4), be(header, 0, 4);
  const auto t0 = std::chrono::steady_clock::now();
  bool cut = false;
  for (size_t i = 0; i < header.size() && !cut; ++i) {  // a byte every 100 ms: the header would take 1.6 s
    cut = !trickle.send(Bytes{header[i]});
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(cut || trickle.closed_by_server());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  RawClient dawdle(socket_);
  ASSERT_TRUE(dawdle.handshake());
  int answered = 0;
  for (int i = 0; i < 20 && dawdle.option(nbd::kOptList, {}) == nbd::kRepServer && dawdle.reply() == nbd::kRepAck;
       ++i) {
    ++answered;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_GE(answered, 3);
  EXPECT_LE(answered, 6) << "options keep coming, but the negotiation as a whole has 1 s";
  expect_round_trip(6);
}

TEST(NbdServerPipeline, RepliesInCompletionOrderWithTheirHandles) {
  Geometry g;
  g.capacity = 1 << 20;
  g.flush = true;
  test::ManualDisk disk(g);
  test::ScratchDir dir;
  NbdServerOptions o;
  o.unix_path = dir / "nbd.sock";
  auto server = NbdServer::start(disk, o);
  ASSERT_TRUE(server.ok());
  RawClient c(o.unix_path);
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.go());
  disk.bytes()[4096] = 0x42;
  for (uint64_t h = 1; h <= 3; ++h) ASSERT_TRUE(c.request(nbd::kCmdRead, h * 100, (h - 1) * 4096, 512));
  for (int i = 0; i < 200 && disk.pending() < 3; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(disk.pending(), 3u) << "all three in flight at once";
  disk.complete(1);       // handle 200
  disk.complete(1, EIO);  // handle 300
  disk.complete(0);       // handle 100
  uint64_t handle;
  Bytes data;
  EXPECT_EQ(c.simple_reply(&handle, 512, &data), 0);
  EXPECT_EQ(handle, 200u);
  EXPECT_EQ(data[0], 0x42);
  EXPECT_EQ(c.simple_reply(&handle), nbd::kEio);
  EXPECT_EQ(handle, 300u);
  EXPECT_EQ(c.simple_reply(&handle, 512, &data), 0);
  EXPECT_EQ(handle, 100u);
}

TEST(NbdServerHungDevice, StopIsBoundedWhenTheDeviceNeverCompletes) {
  Geometry g;
  g.capacity = 1 << 20;
  test::ManualDisk disk(g);
  test::ScratchDir dir;
  NbdServerOptions o;
  o.unix_path = dir / "nbd.sock";
  o.limits.step_ms = 300;
  auto server = NbdServer::start(disk, o);
  ASSERT_TRUE(server.ok());
  RawClient c(o.unix_path);
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.go());
  ASSERT_TRUE(c.request(nbd::kCmdRead, 1, 0, 512));
  for (int i = 0; i < 200 && disk.pending() < 1; ++i) std::this_thread::sleep_for(5ms);
  const auto t0 = std::chrono::steady_clock::now();
  (*server)->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  disk.complete_all();  // the late completion finds its connection gone, and must not crash
}

}  // namespace
}  // namespace side::block
