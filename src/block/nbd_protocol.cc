#include "block/nbd_protocol.h"

#include <algorithm>
#include <cerrno>

namespace side::block::nbd {

namespace {

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void put32(std::vector<uint8_t>& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v));
}
void put64(std::vector<uint8_t>& out, uint64_t v) {
  put32(out, static_cast<uint32_t>(v >> 32));
  put32(out, static_cast<uint32_t>(v));
}
uint16_t get16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t get32(const uint8_t* p) {
  return uint32_t{get16(p)} << 16 | get16(p + 2);
}
uint64_t get64(const uint8_t* p) {
  return uint64_t{get32(p)} << 32 | get32(p + 4);
}

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

Export make_export(const std::string& name, const std::string& description, const Geometry& g) {
  Export e;
  e.name = name;
  e.description = description;
  e.size = g.capacity;
  e.flags = kHasFlags;
  if (g.read_only) e.flags |= kReadOnly;
  if (g.flush) e.flags |= kSendFlush | kCanMultiConn;
  if (g.fua) e.flags |= kSendFua;
  if (g.discard && !g.read_only) e.flags |= kSendTrim;
  if (g.write_zeroes && !g.read_only) e.flags |= kSendWriteZeroes;
  e.min_block = g.logical_block_size;
  e.preferred_block = std::max<uint32_t>(g.logical_block_size, 4096);
  e.max_block = kMaxPayload;
  return e;
}

uint32_t to_nbd_error(int status) {
  switch (status) {
    case 0:
      return 0;
    case EPERM:
    case EROFS:
      return kEperm;
    case EINVAL:
      return kEinval;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return kEnospc;
    case ENOMEM:
      return kEnomem;
    case EOPNOTSUPP:
      return kEnotsup;
    case ESHUTDOWN:
      return kEshutdown;
    case EOVERFLOW:
      return kEoverflow;
    default:
      return kEio;
  }
}

void put_greeting(std::vector<uint8_t>& out) {
  put64(out, kInitMagic);
  put64(out, kOptMagic);
  put16(out, kFlagFixedNewstyle | kFlagNoZeroes);
}

void put_option_reply(std::vector<uint8_t>& out, uint32_t option, uint32_t type, std::span<const uint8_t> data) {
  put64(out, kOptReplyMagic);
  put32(out, option);
  put32(out, type);
  put32(out, static_cast<uint32_t>(data.size()));
  out.insert(out.end(), data.begin(), data.end());
}

void put_simple_reply(std::vector<uint8_t>& out, uint32_t error, uint64_t handle) {
  put32(out, kSimpleReplyMagic);
  put32(out, error);
  put64(out, handle);
}

OptionHeader decode_option_header(std::span<const uint8_t, kOptionHeaderSize> b) {
  return OptionHeader{get64(b.data()), get32(b.data() + 8), get32(b.data() + 12)};
}

RequestHeader decode_request(std::span<const uint8_t, kRequestHeaderSize> b) {
  const uint8_t* p = b.data();
  return RequestHeader{get32(p), get16(p + 4), get16(p + 6), get64(p + 8), get64(p + 16), get32(p + 24)};
}

uint32_t decode_client_flags(std::span<const uint8_t, kClientFlagsSize> b) {
  return get32(b.data());
}

// --- Negotiation

Next Negotiation::client_flags(uint32_t flags) {
  if (flags & ~(kClientFixedNewstyle | kClientNoZeroes)) return Next::kClose;  // the spec: MUST drop
  no_zeroes_ = flags & kClientNoZeroes;
  return Next::kContinue;
}

Next Negotiation::option_header(const OptionHeader& h) {
  if (h.magic != kOptMagic || h.length > kMaxOptionLength) return Next::kClose;
  return ++options_seen_ > kMaxOptions ? Next::kClose : Next::kContinue;
}

Next Negotiation::option(uint32_t option, std::span<const uint8_t> data, std::vector<uint8_t>& out) {
  switch (option) {
    case kOptExportName:
      return export_name(data, out);
    case kOptAbort:
      put_option_reply(out, option, kRepAck, {});
      return Next::kClose;
    case kOptList:
      list(data, out);
      return Next::kContinue;
    case kOptInfo:
    case kOptGo:
      return info_or_go(option, data, out);
    default:
      put_option_reply(out, option, kRepErrUnsup, {});
      return Next::kContinue;
  }
}

bool Negotiation::name_matches(std::span<const uint8_t> name) const {
  // The empty name is the default export, which is this one.
  return name.empty() || std::ranges::equal(name, bytes_of(export_.name));
}

// EXPORT_NAME cannot be answered with an error: an unknown name closes the connection.
Next Negotiation::export_name(std::span<const uint8_t> data, std::vector<uint8_t>& out) const {
  if (data.size() > kMaxNameLength || !name_matches(data)) return Next::kClose;
  put64(out, export_.size);
  put16(out, export_.flags);
  if (!no_zeroes_) out.insert(out.end(), 124, 0);
  return Next::kTransmission;
}

void Negotiation::list(std::span<const uint8_t> data, std::vector<uint8_t>& out) const {
  if (!data.empty()) return put_option_reply(out, kOptList, kRepErrInvalid, {});
  std::vector<uint8_t> server;
  put32(server, static_cast<uint32_t>(export_.name.size()));
  server.insert(server.end(), export_.name.begin(), export_.name.end());
  // The rest of the reply is the export's description, for display (nbdinfo --list shows it).
  server.insert(server.end(), export_.description.begin(), export_.description.end());
  put_option_reply(out, kOptList, kRepServer, server);
  put_option_reply(out, kOptList, kRepAck, {});
}

