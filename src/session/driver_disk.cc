#include "session/driver_disk.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/sanitize.h"
#include "ipc/messages.h"

namespace side::session {

using clock = std::chrono::steady_clock;

Result<block::Geometry> geometry_from_info(const side_block_info& info, uint32_t slot_bytes, uint32_t slots) {
  if (std::memchr(info.name, 0, sizeof info.name) == nullptr) return make_error("the disk's name is not terminated");
  // Sectors are 512 bytes; a capacity whose byte count overflows is nonsense, not a big disk.
  if (info.capacity == 0 || info.capacity > (UINT64_MAX >> 9)) return make_error("the disk reports no capacity");
  block::Geometry g;
  g.logical_block_size = info.logical_block_size;
  g.capacity = info.capacity * 512;
  g.max_transfer = slot_bytes;
  g.queue_depth = slots;
  g.read_only = info.flags & SIDE_BLOCK_INFO_READ_ONLY;
  g.flush = info.flags & SIDE_BLOCK_INFO_WRITE_CACHE;
  // The layer runs FUA as blk-flush does: passed on, emulated by a flush after the write, or moot without a
  // volatile cache; every case makes the write durable before it completes.
  g.fua = true;
  g.discard = (info.flags & SIDE_BLOCK_INFO_DISCARD) && info.max_discard_sectors > 0;
  if (g.discard && g.logical_block_size) {
    const uint64_t bytes = std::min<uint64_t>(uint64_t{info.max_discard_sectors} * 512, 1u << 30);
    g.max_discard = static_cast<uint32_t>(bytes - bytes % g.logical_block_size);
  }
  if (!block::geometry_valid(g)) {
    return make_error("the disk's geometry is not one a disk can have (logical block " +
                      std::to_string(info.logical_block_size) + ", " + std::to_string(info.capacity) +
                      " sectors, max discard " + std::to_string(info.max_discard_sectors) + ")");
  }
  return g;
}

std::optional<int> status_from_completion(int64_t status) {
  if (status > 0 || status < -4095) return std::nullopt;
  return static_cast<int>(-status);
}

namespace {

// `n` staging slots in the domain's arena, each checked to lie inside the arena the supervisor maps.
Result<std::vector<uint64_t>> allocate_slots(supervisor::DriverDomain& domain, uint32_t n) {
  std::vector<uint64_t> slots;
  for (uint32_t i = 0; i < n; ++i) {
    auto slot = domain.block_buffer(DriverDisk::kSlotOrder);
    if (!slot) return make_error("staging buffer: " + slot.error().message);
    if (*slot > domain.arena_size() || domain.arena_size() - *slot < DriverDisk::kSlotBytes) {
      return make_error("the domain placed a staging buffer outside its arena");
    }
    slots.push_back(*slot);
  }
  return slots;
}

}  // namespace

Result<side_block_info> wait_for_disk(supervisor::DriverDomain& domain, uint32_t index,
                                      std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto info = domain.block_info(index);
    if (info || domain.faulty() || std::chrono::steady_clock::now() >= deadline) return info;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Result<std::unique_ptr<DriverDisk>> DriverDisk::open(supervisor::DriverDomain& domain, uint32_t index,
                                                     const DriverDiskOptions& options) {
  auto info = wait_for_disk(domain, index, options.disk_wait);
  if (!info) return make_error("disk " + std::to_string(index) + ": " + info.error().message);
  auto geometry = geometry_from_info(*info, kSlotBytes, options.slots);
  // Not by its name yet: an unterminated one is among what the check refuses.
  if (!geometry) return make_error("disk " + std::to_string(index) + ": " + geometry.error().message);
  sanitize_field(info->name, sizeof info->name);  // the domain's string, which side prints and logs
  auto slots = allocate_slots(domain, options.slots);
  if (!slots) return slots.error();
  return std::unique_ptr<DriverDisk>(new DriverDisk(domain, index, *info, *geometry, std::move(*slots), options));
}

DriverDisk::DriverDisk(supervisor::DriverDomain& domain, uint32_t index, const side_block_info& info,
                       const block::Geometry& geometry, std::vector<uint64_t> slots, const DriverDiskOptions& options)
    : BlockDevice(geometry),
      domain_(domain),
      index_(index),
      info_(info),
      slots_(std::move(slots)),
      options_(options),
      slot_busy_(slots_.size(), false),
      generation_(domain.generation()) {
  worker_ = std::thread([this] { work(); });
}

DriverDisk::~DriverDisk() {
  drain(options_.request_timeout + std::chrono::seconds(1));
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void DriverDisk::start(const block::Request& r, block::Completion done) {
  {
    std::lock_guard lock(mu_);
    pending_.push_back(Job{r, std::move(done)});
  }
  wake_.notify_one();
}

// Submits what the exporters started and fails what the domain does not complete in time (or at all: a dead
// domain completes nothing). On stop, everything left ends with EIO.
void DriverDisk::work() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    wake_.wait_for(lock, std::chrono::milliseconds(50), [&] { return stop_ || !pending_.empty(); });
    std::optional<Job> job;
    if (!stop_ && !pending_.empty() && !held_for_recovery()) {
      job = std::move(pending_.front());
      pending_.pop_front();
    }
    lock.unlock();
    if (options_.reissue) follow_generation();
    // A recovering domain is given up on by its own policy (faulty() then): until then its requests wait.
    if (!(options_.reissue && domain_.recovering())) {
      for (auto& f : take_expired(domain_.faulty())) complete(std::move(f), EIO);
    }
    if (job) issue(std::move(*job));
    lock.lock();
  }
  std::deque<Job> left = std::move(pending_);
  lock.unlock();
  for (auto& j : left) j.done(EIO);
  for (auto& f : take_expired(true)) complete(std::move(f), EIO);
}

void DriverDisk::issue(Job job) {
  const block::Request r = job.request;
  uint64_t tag = 0;
  uint32_t slot;
  {
    std::lock_guard lock(mu_);
    // A free slot always exists: the device admits at most queue_depth (= slots) requests.
    slot = static_cast<uint32_t>(std::find(slot_busy_.begin(), slot_busy_.end(), false) - slot_busy_.begin());
    if (slot < slots_.size()) {
      slot_busy_[slot] = true;
      tag = next_tag_++;
      // In flight before the message goes: the completion may come back before the answer does.
      in_flight_.emplace(tag, InFlight{std::move(job), slot, clock::now() + options_.request_timeout, generation_});
    }
  }
  if (slot == slots_.size()) return job.done(EIO);
  send(tag, r, slot);
}

// A request the domain did not answer stays in flight when the domain recovers: the next generation gets it.
void DriverDisk::send(uint64_t tag, const block::Request& r, uint32_t slot) {
  const uint64_t offset = slot_offset(slot);
  // Slots of one generation never go to another: a request meeting a newer one waits for follow_generation().
  const bool current = domain_.generation() == generation_;
  if (current && r.op == block::Op::kWrite) std::memcpy(domain_.arena_base() + offset, r.data, r.length);
  const int rc = current ? submit_message(r, tag, offset) : -1;
  if (rc == 1 || (rc < 0 && !options_.reissue)) {
    if (auto f = take(tag)) complete(std::move(*f), EIO);
  }
}

uint64_t DriverDisk::slot_offset(uint32_t slot) {
  std::lock_guard lock(mu_);
  return slots_.at(slot);
}

bool DriverDisk::held_for_recovery() const {
  return options_.reissue && (domain_.recovering() || domain_.generation() != generation_);
}

// A restarted driver: the disk must be the same one, the staging slots are in its new arena, and every request the
// failed one did not complete is submitted again (with a new tag: one of the dead driver's that comes late is
// ignored). Writes are whole-block and carry the same data again, so a write the failed driver did carry out is
// rewritten unchanged; no request completed twice.
void DriverDisk::follow_generation() {
  if (domain_.recovering() || domain_.generation() == generation_) return;
  const unsigned g = domain_.generation();
  if (auto s = reattach(); !s) {
    logf(LogLevel::kError, "side: %s: %s", info_.name, s.error().message.c_str());
    fail_all();
    std::lock_guard lock(mu_);
    generation_ = g;
    return;
  }
  std::vector<InFlight> again;
  {
    std::lock_guard lock(mu_);
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      if (it->second.generation == g) {
        ++it;
        continue;
      }
      again.push_back(std::move(it->second));
      it = in_flight_.erase(it);
    }
  }
  for (InFlight& f : again) {
    const block::Request r = f.job.request;
    const uint32_t slot = f.slot;
    uint64_t tag;
    {
      std::lock_guard lock(mu_);
      tag = next_tag_++;
      f.generation = g;
      f.deadline = clock::now() + options_.request_timeout;
      in_flight_.emplace(tag, std::move(f));
    }
    ++counters_.reissued;
    send(tag, r, slot);
  }
}

