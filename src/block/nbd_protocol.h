// The NBD protocol, server side, as pure functions over bytes: no sockets, no device, so that every decision about
// what a client sent can be unit-tested and fuzzed (tests/fuzz/block). nbd_connection.cc does the I/O around it.
//
// Facts from the protocol specification (NetworkBlockDevice/nbd, doc/proto.md). What side speaks:
//  - fixed newstyle negotiation: greeting "NBDMAGIC" "IHAVEOPT" + handshake flags (FIXED_NEWSTYLE, NO_ZEROES);
//    the client's 32-bit flags (an unknown bit closes the connection, as the spec requires);
//  - options EXPORT_NAME, ABORT, LIST, INFO and GO (with NBD_INFO_EXPORT, NBD_INFO_BLOCK_SIZE always sent, and
//    NBD_INFO_NAME / NBD_INFO_DESCRIPTION when asked); every other option gets NBD_REP_ERR_UNSUP, so a client falls
//    back to simple replies (no structured replies, no TLS, no metadata contexts);
//  - transmission with simple replies: READ, WRITE, FLUSH, TRIM, WRITE_ZEROES, DISC; the FUA and NO_HOLE flags.
// Everything a client sends is checked: option and request magic, option lengths, export names, command types and
// flags, alignment to the advertised minimum block size, lengths (at most 32 MiB of data), offsets within the
// export. A malformed header closes the connection (the stream cannot be trusted to be in step any more); a
// well-formed request the server will not perform gets an error reply and the connection goes on.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "block/block_device.h"

namespace side::block::nbd {

// Magic numbers.
inline constexpr uint64_t kInitMagic = 0x4e42444d41474943ull;  // "NBDMAGIC"
inline constexpr uint64_t kOptMagic = 0x49484156454f5054ull;   // "IHAVEOPT"
inline constexpr uint64_t kOptReplyMagic = 0x3e889045565a9ull;
inline constexpr uint32_t kRequestMagic = 0x25609513u;
inline constexpr uint32_t kSimpleReplyMagic = 0x67446698u;

// Handshake flags (server) and client flags.
inline constexpr uint16_t kFlagFixedNewstyle = 1u << 0;
inline constexpr uint16_t kFlagNoZeroes = 1u << 1;
inline constexpr uint32_t kClientFixedNewstyle = 1u << 0;
inline constexpr uint32_t kClientNoZeroes = 1u << 1;

// Transmission flags.
inline constexpr uint16_t kHasFlags = 1u << 0;
inline constexpr uint16_t kReadOnly = 1u << 1;
inline constexpr uint16_t kSendFlush = 1u << 2;
inline constexpr uint16_t kSendFua = 1u << 3;
inline constexpr uint16_t kSendTrim = 1u << 5;
inline constexpr uint16_t kSendWriteZeroes = 1u << 6;
inline constexpr uint16_t kCanMultiConn = 1u << 8;

// Options, option replies, information types.
inline constexpr uint32_t kOptExportName = 1, kOptAbort = 2, kOptList = 3, kOptInfo = 6, kOptGo = 7;
inline constexpr uint32_t kRepAck = 1, kRepServer = 2, kRepInfo = 3;
inline constexpr uint32_t kRepErrUnsup = 0x80000001u, kRepErrInvalid = 0x80000003u, kRepErrUnknown = 0x80000006u;
inline constexpr uint16_t kInfoExport = 0, kInfoName = 1, kInfoDescription = 2, kInfoBlockSize = 3;

// Commands and command flags.
inline constexpr uint16_t kCmdRead = 0, kCmdWrite = 1, kCmdDisc = 2, kCmdFlush = 3, kCmdTrim = 4;
inline constexpr uint16_t kCmdWriteZeroes = 6;
inline constexpr uint16_t kCmdFlagFua = 1u << 0;
inline constexpr uint16_t kCmdFlagNoHole = 1u << 1;

// Error values of replies (the spec's fixed set).
inline constexpr uint32_t kEperm = 1, kEio = 5, kEnomem = 12, kEinval = 22, kEnospc = 28, kEoverflow = 75;
inline constexpr uint32_t kEnotsup = 95, kEshutdown = 108;

// Sizes on the wire and the server's limits.
inline constexpr size_t kGreetingSize = 18;
inline constexpr size_t kClientFlagsSize = 4;
inline constexpr size_t kOptionHeaderSize = 16;
inline constexpr size_t kRequestHeaderSize = 28;
inline constexpr size_t kSimpleReplySize = 16;
inline constexpr uint32_t kMaxOptionLength = 64 * 1024;  // a GO option's longest legal data is 4096 + 6 + 2 n
inline constexpr uint32_t kMaxOptions = 256;             // per connection; a client looping on options is cut off
inline constexpr uint32_t kMaxPayload = 32u << 20;       // the spec's interoperable maximum for READ and WRITE
inline constexpr size_t kMaxNameLength = 4096;

// What the server offers under one name.
struct Export {
  std::string name;
  std::string description;
  uint64_t size = 0;
  uint16_t flags = 0;  // transmission flags
  uint32_t min_block = 512, preferred_block = 4096, max_block = kMaxPayload;
};

// The export a device's geometry gives: flags from what it supports (CAN_MULTI_CONN: the server caches nothing,
// so a flush on one connection covers writes completed on every other), the logical block size as minimum.
Export make_export(const std::string& name, const std::string& description, const Geometry& g);

// Maps a device's completion status to one of the spec's error values.
uint32_t to_nbd_error(int status);

// --- Encoders: append to `out`.
void put_greeting(std::vector<uint8_t>& out);
void put_option_reply(std::vector<uint8_t>& out, uint32_t option, uint32_t type, std::span<const uint8_t> data);
void put_simple_reply(std::vector<uint8_t>& out, uint32_t error, uint64_t handle);

// --- Decoders of fixed-size headers (their sizes above).
struct OptionHeader {
  uint64_t magic = 0;
  uint32_t option = 0;
  uint32_t length = 0;
};
OptionHeader decode_option_header(std::span<const uint8_t, kOptionHeaderSize> b);

struct RequestHeader {
  uint32_t magic = 0;
  uint16_t flags = 0;
  uint16_t type = 0;
  uint64_t handle = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
};
RequestHeader decode_request(std::span<const uint8_t, kRequestHeaderSize> b);
uint32_t decode_client_flags(std::span<const uint8_t, kClientFlagsSize> b);

// --- Negotiation: what the server answers to each step of option haggling.
enum class Next { kContinue, kTransmission, kClose };

class Negotiation {
 public:
  explicit Negotiation(Export e) : export_(std::move(e)) {}

