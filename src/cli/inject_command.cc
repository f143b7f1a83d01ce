// side inject MODULE --faults N [--types a,b,...] [--seed S] [--json]: a fault-injection campaign under traffic.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/commands.h"
#include "cli/json.h"
#include "cli/progress.h"
#include "common/log.h"
#include "common/strings.h"
#include "session/fault_campaign.h"
#include "supervisor/device_choice.h"

namespace side::cli {

void inject_usage(FILE* out) {
  std::fprintf(
      out,
      "usage: side inject MODULE [--faults N] [--types T,...] [--seed S] [--window S] [--json] [--quiet]\n"
      "                   [--verbose]\n"
      "  Injects N faults (default 100) one after another into MODULE (e1000) running in a sandboxed domain\n"
      "  under verified traffic, and reports per fault type: injected, activated, detected, recovered,\n"
      "  supervisor survived, frames lost, median and p99 recovery time.\n"
      "  types: crash bitflip loop pointer wild dma storm alloc lostirq (default: all, chosen at random)\n"
      "  --seed S     the campaign is reproducible from its seed (default 1)\n"
      "  --isolation MODE  process (default) or sfi (the driver in side's process, checked; `loop` is left\n"
      "               out of the default types there: an in-process virtual CPU cannot be stopped; `bitflip` is\n"
      "               not offered: it would corrupt the translated code sfi trusts)\n"
      "  --window S   how long a fault may take to show before it counts as not detected (default 2)\n"
      "  --json       print the results as one JSON document (schema side-inject/1)\n"
      "  --quiet      no progress line (shown on a terminal only: done/total, elapsed, estimate)\n"
      "  --verbose    a line per fault, and the driver's log\n"
      "  frames lost is net: a frame declared lost in an earlier experiment and delivered late counts -1\n");
}

namespace {

std::string stats_row(const session::FaultStats& s) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "%8llu %9llu %8llu %9llu %8llu %11lld %10.1f %8.1f",
                static_cast<unsigned long long>(s.injected), static_cast<unsigned long long>(s.activated),
                static_cast<unsigned long long>(s.detected), static_cast<unsigned long long>(s.recovered),
                static_cast<unsigned long long>(s.survived), static_cast<long long>(s.frames_lost), s.median_ms(),
                s.p99_ms());
  return buf;
}

void stats_json(Json& j, const session::FaultStats& s) {
  j.field("injected", s.injected).field("activated", s.activated).field("detected", s.detected);
  j.field("recovered", s.recovered).field("supervisor_survived", s.survived).field("frames_lost", s.frames_lost);
  j.field("median_recovery_ms", s.median_ms()).field("p99_recovery_ms", s.p99_ms());
  j.field("recovery_ratio", s.activated ? static_cast<double>(s.recovered) / static_cast<double>(s.activated) : 1.0);
}

void print_campaign_json(const InjectArgs& args, const session::CampaignResult& result,
                         const session::NicSessionReport& report, const std::string& error) {
  Json j;
  j.object_begin().field("schema", kInjectSchema).field("module", args.module);
  j.field("faults_requested", uint64_t{args.campaign.faults}).field("seed", args.campaign.seed);
  j.field("domain_pid", report.domain_pid).field("supervisor_pid", report.supervisor_pid);
  j.field("ok", error.empty() && result.total.survived == args.campaign.faults);
  if (!error.empty()) j.field("error", error);
  j.key("types").object_begin();
  for (size_t t = 0; t < session::kFaultTypes; ++t) {
    if (!result.by_type[t].injected) continue;
    j.key(session::to_string(static_cast<session::FaultType>(t))).object_begin();
    stats_json(j, result.by_type[t]);
    j.object_end();
  }
  j.object_end();
  j.key("total").object_begin();
  stats_json(j, result.total);
  j.object_end();
  j.object_end();
  std::printf("%s\n", j.str().c_str());
}

