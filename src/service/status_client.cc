#include "service/status_client.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "service/runtime_dir.h"
#include "service/unix_socket.h"

namespace side::service {

SideAnswer query_side(const std::string& socket, pid_t pid, std::chrono::milliseconds timeout) {
  SideAnswer a{pid, socket, std::nullopt, ""};
  const Deadline deadline = std::chrono::steady_clock::now() + timeout;
  auto fd = connect_unix(socket);
  if (!fd) {
    // A side that was killed cannot remove its socket; one that is merely busy is still running.
    const bool alive = ::kill(pid, 0) == 0 || errno == EPERM;
    a.error = alive ? "not answering (" + fd.error().message + ")" : "not running (a stale socket)";
    return a;
  }
  if (auto s = write_bounded(fd->get(), "status\n", deadline); !s) {
    a.error = "request: " + s.error().message;
    return a;
  }
  auto text = read_bounded(fd->get(), '\n', kMaxAnswer, deadline);
  if (!text) {
    a.error = "answer: " + text.error().message;
    return a;
  }
  auto doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    a.error = "answer is not a JSON object";
  } else if (doc.contains("error")) {
    a.error = "refused the request";
  } else {
    a.document = std::move(doc);
  }
  return a;
}

std::vector<SideAnswer> query_all(const std::string& dir, std::chrono::milliseconds timeout) {
  std::vector<std::pair<pid_t, std::string>> sockets;
  constexpr size_t kMostSides = 4096;  // a directory full of stale sockets still ends
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec), end;
  for (; !ec && it != end && sockets.size() < kMostSides; it.increment(ec)) {
    std::error_code type_ec;
    if (auto pid = control_socket_pid(it->path().filename().string()); pid && it->is_socket(type_ec)) {
      sockets.emplace_back(*pid, it->path().string());
    }
  }
  std::sort(sockets.begin(), sockets.end());
  std::vector<SideAnswer> answers;
  for (const auto& [pid, path] : sockets) answers.push_back(query_side(path, pid, timeout));
  return answers;
}

}  // namespace side::service
