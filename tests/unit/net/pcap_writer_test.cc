// The pcap writer's file, read back byte for byte: the classic global header (LINKTYPE_ETHERNET), then one record
// per frame with its lengths and its bytes; a frame longer than the snapshot length is cut, its length kept.
#include "net/pcap_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace side::net {
namespace {

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <class T>
T at(const std::vector<uint8_t>& bytes, size_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

std::vector<uint8_t> frame(size_t size, uint8_t seed) {
  std::vector<uint8_t> f(size);
  for (size_t i = 0; i < size; ++i) f[i] = static_cast<uint8_t>(seed + i * 7);
  return f;
}

class PcapWriterTest : public ::testing::Test {
 protected:
  void TearDown() override { ::unlink(path_.c_str()); }
  const std::string path_ = "/tmp/side-pcap-test-" + std::to_string(::getpid()) + ".pcap";
};

TEST_F(PcapWriterTest, HeaderThenEachFrameAsWritten) {
  const auto a = frame(60, 1), b = frame(1514, 9);
  {
    auto w = PcapWriter::create(path_);
    ASSERT_TRUE(w) << w.error().message;
    (*w)->write(a);
    (*w)->write(b);
    EXPECT_EQ((*w)->frames(), 2u);
  }
  const auto bytes = read_all(path_);
  ASSERT_EQ(bytes.size(), 24 + (16 + a.size()) + (16 + b.size()));
  EXPECT_EQ(at<uint32_t>(bytes, 0), 0xa1b2c3d4u);  // microsecond timestamps, native order
  EXPECT_EQ(at<uint16_t>(bytes, 4), 2);
  EXPECT_EQ(at<uint16_t>(bytes, 6), 4);
  EXPECT_EQ(at<uint32_t>(bytes, 16), 65535u);  // snapshot length
  EXPECT_EQ(at<uint32_t>(bytes, 20), 1u);      // LINKTYPE_ETHERNET
  size_t off = 24;
  for (const auto* f : {&a, &b}) {
    EXPECT_EQ(at<uint32_t>(bytes, off + 8), f->size());   // captured length
    EXPECT_EQ(at<uint32_t>(bytes, off + 12), f->size());  // length on the wire
    EXPECT_TRUE(std::equal(f->begin(), f->end(), bytes.begin() + static_cast<long>(off + 16)));
    off += 16 + f->size();
  }
}

TEST_F(PcapWriterTest, FrameLongerThanTheSnapshotIsCutButKeepsItsLength) {
  const auto big = frame(70000, 3);
  {
    auto w = PcapWriter::create(path_);
    ASSERT_TRUE(w) << w.error().message;
    (*w)->write(big);
  }
  const auto bytes = read_all(path_);
  ASSERT_EQ(bytes.size(), 24 + 16 + 65535u);
  EXPECT_EQ(at<uint32_t>(bytes, 24 + 8), 65535u);
  EXPECT_EQ(at<uint32_t>(bytes, 24 + 12), 70000u);
  EXPECT_TRUE(std::equal(big.begin(), big.begin() + 65535, bytes.begin() + 40));
}

TEST_F(PcapWriterTest, EachFrameIsOnDiskAsSoonAsItIsWritten) {
  auto w = PcapWriter::create(path_);
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ(read_all(path_).size(), 24u);  // readable (by tcpdump -r) while the capture goes on
  (*w)->write(frame(100, 5));
  EXPECT_EQ(read_all(path_).size(), 24u + 16 + 100);
}

TEST(PcapWriter, UnwritablePathIsAnError) {
  auto w = PcapWriter::create("/nonexistent-directory/capture.pcap");
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find("/nonexistent-directory/capture.pcap"), std::string::npos);
}

}  // namespace
}  // namespace side::net