Status DriverDisk::reattach() {
  const unsigned g = domain_.generation();
  auto info = wait_for_disk(domain_, index_, options_.disk_wait);
  if (!info) return make_error("the restarted driver has no disk " + std::to_string(index_));
  if (info->capacity != info_.capacity || info->logical_block_size != info_.logical_block_size) {
    return make_error("the restarted driver's disk is not the same disk");
  }
  auto slots = allocate_slots(domain_, static_cast<uint32_t>(slot_busy_.size()));
  if (!slots) return slots.error();
  std::lock_guard lock(mu_);
  slots_ = std::move(*slots);
  generation_ = g;
  generation_tag_ = next_tag_;
  return {};
}

void DriverDisk::fail_all() {
  for (auto& f : take_expired(true)) complete(std::move(f), EIO);
}

// The request as the layer takes it: 0 accepted, 1 refused, -1 not answered (the domain failed).
int DriverDisk::submit_message(const block::Request& r, uint64_t tag, uint64_t slot_offset) {
  uint32_t op = SIDE_BLOCK_READ;
  if (r.op == block::Op::kWrite) op = SIDE_BLOCK_WRITE | ((r.flags & block::kFua) ? SIDE_BLOCK_FUA : 0);
  if (r.op == block::Op::kFlush) op = SIDE_BLOCK_FLUSH;
  if (r.op == block::Op::kDiscard) op = SIDE_BLOCK_DISCARD;
  const bool has_data = r.op == block::Op::kRead || r.op == block::Op::kWrite;
  const side_block_seg seg{slot_offset, r.length, 0};
  auto request = ipc::make_request<ipc::BlockSubmit>(
      {index_, r.offset / 512, op, r.length / 512, tag},
      has_data ? std::span(reinterpret_cast<const uint8_t*>(&seg), sizeof seg) : std::span<const uint8_t>());
  if (!request) return 1;
  auto answer = domain_.transact(*request);  // bounded by the transport
  if (!answer) {
    logf(LogLevel::kWarning, "side: %s: %s", info_.name, answer.error().message.c_str());
    return -1;
  }
  return answer->status == 0 ? 0 : 1;
}

