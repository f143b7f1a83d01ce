// A thread of its own that an in-process domain's control operations run on (its virtual CPU 0), for owners that
// call the domain from several threads: a disk's submissions come from its worker while the session's thread
// probes and removes. A domain process has such a thread by construction (the domain's control thread); an
// in-process domain gets the same, so that the unisolated baseline runs the same session code as the isolated one.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace side::supervisor {

class ControlThread {
 public:
  ControlThread();
  // Stops the thread once the job it runs (if any) returns.
  ~ControlThread();
  ControlThread(const ControlThread&) = delete;
  ControlThread& operator=(const ControlThread&) = delete;

  // Runs `job` on the thread and returns when it has; callers from several threads take turns. The wait is as
  // long as the job: a control operation's own bounds (the driver's guarded call, the device's timeouts) end it.
  void run(const std::function<void()>& job);

 private:
  void serve();

  std::mutex turn_;  // one caller at a time
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void()>* job_ = nullptr;
  bool done_ = false, stop_ = false;
  std::thread thread_;
};

}  // namespace side::supervisor
