#include "supervisor/control_thread.h"

namespace side::supervisor {

ControlThread::ControlThread() : thread_([this] { serve(); }) {}

ControlThread::~ControlThread() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ControlThread::run(const std::function<void()>& job) {
  std::lock_guard turn(turn_);
  std::unique_lock lock(mu_);
  job_ = &job;
  done_ = false;
  cv_.notify_all();
  cv_.wait(lock, [&] { return done_; });
  job_ = nullptr;
}

void ControlThread::serve() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || (job_ && !done_); });
    if (job_ && !done_) {
      const auto* job = job_;
      lock.unlock();
      (*job)();
      lock.lock();
      done_ = true;
      cv_.notify_all();
      continue;
    }
    if (stop_) return;
  }
}

}  // namespace side::supervisor
