#include "devices/vfio_user/qemu_disk.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace side::vfio_user {

Result<Fd> open_disk_image(const DiskImage& image, std::string* path, bool* created) {
  *created = false;
  if (image.path.empty()) {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir && dir[0] == '/' ? dir : "/tmp") + "/side-disk-XXXXXX";
    Fd fd(mkostemp(tmpl.data(), O_CLOEXEC));
    if (!fd) return make_error("cannot create a disk image in " + tmpl + ": " + std::strerror(errno));
    *path = tmpl;
    *created = true;
    if (ftruncate(fd.get(), static_cast<off_t>(image.size)) != 0) {
      unlink(tmpl.c_str());
      return make_error("cannot size the disk image " + tmpl + ": " + std::strerror(errno));
    }
    return fd;
  }
  *path = image.path;
  Fd fd(::open(image.path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd && errno == ENOENT) {
    fd = Fd(::open(image.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd && ftruncate(fd.get(), static_cast<off_t>(image.size)) != 0)
      return make_error("cannot size the disk image " + image.path + ": " + std::strerror(errno));
  }
  if (!fd) return make_error("cannot open the disk image " + image.path + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 512)
    return make_error("the disk image " + image.path + " is not a regular file of at least 512 bytes");
  return fd;
}

Result<std::pair<std::unique_ptr<QemuProcess>, std::unique_ptr<Client>>> QemuDisk::launch(
    const QemuConfig& config, int image_fd, std::chrono::milliseconds timeout) {
  auto process = QemuProcess::start(config, -1, image_fd);
  if (!process) return process.error();
  auto socket = (*process)->connect();
  if (!socket) return socket.error();
  auto client = std::make_unique<Client>(std::move(*socket), timeout);
  if (auto s = client->negotiate(); !s)
    return make_error("QEMU's vfio-user server: " + s.error().message + " (" + (*process)->log_tail() + ")");
  return std::make_pair(std::move(*process), std::move(client));
}

Result<std::unique_ptr<QemuDisk>> QemuDisk::create(const pci::DeviceContext& context, const QemuConfig& config,
                                                   const DiskImage& image, uint16_t vendor, uint16_t device,
                                                   std::chrono::milliseconds timeout) {
  std::string path;
  bool created = false;
  auto fd = open_disk_image(image, &path, &created);
  if (!fd) return fd.error();
  auto launched = launch(config, fd->get(), timeout);
  auto cleanup = [&] {
    if (created) unlink(path.c_str());
  };
  if (!launched) {
    cleanup();
    return launched.error();
  }
  auto found = discover(*launched->second);
  if (!found || found->identity.vendor_id != vendor || found->identity.device_id != device) {
    cleanup();
    return make_error("QEMU's " + config.device + " is not the expected PCI function");
  }
  std::unique_ptr<QemuDisk> disk(
      new QemuDisk(context, *found, std::move(launched->second), std::move(launched->first), config, timeout));
  disk->image_ = std::move(*fd);
  disk->image_path_ = path;
  disk->remove_image_ = created;
  if (auto s = disk->start(); !s) return s.error();
  return disk;
}

QemuDisk::QemuDisk(const pci::DeviceContext& context, const Discovered& found, std::unique_ptr<Client> client,
                   std::unique_ptr<QemuProcess> process, const QemuConfig& config, std::chrono::milliseconds timeout)
    : VfioUserDevice(context, "qemu:" + config.device, found, std::move(client),
                     // A fresh QEMU on the same image, kept aside until the device has adopted its connection.
                     [this]() -> Result<std::unique_ptr<Client>> {
                       auto launched = launch(config_, image_.get(), timeout_);
                       if (!launched) return launched.error();
                       pending_ = std::move(launched->first);
                       return std::move(launched->second);
                     }),
      config_(config),
      timeout_(timeout),
      process_(std::move(process)) {}

QemuDisk::~QemuDisk() {
  {
    std::lock_guard lock(process_mu_);
    if (process_) process_->stop();
  }
  if (remove_image_) unlink(image_path_.c_str());
}

void QemuDisk::reconnected() {
  std::lock_guard lock(process_mu_);
  process_ = std::move(pending_);  // the old QEMU is stopped here
  ++restarts_;
}

pid_t QemuDisk::server_pid() const {
  std::lock_guard lock(process_mu_);
  return process_ ? process_->pid() : -1;
}

pci::PciDevice::NamedCounters QemuDisk::model_counters() const {
  auto c = VfioUserDevice::model_counters();
  std::lock_guard lock(process_mu_);
  c.emplace_back("qemu_restarts", restarts_);
  return c;
}

}  // namespace side::vfio_user
