// blk-mq's semantics in the kernel-API layer, through a memory-backed test disk (tests/modules/side_test_blkmq.c)
// whose behaviour its parameters choose: tags bound the requests in flight (a request waits for a tag, or fails
// with -EAGAIN when told not to wait), completions may come in any order and each reaches its own submitter,
// requeued requests are served again, a request that never completes reaches the driver's timeout handler (which
// may reset its timer), init_request/exit_request run once per tag, and passthrough requests run synchronously.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "domain/domain.h"
#include "kapi/side_host.h"
#include "supervisor/driver_domain.h"
#include "test_supervised_domain.h"

namespace {

std::mutex g_mu;
std::vector<std::pair<uint64_t, int>> g_done;  // (cookie, status), in completion order

// Called by the layer from driver context (8-byte stack alignment): realigns, as every host entry does.
extern "C" __attribute__((force_align_arg_pointer)) void record_done(uint64_t cookie, int status) {
  std::lock_guard lock(g_mu);
  g_done.emplace_back(cookie, status);
}

std::vector<std::pair<uint64_t, int>> done() {
  std::lock_guard lock(g_mu);
  return g_done;
}

// Waits (real time) until `n` completions arrived.
bool wait_done(size_t n, std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (done().size() < n) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class KapiBlkMq : public ::testing::Test {
 protected:
  void SetUp() override {
    std::lock_guard lock(g_mu);
    g_done.clear();
  }
  void load(const std::string& params) {
    auto m = d_->load({std::string(SIDE_TEST_MODULES_DIR) + "/side_test_blkmq.ko", params});
    ASSERT_TRUE(m) << m.error().message << d_.log();
    auto s = d_->domain().run_entry("buffer", "side_kapi_block_buffer_alloc", [&](uint64_t f) {
      return reinterpret_cast<decltype(&side_kapi_block_buffer_alloc)>(f)(4, &buffer_);
    });
    ASSERT_TRUE(s) << s.error().message;
  }
  std::string unload() {
    auto s = d_->domain().run_entry("buffer", "side_kapi_block_buffer_free", [&](uint64_t f) {
      reinterpret_cast<decltype(&side_kapi_block_buffer_free)>(f)(buffer_, 4);
      return 0;
    });
    EXPECT_TRUE(s);
    EXPECT_TRUE(d_->unload("side_test_blkmq")) << d_.log();
    auto lines = d_.matching("side_test_blkmq: exit:");
    return lines.empty() ? "" : lines.back();
  }
  // Submits 8 sectors at `sector` from page `page` of the buffer; returns what the layer answered.
  int submit(uint32_t op, uint64_t sector, uint32_t page, uint64_t cookie) {
    side_block_seg seg{buffer_ + page * 4096ull, 4096, 0};
    int ret = -1;
    auto s = d_->domain().run_entry("submit", "side_kapi_block_submit", [&](uint64_t f) {
      ret = reinterpret_cast<decltype(&side_kapi_block_submit)>(f)(0, op, sector, 8, &seg, 1, record_done, cookie);
      return 0;
    });
    return s ? ret : -9999;
  }
  int sync_rw(uint32_t op, uint64_t sector, uint32_t page) {
    side_block_seg seg{buffer_ + page * 4096ull, 4096, 0};
    int ret = -1;
    auto s = d_->domain().run_entry("rw", "side_kapi_block_rw", [&](uint64_t f) {
      ret = reinterpret_cast<decltype(&side_kapi_block_rw)>(f)(0, op, sector, 8, &seg, 1);
      return 0;
    });
    return s ? ret : -9999;
  }
  uint8_t* page(uint32_t i) { return d_->arena_base() + buffer_ + i * 4096ull; }

  side::testing::SupervisedDomain d_{SIDE_TEST_MODULES_DIR, /*virtual_time=*/false};
  uint64_t buffer_ = 0;  // 16 pages in the arena
};

TEST_F(KapiBlkMq, TagsBoundRequestsInFlightAndATimeoutFreesOne) {
  load("depth=2 hold=1 timeout_ms=400");
  EXPECT_TRUE(d_.logged("side_test_blkmq: disk ready, 2 tags, init_request 2")) << d_.log();
  EXPECT_EQ(submit(SIDE_BLOCK_READ, 0, 0, 1), 0);
  EXPECT_EQ(submit(SIDE_BLOCK_READ, 8, 1, 2), 0);
  // Both tags are held: a request told not to wait ends at once with -EAGAIN.
  EXPECT_EQ(submit(SIDE_BLOCK_READ | SIDE_BLOCK_NOWAIT, 16, 2, 3), 0);
  ASSERT_TRUE(wait_done(1));
  EXPECT_EQ(done()[0], std::make_pair(uint64_t{3}, -EAGAIN));
  // One that may wait gets a tag only when a timeout ended a held request (-ETIMEDOUT from the handler).
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(submit(SIDE_BLOCK_READ, 24, 3, 4), 0);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(300));
  ASSERT_TRUE(wait_done(4));
  for (size_t i = 1; i < 4; ++i) EXPECT_EQ(done()[i].second, -ETIMEDOUT) << "cookie " << done()[i].first;
  EXPECT_EQ(done()[3].first, 4u);
  EXPECT_NE(unload().find("init_request 2 exit_request 2 served 0 requeues 0 timeouts 3"), std::string::npos)
      << d_.log();
  EXPECT_TRUE(d_->faults().empty()) << d_.log();
}

TEST_F(KapiBlkMq, TimeoutHandlerCanResetTheTimer) {
  load("hold=1 reset=2 timeout_ms=200");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(submit(SIDE_BLOCK_WRITE, 0, 0, 7), 0);
  ASSERT_TRUE(wait_done(1));
  // Three periods: two answered BLK_EH_RESET_TIMER, the third ended the request.
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(550));
  EXPECT_EQ(done()[0], std::make_pair(uint64_t{7}, -ETIMEDOUT));
  EXPECT_NE(unload().find("timeouts 3"), std::string::npos) << d_.log();
}

