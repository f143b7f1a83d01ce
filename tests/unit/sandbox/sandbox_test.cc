// The sandbox of a domain process, entered by a forked child: the calls the domain runtime makes still work, a
// call outside the allowlist (or an allowed one with a forbidden argument) kills the child with SIGSYS, and the
// child has dropped its privileges (no new privileges, nobody, no capabilities, seccomp filtering).
#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "common/sanitizer.h"

namespace side::sandbox {
namespace {

constexpr int kReachedTheEnd = 42;
constexpr int kCouldNotEnter = 3;
constexpr int kAllowedCallFailed = 4;

// Runs `body` in a forked child that has entered the sandbox, then exits with kReachedTheEnd. The child's raw
// wait status is returned. No writes, no allocation after enter(): the allowlist permits neither I/O nor (beyond
// its bounds) new mappings.
int in_sandbox(const std::function<void()>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (!enter()) _exit(kCouldNotEnter);
    body();
    syscall(SYS_exit_group, kReachedTheEnd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

bool killed_by_sigsys(int status) {
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

TEST(Sandbox, AllowedCallsWork) {
  const int status = in_sandbox([] {
    timespec ts{};
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) _exit(kAllowedCallFailed);
    if (syscall(SYS_getpid) <= 0 || syscall(SYS_gettid) <= 0) _exit(kAllowedCallFailed);
    if (sched_yield() != 0) _exit(kAllowedCallFailed);
    timespec nap{0, 1000};
    if (nanosleep(&nap, nullptr) != 0) _exit(kAllowedCallFailed);
    void* p = mmap(nullptr, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) _exit(kAllowedCallFailed);
    static_cast<volatile char*>(p)[0] = 1;
    if (madvise(p, 1 << 16, MADV_DONTNEED) != 0 || munmap(p, 1 << 16) != 0) _exit(kAllowedCallFailed);
  });
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), kReachedTheEnd);
}

// Each of these is refused: the child dies of SIGSYS at that call and never reaches its end.
struct Forbidden {
  const char* name;
  std::function<void()> act;
  bool sanitizer_runtime_needs_it = false;  // allowed in sanitizer builds (src/sandbox/sandbox.cc says why)
};

class SandboxRefuses : public ::testing::TestWithParam<Forbidden> {};

TEST_P(SandboxRefuses, KillsTheChildWithSigsys) {
  if (kSanitizerBuild && GetParam().sanitizer_runtime_needs_it) GTEST_SKIP() << "the sanitizer runtime needs it";
  const int status = in_sandbox(GetParam().act);
  EXPECT_TRUE(killed_by_sigsys(status)) << GetParam().name << ": status " << status;
}

INSTANTIATE_TEST_SUITE_P(
    Allowlist, SandboxRefuses,
    ::testing::Values(Forbidden{"write", [] { syscall(SYS_write, 2, "x", 1); }, true},
                      Forbidden{"openat", [] { syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY); }, true},
                      Forbidden{"socket", [] { syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); }},
                      Forbidden{"clone", [] { syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); }},
                      Forbidden{"execve", [] { syscall(SYS_execve, "/bin/true", nullptr, nullptr); }},
                      Forbidden{"kill", [] { syscall(SYS_kill, 1, 0); }},
                      Forbidden{"ptrace", [] { syscall(SYS_ptrace, 0, 0, 0, 0); }},
                      // Allowed calls with a forbidden argument.
                      Forbidden{"mmap writable and executable",
                                [] {
                                  syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                                }},
                      Forbidden{"madvise MADV_REMOVE", [] { syscall(SYS_madvise, 0, 4096, MADV_REMOVE); }, true},
                      Forbidden{"arch_prctl other than ARCH_SET_GS",
                                [] { syscall(SYS_arch_prctl, 0x1002 /* ARCH_SET_FS */, 0); }}),
    [](const ::testing::TestParamInfo<Forbidden>& info) {
      std::string name;
      for (const char* c = info.param.name; *c; ++c) name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
      return name;
    });

// The fields of /proc/PID/status that say what the process may do.
std::map<std::string, std::string> proc_status(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::map<std::string, std::string> fields;
  for (std::string line; std::getline(in, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    fields[line.substr(0, colon)] = value;
  }
  return fields;
}

TEST(Sandbox, ChildHasDroppedItsPrivileges) {
  if (geteuid() != 0) GTEST_SKIP() << "run as root to see the change to nobody";
  // Shared with the child: it says when it is in the sandbox and waits until the parent has looked.
  auto* flags =
      static_cast<std::atomic<int>*>(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(flags, MAP_FAILED);
  new (&flags[0]) std::atomic<int>(0);  // child: entered
  new (&flags[1]) std::atomic<int>(0);  // parent: done looking
  const pid_t pid = fork();
  if (pid == 0) {
    if (!enter()) _exit(kCouldNotEnter);
    flags[0] = 1;
    for (int i = 0; i < 10'000 && !flags[1].load(); ++i) {
      timespec nap{0, 1'000'000};
      nanosleep(&nap, nullptr);
    }
    syscall(SYS_exit_group, kReachedTheEnd);
  }
  for (int i = 0; i < 10'000 && !flags[0].load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto status = proc_status(pid);
  flags[1] = 1;
  int wait_status = 0;
  waitpid(pid, &wait_status, 0);
  munmap(flags, 4096);
  ASSERT_TRUE(WIFEXITED(wait_status));
  ASSERT_EQ(WEXITSTATUS(wait_status), kReachedTheEnd);
  EXPECT_EQ(status["NoNewPrivs"], "1");
  EXPECT_EQ(status["Seccomp"], "2");  // filter mode
  EXPECT_EQ(status["Uid"].substr(0, status["Uid"].find_first_of(" \t")), "65534");
  EXPECT_EQ(status["Gid"].substr(0, status["Gid"].find_first_of(" \t")), "65534");
  EXPECT_EQ(status["CapEff"], "0000000000000000");
  EXPECT_EQ(status["CapPrm"], "0000000000000000");
  EXPECT_EQ(status["CapInh"], "0000000000000000");
  EXPECT_EQ(status["Groups"], "");
}

}  // namespace
}  // namespace side::sandbox
