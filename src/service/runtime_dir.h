// Where a running side keeps its control socket, "<pid>.sock", and where `side status` looks for them:
//   $SIDE_RUNTIME_DIR when set (tests, or several independent setups), else
//   /run/side when running as root (a service), else
//   $XDG_RUNTIME_DIR/side, else /tmp/side-<uid>.
// The directory is private to its user (mode 0700, owned by them): a socket in it answers only them.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "common/result.h"

namespace side::service {

std::string runtime_dir();
std::string control_socket_path(const std::string& dir, pid_t pid);
// The pid in a control socket's file name ("1234.sock"), or nothing for any other name.
std::optional<pid_t> control_socket_pid(const std::string& file_name);

// Creates `dir` (one level), or checks that the one there is a real directory of this user's that nobody else may
// write to (a directory someone else could write to could hand `side status` a socket of theirs).
Status prepare_runtime_dir(const std::string& dir);

}  // namespace side::service
