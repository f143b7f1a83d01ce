// The disk the supervisor exports to the host (through NBD and FUSE): the interface every such disk implements.
// Today's implementation is an image file (image_file_disk.h); later it is the disk an isolated nvme or virtio_blk
// driver serves. The exporters are written against this interface alone.
//
// The contract, enforced here (submit() checks every request before an implementation sees it):
//  - Geometry is fixed for the device's life. Offsets and lengths of every request are multiples of the logical
//    block size, and a request lies within the capacity. Read and write lengths are at most max_transfer, discard
//    and write-zeroes lengths at most max_discard; none is zero-length except flush, whose offset and length are 0.
//    What the exporters do with a client request that is unaligned or too long is theirs to decide:
//      * NBD advertises the logical block size as its minimum block size (NBD_INFO_BLOCK_SIZE), so a conforming
//        client never sends an unaligned request; one that does gets EINVAL, as the NBD spec recommends. Refusing
//        is what an NBD user expects (qemu-img, nbdcopy and the kernel obey the advertised size) and keeps the
//        server free of read-modify-write races between connections. Long requests are split (split_io.h).
//      * FUSE presents a regular file, and a user expects any byte range of a regular file to work (`dd bs=1`,
//        an editor, a 512-byte-sector loop device over a 4096-byte disk): the FUSE export reads, modifies and
//        writes the partial blocks at the edges (byte_io.h).
//  - Requests are asynchronous: submit() either refuses a request at once (returns an errno value, the completion
//    is never called) or accepts it, and then the completion is called exactly once, with 0 or a positive errno
//    value, from any thread (an implementation's worker, a domain's reply handler), possibly before submit()
//    returns. Requests complete in any order; a write that completed is visible to every later read.
//  - At most queue_depth requests are in flight: submit() waits (up to the caller's bound) for a free slot.
//  - A request's data buffer belongs to the device from submit() until its completion returns: the caller keeps it
//    alive (the exporters own their buffers through shared pointers, so a caller that gave up waiting cannot free
//    memory the device still writes into).
//  - Flush makes every write that completed before the flush was submitted durable. kFua on a write (or
//    write-zeroes, discard) completes only once that write is durable. Discard is a hint: the discarded range reads
//    back as anything until written again. Write-zeroes reads back as zeroes; kNoUnmap asks to keep it allocated.
//  - drain() stops accepting (ESHUTDOWN) and waits, bounded, for every request in flight: the owner calls it before
//    destroying the device or anything a completion refers to.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

namespace side::block {

enum class Op : uint8_t { kRead, kWrite, kFlush, kDiscard, kWriteZeroes };
const char* op_name(Op op);

// Request flags.
inline constexpr uint32_t kFua = 1u << 0;      // durable before completion
inline constexpr uint32_t kNoUnmap = 1u << 1;  // write-zeroes: keep the range allocated
inline constexpr uint32_t kKnownFlags = kFua | kNoUnmap;

struct Geometry {
  uint32_t logical_block_size = 512;  // a power of two, 512..65536
  uint64_t capacity = 0;              // bytes, a multiple of logical_block_size
  uint32_t max_transfer = 1u << 20;   // longest read or write, a multiple of logical_block_size
  uint32_t max_discard = 1u << 30;    // longest discard or write-zeroes, a multiple of logical_block_size
  uint32_t queue_depth = 32;          // requests in flight at most
  bool read_only = false;
  bool flush = false;  // the device has a volatile cache that kFlush empties
  bool fua = false;    // kFua is honoured (without it, kFua is refused and no exporter offers FUA)
  bool discard = false;
  bool write_zeroes = false;
};

// Whether a geometry is one the exporters can serve (what a driver-reported geometry is checked against).
bool geometry_valid(const Geometry& g);

struct Request {
  Op op = Op::kRead;
  uint32_t flags = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
  uint8_t* data = nullptr;  // read: filled, write: read from; `length` bytes; null for the other operations
};

// Called once per accepted request with 0 or a positive errno value.
using Completion = std::function<void(int status)>;

// 0 when `r` obeys the contract above for geometry `g`, else the errno an exporter reports for it: EINVAL
// (misaligned, zero-length, too long, bad flags, no buffer), ENOSPC (beyond the capacity), EROFS (a change to a
// read-only device), EOPNOTSUPP (an operation the geometry does not offer).
int check_request(const Geometry& g, const Request& r);

// What a completion reports, whatever an implementation passed: a positive errno value below 4096, else EIO.
int sanitize_status(int status);

class BlockDevice {
 public:
  explicit BlockDevice(const Geometry& g) : geometry_(g) {}
  virtual ~BlockDevice() = default;
  BlockDevice(const BlockDevice&) = delete;
  BlockDevice& operator=(const BlockDevice&) = delete;

  const Geometry& geometry() const { return geometry_; }

  // Checks `r`, waits up to `slot_wait` for a free queue slot, and starts it. Returns 0 (accepted: `done` will be
  // called once) or the errno it was refused with (check_request's, EAGAIN when no slot freed in time,
  // ESHUTDOWN after drain()); `done` is not called then.
  int submit(const Request& r, Completion done, std::chrono::milliseconds slot_wait);

  // Stops accepting requests and waits up to `timeout` for those in flight. Returns how many are still in flight.
  size_t drain(std::chrono::milliseconds timeout);
  size_t in_flight() const;

 protected:
  // Starts a checked request. The implementation calls `done` exactly once, from any thread.
  virtual void start(const Request& r, Completion done) = 0;

 private:
  void finish();

  const Geometry geometry_;
  mutable std::mutex mu_;
  std::condition_variable slot_freed_;
  uint32_t in_flight_ = 0;
  bool stopping_ = false;
};

}  // namespace side::block
