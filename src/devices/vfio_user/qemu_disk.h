// A disk model of QEMU's (virtio-blk-pci) as side drives it: a VfioUserDevice whose server is a QEMU process side
// starts (qemu_process.h) with a raw disk image as its drive. side opens the image (creating it, sparse, when the
// configuration names none or names a file that does not exist yet) and hands QEMU the descriptor, so QEMU, which
// runs as nobody, needs no access to the path. An image side created for want of one is removed with the device.
//
// When the server fails, the next reset (recovery) starts a fresh QEMU on the same image; the old one is stopped.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "common/fd.h"
#include "devices/vfio_user/qemu_process.h"
#include "devices/vfio_user/vfio_user_device.h"

namespace side::vfio_user {

struct DiskImage {
  std::string path;             // empty: a temporary image in $TMPDIR, removed when the device goes
  uint64_t size = 64ull << 20;  // bytes, for an image side creates
};

class QemuDisk final : public VfioUserDevice {
 public:
  static Result<std::unique_ptr<QemuDisk>> create(const pci::DeviceContext& context, const QemuConfig& config,
                                                  const DiskImage& image, uint16_t vendor, uint16_t device,
                                                  std::chrono::milliseconds timeout);
  ~QemuDisk() override;

  const std::string& image_path() const { return image_path_; }
  pid_t server_pid() const;
  NamedCounters model_counters() const override;

 private:
  QemuDisk(const pci::DeviceContext& context, const Discovered& found, std::unique_ptr<Client> client,
           std::unique_ptr<QemuProcess> process, const QemuConfig& config, std::chrono::milliseconds timeout);
  static Result<std::pair<std::unique_ptr<QemuProcess>, std::unique_ptr<Client>>> launch(
      const QemuConfig& config, int image_fd, std::chrono::milliseconds timeout);
  void reconnected() override;

  const QemuConfig config_;
  const std::chrono::milliseconds timeout_;
  Fd image_;
  std::string image_path_;
  bool remove_image_ = false;
  mutable std::mutex process_mu_;
  std::unique_ptr<QemuProcess> process_;
  std::unique_ptr<QemuProcess> pending_;  // a fresh QEMU between reconnect and reconnected()
  uint64_t restarts_ = 0;
};

// Opens (creating it with `image.size` bytes when missing) the image; sets *path and *created.
Result<Fd> open_disk_image(const DiskImage& image, std::string* path, bool* created);

}  // namespace side::vfio_user
