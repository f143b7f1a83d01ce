// Fuzz target for the driver-backed disk (session/driver_disk.h): what a hostile domain reports and completes. The
// input is a little program. Its first byte may replace the disk's description with arbitrary bytes (the geometry
// check meets them); then requests the exporters would start (reads, writes, flushes at arbitrary places and sizes)
// alternate with completions the domain sends: of tags it was given or of any tag, with any status. At the end the
// domain completes whatever it still holds, and every request the disk accepted must have completed, once, with a
// status the contract allows. Nothing may crash, hang or leak.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "common/log.h"
#include "fuzz_input.h"
#include "support/disk_domain.h"

namespace {

using namespace side;
using side::fuzz::Input;

struct Tally {
  std::atomic<int> completions{0}, bad_status{0};
};

block::Request request_from(Input& in, const block::Geometry& g, std::vector<uint8_t>& data) {
  static constexpr block::Op kOps[] = {block::Op::kRead, block::Op::kWrite, block::Op::kFlush};
  block::Request r{};
  r.op = kOps[in.u8() % 3];
  const uint64_t blocks = g.capacity / g.logical_block_size;
  r.offset = (in.u32() % blocks) * g.logical_block_size;
  r.length = r.op == block::Op::kFlush ? 0 : (1 + in.u8() % 16) * g.logical_block_size;
  data.assign(r.length, 0xa5);
  r.data = data.data();
  return r;
}

void complete_from(Input& in, test::DiskDomain& d, session::DriverDisk& disk) {
  const auto tags = d.submitted_tags();
  const uint8_t how = in.u8();
  const uint64_t tag = (how & 1) && !tags.empty() ? tags[in.u8() % tags.size()] : in.u64();
  const int32_t status = (how & 2) ? static_cast<int32_t>(in.u32()) : -static_cast<int32_t>(in.u8() % 8);
  disk.block_done(tag, status);
}

void run(Input& in) {
  test::DiskDomain d(2 * session::DriverDisk::kSlotBytes, 256 << 10);  // two staging slots, a small disk: fast
  if (in.u8() & 1) in.bytes(reinterpret_cast<uint8_t*>(&d.info), sizeof d.info);
  auto disk = session::DriverDisk::open(d, 0, {.request_timeout = std::chrono::milliseconds(2000), .slots = 2});
  if (!disk) return;
  Tally tally;
  std::vector<std::vector<uint8_t>> buffers(64);
  int accepted = 0;
  for (int op = 0; op < 64 && !in.done(); ++op) {
    if (in.u8() & 1) {
      auto& data = buffers[op];
      const block::Request r = request_from(in, (*disk)->geometry(), data);
      const int err = (*disk)->submit(
          r,
          [&tally](int status) {
            ++tally.completions;
            if (status < 0 || status > 4095) ++tally.bad_status;
          },
          std::chrono::milliseconds(0));
      accepted += err == 0;
    } else {
      complete_from(in, d, **disk);
    }
  }
  // The domain answers everything it was given, so the disk drains at once rather than at its timeout.
  d.wait_submitted(static_cast<size_t>(accepted), std::chrono::milliseconds(100));
  for (const uint64_t tag : d.submitted_tags()) (*disk)->block_done(tag, 0);
  disk->reset();
  if (tally.completions != accepted || tally.bad_status != 0) __builtin_trap();  // lost, doubled or nonsense
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    side::set_log_sink([](side::LogLevel, std::string_view) {});  // the disk's fault lines, by the million
    return true;
  }();
  (void)quiet;
  Input in{data, size};
  run(in);
  return 0;
}