void print_campaign_table(const session::CampaignResult& result, const std::string& error) {
  if (!error.empty() && result.total.injected == 0) {
    // Nothing was injected (the driver never came up): the reason, not a table of zeroes.
    std::fprintf(stderr, "side inject: %s\n", error.c_str());
    return;
  }
  std::printf("%-8s %8s %9s %8s %9s %8s %11s %10s %8s\n", "fault", "injected", "activated", "detected", "recovered",
              "survived", "frames lost", "median ms", "p99 ms");
  for (size_t t = 0; t < session::kFaultTypes; ++t) {
    if (!result.by_type[t].injected) continue;
    std::printf("%-8s %s\n", session::to_string(static_cast<session::FaultType>(t)),
                stats_row(result.by_type[t]).c_str());
  }
  std::printf("%-8s %s\n", "all", stats_row(result.total).c_str());
  if (!error.empty()) std::fprintf(stderr, "side inject: %s\n", error.c_str());
}

// The driver on its device in a recovering domain process, every fault and restart the campaign's to make.
session::NicSessionConfig campaign_session(const Paths& paths, const std::string& module, unsigned faults,
                                           const std::string& isolation) {
  session::NicSessionConfig session;
  session.isolation = isolation;
  session.domain.kapi_path = paths.kapi;
  session.domain.symvers_path = paths.symvers;
  session.domain.modules_dir = paths.modules_dir;
  session.module = module;
  session.recover = true;
  // Every fault is deliberate: all the restarts they cause are allowed (some faults cause two).
  session.policy = supervisor::RecoveryPolicy::for_deliberate_faults(faults * 2 + 16);
  session.traffic.stall_timeout_s = 3600;  // stalls are the campaign's to judge
  return session;
}

}  // namespace

int inject_command(const InjectArgs& args) {
  session::CampaignConfig campaign = args.campaign;
  // The driver's own log would drown the table; faults and restarts are still reported.
  if (!campaign.verbose) set_log_threshold(LogLevel::kError);
  const Paths paths = Paths::from_environment();
  // Faults are injected into a driver running on its device (one of side's own models): a driver side has no
  // device for is refused now.
  if (auto model = supervisor::device_for_module(paths.modules_dir, args.module, "builtin"); !model) {
    std::fprintf(stderr, "side inject: %s\n", model.error().message.c_str());
    return 2;
  }
  session::NicSessionConfig session = campaign_session(paths, args.module, campaign.faults, args.isolation);
  if (args.isolation == "sfi") {
    // A flipped bit of the code in memory is a flipped bit of side's translation, whose checks sfi trusts (a bit
    // flipped in the driver's file would be translated and checked like the rest): outside what sfi contains.
    for (session::FaultType t : campaign.types) {
      if (t == session::FaultType::kBitflip) {
        std::fprintf(stderr,
                     "side inject: bitflip is not offered with --isolation sfi: it would flip a bit of the translated "
                     "code, whose checks sfi trusts\n");
        return 2;
      }
    }
    if (campaign.types.empty()) {
      for (size_t i = 0; i < session::kFaultTypes; ++i) {
        const auto t = static_cast<session::FaultType>(i);
        if (t != session::FaultType::kLoop && t != session::FaultType::kBitflip) campaign.types.push_back(t);
      }
    }
  }
  session::CampaignResult result;
  ProgressLine progress("side inject", ProgressLine::wanted(args.quiet));
  campaign.progress = [&progress](unsigned done, unsigned total, const std::string& step) {
    progress.update(done, total, step);
  };
  session.workload = [&](const session::SessionHandles& h) { session::run_campaign(campaign, h, result); };
  session::NicSessionReport report = session::run_nic_session(session);
  progress.finish();

  const std::string error = !result.error.empty() ? result.error : report.error;
  if (args.json)
    print_campaign_json(args, result, report, error);
  else
    print_campaign_table(result, error);
  return error.empty() && result.total.survived == campaign.faults ? 0 : 1;
}

}  // namespace side::cli
