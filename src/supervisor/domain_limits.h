// Resource limits of a domain process, so that a driver exhausting memory, tasks or descriptors ends as a fault
// of its own domain and never takes the supervisor (or the machine) with it:
//  - a cgroup per domain where the machine offers one (cgroup v1 memory and pids controllers, under the
//    supervisor's own cgroup, when writable): memory.limit_in_bytes and pids.max. Removed when the domain ends;
//  - rlimits always: RLIMIT_AS (the arena plus what the runtime needs), RLIMIT_NOFILE, RLIMIT_CORE 0,
//    RLIMIT_FSIZE 0, RLIMIT_MEMLOCK 0 (the sandbox adds RLIMIT_NPROC 0 once its threads run);
//  - the kernel's OOM killer picks a domain first: its oom_score_adj is 1000, the supervisor's is lowered (when
//    root).
// Everything the child does between fork and exec is async-signal-safe: paths and values are prepared here.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace side::supervisor {

struct DomainLimitValues {
  uint64_t arena_bytes = 0;
  uint64_t memory_bytes = 0;   // cgroup memory limit
  uint64_t address_space = 0;  // RLIMIT_AS; 0 = none (sanitizer builds reserve terabytes of shadow)
  unsigned max_tasks = 16;     // cgroup pids.max: the domain's threads are started before its sandbox
  unsigned max_descriptors = 64;

  static DomainLimitValues for_arena(uint64_t arena_bytes);
};

class DomainLimits {
 public:
  // Prepares the limits (and the cgroup, if one can be had) for one domain process.
  explicit DomainLimits(const DomainLimitValues& values);
  ~DomainLimits();  // removes the cgroup: call only once the process was reaped
  DomainLimits(const DomainLimits&) = delete;
  DomainLimits& operator=(const DomainLimits&) = delete;

  // In the child, between fork and exec (async-signal-safe): joins the cgroup, raises the OOM score and sets
  // the rlimits. False if a limit could not be applied (the child must not run unconfined).
  bool apply_in_child() const;

  bool has_cgroup() const { return !cgroup_dirs_.empty(); }
  const std::vector<std::string>& cgroup_dirs() const { return cgroup_dirs_; }
  const DomainLimitValues& values() const { return values_; }

  // Makes the calling process (the supervisor) one of the last the OOM killer picks; once, when root.
  static void protect_supervisor();

 private:
  void create_cgroup();

  DomainLimitValues values_;
  std::vector<std::string> cgroup_dirs_;
  std::vector<std::string> procs_files_;
  std::array<rlimit, 5> limits_{};
  std::array<int, 5> resources_{};
  size_t nr_limits_ = 0;
};

}  // namespace side::supervisor
