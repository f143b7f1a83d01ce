// side's face to a service manager and to `side status`: the notifications a manager listening on NOTIFY_SOCKET
// receives as a session's state changes, and the status document its control socket answers.
#include "service/service_endpoint.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "service/status_client.h"
#include "service/unix_socket.h"

namespace side::service {
namespace {

using namespace std::chrono_literals;
using session::SessionState;
using session::SessionStatus;

SessionStatus running(unsigned generation = 0) {
  SessionStatus s;
  s.module = s.driver = "e1000";
  s.isolation = "process";
  s.device = "8086:100e 0000:00:03.0";
  s.netdev = "eth0";
  s.ifname = "t0";
  s.domain_pid = 4242 + static_cast<int>(generation);
  s.generation = generation;
  s.host.to_driver = 3;
  s.host.bytes_to_driver = 294;
  s.host.from_driver = 2;
  s.host.bytes_from_driver = 196;
  return s;
}

class ServiceEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/side-endpoint-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    dir_ = base_ + "/run";
    // The service manager's end: a datagram socket named by NOTIFY_SOCKET.
    const std::string notify = base_ + "/notify";
    manager_ = Fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    notify.copy(addr.sun_path, sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(manager_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::setenv("NOTIFY_SOCKET", notify.c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("NOTIFY_SOCKET");
    (void)!::system(("rm -rf " + base_).c_str());
  }
  // The next datagram the manager receives, or "" if none comes within `wait`.
  std::string received(std::chrono::milliseconds wait = 3000ms) {
    pollfd p{manager_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return "";
    char buf[4096];
    ssize_t n = ::recv(manager_.get(), buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  std::string base_, dir_;
  Fd manager_;
};

TEST_F(ServiceEndpointTest, TellsTheManagerReadyChangesAndStopping) {
  auto e = ServiceEndpoint::start(dir_);
  EXPECT_EQ(received(200ms), "") << "nothing before the driver is up";
  e->on_status(running());
  std::string ready = received();
  EXPECT_NE(ready.find("READY=1\n"), std::string::npos) << ready;
  EXPECT_NE(ready.find("STATUS=e1000 on t0: running, domain pid 4242, 0 restarts"), std::string::npos) << ready;
  e->on_status(running());
  EXPECT_EQ(received(300ms), "") << "the same state again says nothing";
  auto recovering = running();
  recovering.state = SessionState::kRecovering;
  e->on_status(recovering);
  EXPECT_EQ(received().find("STATUS=e1000 on t0: recovering"), 0u);
  e->on_status(running(1));
  std::string again = received();
  EXPECT_EQ(again.find("READY=1"), std::string::npos) << again;
  EXPECT_NE(again.find("STATUS=e1000 on t0: running, domain pid 4243, 1 restarts"), std::string::npos) << again;
  auto stopping = running(1);
  stopping.state = SessionState::kStopping;
  e->on_status(stopping);
  std::string stop = received();
  EXPECT_NE(stop.find("STOPPING=1\n"), std::string::npos) << stop;
}

TEST_F(ServiceEndpointTest, AnswersStatusWithEveryField) {
  auto e = ServiceEndpoint::start(dir_);
  auto before = nlohmann::json::parse(e->answer("status"));
  EXPECT_EQ(before["state"], "starting");
  EXPECT_TRUE(before["domains"].empty());
  e->on_status(running());
  auto doc = nlohmann::json::parse(e->answer("status"));
  EXPECT_EQ(doc["side_pid"], ::getpid());
  EXPECT_EQ(doc["state"], "running");
  ASSERT_EQ(doc["domains"].size(), 1u);
  const auto& d = doc["domains"][0];
  EXPECT_EQ(d["driver"], "e1000");
  EXPECT_EQ(d["isolation"], "process");
  EXPECT_EQ(d["ifname"], "t0");
  EXPECT_EQ(d["domain_pid"], 4242);
  EXPECT_EQ(d["state"], "running");
  EXPECT_EQ(d["restarts"], 0);
  EXPECT_EQ(d["faults"], 0);
  EXPECT_EQ(d["to_driver"]["frames"], 3);
  EXPECT_EQ(d["to_driver"]["bytes"], 294);
  EXPECT_EQ(d["from_driver"]["frames"], 2);
  EXPECT_EQ(d["from_driver"]["bytes"], 196);
  EXPECT_GE(d["up_s"].get<double>(), 0.0);
  auto refused = nlohmann::json::parse(e->answer("shutdown"));
  EXPECT_TRUE(refused.contains("error"));
}

TEST_F(ServiceEndpointTest, StatusClientsFindItAndSkipStaleSockets) {
  // A side that was killed leaves its socket: a pid that no longer runs.
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  ASSERT_TRUE(prepare_runtime_dir(dir_).ok());
  { auto stale = listen_unix(control_socket_path(dir_, gone), 1); }
  auto e = ServiceEndpoint::start(dir_);
  e->on_status(running());
  auto answers = query_all(dir_, 2000ms);
  ASSERT_EQ(answers.size(), 2u);
  bool saw_live = false, saw_stale = false;
  for (const auto& a : answers) {
    if (a.pid == ::getpid()) {
      ASSERT_TRUE(a.document.has_value()) << a.error;
      EXPECT_EQ((*a.document)["domains"][0]["domain_pid"], 4242);
      saw_live = true;
    } else {
      EXPECT_FALSE(a.document.has_value());
      EXPECT_EQ(a.error, "not running (a stale socket)");
      saw_stale = true;
    }
  }
  EXPECT_TRUE(saw_live && saw_stale);
  const std::string path = e->socket_path();
  EXPECT_EQ(path, control_socket_path(dir_, ::getpid()));
  e.reset();
  EXPECT_NE(::access(path.c_str(), F_OK), 0) << "the socket outlived its side";
}

TEST_F(ServiceEndpointTest, WithoutAManagerNothingIsSentAndStatusStillWorks) {
  ::unsetenv("NOTIFY_SOCKET");
  auto e = ServiceEndpoint::start(dir_);
  e->on_status(running());
  EXPECT_EQ(received(300ms), "");
  auto answers = query_all(dir_, 2000ms);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(answers[0].document.has_value()) << answers[0].error;
}

}  // namespace
}  // namespace side::service
