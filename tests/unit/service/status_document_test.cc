// The status document a side answers with: a NIC's traffic in frames, a disk's in requests (written to the driver,
// read from it), each entry saying which it is.
#include "service/status_document.h"

#include <gtest/gtest.h>

namespace side::service {
namespace {

TEST(StatusDocument, ANicCountsFramesAndADiskRequests) {
  DomainEntry nic;
  nic.status.driver = "e1000";
  nic.status.host.to_driver = 7;
  nic.status.host.bytes_to_driver = 700;
  nic.status.host.from_driver = 5;
  DomainEntry disk;
  disk.status.driver = "virtio_blk";
  disk.status.disk = true;
  disk.status.disk_traffic = {.writes = 3, .bytes_written = 12288, .reads = 2, .bytes_read = 8192, .errors = 1};
  const auto doc = status_document(42, "running", 1.5, {nic, disk});
  const auto& n = doc["domains"][0];
  EXPECT_EQ(n["class"], "nic");
  EXPECT_EQ(n["to_driver"]["frames"], 7);
  EXPECT_EQ(n["to_driver"]["bytes"], 700);
  EXPECT_EQ(n["from_driver"]["frames"], 5);
  EXPECT_TRUE(n.contains("wire"));
  const auto& d = doc["domains"][1];
  EXPECT_EQ(d["class"], "disk");
  EXPECT_EQ(d["to_driver"]["requests"], 3);
  EXPECT_EQ(d["to_driver"]["bytes"], 12288);
  EXPECT_EQ(d["from_driver"]["requests"], 2);
  EXPECT_EQ(d["from_driver"]["bytes"], 8192);
  EXPECT_EQ(d["request_errors"], 1);
  EXPECT_FALSE(d["to_driver"].contains("frames"));
  EXPECT_FALSE(d.contains("wire")) << "a disk has no wire";
}

}  // namespace
}  // namespace side::service
