// Where control sockets live: a private directory, and only "<pid>.sock" names count.
#include "service/runtime_dir.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace side::service {
namespace {

TEST(RuntimeDir, SocketNamesArePids) {
  EXPECT_EQ(control_socket_pid("1234.sock"), std::optional<pid_t>(1234));
  EXPECT_EQ(control_socket_path("/run/side", 1234), "/run/side/1234.sock");
  for (const char* other : {"1234", ".sock", "0.sock", "-1.sock", "+1.sock", "12a.sock", "1234.sock.tmp",
                            "99999999999999999999.sock", " 1.sock", "x.sock"}) {
    EXPECT_FALSE(control_socket_pid(other).has_value()) << other;
  }
}

TEST(RuntimeDir, TheEnvironmentChoosesFirst) {
  ::setenv("SIDE_RUNTIME_DIR", "/somewhere/else", 1);
  EXPECT_EQ(runtime_dir(), "/somewhere/else");
  ::unsetenv("SIDE_RUNTIME_DIR");
  if (::geteuid() == 0) {
    EXPECT_EQ(runtime_dir(), "/run/side");
  } else {
    ::setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
    EXPECT_EQ(runtime_dir(), "/run/user/4242/side");
  }
}

class PrepareRuntimeDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/side-runtime-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
  }
  void TearDown() override { (void)!::system(("rm -rf " + base_).c_str()); }
  std::string base_;
};

TEST_F(PrepareRuntimeDir, CreatesAPrivateDirectory) {
  const std::string dir = base_ + "/side";
  ASSERT_TRUE(prepare_runtime_dir(dir).ok());
  struct stat st {};
  ASSERT_EQ(::lstat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(prepare_runtime_dir(dir).ok()) << "an existing private directory is fine";
}

TEST_F(PrepareRuntimeDir, RefusesWhatOthersCouldWriteOrRedirect) {
  const std::string open_dir = base_ + "/open", link = base_ + "/link", file = base_ + "/file";
  ASSERT_EQ(::mkdir(open_dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(open_dir.c_str(), 0777), 0);
  auto s = prepare_runtime_dir(open_dir);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("written by others"), std::string::npos) << s.error().message;
  ASSERT_EQ(::symlink(base_.c_str(), link.c_str()), 0);
  s = prepare_runtime_dir(link);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("not a directory"), std::string::npos) << s.error().message;
  ASSERT_EQ(::close(::creat(file.c_str(), 0600)), 0);
  EXPECT_FALSE(prepare_runtime_dir(file).ok());
}

}  // namespace
}  // namespace side::service
