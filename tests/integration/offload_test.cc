// Offloads through the host TAP (#16): the host's stack hands the isolated e1000 TCP segments of up to 64 KiB and
// packets whose checksum is still to be inserted (a virtio-net header on side0); the driver gives them to the NIC
// as TSO and checksum offload, and the emulated NIC cuts and checksums them. What reaches the wire is read back from
// a capture and checked frame by frame: every frame within the MTU, every IP, TCP and UDP checksum right, the TCP
// sequence numbers contiguous, and the stream and datagrams byte for byte what the host's program sent.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "net/netns.h"
#include "support/shell.h"

namespace {

constexpr size_t kStreamBytes = 2 << 20;  // sent over TCP from the host to the peer
constexpr size_t kDatagrams = 10, kDatagramBytes = 1200;

uint8_t pattern(size_t i) {
  return static_cast<uint8_t>((i * 7 + i / 4093) % 251);
}

// The host's program: 2 MiB over one TCP connection in 64 KiB writes, then 10 UDP datagrams, each the pattern.
const char* kSender = R"(import socket, time
data = bytes(((i * 7 + i // 4093) % 251) for i in range(%STREAM%))
for attempt in range(100):
    try:
        s = socket.create_connection(("10.77.0.2", 7777), timeout=5)
        break
    except OSError:
        time.sleep(0.1)
for at in range(0, len(data), 65536):
    s.sendall(data[at:at + 65536])
s.shutdown(socket.SHUT_WR)
s.recv(1)
s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for n in range(%DATAGRAMS%):
    u.sendto(data[:%DGRAM%], ("10.77.0.2", 7778))
    time.sleep(0.01)
)";

// The peer: takes the stream until the host closes it.
const char* kReceiver = R"(import socket
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 7777))
l.listen(1)
c, _ = l.accept()
while c.recv(1 << 20):
    pass
c.close()
)";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// The one's-complement sum (RFC 1071) of `len` bytes, added to `sum`.
uint32_t sum16(const uint8_t* p, size_t len, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += be16(p + i);
  if (len & 1) sum += uint32_t{p[len - 1]} << 8;
  return sum;
}
uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

std::vector<std::vector<uint8_t>> read_pcap(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::vector<uint8_t>> frames;
  for (size_t at = 24; at + 16 <= all.size();) {
    uint32_t caplen;
    std::memcpy(&caplen, all.data() + at + 8, 4);
    at += 16;
    if (at + caplen > all.size()) break;
    frames.emplace_back(all.begin() + static_cast<long>(at), all.begin() + static_cast<long>(at + caplen));
    at += caplen;
  }
  return frames;
}

// What the capture holds of the host's transfers, each frame checked on the way.
struct Wire {
  std::map<uint32_t, std::vector<uint8_t>> segments;  // TCP payload to the peer's port 7777, by sequence number
  uint32_t first_seq = 0;                             // the SYN's sequence number + 1
  size_t tcp_frames = 0, udp_frames = 0, largest_frame = 0;
  std::vector<std::vector<uint8_t>> datagrams;
  std::vector<std::string> errors;
};

void check_frame(const std::vector<uint8_t>& f, Wire& w) {
  if (f.size() < 34 || be16(f.data() + 12) != 0x0800) return;
  const uint8_t* ip = f.data() + 14;
  const size_t ihl = (ip[0] & 15u) * 4, total = be16(ip + 2);
  if (be32(ip + 12) != 0x0a4d0001 || total > f.size() - 14 || ihl < 20) return;  // from 10.77.0.1 only
  const uint8_t proto = ip[9];
  if (proto != 6 && proto != 17) return;
  const std::string where = "frame " + std::to_string(w.tcp_frames + w.udp_frames) + ": ";
  w.largest_frame = std::max(w.largest_frame, f.size());
  if (fold(sum16(ip, ihl)) != 0xffff) w.errors.push_back(where + "IP header checksum");
  const uint8_t* l4 = ip + ihl;
  const size_t l4len = total - ihl;
  uint32_t pseudo = sum16(ip + 12, 8) + proto + static_cast<uint32_t>(l4len);
  if (fold(sum16(l4, l4len, pseudo)) != 0xffff) w.errors.push_back(where + (proto == 6 ? "TCP" : "UDP") + " checksum");
  if (proto == 17) {
    if (be16(l4 + 2) != 7778) return;
    ++w.udp_frames;
    if (be16(l4 + 6) == 0) w.errors.push_back(where + "UDP checksum left out");
    w.datagrams.emplace_back(l4 + 8, l4 + l4len);
    return;
  }
  if (be16(l4 + 2) != 7777) return;
  ++w.tcp_frames;
  const size_t doff = (l4[12] >> 4) * 4u;
  if (l4[13] & 0x02) w.first_seq = be32(l4 + 4) + 1;
  if (l4len > doff) w.segments[be32(l4 + 4)] = std::vector<uint8_t>(l4 + doff, l4 + l4len);
}

