// A domain for tests, with the driver log captured.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/log.h"
#include "domain/domain.h"

namespace side::testing {

class TestDomain {
 public:
  explicit TestDomain(std::string modules_dir = SIDE_TEST_MODULES_DIR) {
    side::set_log_sink([this](side::LogLevel, std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    });
    side::domain::DomainConfig config;
    config.kapi_path = SIDE_TEST_KAPI;
    config.symvers_path = SIDE_TEST_SYMVERS;
    config.modules_dir = std::move(modules_dir);
    auto d = side::domain::Domain::create(config);
    if (!d)
      ADD_FAILURE() << d.error().message;
    else
      domain_ = std::move(*d);
  }
  ~TestDomain() {
    domain_.reset();
    side::set_log_sink(nullptr);
  }

  side::domain::Domain& operator*() { return *domain_; }
  side::domain::Domain* operator->() { return domain_.get(); }

  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  bool logged(const std::string& needle) {
    auto l = lines();
    return std::any_of(l.begin(), l.end(), [&](const std::string& s) { return s.find(needle) != std::string::npos; });
  }
  size_t count(const std::string& needle) {
    auto l = lines();
    return std::count_if(l.begin(), l.end(), [&](const std::string& s) { return s.find(needle) != std::string::npos; });
  }
  std::string log() {
    std::string all;
    for (const auto& l : lines()) all += l + "\n";
    return all;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
  std::unique_ptr<side::domain::Domain> domain_;
};

inline std::string test_module(const std::string& name) {
  return std::string(SIDE_TEST_MODULES_DIR) + "/" + name + ".ko";
}

}  // namespace side::testing
