// A token bucket: at most `burst` events at once, then `per_second` events a second on average. The caller gives
// the time (a monotonic clock in nanoseconds), so that a test controls it; time that goes backwards adds nothing.
#pragma once

#include <algorithm>
#include <cstdint>

namespace side {

class TokenBucket {
 public:
  TokenBucket(double per_second, double burst) : rate_(per_second), burst_(burst), tokens_(burst) {}

  // Takes one token if there is one.
  bool take(uint64_t now_ns) {
    refill(now_ns);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

  // How long from `now_ns` until take() can succeed (0: it can now).
  uint64_t ns_until_token(uint64_t now_ns) {
    refill(now_ns);
    if (tokens_ >= 1) return 0;
    return static_cast<uint64_t>((1 - tokens_) / rate_ * 1e9) + 1;
  }

 private:
  void refill(uint64_t now_ns) {
    if (started_ && now_ns > last_ns_) {
      tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ns - last_ns_) * 1e-9 * rate_);
    }
    if (!started_ || now_ns > last_ns_) last_ns_ = now_ns;
    started_ = true;
  }

  double rate_, burst_, tokens_;
  uint64_t last_ns_ = 0;
  bool started_ = false;
};

}  // namespace side
