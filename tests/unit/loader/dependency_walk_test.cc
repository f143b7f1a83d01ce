// The one dependency walk: dependencies before the modules that need them, each once, modules already present
// passed over, a cycle refused with the chain that led to it.
#include "loader/dependency_walk.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace side::loader {
namespace {

class DependencyWalkTest : public ::testing::Test {
 protected:
  DependencyWalkTest() {
    walk_.open = [this](const std::string& name) {
      opened_.push_back(name);
      auto m = open_module(index_, name);
      // A module given extra dependencies (to make a cycle), as its .modinfo would list them.
      if (m) {
        for (const auto& [module, dep] : extra_depends_) {
          if (m->info.name == module) m->info.fields.emplace("depends", dep);
        }
      }
      return m;
    };
    walk_.present = [this](const std::string& name) { return present_.count(name) > 0; };
    walk_.visit = [this](OpenedModule& m, bool root) -> Status {
      visited_.push_back(m.info.name + (root ? " (root)" : ""));
      return {};
    };
  }
  ModuleIndex index_{SIDE_TEST_MODULES_DIR};
  DependencyWalk walk_;
  std::vector<std::pair<std::string, std::string>> extra_depends_;
  std::set<std::string> present_;
  std::vector<std::string> opened_, visited_;
};

TEST_F(DependencyWalkTest, DependenciesComeFirstAndTheRootIsNamed) {
  auto root = walk_.run("side_test_user");
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(*root, "side_test_user");
  EXPECT_EQ(visited_, (std::vector<std::string>{"side_test_base", "side_test_user (root)"}));
}

TEST_F(DependencyWalkTest, PresentModulesAreNeitherOpenedNorVisited) {
  present_.insert("side_test_base");
  auto root = walk_.run("side_test_user");
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(opened_, (std::vector<std::string>{"side_test_user"}));
  EXPECT_EQ(visited_, (std::vector<std::string>{"side_test_user (root)"}));
}

TEST_F(DependencyWalkTest, PresentRootIsOnlyNamed) {
  present_.insert("side_test_user");
  auto root = walk_.run(std::string(SIDE_TEST_MODULES_DIR) + "/side_test_user.ko");
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(*root, "side_test_user");
  EXPECT_TRUE(visited_.empty());
}

TEST_F(DependencyWalkTest, CycleIsRefusedWithItsChain) {
  extra_depends_ = {{"side_test_base", "side_test_user"}};
  auto root = walk_.run("side_test_user");
  ASSERT_FALSE(root);
  EXPECT_NE(root.error().message.find("circular module dependency"), std::string::npos) << root.error().message;
  EXPECT_NE(root.error().message.find("side_test_user: cannot load dependency side_test_base"), std::string::npos)
      << root.error().message;
  EXPECT_TRUE(visited_.empty());
}

TEST_F(DependencyWalkTest, MissingDependencyIsNamed) {
  extra_depends_ = {{"side_test_base", "side_no_such_module"}};
  auto root = walk_.run("side_test_user");
  ASSERT_FALSE(root);
  EXPECT_NE(root.error().message.find("cannot load dependency side_no_such_module"), std::string::npos)
      << root.error().message;
}

// A bus transport (ModuleInfo::transports) is walked as a dependency is: here it cannot be found, and is named.
TEST_F(DependencyWalkTest, TransportIsWalkedAsADependency) {
  extra_depends_ = {};
  walk_.open = [this](const std::string& name) {
    auto m = open_module(index_, name);
    if (m && m->info.name == "side_test_base") m->info.fields.emplace("alias", "virtio:d00000001v*");
    return m;
  };
  auto root = walk_.run("side_test_user");
  ASSERT_FALSE(root);
  EXPECT_NE(root.error().message.find("side_test_base: cannot load dependency virtio_pci"), std::string::npos)
      << root.error().message;
  EXPECT_TRUE(visited_.empty());
}

TEST_F(DependencyWalkTest, VisitErrorStopsTheWalk) {
  walk_.visit = [this](OpenedModule& m, bool) -> Status {
    visited_.push_back(m.info.name);
    return make_error("refused " + m.info.name);
  };
  auto root = walk_.run("side_test_user");
  ASSERT_FALSE(root);
  EXPECT_EQ(visited_, (std::vector<std::string>{"side_test_base"}));
  EXPECT_NE(root.error().message.find("refused side_test_base"), std::string::npos);
}

}  // namespace
}  // namespace side::loader
