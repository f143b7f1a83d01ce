// One aligned request longer than the device takes at once (an NBD client may send 32 MiB, a device may take
// 128 KiB) submitted as consecutive pieces, with one completion for the whole: the first error any piece met, or 0.
#pragma once

#include <chrono>

#include "block/block_device.h"

namespace side::block {

// The longest piece `dev` takes for `op` (max_transfer for reads and writes, max_discard for the others).
uint32_t piece_limit(const Geometry& g, Op op);

// Returns 0 when at least the first piece was accepted (`done` is then called once, after every accepted piece
// completed; a later piece the device refused counts as that piece's error), else the errno the first piece was
// refused with (`done` is not called). Pieces are submitted from the caller's thread, each waiting up to
// `slot_wait` for a queue slot. `r` must be aligned and in range: check it with check_request() on a geometry whose
// limits are the exporter's, not the device's.
int submit_split(BlockDevice& dev, const Request& r, Completion done, std::chrono::milliseconds slot_wait);

}  // namespace side::block
