// CPU time of processes, as the benchmarks count it: every thread's user and system time (the kernel's per-process
// CPU clock, which has nanosecond resolution where /proc's stat has clock ticks).
#pragma once

#include <vector>

namespace side::bench {

// The CPU time of every thread of process `pid` so far, in seconds; -1 if it cannot be read.
double process_cpu_s(int pid);

// The processes this one started and has not reaped (QEMU, domain processes), from /proc/self/task/*/children.
std::vector<int> child_pids();

}  // namespace side::bench
