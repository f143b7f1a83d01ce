// What the NBD server has done, for status lines and tests: read from any thread while the server runs.
#pragma once

#include <atomic>
#include <cstdint>

namespace side::block {

struct NbdCounters {
  std::atomic<uint64_t> accepted{0};         // connections accepted
  std::atomic<uint64_t> refused{0};          // connections refused: too many clients at once
  std::atomic<uint64_t> transmitting{0};     // connections that reached the transmission phase
  std::atomic<uint64_t> requests{0};         // requests performed on the device
  std::atomic<uint64_t> bytes_read{0};       // read data sent to clients
  std::atomic<uint64_t> bytes_written{0};    // write data completed on the device
  std::atomic<uint64_t> error_replies{0};    // replies carrying an error
  std::atomic<uint64_t> protocol_closes{0};  // connections closed for a malformed message or a stalled client
};

}  // namespace side::block
