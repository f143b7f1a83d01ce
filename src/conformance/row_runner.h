// Runs one row of the NIC conformance table: the driver's kernel functions (loader/missing_imports.h), then one
// isolated NIC session (session/nic_session.h) in network mode, with the row's steps as its workload: ping through
// the driver's host interface, iperf3 TCP each way, a domain killed under iperf3 (recovered, the connection alive),
// and after the session, what its close and remove left behind.
#pragma once

#include <functional>
#include <string>

#include "conformance/matrix.h"
#include "conformance/row.h"
#include "domain/domain.h"

namespace side::conformance {

struct RunnerOptions {
  domain::DomainConfig domain;  // paths of the kernel-API layer, Module.symvers and the module cache
  std::string executable = "/proc/self/exe";
  std::string qemu_binary;  // QEMU with the vfio-user server; empty: QEMU rows fail, saying `qemu_error`
  std::string qemu_error;
  std::string ifname = "sideconf0";  // the driver's host interface (the peer's namespace is named after side's pid)
  unsigned pings = 20;
  double ping_interval_s = 0.05;
  double tcp_seconds = 3;       // each direction
  double recovery_seconds = 6;  // the iperf3 run a domain is killed under, a third of the way in
  // Called as each step of a row starts (any thread).
  std::function<void(const MatrixEntry& row, Step step)> on_step;
};

RowResult run_row(const MatrixEntry& row, const RunnerOptions& options);

}  // namespace side::conformance
