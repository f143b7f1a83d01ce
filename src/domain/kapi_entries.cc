#include "domain/kapi_entries.h"

#include <type_traits>

namespace side::domain {

Result<KapiEntries> KapiEntries::bind(const loader::LoadedModule& kapi) {
  auto bind = [&](auto& fn, const char* name) {
    auto it = kapi.entry_points.find(name);
    fn = it == kapi.entry_points.end() ? nullptr : reinterpret_cast<std::remove_reference_t<decltype(fn)>>(it->second);
  };
  KapiEntries e;
  bind(e.init, "side_kapi_init");
  bind(e.cpu_init, "side_kapi_cpu_init");
  bind(e.tick, "side_kapi_tick");
  bind(e.parse_params, "side_kapi_parse_params");
  if (!e.init || !e.cpu_init || !e.tick || !e.parse_params) {
    return make_error("kernel-API layer lacks its side_kapi_* entry points");
  }
  bind(e.irq, "side_kapi_irq");
  bind(e.softirq, "side_kapi_softirq");
  bind(e.run_work, "side_kapi_run_work");
  bind(e.xmit, "side_kapi_xmit");
  bind(e.pci_probe, "side_kapi_pci_probe");
  bind(e.pci_remove, "side_kapi_pci_remove");
  for (const auto& [name, address] : kapi.entry_points) {
    if (name.starts_with("side_kapi_")) e.all_.emplace(name, address);
  }
  return e;
}

uint64_t KapiEntries::find(const std::string& name) const {
  auto it = all_.find(name);
  return it == all_.end() ? 0 : it->second;
}

}  // namespace side::domain
