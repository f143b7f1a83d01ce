// The three optimisations SIDE evaluated in its Table V, as side implements them. Each can be switched off so a
// benchmark can measure what it buys (side bench); all are on by default.
#pragma once

#include <string>

namespace side::ipc {

struct Optimisations {
  // Crossings between supervisor and domain poll shared memory: a waiting side spins briefly before it sleeps on
  // its doorbell, and a doorbell is rung with a system call only when its waiter sleeps. Off: every wait sleeps at
  // once, so every crossing costs a futex wake-up and a context switch.
  bool streamlined_crossing = true;
  // Frames queued for transmission go to the driver in batches: one ring crossing and one transmit-tail register
  // write (xmit_more) per batch. Off: one frame per round, each with its own tail write.
  bool batched_submit = true;
  // The domain translates DMA addresses itself (IOVA = physical address in its arena) and posts the permission
  // change to the supervisor, which applies it before the device can act on it. Off: every dma_map/dma_unmap
  // waits for the supervisor's answer.
  bool dma_pretranslation = true;
};

// Parses a comma-separated list of optimisations to switch off (streamlined, batched, pretranslation; "none" or
// empty: nothing). False on an unknown name.
inline bool disable_optimisations(const std::string& list, Optimisations& o) {
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    std::string name = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (name == "streamlined")
      o.streamlined_crossing = false;
    else if (name == "batched")
      o.batched_submit = false;
    else if (name == "pretranslation")
      o.dma_pretranslation = false;
    else if (!name.empty() && name != "none")
      return false;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return true;
}

inline std::string disabled_optimisations(const Optimisations& o) {
  std::string s;
  auto add = [&s](const char* n) { s += s.empty() ? n : std::string(",") + n; };
  if (!o.streamlined_crossing) add("streamlined");
  if (!o.batched_submit) add("batched");
  if (!o.dma_pretranslation) add("pretranslation");
  return s;
}

}  // namespace side::ipc
