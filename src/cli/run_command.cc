// side run MODULE [PARAM=VALUE ...] [options]: loads a driver into a domain and reports what it did.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/commands.h"
#include "cli/json.h"
#include "common/log.h"
#include "domain/domain.h"

namespace side::cli {
namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "usage: side run MODULE [PARAM=VALUE ...] [options]\n"
               "  --isolation inproc   run the driver inside side's own process (the unisolated baseline)\n"
               "  --allow-missing      load even if the module imports kernel symbols side does not implement;\n"
               "                       calling one is then a detected driver fault naming the symbol\n"
               "  --real-time          driver delays wait in real time (default: virtual time)\n"
               "  --arena-mb N         DMA-able memory of the domain (default 64)\n"
               "  --json               print a JSON summary on stdout\n"
               "  --quiet              do not print the driver's log\n");
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  std::string module, params, isolation = "inproc";
  bool allow_missing = false, json = false, quiet = false, real_time = false;
  uint64_t arena_mb = 64;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "side run: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else if (a == "--isolation") {
      isolation = value();
    } else if (a == "--allow-missing") {
      allow_missing = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "--real-time") {
      real_time = true;
    } else if (a == "--arena-mb") {
      arena_mb = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a.starts_with("-")) {
      std::fprintf(stderr, "side run: unknown option %s\n", a.c_str());
      usage(stderr);
      return 2;
    } else if (module.empty()) {
      module = a;
    } else {
      params += (params.empty() ? "" : " ") + a;
    }
  }
  if (module.empty()) {
    usage(stderr);
    return 2;
  }
  if (isolation != "inproc") {
    std::fprintf(stderr, "side run: isolation '%s' is not available yet; use --isolation inproc\n", isolation.c_str());
    return 2;
  }

  // The driver's log goes to stderr (stdout carries --json).
  if (quiet) set_log_threshold(LogLevel::kError);
  Paths paths = Paths::from_environment();
  domain::DomainConfig config;
  config.kapi_path = paths.kapi;
  config.symvers_path = paths.symvers;
  config.modules_dir = paths.modules_dir;
  config.arena_bytes = arena_mb << 20;
  config.virtual_time = !real_time;
  auto d = domain::Domain::create(config);
  if (!d) {
    std::fprintf(stderr, "side: cannot create a driver domain: %s\n", d.error().message.c_str());
    return 1;
  }
  auto loaded = (*d)->load({module, params, allow_missing});
  if (!loaded) std::fprintf(stderr, "side: %s\n", loaded.error().message.c_str());

  auto drivers = (*d)->pci_drivers();
  auto faults = (*d)->faults();
  if (json) {
    Json j;
    j.object_begin();
    j.field("module", module).field("isolation", isolation).field("loaded", static_cast<bool>(loaded));
    if (!loaded) j.field("error", loaded.error().message);
    j.key("modules").array_begin();
    for (const auto* m : (*d)->modules()) j.value(m->name);
    j.array_end();
    j.key("pci_drivers").array_begin();
    for (const auto& drv : drivers) {
      j.object_begin().field("name", drv.name).field("module", drv.module).key("ids").array_begin();
      for (const auto& id : drv.ids) {
        j.object_begin().field("vendor", id.vendor).field("device", id.device).field("subvendor", id.subvendor);
        j.field("subdevice", id.subdevice).field("class", id.class_code).field("class_mask", id.class_mask);
        j.object_end();
      }
      j.array_end().object_end();
    }
    j.array_end();
    j.key("faults").array_begin();
    for (const auto& f : faults) {
      j.object_begin().field("kind", f.kind_name).field("message", f.message).field("location", f.location);
      j.object_end();
    }
    j.array_end();
    j.object_end();
    std::printf("%s\n", j.str().c_str());
  } else {
    for (const auto& drv : drivers) {
      std::printf("registered PCI driver '%s' (module %s) for %zu device ids:", drv.name.c_str(), drv.module.c_str(),
                  drv.ids.size());
      for (size_t i = 0; i < drv.ids.size() && i < 8; ++i) {
        std::printf(" %04x:%04x", drv.ids[i].vendor & 0xffff, drv.ids[i].device & 0xffff);
      }
      std::printf("%s\n", drv.ids.size() > 8 ? " ..." : "");
    }
  }
  return loaded && faults.empty() ? 0 : 1;
}

}  // namespace side::cli
