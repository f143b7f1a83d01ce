// The NBD protocol codec and decisions, byte for byte against the specification (doc/proto.md of the reference
// implementation): greeting, option replies, GO/INFO/LIST/EXPORT_NAME/ABORT, unknown options, and every reason a
// request is refused.
#include "block/nbd_protocol.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace side::block::nbd {
namespace {

using Bytes = std::vector<uint8_t>;

void be(Bytes& b, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

Export test_export() {
  Geometry g;
  g.logical_block_size = 512;
  g.capacity = 1 << 20;
  g.flush = g.fua = g.discard = g.write_zeroes = true;
  return make_export("side", "a test disk", g);
}

// A GO/INFO option's data: name, then information requests.
Bytes go_data(const std::string& name, std::vector<uint16_t> infos) {
  Bytes b;
  be(b, name.size(), 4);
  b.insert(b.end(), name.begin(), name.end());
  be(b, infos.size(), 2);
  for (uint16_t i : infos) be(b, i, 2);
  return b;
}

// An option reply as the spec lays it out.
Bytes option_reply(uint32_t option, uint32_t type, const Bytes& data) {
  Bytes b;
  be(b, 0x3e889045565a9ull, 8), be(b, option, 4), be(b, type, 4), be(b, data.size(), 4);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

TEST(NbdProtocol, GreetingIsFixedNewstyleWithNoZeroes) {
  Bytes out;
  put_greeting(out);
  Bytes expect = {'N', 'B', 'D', 'M', 'A', 'G', 'I', 'C', 'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T', 0, 3};
  EXPECT_EQ(out, expect);
}

TEST(NbdProtocol, TransmissionFlagsFollowTheGeometry) {
  EXPECT_EQ(test_export().flags, kHasFlags | kSendFlush | kSendFua | kSendTrim | kSendWriteZeroes | kCanMultiConn);
  Geometry g;
  g.capacity = 4096;
  g.read_only = true;
  g.discard = true;
  EXPECT_EQ(make_export("x", "", g).flags, kHasFlags | kReadOnly) << "no TRIM on a read-only export";
}

TEST(NbdNegotiation, UnknownClientFlagsClose) {
  Negotiation n(test_export());
  EXPECT_EQ(n.client_flags(kClientFixedNewstyle | kClientNoZeroes), Next::kContinue);
  Negotiation m(test_export());
  EXPECT_EQ(m.client_flags(1u << 5), Next::kClose);
}

TEST(NbdNegotiation, OptionHeadersAreChecked) {
  Negotiation n(test_export());
  EXPECT_EQ(n.option_header({kOptMagic, kOptGo, 10}), Next::kContinue);
  EXPECT_EQ(n.option_header({kOptMagic ^ 1, kOptGo, 10}), Next::kClose) << "bad magic";
  EXPECT_EQ(n.option_header({kOptMagic, kOptGo, kMaxOptionLength + 1}), Next::kClose) << "oversized";
  Negotiation m(test_export());
  for (uint32_t i = 0; i < kMaxOptions; ++i) ASSERT_EQ(m.option_header({kOptMagic, 99, 0}), Next::kContinue);
  EXPECT_EQ(m.option_header({kOptMagic, 99, 0}), Next::kClose) << "one option too many";
}

TEST(NbdNegotiation, UnknownOptionsAreUnsupported) {
  Negotiation n(test_export());
  Bytes out;
  EXPECT_EQ(n.option(8 /* STRUCTURED_REPLY */, {}, out), Next::kContinue);
  EXPECT_EQ(out, option_reply(8, kRepErrUnsup, {}));
  out.clear();
  EXPECT_EQ(n.option(0xdeadbeef, Bytes{1, 2, 3}, out), Next::kContinue);
  EXPECT_EQ(out, option_reply(0xdeadbeef, kRepErrUnsup, {}));
}

TEST(NbdNegotiation, GoSendsExportAndBlockSizeThenEntersTransmission) {
  Negotiation n(test_export());
  Bytes out;
  EXPECT_EQ(n.option(kOptGo, go_data("side", {kInfoBlockSize, kInfoName, kInfoDescription}), out), Next::kTransmission);
  Bytes expect, info;
  be(info, kInfoExport, 2), be(info, 1 << 20, 8), be(info, test_export().flags, 2);
  expect = option_reply(kOptGo, kRepInfo, info);
  info.clear();
  be(info, kInfoBlockSize, 2), be(info, 512, 4), be(info, 4096, 4), be(info, 32 << 20, 4);
  auto more = option_reply(kOptGo, kRepInfo, info);
  expect.insert(expect.end(), more.begin(), more.end());
  info = {0, 1, 's', 'i', 'd', 'e'};
  more = option_reply(kOptGo, kRepInfo, info);
  expect.insert(expect.end(), more.begin(), more.end());
  info = {0, 2};
  const std::string d = "a test disk";
  info.insert(info.end(), d.begin(), d.end());
  more = option_reply(kOptGo, kRepInfo, info);
  expect.insert(expect.end(), more.begin(), more.end());
  more = option_reply(kOptGo, kRepAck, {});
  expect.insert(expect.end(), more.begin(), more.end());
  EXPECT_EQ(out, expect);
}

TEST(NbdNegotiation, InfoStaysInNegotiationAndTheDefaultNameSelectsTheExport) {
  Negotiation n(test_export());
  Bytes out;
  EXPECT_EQ(n.option(kOptInfo, go_data("", {}), out), Next::kContinue);
  EXPECT_EQ(out.size(), (20 + 12) + (20 + 14) + 20u) << "INFO_EXPORT, INFO_BLOCK_SIZE, ACK";
}

TEST(NbdNegotiation, GoRefusesUnknownNamesAndMalformedData) {
  Negotiation n(test_export());
  Bytes out;
  EXPECT_EQ(n.option(kOptGo, go_data("other", {}), out), Next::kContinue);
  EXPECT_EQ(out, option_reply(kOptGo, kRepErrUnknown, {}));
  for (Bytes bad : {Bytes{0, 0, 0}, Bytes{0, 0, 0, 9, 's', 0, 0}, Bytes{0, 0, 0, 0, 0, 2, 0, 3}}) {
    out.clear();
    EXPECT_EQ(n.option(kOptGo, bad, out), Next::kContinue);
    EXPECT_EQ(out, option_reply(kOptGo, kRepErrInvalid, {}));
  }
}

TEST(NbdNegotiation, ListNamesTheExport) {
  Negotiation n(test_export());
  Bytes out;
  EXPECT_EQ(n.option(kOptList, {}, out), Next::kContinue);
  Bytes server = {0, 0, 0, 4, 's', 'i', 'd', 'e'};
  const std::string d = "a test disk";
  server.insert(server.end(), d.begin(), d.end());
  Bytes expect = option_reply(kOptList, kRepServer, server);
  auto ack = option_reply(kOptList, kRepAck, {});
  expect.insert(expect.end(), ack.begin(), ack.end());
  EXPECT_EQ(out, expect);
  out.clear();
  n.option(kOptList, Bytes{1}, out);
  EXPECT_EQ(out, option_reply(kOptList, kRepErrInvalid, {})) << "LIST carries no data";
}

TEST(NbdNegotiation, ExportNameRepliesWithOrWithoutZeroes) {
  Negotiation n(test_export());
  n.client_flags(kClientFixedNewstyle);
  Bytes out;
  const std::string name = "side";
  EXPECT_EQ(n.option(kOptExportName, Bytes(name.begin(), name.end()), out), Next::kTransmission);
  EXPECT_EQ(out.size(), 8u + 2 + 124);
  Negotiation m(test_export());
  m.client_flags(kClientFixedNewstyle | kClientNoZeroes);
  out.clear();
  EXPECT_EQ(m.option(kOptExportName, {}, out), Next::kTransmission);
  Bytes expect;
  be(expect, 1 << 20, 8), be(expect, test_export().flags, 2);
  EXPECT_EQ(out, expect);
  out.clear();
  EXPECT_EQ(m.option(kOptExportName, Bytes{'x'}, out), Next::kClose) << "an unknown name cannot be an error reply";
}

TEST(NbdNegotiation, AbortIsAcknowledgedThenCloses) {
  Negotiation n(test_export());
  Bytes out;
  EXPECT_EQ(n.option(kOptAbort, {}, out), Next::kClose);
  EXPECT_EQ(out, option_reply(kOptAbort, kRepAck, {}));
}

TEST(NbdRequest, DecodesTheWireLayout) {
  Bytes b;
  be(b, kRequestMagic, 4), be(b, kCmdFlagFua, 2), be(b, kCmdWrite, 2), be(b, 0x0102030405060708ull, 8);
  be(b, 4096, 8), be(b, 512, 4);
  const RequestHeader h = decode_request(std::span<const uint8_t, kRequestHeaderSize>(b.data(), kRequestHeaderSize));
  EXPECT_EQ(h.magic, kRequestMagic);
  EXPECT_EQ(h.flags, kCmdFlagFua);
  EXPECT_EQ(h.type, kCmdWrite);
  EXPECT_EQ(h.handle, 0x0102030405060708ull);
  EXPECT_EQ(h.offset, 4096u);
  EXPECT_EQ(h.length, 512u);
  Bytes reply;
  put_simple_reply(reply, kEinval, h.handle);
  EXPECT_EQ(reply, (Bytes{0x67, 0x44, 0x66, 0x98, 0, 0, 0, 22, 1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(NbdRequest, ValidRequestsBecomeDeviceRequests) {
  const Export e = test_export();
  Decision d = decide({kRequestMagic, kCmdFlagFua, kCmdWrite, 1, 4096, 8192}, e);
  EXPECT_EQ(d.action, Action::kSubmit);
  EXPECT_EQ(d.request.op, Op::kWrite);
  EXPECT_EQ(d.request.flags, kFua);
  EXPECT_EQ(d.payload, 8192u);
  d = decide({kRequestMagic, kCmdFlagFua, kCmdRead, 1, 0, 512}, e);
  EXPECT_EQ(d.action, Action::kSubmit);
  EXPECT_EQ(d.request.flags, 0u) << "FUA on a read is accepted and ignored";
  EXPECT_EQ(d.reply_data, 512u);
  d = decide({kRequestMagic, kCmdFlagNoHole, kCmdWriteZeroes, 1, 0, 1 << 20}, e);
  EXPECT_EQ(d.request.op, Op::kWriteZeroes);
  EXPECT_EQ(d.request.flags, kNoUnmap);
  EXPECT_EQ(decide({kRequestMagic, 0, kCmdTrim, 1, 0, 1 << 20}, e).request.op, Op::kDiscard);
  EXPECT_EQ(decide({kRequestMagic, 0, kCmdFlush, 1, 0, 0}, e).request.op, Op::kFlush);
  EXPECT_EQ(decide({kRequestMagic, 0, kCmdDisc, 1, 0, 0}, e).action, Action::kDisconnect);
}

TEST(NbdRequest, BadRequestsGetTheSpecsErrors) {
  const Export e = test_export();
  const auto error = [&](RequestHeader h) {
    const Decision d = decide(h, e);
    return d.action == Action::kReply ? d.error : 9999;
  };
  EXPECT_EQ(error({kRequestMagic, 0, kCmdRead, 1, 1 << 20, 512}), kEinval) << "read past the end";
  EXPECT_EQ(error({kRequestMagic, 0, kCmdWrite, 1, 1 << 20, 512}), kEnospc) << "write past the end";
  EXPECT_EQ(error({kRequestMagic, 0, kCmdTrim, 1, (1 << 20) - 512, 1024}), kEnospc) << "trim across the end";
  EXPECT_EQ(error({kRequestMagic, 0, kCmdRead, 1, 100, 512}), kEinval) << "unaligned";
  EXPECT_EQ(error({kRequestMagic, 0, kCmdRead, 1, 0, (32 << 20) + 512}), kEinval) << "oversized";
  EXPECT_EQ(error({kRequestMagic, 0, kCmdRead, 1, 0, 0}), kEinval) << "empty";
  EXPECT_EQ(error({kRequestMagic, 0, 5 /* CACHE */, 1, 0, 512}), kEinval) << "unsupported command";
  EXPECT_EQ(error({kRequestMagic, 0, 77, 1, 0, 512}), kEinval) << "unknown command";
  EXPECT_EQ(error({kRequestMagic, kCmdFlagNoHole, kCmdWrite, 1, 0, 512}), kEinval) << "flag on the wrong command";
  EXPECT_EQ(error({kRequestMagic, 1u << 9, kCmdRead, 1, 0, 512}), kEinval) << "unknown flag";
  EXPECT_EQ(error({kRequestMagic, 0, kCmdFlush, 1, 512, 0}), kEinval) << "flush with an offset";
  const Decision oversized_write = decide({kRequestMagic, 0, kCmdWrite, 1, 0, 64 << 20}, e);
  EXPECT_EQ(oversized_write.payload, 64u << 20) << "its data must still be read past";
  EXPECT_EQ(decide({kRequestMagic ^ 1, 0, kCmdRead, 1, 0, 512}, e).action, Action::kClose) << "bad magic";
}

TEST(NbdRequest, ReadOnlyExportsRefuseChangesWithEperm) {
  Geometry g;
  g.capacity = 1 << 20;
  g.read_only = true;
  g.flush = true;
  const Export e = make_export("ro", "", g);
  EXPECT_EQ(decide({kRequestMagic, 0, kCmdWrite, 1, 0, 512}, e).error, kEperm);
  EXPECT_EQ(decide({kRequestMagic, 0, kCmdTrim, 1, 0, 512}, e).error, kEinval) << "TRIM is not offered";
  EXPECT_EQ(decide({kRequestMagic, 0, kCmdRead, 1, 0, 512}, e).action, Action::kSubmit);
}

TEST(NbdErrors, DeviceStatusesMapToTheSpecsSet) {
  EXPECT_EQ(to_nbd_error(0), 0u);
  EXPECT_EQ(to_nbd_error(EROFS), kEperm);
  EXPECT_EQ(to_nbd_error(EDQUOT), kEnospc);
  EXPECT_EQ(to_nbd_error(ESHUTDOWN), kEshutdown);
  EXPECT_EQ(to_nbd_error(ETIMEDOUT), kEio);
  EXPECT_EQ(to_nbd_error(EOPNOTSUPP), kEnotsup);
}

}  // namespace
}  // namespace side::block::nbd
