// Module lookup by name, modprobe style, and by path.
#include "loader/module_index.h"

#include <gtest/gtest.h>

using side::loader::ModuleIndex;

TEST(ModuleIndex, FindsByNameTreatingDashAndUnderscoreAlike) {
  ModuleIndex index(SIDE_TEST_MODULES_DIR);
  auto p = index.resolve("side-test-alloc");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p, std::string(SIDE_TEST_MODULES_DIR) + "/side_test_alloc.ko");
}

TEST(ModuleIndex, TakesPathsAsTheyAre) {
  ModuleIndex index("/nonexistent");
  std::string path = std::string(SIDE_TEST_MODULES_DIR) + "/side_test_user.ko";
  auto p = index.resolve(path);
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, path);
  // A module given by path brings its directory along, for its dependencies.
  auto dep = index.resolve("side_test_base");
  ASSERT_TRUE(dep) << dep.error().message;
}

TEST(ModuleIndex, ExplainsWhatIsMissing) {
  ModuleIndex index(SIDE_TEST_MODULES_DIR);
  auto p = index.resolve("no_such_module");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("not found"), std::string::npos);
  ModuleIndex nowhere("/nonexistent");
  auto q = nowhere.resolve("e1000");
  ASSERT_FALSE(q);
  EXPECT_NE(q.error().message.find("does not exist"), std::string::npos);
}
