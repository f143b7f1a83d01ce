// Fuzz target for the NBD server's protocol (src/block/nbd_protocol.h). The first bytes choose the disk (block
// size, capacity, what it supports); the rest is everything a client sends, consumed as the server consumes it:
// client flags, options with their data until GO/EXPORT_NAME, then request headers with their write data. Checked:
// nothing crashes or reads out of bounds; every option reply the server would send is well formed; every request
// the server would submit obeys the device contract (check_request accepts it: aligned, in range, known flags,
// within the exporter's limits); refused requests name exactly the write data to read past.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "block/nbd_protocol.h"
#include "fuzz_input.h"

namespace {

using namespace side::block;

void check(bool ok) {
  if (!ok) std::abort();
}

Geometry geometry_from(side::fuzz::Input& in) {
  const uint8_t shape = in.u8();
  Geometry g;
  g.logical_block_size = 512u << (shape & 3);
  g.capacity = uint64_t{1 + (in.u32() & 0xfffff)} * g.logical_block_size;
  g.read_only = shape & 4;
  g.flush = !(shape & 8);
  g.fua = g.flush && !(shape & 16);
  g.discard = !(shape & 32);
  g.write_zeroes = !(shape & 64);
  return g;
}

// The replies to one option: a run of option replies (magic, option, type, length, data), or for EXPORT_NAME the
// export size and flags with or without the 124 zero bytes.
void check_replies(uint32_t option, const std::vector<uint8_t>& out, const nbd::Export& e) {
  if (option == nbd::kOptExportName) return check(out.empty() || out.size() == 10 || out.size() == 134);
  size_t at = 0;
  while (at < out.size()) {
    check(out.size() - at >= 20);
    uint64_t magic = 0;
    for (int i = 0; i < 8; ++i) magic = magic << 8 | out[at + i];
    check(magic == nbd::kOptReplyMagic);
    const uint32_t len = uint32_t{out[at + 16]} << 24 | out[at + 17] << 16 | out[at + 18] << 8 | out[at + 19];
    check(len <= out.size() - at - 20 && len <= 4 + e.name.size() + e.description.size() + 16);
    at += 20 + len;
  }
}

// What the server does with one request header; false when the connection would end.
bool transmit_one(side::fuzz::Input& in, const nbd::Export& e, const Geometry& exporter) {
  uint8_t h[nbd::kRequestHeaderSize];
  if (in.n < sizeof h) return false;
  in.bytes(h, sizeof h);
  const nbd::RequestHeader r = nbd::decode_request(h);
  const nbd::Decision d = nbd::decide(r, e);
  if (d.action == nbd::Action::kClose || d.action == nbd::Action::kDisconnect) return false;
  check(d.payload == (r.type == nbd::kCmdWrite ? r.length : 0));
  if (d.action == nbd::Action::kSubmit) {
    Request req = d.request;
    static uint8_t buf[1];
    if (req.op == Op::kRead || req.op == Op::kWrite) req.data = buf;
    check(check_request(exporter, req) == 0);
    check(d.reply_data == (req.op == Op::kRead ? req.length : 0));
  } else {
    check(d.error != 0);
  }
  const size_t skip = d.payload < in.n ? d.payload : in.n;
  in.p += skip, in.n -= skip;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  side::fuzz::Input in{data, size};
  const Geometry g = geometry_from(in);
  const nbd::Export e = nbd::make_export("side", "fuzzed disk", g);
  // The exporter's limits: what the server may hand to the splitter (split_io.h) before the device's own.
  Geometry exporter = g;
  exporter.max_transfer = nbd::kMaxPayload;
  exporter.max_discard = 0xffffffffu / g.logical_block_size * g.logical_block_size;
  nbd::Negotiation n(e);
  uint8_t flags[nbd::kClientFlagsSize];
  in.bytes(flags, sizeof flags);
  if (n.client_flags(nbd::decode_client_flags(flags)) == nbd::Next::kClose) return 0;
  for (;;) {  // bounded: the input shrinks every round, and the negotiation closes after kMaxOptions
    if (in.n < nbd::kOptionHeaderSize) return 0;
    uint8_t header[nbd::kOptionHeaderSize];
    in.bytes(header, sizeof header);
    const nbd::OptionHeader h = nbd::decode_option_header(header);
    if (n.option_header(h) == nbd::Next::kClose) return 0;
    const size_t len = h.length < in.n ? h.length : in.n;
    std::span<const uint8_t> option_data(in.p, len);
    in.p += len, in.n -= len;
    std::vector<uint8_t> out;
    const nbd::Next next = n.option(h.option, option_data, out);
    check_replies(h.option, out, e);
    if (next == nbd::Next::kClose) return 0;
    if (next == nbd::Next::kTransmission) break;
  }
  while (transmit_one(in, e, exporter)) {
  }
  return 0;
}
