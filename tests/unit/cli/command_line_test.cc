// The built `side` on bad command lines: status 2 and exactly one line on stderr ("side: ..."), nothing started.
// Each of these crashed side (a segmentation fault) or ran a campaign before the arguments were validated.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

struct Outcome {
  int status = -1;  // exit status, or 128 + signal
  std::string err;
};

Outcome run_side(std::vector<std::string> args) {
  int err_pipe[2];
  if (pipe(err_pipe) != 0) return {};
  args.insert(args.begin(), SIDE_BINARY);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(err_pipe[1], 2);
    close(err_pipe[0]);
    std::freopen("/dev/null", "w", stdout);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    alarm(20);  // a refusal is immediate; anything that starts work is cut short
    execv(SIDE_BINARY, argv.data());
    _exit(127);
  }
  close(err_pipe[1]);
  Outcome out;
  char buf[4096];
  for (ssize_t n; (n = read(err_pipe[0], buf, sizeof buf)) > 0;) out.err.append(buf, static_cast<size_t>(n));
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

class BadCommandLine : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(BadCommandLine, ExitsTwoWithOneLine) {
  auto start = std::chrono::steady_clock::now();
  Outcome o = run_side(GetParam());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(o.status, 2) << o.err;
  EXPECT_TRUE(o.err.starts_with("side: ")) << o.err;
  ASSERT_FALSE(o.err.empty());
  EXPECT_EQ(o.err.back(), '\n');
  EXPECT_EQ(o.err.find('\n'), o.err.size() - 1) << o.err;
  EXPECT_LT(seconds, 5) << "refused only after starting work";
}

INSTANTIATE_TEST_SUITE_P(
    Side, BadCommandLine,
    ::testing::Values(
        std::vector<std::string>{}, std::vector<std::string>{"frob"}, std::vector<std::string>{""},
        std::vector<std::string>{"run"}, std::vector<std::string>{"run", "nonexist"},
        std::vector<std::string>{"run", "/etc/passwd"}, std::vector<std::string>{"run", "/nonexistent.ko"},
        std::vector<std::string>{"run", "e1000", "--arena-mb", "0"},
        std::vector<std::string>{"run", "e1000", "--arena-mb", "99999999999999999999"},
        std::vector<std::string>{"run", "e1000", "--packets", "-5"},
        std::vector<std::string>{"run", "e1000", "--duration"}, std::vector<std::string>{"run", "e1000", "--frob"},
        std::vector<std::string>{"run", "e1000", "--ifname", "bad\nname"},
        std::vector<std::string>{"run", "\x1b[31mred\nline"},
        std::vector<std::string>{"run", "e1000", "--load-only", "--arena-mb", "0"},
        std::vector<std::string>{"inject", "e1000", "--faults", "-1"},
        std::vector<std::string>{"inject", "e1000", "--faults"},
        std::vector<std::string>{"inject", "e1000", "--faults", ""},
        std::vector<std::string>{"inject", "e1000", "--faults", "99999999999999999999"},
        std::vector<std::string>{"inject", "e1000", "--seed", "-1"},
        std::vector<std::string>{"bench", "--repeats", "0"}, std::vector<std::string>{"bench", "--window", "-1"},
        std::vector<std::string>{"bench", "--class", "disk"},
        std::vector<std::string>{"bench", "--class", "block", "--sizes", "3000"},
        std::vector<std::string>{"bench", "--class", "block", "--depths", "64"}, std::vector<std::string>{"modinfo"},
        std::vector<std::string>{"modinfo", "/etc/passwd"}, std::vector<std::string>{"symbols", "nonexist"},
        std::vector<std::string>{"__domain", "--channel", "-1"}, std::vector<std::string>{"__domain"},
        std::vector<std::string>{"--version", "extra"}, std::vector<std::string>{"__complete", "everything"},
        // Module parameters are checked against the module before a domain starts: a value its type cannot take,
        // a parameter it does not have (each was reported by the domain and again by its spare, then a report of
        // zeroes), a value missing.
        std::vector<std::string>{"run", "e1000", "TxDescriptors=abc"},
        std::vector<std::string>{"run", "e1000", "TxDescriptors=256,x"},
        std::vector<std::string>{"run", "e1000", "copybreak=-1"},
        std::vector<std::string>{"run", "e1000", "nosuchparameter=1"},
        std::vector<std::string>{"run", "e1000", "debug"}, std::vector<std::string>{"devices", "--frob"}));

TEST(CommandLine, HelpSucceeds) {
  EXPECT_EQ(run_side({"--help"}).status, 0);
  EXPECT_EQ(run_side({"run", "--help"}).status, 0);
}

}  // namespace
