// The entry points of the kernel-API layer that side calls into, found by name in the loaded layer. The four the
// domain cannot run without are required; any other may be missing (an older layer): the operation that needs it
// then fails cleanly.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "kapi/side_host.h"
#include "loader/module_loader.h"

namespace side::domain {

struct KapiEntries {
  // Required.
  int (*init)(unsigned nr_cpus, const unsigned long* percpu_bases) = nullptr;
  int (*cpu_init)(unsigned cpu) = nullptr;
  void (*tick)() = nullptr;
  int (*parse_params)(const char* module, char* args, uint64_t params, unsigned nr_params) = nullptr;
  // Optional.
  int (*irq)(uint32_t) = nullptr;
  int (*softirq)() = nullptr;
  void (*run_work)() = nullptr;
  int (*xmit)(uint64_t, const void*, uint32_t, int) = nullptr;
  int (*pci_probe)(void*, const side_pci_device_info*, void**) = nullptr;
  void (*pci_remove)(void*) = nullptr;
  int (*netdev_open)(uint64_t) = nullptr;
  void (*netdev_close)(uint64_t) = nullptr;
  void (*netdev_stats)(uint64_t, side_netdev_stats*) = nullptr;
  int (*set_mtu)(uint64_t, uint32_t) = nullptr;
  int (*set_mac)(uint64_t, const unsigned char*) = nullptr;
  int (*set_rx_mode)(uint64_t, uint32_t, const unsigned char*, uint32_t) = nullptr;
  int (*ethtool)(uint64_t, side_ethtool_info*) = nullptr;

  static Result<KapiEntries> bind(const loader::LoadedModule& kapi);
};

}  // namespace side::domain
