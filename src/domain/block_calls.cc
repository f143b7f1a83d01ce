// Block requests side submits asynchronously (ipc::BlockSubmit): the kernel-API layer's block entry gets a
// completion of the domain's own, which reports to the platform (an event to the supervisor) with the
// supervisor's tag. The tag is only echoed: the domain never learns what it names.
#include <cstring>
#include <vector>

#include "domain/domain.h"

namespace side::domain {
namespace {

// Called by the layer on the vCPU that completed the request (the driver's interrupt, or block work); the layer's
// code has no C++ stack alignment guarantee, hence the realignment every host entry gets.
extern "C" __attribute__((force_align_arg_pointer)) void side_domain_block_done(side_u64 tag, int status) {
  Domain* d = Domain::active();
  if (!d) return;
  if (Platform* p = d->platform()) p->block_done(tag, status);
}

}  // namespace

Status Domain::block_submit(uint32_t disk, uint32_t op, uint64_t sector, uint32_t nr_sectors,
                            std::span<const uint8_t> segs, uint64_t tag) {
  // The pieces are copied out of the message: its payload need not be aligned for side_block_seg.
  std::vector<side_block_seg> pieces(segs.size() / sizeof(side_block_seg));
  if (!pieces.empty()) std::memcpy(pieces.data(), segs.data(), pieces.size() * sizeof(side_block_seg));
  return run_entry("block submit", "side_kapi_block_submit", [&](uint64_t entry) {
    auto submit = reinterpret_cast<decltype(&side_kapi_block_submit)>(entry);
    return submit(disk, op, sector, nr_sectors, pieces.data(), static_cast<uint32_t>(pieces.size()),
                  side_domain_block_done, tag);
  });
}

}  // namespace side::domain