std::optional<DriverDisk::InFlight> DriverDisk::take(uint64_t tag) {
  std::lock_guard lock(mu_);
  auto it = in_flight_.find(tag);
  if (it == in_flight_.end()) return std::nullopt;
  InFlight f = std::move(it->second);
  in_flight_.erase(it);
  return f;
}

// Read data leaves the arena before the slot is free again; the slot is free before the exporter hears of it.
void DriverDisk::complete(InFlight f, int status) {
  const block::Request& r = f.job.request;
  if (status == 0 && r.op == block::Op::kRead) {
    std::memcpy(r.data, domain_.arena_base() + slot_offset(f.slot), r.length);
    counters_.bytes_read += r.length;
    ++counters_.reads;
  } else if (status == 0 && r.op == block::Op::kWrite) {
    counters_.bytes_written += r.length;
    ++counters_.writes;
  }
  {
    std::lock_guard lock(mu_);
    slot_busy_[f.slot] = false;
  }
  ++counters_.requests;
  if (status) ++counters_.errors;
  f.job.done(status);
}

// Requests past their deadline. A recovering domain's driver gets one timeout as a hung fault, which restarts it,
// and keeps its requests for the next generation; a second timeout (or a domain that does not recover) fails them.
std::vector<DriverDisk::InFlight> DriverDisk::take_expired(bool all) {
  std::vector<InFlight> out;
  const auto now = clock::now();
  size_t kept = 0;
  {
    std::lock_guard lock(mu_);
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      InFlight& f = it->second;
      if (!all && f.deadline <= now && options_.reissue && !f.expired_once) {
        f.expired_once = true;
        f.deadline = now + options_.request_timeout;
        ++kept;
      } else if (all || f.deadline <= now) {
        out.push_back(std::move(f));
        it = in_flight_.erase(it);
        continue;
      }
      ++it;
    }
  }
  if (!all) counters_.timeouts += out.size() + kept;
  if ((!out.empty() || kept) && !all) {
    anomaly(SIDE_FAULT_HUNG, std::string(info_.name) + ": " + std::to_string(out.size() + kept) +
                                 " block request(s) not completed within the timeout");
  }
  return out;
}

void DriverDisk::block_done(uint64_t tag, int32_t status) {
  const auto s = status_from_completion(status);
  if (!s) {
    ++counters_.bad_status;
    anomaly(SIDE_FAULT_PROTOCOL, "block completion with status " + std::to_string(status));
  }
  auto f = take(tag);
  if (!f) {
    {
      std::lock_guard lock(mu_);
      if (tag < generation_tag_) return;  // a failed generation's, reissued since: the new driver's counts
    }
    ++counters_.stray_completions;
    anomaly(SIDE_FAULT_PROTOCOL, "completion of block request " + std::to_string(tag) + ", which is not in flight");
    return;
  }
  complete(std::move(*f), s ? block::sanitize_status(*s) : EIO);
}

// The domain lied about its requests or lost them: its fault, reported once it is seen (the supervisor keeps
// serving: the requests concerned ended with EIO).
void DriverDisk::anomaly(int kind, const std::string& message) {
  logf(LogLevel::kWarning, "side: %s", message.c_str());
  domain_.report_fault(kind, message);
}

}  // namespace side::session
