#include "domain/fault_log.h"

#include <algorithm>

#include "common/log.h"
#include "kapi/side_host.h"

namespace side::domain {

const char* fault_kind_name(int kind) {
  switch (kind) {
    case SIDE_FAULT_MEMORY:
      return "memory fault";
    case SIDE_FAULT_ILLEGAL_INSTRUCTION:
      return "illegal instruction";
    case SIDE_FAULT_BUG:
      return "BUG";
    case SIDE_FAULT_MISSING_SYMBOL:
      return "unimplemented kernel symbol";
    case SIDE_FAULT_BAD_ARGUMENT:
      return "invalid argument to a kernel service";
    case SIDE_FAULT_STACK_CORRUPTION:
      return "stack corruption";
    case SIDE_FAULT_PANIC:
      return "panic";
    case SIDE_FAULT_DEADLOCK:
      return "deadlock";
    case SIDE_FAULT_RESOURCE_LIMIT:
      return "resource limit";
    case SIDE_FAULT_IOMMU:
      return "IOMMU fault";
    case SIDE_FAULT_HUNG:
      return "hung driver";
    case SIDE_FAULT_SYSCALL:
      return "forbidden system call";
    case SIDE_FAULT_DOMAIN_DIED:
      return "domain died";
    case SIDE_FAULT_PROTOCOL:
      return "invalid message from the domain";
    case SIDE_FAULT_IRQ_STORM:
      return "interrupt storm";
    case SIDE_FAULT_SFI_WRITE:
      return "sfi write";
    case SIDE_FAULT_SFI_BRANCH:
      return "sfi branch";
    case SIDE_FAULT_SFI_RETURN:
      return "sfi return";
    default:
      return "fault";
  }
}

void FaultLog::record(int kind, const std::string& message, uint64_t address, std::string location) {
  FaultReport r;
  r.kind = kind;
  r.kind_name = fault_kind_name(kind);
  r.message = message;
  r.address = address;
  r.location = std::move(location);
  logf(LogLevel::kError, "side: driver fault (%s): %s%s%s", r.kind_name.c_str(), message.c_str(),
       r.location.empty() ? "" : " at ", r.location.c_str());
  faulty_ = true;
  std::function<void()> listener;
  {
    std::lock_guard lock(mutex_);
    faults_.push_back(std::move(r));
    listener = listener_;
  }
  if (listener) listener();
}

void FaultLog::set_listener(std::function<void()> listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

std::vector<FaultReport> FaultLog::all() const {
  std::lock_guard lock(mutex_);
  return faults_;
}

std::string FaultLog::last_message() const {
  std::lock_guard lock(mutex_);
  return faults_.empty() ? std::string() : faults_.back().message;
}

bool FaultLog::first_warning(uint64_t site) {
  std::lock_guard lock(mutex_);
  if (std::find(warned_once_.begin(), warned_once_.end(), site) != warned_once_.end()) return false;
  warned_once_.push_back(site);
  return true;
}

}  // namespace side::domain
