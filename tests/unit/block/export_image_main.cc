// A manual tool, not a test: exports an image file through the block exports until SIGINT or SIGTERM, so that
// clients can be tried and measured by hand before `side run` has its --disk/--nbd/--fuse options.
//   block_export_image IMAGE [--nbd SOCKET] [--port N] [--fuse PATH] [--block-size N] [--read-only]
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "block/fuse_file.h"
#include "block/image_file_disk.h"
#include "block/nbd_server.h"

namespace {

struct Args {
  std::string image, nbd, fuse;
  std::optional<uint16_t> port;
  side::block::ImageFileOptions disk;
};

bool parse(int argc, char** argv, Args& a) {
  if (argc < 2) return false;
  a.image = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string opt = argv[i];
    const bool has_value = i + 1 < argc;
    if (opt == "--read-only") {
      a.disk.read_only = true;
    } else if (opt == "--nbd" && has_value) {
      a.nbd = argv[++i];
    } else if (opt == "--fuse" && has_value) {
      a.fuse = argv[++i];
    } else if (opt == "--port" && has_value) {
      a.port = static_cast<uint16_t>(std::atoi(argv[++i]));
    } else if (opt == "--block-size" && has_value) {
      a.disk.logical_block_size = static_cast<uint32_t>(std::atoi(argv[++i]));
    } else {
      return false;
    }
  }
  return !a.nbd.empty() || a.port || !a.fuse.empty();
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parse(argc, argv, a)) {
    std::fprintf(stderr, "usage: %s IMAGE [--nbd SOCKET] [--port N] [--fuse PATH] [--block-size N] [--read-only]\n",
                 argv[0]);
    return 2;
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // every thread started below inherits the mask
  auto disk = side::block::ImageFileDisk::open(a.image, a.disk);
  if (!disk) return std::fprintf(stderr, "%s\n", disk.error().message.c_str()), 1;
  std::unique_ptr<side::block::NbdServer> nbd;
  std::unique_ptr<side::block::FuseFile> fuse;
  if (!a.nbd.empty() || a.port) {
    side::block::NbdServerOptions o;
    o.unix_path = a.nbd;
    o.tcp_port = a.port;
    auto s = side::block::NbdServer::start(**disk, o);
    if (!s) return std::fprintf(stderr, "%s\n", s.error().message.c_str()), 1;
    nbd = std::move(*s);
    if (a.port) std::printf("nbd://127.0.0.1:%u/side\n", nbd->tcp_port());
  }
  if (!a.fuse.empty()) {
    auto f = side::block::FuseFile::start(**disk, {.path = a.fuse});
    if (!f) return std::fprintf(stderr, "%s\n", f.error().message.c_str()), 1;
    fuse = std::move(*f);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  if (fuse) fuse->stop();
  if (nbd) nbd->stop();
  (*disk)->drain(std::chrono::seconds(30));
  return 0;
}
