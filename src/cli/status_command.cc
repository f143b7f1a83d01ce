// side status [--json]: the state and counters of every side running for this user, asked on their control
// sockets (src/service). Text: one table row per domain; --json: every side's document, as it answered.
#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/json.h"
#include "common/sanitize.h"
#include "service/runtime_dir.h"
#include "service/status_client.h"

namespace side::cli {

void status_usage(FILE* out) {
  std::fprintf(out,
               "usage: side status [--json]\n"
               "  the state and counters of every running side of this user (as root: the services'): driver,\n"
               "  isolation, domain pid, state, restarts, faults, frames and bytes each way, uptime\n"
               "  --json               each side's answer as a JSON document, in {\"sides\": [...]}\n"
               "exit status 0 when at least one side answered, 1 when none is running\n");
}

namespace {

using nlohmann::json;

constexpr std::chrono::milliseconds kTimeout{2000};

// Field readers that take whatever another process wrote: a missing or mistyped field is "-" or 0, never an
// exception, and text is made safe for a terminal.
const json& member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string text(const json& j, const char* key) {
  const json& v = member(j, key);
  return v.is_string() ? sanitize_text(v.get<std::string>(), 40) : "-";
}

uint64_t count(const json& j, const char* key) {
  const json& v = member(j, key);
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  return v.is_number_integer() && v.get<int64_t>() >= 0 ? static_cast<uint64_t>(v.get<int64_t>()) : 0;
}

double seconds(const json& j, const char* key) {
  const json& v = member(j, key);
  return v.is_number() && v.get<double>() >= 0 ? v.get<double>() : 0;
}

// "N frames, 1.2 MiB" (a NIC's flow) or "N requests, ..." (a disk's).
std::string amount(uint64_t count, const char* what, uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, unit ? "%" PRIu64 " %s, %.1f %s" : "%" PRIu64 " %s, %.0f %s", count, what, value,
                kUnits[unit]);
  return buf;
}

std::string flow(const json& f) {
  const char* what = member(f, "requests").is_number() ? "requests" : "frames";
  return amount(count(f, what), what, count(f, "bytes"));
}

std::string duration(double s) {
  const uint64_t t = static_cast<uint64_t>(s);
  char buf[32];
  if (t < 60) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 "s", t);
  } else if (t < 3600) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 "m%02" PRIu64 "s", t / 60, t % 60);
  } else if (t < 86400) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 "h%02" PRIu64 "m", t / 3600, t / 60 % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%" PRIu64 "d%02" PRIu64 "h", t / 86400, t / 3600 % 24);
  }
  return buf;
}

constexpr const char* kRow = "%-8s %-8s %-8s %-9s %-8s %-10s %8s %6s  %-22s %-22s %s\n";

void print_side(const service::SideAnswer& a) {
  const json& doc = *a.document;
  const std::string pid = std::to_string(a.pid);
  const json& domains = member(doc, "domains");
  if (!domains.is_array() || domains.empty()) {
    std::printf(kRow, pid.c_str(), "-", "-", "-", "-", text(doc, "state").c_str(), "-", "-", "-", "-",
                duration(seconds(doc, "uptime_s")).c_str());
    return;
  }
  for (const json& d : domains) {
    const json &in = member(d, "to_driver"), &out = member(d, "from_driver");
    std::printf(kRow, pid.c_str(), text(d, "driver").c_str(), text(d, "ifname").c_str(), text(d, "isolation").c_str(),
                std::to_string(count(d, "domain_pid")).c_str(), text(d, "state").c_str(),
                std::to_string(count(d, "restarts")).c_str(), std::to_string(count(d, "faults")).c_str(),
                flow(in).c_str(), flow(out).c_str(), duration(seconds(d, "up_s")).c_str());
  }
}

}  // namespace

int status_command(const StatusArgs& args) {
  const std::string dir = service::runtime_dir();
  auto answers = service::query_all(dir, kTimeout);
  json sides = json::array();
  bool header = false;
  for (const auto& a : answers) {
    if (!a.document) {
      std::fprintf(stderr, "side status: pid %d (%s): %s\n", static_cast<int>(a.pid), a.socket.c_str(),
                   a.error.c_str());
      continue;
    }
    if (args.json) {
      sides.push_back(*a.document);
      continue;
    }
    if (!header) {
      std::printf(kRow, "SIDE", "DRIVER", "IFACE", "ISOLATION", "DOMAIN", "STATE", "RESTARTS", "FAULTS", "TO DRIVER",
                  "FROM DRIVER", "UP");
      header = true;
    }
    print_side(a);
  }
  if (args.json) {
    std::printf("%s\n", json{{"schema", kStatusSchema}, {"runtime_dir", dir}, {"sides", sides}}
                            .dump(-1, ' ', false, json::error_handler_t::replace)
                            .c_str());
  }
  const bool any = args.json ? !sides.empty() : header;
  if (!any) std::fprintf(stderr, "side status: no side is running (no control socket answered in %s)\n", dir.c_str());
  return any ? 0 : 1;
}

}  // namespace side::cli
