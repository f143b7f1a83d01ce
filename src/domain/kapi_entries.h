// The entry points of the kernel-API layer that side calls into, found by name in the loaded layer. The four the
// domain cannot run without are required; any other may be missing (an older layer): the operation that needs it
// then fails cleanly. The ones the domain's own machinery calls are bound here; a control operation that is one
// entry point (ipc/messages.h, SIDE_KAPI_ENTRY) is looked up by its name when it runs.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "kapi/side_host.h"
#include "loader/module_loader.h"

namespace side::domain {

struct KapiEntries {
  // Required.
  int (*init)(unsigned nr_cpus, const unsigned long* percpu_bases) = nullptr;
  int (*cpu_init)(unsigned cpu) = nullptr;
  uint64_t (*tick)() = nullptr;  // nanoseconds until the next jiffy begins
  int (*parse_params)(const char* module, char* args, uint64_t params, unsigned nr_params) = nullptr;
  // Optional.
  int (*irq)(uint32_t) = nullptr;
  int (*softirq)() = nullptr;
  void (*run_work)() = nullptr;
  int (*xmit)(uint64_t, const void*, uint32_t, int, const side_tx_offload*) = nullptr;
  int (*pci_probe)(void*, const side_pci_device_info*, void**) = nullptr;
  void (*pci_remove)(void*) = nullptr;

  static Result<KapiEntries> bind(const loader::LoadedModule& kapi);
  // The address of entry point `name`, or 0 if the layer has none.
  uint64_t find(const std::string& name) const;

 private:
  std::unordered_map<std::string, uint64_t> all_;
};

}  // namespace side::domain
