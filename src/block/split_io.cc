#include "block/split_io.h"

#include <algorithm>
#include <atomic>
#include <memory>

namespace side::block {

uint32_t piece_limit(const Geometry& g, Op op) {
  return op == Op::kRead || op == Op::kWrite ? g.max_transfer : g.max_discard;
}

namespace {

// Shared by the pieces of one request: the last one to finish reports. `pending` starts at 1 for the submitter,
// so a fast piece cannot report before every piece was submitted.
struct SplitState {
  Completion done;
  std::atomic<uint32_t> pending{1};
  std::atomic<int> status{0};

  void record(int st) {
    int expected = 0;
    if (st) status.compare_exchange_strong(expected, st);
  }
  void release() {
    if (pending.fetch_sub(1) == 1) done(status.load());
  }
};

}  // namespace

int submit_split(BlockDevice& dev, const Request& r, Completion done, std::chrono::milliseconds slot_wait) {
  const uint32_t limit = piece_limit(dev.geometry(), r.op);
  if (r.op == Op::kFlush || r.length <= limit) return dev.submit(r, std::move(done), slot_wait);
  auto state = std::make_shared<SplitState>();
  state->done = std::move(done);
  for (uint32_t at = 0; at < r.length; at += limit) {
    Request piece = r;
    piece.offset = r.offset + at;
    piece.length = std::min(limit, r.length - at);
    if (r.data) piece.data = r.data + at;
    state->pending.fetch_add(1);
    const int err = dev.submit(
        piece, [state](int st) { state->record(st), state->release(); }, slot_wait);
    if (err == 0) continue;
    state->pending.fetch_sub(1);
    if (at == 0) return err;  // nothing in flight: the caller reports the refusal itself
    state->record(err);
    break;
  }
  state->release();
  return 0;
}

}  // namespace side::block