TEST_F(KapiBlkMq, CompletionsInAnyOrderReachTheirSubmitters) {
  load("depth=8 batch=4");
  for (uint32_t i = 0; i < 4; ++i) std::memset(page(i), 0x10 + i, 4096);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_EQ(submit(SIDE_BLOCK_WRITE, 8 * i, i, 100 + i), 0);
  ASSERT_TRUE(wait_done(4));
  const std::vector<std::pair<uint64_t, int>> reversed = {{103, 0}, {102, 0}, {101, 0}, {100, 0}};
  EXPECT_EQ(done(), reversed);
  // Read back one by one (batch 4 would hold them: submit four, each to its own page).
  for (uint32_t i = 0; i < 4; ++i) std::memset(page(4 + i), 0, 4096);
  for (uint32_t i = 0; i < 4; ++i) EXPECT_EQ(submit(SIDE_BLOCK_READ, 8 * i, 4 + i, 200 + i), 0);
  ASSERT_TRUE(wait_done(8));
  for (uint32_t i = 0; i < 4; ++i)
    for (uint32_t b = 0; b < 4096; ++b) ASSERT_EQ(page(4 + i)[b], 0x10 + i) << "request " << i << " byte " << b;
  EXPECT_NE(unload().find("served 8 requeues 0 timeouts 0"), std::string::npos) << d_.log();
}

TEST_F(KapiBlkMq, RequeuedRequestsAreServedAgain) {
  load("requeue=1");
  std::memset(page(0), 0x5a, 4096);
  EXPECT_EQ(sync_rw(SIDE_BLOCK_WRITE, 64, 0), 0);
  std::memset(page(1), 0, 4096);
  EXPECT_EQ(sync_rw(SIDE_BLOCK_READ, 64, 1), 0);
  EXPECT_EQ(std::memcmp(page(0), page(1), 4096), 0);
  EXPECT_NE(unload().find("init_request 4 exit_request 4 served 2 requeues 2 timeouts 0"), std::string::npos)
      << d_.log();
  EXPECT_TRUE(d_->faults().empty()) << d_.log();
}

// A driver-private request over a kernel buffer, executed synchronously; then the queue frozen and quiesced and
// released again (what virtio_blk's serial attribute and its cache_type store do).
TEST_F(KapiBlkMq, PassthroughRequestsAndFreezing) {
  load("passthrough=1");
  EXPECT_TRUE(d_.logged("side_test_blkmq: passthrough 0, data a5 a5")) << d_.log();
  EXPECT_TRUE(d_.logged("side_test_blkmq: frozen, quiesced 1")) << d_.log();
  EXPECT_TRUE(d_.logged("side_test_blkmq: unfrozen, quiesced 0")) << d_.log();
  EXPECT_NE(unload().find("served 1 requeues 0 timeouts 0"), std::string::npos) << d_.log();
  EXPECT_TRUE(d_->faults().empty()) << d_.log();
}

}  // namespace
