// The control thread an in-process disk session's domain runs on: every job runs on that one thread (never the
// caller's), in turn when several threads call at once, and the caller sees what the job did when run() returns.
#include "supervisor/control_thread.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

namespace side::supervisor {
namespace {

TEST(ControlThread, JobsOfManyCallersRunOneAtATimeOnOneThread) {
  ControlThread control;
  std::set<std::thread::id> ran_on;
  int running = 0, most_at_once = 0, done = 0;  // touched by jobs only: the thread's turns keep them exclusive
  auto job = [&] {
    ran_on.insert(std::this_thread::get_id());
    most_at_once = std::max(most_at_once, ++running);
    std::this_thread::yield();
    --running;
    ++done;
  };
  std::vector<std::thread> callers;
  std::vector<std::thread::id> caller_ids(4);
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      caller_ids[t] = std::this_thread::get_id();
      for (int i = 0; i < 250; ++i) control.run(job);
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(done, 1000);
  EXPECT_EQ(most_at_once, 1);
  ASSERT_EQ(ran_on.size(), 1u);
  EXPECT_NE(*ran_on.begin(), std::this_thread::get_id());
  for (const auto& id : caller_ids) EXPECT_NE(*ran_on.begin(), id);
}

TEST(ControlThread, TheCallerSeesTheJobsResult) {
  ControlThread control;
  std::vector<int> v;
  control.run([&] { v.assign(1000, 7); });
  EXPECT_EQ(v.size(), 1000u);  // run() returned after the job, which the caller now sees
  std::thread::id first, second;
  control.run([&] { first = std::this_thread::get_id(); });
  control.run([&] { second = std::this_thread::get_id(); });
  EXPECT_EQ(first, second);
}

}  // namespace
}  // namespace side::supervisor
