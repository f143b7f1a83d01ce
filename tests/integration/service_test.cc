// side run as a service: started as systemd starts a Type=notify unit (NOTIFY_SOCKET names a datagram socket the
// test listens on), `side run e1000` with neither --exec nor --duration says READY=1 once the driver is up, stays
// up, answers `side status` with live counters, and on SIGTERM says STOPPING=1 and exits 0 leaving nothing behind:
// no host interface, no peer namespace, no domain process, no control socket.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "net/netns.h"
#include "support/shell.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A shell command's stdout (stderr too when `with_stderr`), and its exit status.
std::string run(const std::string& command, int* status, bool with_stderr = true) {
  return side::test_support::run_shell(command + (with_stderr ? " 2>&1" : " 2>/dev/null"), status);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Gone, or a zombie nobody has reaped yet: in either case nothing of it runs.
bool not_running(pid_t pid) {
  std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return stat.empty() || (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z');
}

// Every descendant of `pid` (through /proc/PID/task/TID/children).
std::set<pid_t> descendants(pid_t pid) {
  std::set<pid_t> found;
  std::vector<pid_t> todo{pid};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    int status = 0;
    std::string children = run("cat /proc/" + std::to_string(p) + "/task/*/children", &status, false);
    std::istringstream in(children);
    for (pid_t c; in >> c;) {
      if (found.insert(c).second) todo.push_back(c);
    }
  }
  return found;
}

class Service : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!side::net::have_net_admin()) GTEST_SKIP() << "needs CAP_NET_ADMIN (root) for TAP devices and namespaces";
    char tmpl[] = "/tmp/side-service-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    runtime_ = base_ + "/run";
    log_ = base_ + "/side.log";
    manager_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string notify = base_ + "/notify";
    notify.copy(addr.sun_path, sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(manager_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    notify_ = notify;
    // In the host's namespace, so that what is left behind can be seen; names and addresses of this test's own.
    const int n = static_cast<int>(::getpid() % 250);
    ifname_ = "svc" + std::to_string(::getpid() % 100000);
    net_ = "10.214." + std::to_string(n) + ".";
  }
  void TearDown() override {
    if (side_ > 0 && ::waitpid(side_, nullptr, WNOHANG) == 0) {
      ::kill(side_, SIGKILL);
      ::waitpid(side_, nullptr, 0);
    }
    if (manager_ >= 0) ::close(manager_);
    if (!base_.empty()) (void)!::system(("rm -rf " + base_).c_str());
  }

  void start_side() {
    side_ = fork();
    if (side_ == 0) {
      ::setenv("NOTIFY_SOCKET", notify_.c_str(), 1);
      ::setenv("SIDE_RUNTIME_DIR", runtime_.c_str(), 1);
      if (!std::freopen(log_.c_str(), "w", stdout) || ::dup2(1, 2) < 0) _exit(127);
      execl(SIDE_BINARY, SIDE_BINARY, "run", "e1000", "--ifname", ifname_.c_str(), "--host-addr",
            (net_ + "1/24").c_str(), "--peer-addr", (net_ + "2/24").c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    ASSERT_GT(side_, 0);
  }

  // Datagrams to the "service manager" until one contains `what` (or the deadline, or side exits): all of them.
  std::string await_notification(const std::string& what, std::chrono::seconds limit) {
    std::string all;
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline && all.find(what) == std::string::npos) {
      pollfd p{manager_, POLLIN, 0};
      if (::poll(&p, 1, 200) == 1) {
        char buf[4096];
        ssize_t n = ::recv(manager_, buf, sizeof buf, 0);
        if (n > 0) all.append(buf, static_cast<size_t>(n)).append("\n--\n");
      } else if (what == "READY=1" && ::waitpid(side_, &exit_status_, WNOHANG) == side_) {
        side_ = -1;  // ended before it was ready
        break;
      }
    }
    return all;
  }

  nlohmann::json status_json(int* status) {
    std::string out = run("SIDE_RUNTIME_DIR=" + runtime_ + " " + SIDE_BINARY + " status --json", status, false);
    return nlohmann::json::parse(out, nullptr, false);
  }

  std::string base_, runtime_, log_, notify_, ifname_, net_;
  int manager_ = -1;
  pid_t side_ = -1;
  int exit_status_ = 0;
};

TEST_F(Service, ReadyStatusAndACleanStopOnSigterm) {
  start_side();
  const auto started = Clock::now();
  std::string ready = await_notification("READY=1", 60s);
  ASSERT_NE(ready.find("READY=1"), std::string::npos) << "no READY=1 within 60 s: " << ready << slurp(log_);
  std::printf("READY=1 %.2f s after start\n", std::chrono::duration<double>(Clock::now() - started).count());
  EXPECT_NE(ready.find("STATUS=e1000 on " + ifname_ + ": running"), std::string::npos) << ready;

  // side status, while it runs: the driver and a live domain process that is not side itself.
  int status = -1;
  auto doc = status_json(&status);
  EXPECT_EQ(status, 0);
  ASSERT_TRUE(doc.is_object() && doc["sides"].is_array() && doc["sides"].size() == 1) << doc.dump();
  const auto& me = doc["sides"][0];
  EXPECT_EQ(me["side_pid"], side_);
  ASSERT_EQ(me["domains"].size(), 1u) << me.dump();
  const auto& d = me["domains"][0];
  EXPECT_EQ(d["driver"], "e1000");
  EXPECT_EQ(d["ifname"], ifname_);
  EXPECT_EQ(d["isolation"], "process");
  EXPECT_EQ(d["state"], "running");
  const pid_t domain_pid = d["domain_pid"].get<pid_t>();
  EXPECT_GT(domain_pid, 0);
  EXPECT_NE(domain_pid, side_);
  EXPECT_FALSE(not_running(domain_pid)) << "domain pid " << domain_pid << " is not running";
  std::string table = run("SIDE_RUNTIME_DIR=" + runtime_ + " " + SIDE_BINARY + " status", &status);
  EXPECT_EQ(status, 0) << table;
  EXPECT_NE(table.find("e1000"), std::string::npos) << table;
  EXPECT_NE(table.find(std::to_string(domain_pid)), std::string::npos) << table;

  // It keeps running (no default command ends it), and its counters move with traffic.
  std::string ping = run("ping -c 3 -i 0.2 -w 10 -q " + net_ + "2", &status);
  EXPECT_EQ(status, 0) << ping << slurp(log_);
  std::this_thread::sleep_for(1500ms);  // longer than the session's status interval
  doc = status_json(&status);
  ASSERT_TRUE(doc.is_object() && doc["sides"].size() == 1) << doc.dump();
  const auto& after = doc["sides"][0]["domains"][0];
  EXPECT_GE(after["to_driver"]["frames"].get<uint64_t>(), 3u) << after.dump();
  EXPECT_GE(after["to_driver"]["bytes"].get<uint64_t>(), 3u * 98) << after.dump();
  EXPECT_GE(after["from_driver"]["frames"].get<uint64_t>(), 3u) << after.dump();
  EXPECT_EQ(after["domain_pid"], domain_pid);
  const std::set<pid_t> processes = descendants(side_);
  EXPECT_TRUE(processes.count(domain_pid)) << "the domain process is side's child";

  // SIGTERM: STOPPING=1, exit status 0 within a bounded time.
  ASSERT_EQ(::kill(side_, SIGTERM), 0);
  const auto stop_sent = Clock::now();
  std::string stopping = await_notification("STOPPING=1", 20s);
  EXPECT_NE(stopping.find("STOPPING=1"), std::string::npos) << stopping;
  int wstatus = 0;
  pid_t done = 0;
  while ((done = ::waitpid(side_, &wstatus, WNOHANG)) == 0 && Clock::now() - stop_sent < 20s) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(done, side_) << "side still runs 20 s after SIGTERM";
  const pid_t side_pid = side_;
  side_ = -1;
  std::printf("stopped %.2f s after SIGTERM\n", std::chrono::duration<double>(Clock::now() - stop_sent).count());
  ASSERT_TRUE(WIFEXITED(wstatus)) << "killed by signal " << WTERMSIG(wstatus);
  EXPECT_EQ(WEXITSTATUS(wstatus), 0) << slurp(log_);

  // Nothing left behind.
  run("ip link show " + ifname_, &status);
  EXPECT_NE(status, 0) << "the host interface " << ifname_ << " is still there";
  std::string namespaces = run("ip netns list", &status);
  EXPECT_EQ(namespaces.find("side-peer-" + std::to_string(side_pid)), std::string::npos) << namespaces;
  for (pid_t p : processes) {
    const auto deadline = Clock::now() + 2s;
    while (!not_running(p) && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
    EXPECT_TRUE(not_running(p)) << "process " << p << " outlived side";
  }
  EXPECT_NE(::access((runtime_ + "/" + std::to_string(side_pid) + ".sock").c_str(), F_OK), 0)
      << "the control socket outlived side";
  std::string none = run("SIDE_RUNTIME_DIR=" + runtime_ + " " + SIDE_BINARY + " status", &status);
  EXPECT_EQ(status, 1) << none;
  EXPECT_NE(none.find("no side is running"), std::string::npos) << none;
}

TEST(Status, WithNoSideRunningSaysSoInOneLine) {
  char tmpl[] = "/tmp/side-status-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  int status = -1;
  std::string out = run("SIDE_RUNTIME_DIR=" + std::string(tmpl) + " " + SIDE_BINARY + " status", &status);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(out, "side status: no side is running (no control socket answered in " + std::string(tmpl) + ")\n");
  std::string json =
      run("SIDE_RUNTIME_DIR=" + std::string(tmpl) + " " + SIDE_BINARY + " status --json", &status, false);
  EXPECT_EQ(status, 1);
  auto doc = nlohmann::json::parse(json, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << json;
  EXPECT_TRUE(doc["sides"].empty());
  ::rmdir(tmpl);
}

}  // namespace