// The stream from the segments (retransmissions overlap, gaps do not happen), compared with the pattern.
void check_stream(Wire& w) {
  std::vector<uint8_t> stream;
  for (const auto& [seq, payload] : w.segments) {
    const uint32_t at = seq - w.first_seq;
    if (at > stream.size()) {
      w.errors.push_back("gap in the stream at byte " + std::to_string(stream.size()));
      return;
    }
    if (at + payload.size() > stream.size()) stream.resize(at + payload.size());
    std::copy(payload.begin(), payload.end(), stream.begin() + at);
  }
  if (stream.size() != kStreamBytes) w.errors.push_back("stream of " + std::to_string(stream.size()) + " bytes");
  for (size_t i = 0; i < stream.size(); ++i) {
    if (stream[i] != pattern(i)) {
      w.errors.push_back("stream differs at byte " + std::to_string(i));
      return;
    }
  }
}

uint64_t json_number(const std::string& out, const std::string& key) {
  std::smatch m;
  const std::regex re("\"" + key + "\":([0-9]+)");
  return std::regex_search(out, m, re) ? std::stoull(m[1].str()) : 0;
}

class TapOffload : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!side::net::have_net_admin()) GTEST_SKIP() << "needs CAP_NET_ADMIN (root) for TAP devices and namespaces";
  }
};

TEST_P(TapOffload, SegmentsAndChecksumsReachTheWireIntactAndSegmentedByTheNic) {
  const std::string dir = ::testing::TempDir(), tag = GetParam();
  const std::string pcap = dir + "side-offload-" + tag + ".pcap", sender = dir + "side-offload-send.py",
                    receiver = dir + "side-offload-receive.py";
  std::string send = replace_all(kSender, "%STREAM%", std::to_string(kStreamBytes));
  send = replace_all(replace_all(send, "%DATAGRAMS%", std::to_string(kDatagrams)), "%DGRAM%",
                     std::to_string(kDatagramBytes));
  std::ofstream(sender) << send;
  std::ofstream(receiver) << kReceiver;
  int status = -1;
  const std::string out = side::test_support::run_shell(
      "unshare -n " + std::string(SIDE_BINARY) + " run e1000 --quiet --json --isolation " + tag + " --wire pcap:" +
          pcap + " --peer-exec '/usr/bin/python3 " + receiver + "' --exec '/usr/bin/python3 " + sender + "' 2>&1",
      &status);
  ASSERT_EQ(status, 0) << out;

  Wire w;
  for (const auto& f : read_pcap(pcap)) check_frame(f, w);
  check_stream(w);
  for (const auto& e : w.errors) ADD_FAILURE() << e;
  EXPECT_LE(w.largest_frame, 1514u);
  ASSERT_EQ(w.datagrams.size(), kDatagrams);
  for (const auto& d : w.datagrams) {
    ASSERT_EQ(d.size(), kDatagramBytes);
    for (size_t i = 0; i < d.size(); ++i) ASSERT_EQ(d[i], pattern(i)) << "datagram byte " << i;
  }
  // The NIC cut the segments: the host handed over far fewer packets than went on the wire.
  const uint64_t to_driver = json_number(out, "to_driver");
  EXPECT_LT(to_driver * 4, w.tcp_frames) << out;
  std::printf("%s: %zu TCP frames on the wire from %llu frames the host handed over\n", tag.c_str(), w.tcp_frames,
              static_cast<unsigned long long>(to_driver));
}

INSTANTIATE_TEST_SUITE_P(Isolation, TapOffload, ::testing::Values("process", "inproc"));

}  // namespace