Next Negotiation::info_or_go(uint32_t option, std::span<const uint8_t> data, std::vector<uint8_t>& out) const {
  // Data: u32 name length, name, u16 count, count x u16 information types; exactly that, nothing more.
  const auto invalid = [&] {
    put_option_reply(out, option, kRepErrInvalid, {});
    return Next::kContinue;
  };
  if (data.size() < 6) return invalid();
  const uint32_t name_len = get32(data.data());
  if (name_len > kMaxNameLength || name_len > data.size() - 6) return invalid();
  const auto name = data.subspan(4, name_len);
  const uint16_t count = get16(data.data() + 4 + name_len);
  if (data.size() - 6 - name_len != size_t{count} * 2) return invalid();
  if (!name_matches(name)) {
    put_option_reply(out, option, kRepErrUnknown, {});
    return Next::kContinue;
  }
  bool want_name = false, want_description = false;
  for (uint16_t i = 0; i < count; ++i) {
    const uint16_t type = get16(data.data() + 6 + name_len + 2 * i);
    want_name |= type == kInfoName;
    want_description |= type == kInfoDescription;
  }
  std::vector<uint8_t> info;
  put16(info, kInfoExport), put64(info, export_.size), put16(info, export_.flags);
  put_option_reply(out, option, kRepInfo, info);
  // Sent whether asked or not (the spec allows it): libnbd and qemu obey it, and a client that did not ask and
  // sends an unaligned request gets a clean EINVAL.
  info.clear();
  put16(info, kInfoBlockSize), put32(info, export_.min_block), put32(info, export_.preferred_block);
  put32(info, export_.max_block);
  put_option_reply(out, option, kRepInfo, info);
  for (const auto& [wanted, type, text] : {std::tuple{want_name, kInfoName, &export_.name},
                                           std::tuple{want_description, kInfoDescription, &export_.description}}) {
    if (!wanted || text->empty()) continue;
    info.clear();
    put16(info, type);
    info.insert(info.end(), text->begin(), text->end());
    put_option_reply(out, option, kRepInfo, info);
  }
  put_option_reply(out, option, kRepAck, {});
  return option == kOptGo ? Next::kTransmission : Next::kContinue;
}

// --- Transmission

namespace {

Decision reply(uint32_t error, uint32_t payload) {
  Decision d;
  d.action = Action::kReply;
  d.error = error;
  d.payload = payload;
  return d;
}

// The device operation a command is, or an error when the export does not offer it.
bool command_op(uint16_t type, uint16_t flags, Op& op) {
  switch (type) {
    case kCmdRead:
      op = Op::kRead;
      return true;
    case kCmdWrite:
      op = Op::kWrite;
      return true;
    case kCmdFlush:
      op = Op::kFlush;
      return flags & kSendFlush;
    case kCmdTrim:
      op = Op::kDiscard;
      return flags & kSendTrim;
    case kCmdWriteZeroes:
      op = Op::kWriteZeroes;
      return flags & kSendWriteZeroes;
    default:  // CACHE, BLOCK_STATUS (needs structured replies), anything unknown
      return false;
  }
}

// Command flags valid for this command on this export: FUA on any command once SEND_FUA was advertised (the spec
// says clients set it on reads too), NO_HOLE on WRITE_ZEROES.
bool flags_valid(const RequestHeader& h, const Export& e) {
  uint16_t allowed = (e.flags & kSendFua) ? kCmdFlagFua : 0;
  if (h.type == kCmdWriteZeroes) allowed |= kCmdFlagNoHole;
  return !(h.flags & ~allowed);
}

// 0 when offset and length suit the command and the export, else the error to reply.
uint32_t range_error(const RequestHeader& h, const Export& e, Op op) {
  const bool data_op = op == Op::kRead || op == Op::kWrite;
  if (op == Op::kFlush) return h.offset || h.length ? kEinval : 0;
  if (h.length == 0 || (data_op && h.length > e.max_block)) return kEinval;
  if (op != Op::kRead && (e.flags & kReadOnly)) return kEperm;
  if (h.offset % e.min_block || h.length % e.min_block) return kEinval;
  if (h.offset > e.size || h.length > e.size - h.offset) return op == Op::kRead ? kEinval : kEnospc;
  return 0;
}

}  // namespace

Decision decide(const RequestHeader& h, const Export& e) {
  if (h.magic != kRequestMagic) return Decision{};  // kClose
  if (h.type == kCmdDisc) {
    Decision d;
    d.action = Action::kDisconnect;
    return d;
  }
  const uint32_t payload = h.type == kCmdWrite ? h.length : 0;
  Op op;
  if (!command_op(h.type, e.flags, op) || !flags_valid(h, e)) return reply(kEinval, payload);
  if (uint32_t error = range_error(h, e, op)) return reply(error, payload);
  Decision d;
  d.action = Action::kSubmit;
  d.payload = payload;
  d.reply_data = op == Op::kRead ? h.length : 0;
  d.request.op = op;
  d.request.offset = h.offset;
  d.request.length = h.length;
  if ((h.flags & kCmdFlagFua) && op != Op::kRead && op != Op::kFlush) d.request.flags |= kFua;
  if (h.flags & kCmdFlagNoHole) d.request.flags |= kNoUnmap;
  return d;
}

}  // namespace side::block::nbd
