// An in-process domain driven through the supervisor's DriverDomain interface, with the driver log captured: the
// kernel-API layer's device and network tests use it with a Machine as the host side.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/log.h"
#include "supervisor/driver_domain.h"

namespace side::testing {

class SupervisedDomain {
 public:
  explicit SupervisedDomain(std::string modules_dir = SIDE_TEST_MODULES_DIR, bool virtual_time = true) {
    side::set_log_sink([this](side::LogLevel, std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    });
    side::domain::DomainConfig config;
    config.kapi_path = SIDE_TEST_KAPI;
    config.symvers_path = SIDE_TEST_SYMVERS;
    config.modules_dir = std::move(modules_dir);
    config.virtual_time = virtual_time;
    auto d = side::supervisor::InProcessDomain::create(config);
    if (!d)
      ADD_FAILURE() << d.error().message;
    else
      domain_ = std::move(*d);
  }
  ~SupervisedDomain() {
    if (domain_) domain_->shutdown();
    domain_.reset();
    side::set_log_sink(nullptr);
  }
  SupervisedDomain(const SupervisedDomain&) = delete;
  SupervisedDomain& operator=(const SupervisedDomain&) = delete;

  side::supervisor::InProcessDomain* operator->() { return domain_.get(); }
  side::supervisor::InProcessDomain& operator*() { return *domain_; }

  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  // The lines containing `needle`, in order.
  std::vector<std::string> matching(const std::string& needle) {
    std::vector<std::string> out;
    for (const auto& l : lines()) {
      if (l.find(needle) != std::string::npos) out.push_back(l);
    }
    return out;
  }
  size_t count(const std::string& needle) { return matching(needle).size(); }
  bool logged(const std::string& needle) { return count(needle) > 0; }
  std::string log() {
    std::string all;
    for (const auto& l : lines()) all += l + "\n";
    return all;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
  std::unique_ptr<side::supervisor::InProcessDomain> domain_;
};

}  // namespace side::testing