  // The client's flags: kClose when a bit is unknown (the server offers both FIXED_NEWSTYLE and NO_ZEROES).
  Next client_flags(uint32_t flags);
  // An option header: kClose for a bad magic, an oversized length, or one option too many.
  Next option_header(const OptionHeader& h);
  // One option with its data: appends the reply bytes to `out`.
  Next option(uint32_t option, std::span<const uint8_t> data, std::vector<uint8_t>& out);

  const Export& exported() const { return export_; }

 private:
  Next export_name(std::span<const uint8_t> data, std::vector<uint8_t>& out) const;
  Next info_or_go(uint32_t option, std::span<const uint8_t> data, std::vector<uint8_t>& out) const;
  void list(std::span<const uint8_t> data, std::vector<uint8_t>& out) const;
  bool name_matches(std::span<const uint8_t> name) const;

  Export export_;
  bool no_zeroes_ = false;
  uint32_t options_seen_ = 0;
};

// --- Transmission: what to do with one request header.
enum class Action {
  kSubmit,      // perform `request` on the device (its data buffer still to be provided)
  kReply,       // answer `error` without touching the device
  kDisconnect,  // NBD_CMD_DISC: finish what is in flight, then close
  kClose,       // malformed: close at once
};

struct Decision {
  Action action = Action::kClose;
  uint32_t error = 0;       // for kReply
  Request request;          // for kSubmit
  uint32_t payload = 0;     // bytes of write data following the header, to read (kSubmit) or skip (kReply)
  uint32_t reply_data = 0;  // bytes of read data following a successful reply
};

Decision decide(const RequestHeader& h, const Export& e);

}  // namespace side::block::nbd
