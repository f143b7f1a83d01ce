// The control socket's server against clients that follow the protocol and clients that do not: a long request,
// one that never comes, one that never reads. Each is bounded, and the next client is answered.
#include "service/control_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "service/unix_socket.h"

namespace side::service {
namespace {

using namespace std::chrono_literals;

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/side-control-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/1.sock";
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  static Deadline soon() { return std::chrono::steady_clock::now() + 5s; }
  // The server answers the one waiting client on a thread of its own; this is the client's side.
  static std::string ask(const std::string& path, const std::string& request) {
    auto fd = connect_unix(path);
    if (!fd) return "connect: " + fd.error().message;
    if (auto s = write_bounded(fd->get(), request, soon()); !s) return "write: " + s.error().message;
    auto answer = read_bounded(fd->get(), '\n', 1 << 20, soon());
    return answer ? *answer : "read: " + answer.error().message;
  }
  std::string dir_, path_;
};

// What the service thread does: wait until a client is there, then serve it.
void serve_next(ControlServer& server, const ControlServer::Answer& answer) {
  pollfd p{server.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "no client came";
  server.serve_one(answer);
}

ControlServer::Answer echo() {
  return [](std::string_view request) { return "answer to " + std::string(request); };
}

TEST_F(ControlServerTest, AnswersOneLineAndOnlyItsOwner) {
  auto server = ControlServer::listen(path_);
  ASSERT_TRUE(server.ok()) << server.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::thread t([&] { serve_next(*server, echo()); });
  EXPECT_EQ(ask(path_, "status\n"), "answer to status");
  t.join();
}

TEST_F(ControlServerTest, TheSocketFileGoesWithTheServer) {
  {
    auto server = ControlServer::listen(path_);
    ASSERT_TRUE(server.ok()) << server.error().message;
    EXPECT_EQ(::access(path_.c_str(), F_OK), 0);
  }
  EXPECT_NE(::access(path_.c_str(), F_OK), 0);
}

TEST_F(ControlServerTest, AStaleSocketIsReplaced) {
  { auto first = listen_unix(path_, 1); }  // closed without removing its file, as a killed side leaves it
  ASSERT_EQ(::access(path_.c_str(), F_OK), 0);
  auto server = ControlServer::listen(path_);
  ASSERT_TRUE(server.ok()) << server.error().message;
  std::thread t([&] { serve_next(*server, echo()); });
  EXPECT_EQ(ask(path_, "status\n"), "answer to status");
  t.join();
}

TEST_F(ControlServerTest, ALongRequestIsRefusedNotRead) {
  auto server = ControlServer::listen(path_);
  ASSERT_TRUE(server.ok());
  bool called = false;
  std::thread t([&] { serve_next(*server, [&](std::string_view) { return called = true, std::string("x"); }); });
  std::string answer = ask(path_, std::string(ControlServer::kMaxRequest + 100, 'a') + "\n");
  t.join();
  EXPECT_FALSE(called);
  EXPECT_NE(answer.find("\"error\""), std::string::npos) << answer;
  EXPECT_NE(answer.find("too long"), std::string::npos) << answer;
}

TEST_F(ControlServerTest, ASilentClientIsDroppedInTimeAndTheNextIsAnswered) {
  auto server = ControlServer::listen(path_);
  ASSERT_TRUE(server.ok());
  auto silent = connect_unix(path_);  // connects, never writes, never reads
  ASSERT_TRUE(silent.ok());
  const auto start = std::chrono::steady_clock::now();
  server->serve_one(echo());
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, ControlServer::kClientTimeout - 50ms);
  EXPECT_LT(took, ControlServer::kClientTimeout + 1s);
  std::thread t([&] { serve_next(*server, echo()); });
  EXPECT_EQ(ask(path_, "status\n"), "answer to status");
  t.join();
}

TEST_F(ControlServerTest, AClientThatNeverReadsCannotHoldTheServer) {
  // An answer far larger than a socket buffer, to a client that sends its request and then reads nothing.
  auto server = ControlServer::listen(path_);
  ASSERT_TRUE(server.ok());
  auto client = connect_unix(path_);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(write_bounded(client->get(), "status\n", soon()).ok());
  const auto start = std::chrono::steady_clock::now();
  server->serve_one([](std::string_view) { return std::string(16 << 20, 'x'); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, ControlServer::kClientTimeout + 1s);
}

TEST_F(ControlServerTest, NobodyWaitingReturnsAtOnce) {
  auto server = ControlServer::listen(path_);
  ASSERT_TRUE(server.ok());
  const auto start = std::chrono::steady_clock::now();
  server->serve_one(echo());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
}

TEST_F(ControlServerTest, APathTooLongForASocketIsAnError) {
  auto server = ControlServer::listen(dir_ + "/" + std::string(kMaxSocketPath, 'p') + ".sock");
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.error().message.find("longer than"), std::string::npos) << server.error().message;
}

}  // namespace
}  // namespace side::service
