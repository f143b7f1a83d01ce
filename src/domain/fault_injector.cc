// Faults a domain injects into its own driver, for `side inject` (SWIFI style): the supervisor asks, the domain
// does it on vCPU 0 while the driver runs on the others, exactly as a bug of the driver's would strike.
#include <random>

#include "common/strings.h"
#include "domain/domain.h"
#include "domain/layout.h"
#include "ipc/protocol.h"

namespace side::domain {
namespace {

// Functions of a NIC driver that run for every packet or interrupt: a loop planted in one of them is met at
// once under traffic. (Any other function is a fallback.)
constexpr const char* kHotFunctions[] = {"e1000_clean",         "e1000_intr",         "e1000_xmit_frame",
                                         "e1000_clean_rx_irq",  "e1000_clean_tx_irq", "e1000_alloc_rx_buffers",
                                         "e1000_maybe_stop_tx", "e1000_tx_map",       "e1000_tx_queue"};

}  // namespace

const loader::LoadedModule* Domain::driver_module() const {
  auto mods = modules();
  return mods.empty() ? nullptr : mods.back();
}

namespace {

// A random bit of the driver's code, flipped.
Result<std::string> flip_code_bit(Domain& d, const loader::LoadedModule& m, std::mt19937_64& rng) {
  uint64_t total = 0;
  for (auto [start, end] : m.text) total += end - start;
  if (!total) return make_error("the driver has no code");
  uint64_t pick = rng() % total, addr = 0;
  for (auto [start, end] : m.text) {
    if (pick < end - start) {
      addr = start + pick;
      break;
    }
    pick -= end - start;
  }
  uint8_t byte = *reinterpret_cast<const uint8_t*>(addr);
  const unsigned bit = static_cast<unsigned>(rng() % 8);
  byte ^= static_cast<uint8_t>(1u << bit);
  SIDE_TRY(d.private_mut().patch_image(addr, &byte, 1));
  return "flipped bit " + std::to_string(bit) + " at " + d.symbolize(addr).value_or(hex(addr));
}

// A jump to itself at the start of one of the driver's hot functions (any function if it has none of them).
Result<std::string> plant_loop(Domain& d, const loader::LoadedModule& m, std::mt19937_64& rng) {
  std::vector<uint64_t> candidates;
  for (const char* name : kHotFunctions) {
    for (const auto& s : m.symbols) {
      if (s.name == name) candidates.push_back(s.address);
    }
  }
  if (candidates.empty()) {
    for (const auto& s : m.symbols) {
      if (m.in_text(s.address) && s.size >= 2) candidates.push_back(s.address);
    }
  }
  if (candidates.empty()) return make_error("no function to plant a loop in");
  const uint64_t addr = candidates[rng() % candidates.size()];
  const uint8_t jump_to_self[2] = {0xeb, 0xfe};
  SIDE_TRY(d.private_mut().patch_image(addr, jump_to_self, 2));
  return "planted an infinite loop at " + d.symbolize(addr).value_or(hex(addr));
}

// A live heap object of the driver's: a random word overwritten (wild), or one of its pointers made non-canonical
// (any use of it is then a general-protection fault).
Result<std::string> corrupt_heap(Arena& arena, bool wild, std::mt19937_64& rng) {
  const uint64_t arena_lo = reinterpret_cast<uint64_t>(arena.base()), arena_hi = arena_lo + arena.size();
  auto is_pointer = [&](uint64_t v) { return (v >= arena_lo && v < arena_hi) || (v >= kImageBase && v < kImageLimit); };
  for (int attempt = 0; attempt < 64; ++attempt) {
    auto obj = arena.live_object(rng());
    if (!obj || obj->second < 8) continue;
    auto* words = reinterpret_cast<uint64_t*>(obj->first);
    const size_t n = obj->second / 8;
    if (wild) {
      const size_t i = rng() % n;
      words[i] = rng();
      return "stored a random word at " + hex(reinterpret_cast<uint64_t>(&words[i]));
    }
    std::vector<size_t> pointers;
    for (size_t i = 0; i < n; ++i) {
      if (is_pointer(__atomic_load_n(&words[i], __ATOMIC_RELAXED))) pointers.push_back(i);
    }
    if (pointers.empty()) continue;
    const size_t i = pointers[rng() % pointers.size()];
    __atomic_fetch_xor(&words[i], uint64_t{1} << 62, __ATOMIC_RELAXED);
    return "corrupted the pointer at " + hex(reinterpret_cast<uint64_t>(&words[i]));
  }
  return make_error("found no heap data to corrupt");
}

}  // namespace

Result<std::string> Domain::inject(int type, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const loader::LoadedModule* m = driver_module();
  if (!m && type != SIDE_INJECT_ALLOC && type != SIDE_INJECT_ALLOC_FAILED) return make_error("no driver loaded");
  switch (type) {
    case SIDE_INJECT_BITFLIP:
      return flip_code_bit(*this, *m, rng);
    case SIDE_INJECT_LOOP:
      return plant_loop(*this, *m, rng);
    case SIDE_INJECT_POINTER:
    case SIDE_INJECT_WILD:
      return corrupt_heap(arena_mut(), type == SIDE_INJECT_WILD, rng);
    case SIDE_INJECT_ALLOC:
      arena_mut().fail_next(64);
      return std::string("the next 64 allocations fail");
    case SIDE_INJECT_ALLOC_FAILED:
      return std::to_string(arena_mut().injected_failures());
    default:
      return make_error("unknown fault type " + std::to_string(type));
  }
}

}  // namespace side::domain
