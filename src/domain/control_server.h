// The domain's side of every control operation (ipc/messages.h): decodes a request, carries it out on the Domain
// and encodes the answer. The same function serves a domain process (requests from its control ring) and an
// in-process domain (requests from the supervisor's thread): the two are transports of one interface.
#pragma once

#include <span>

#include "domain/domain.h"
#include "ipc/codec.h"

namespace side::domain {

// Carries out one control request on `domain` (from virtual CPU 0). An undecodable request is refused, not obeyed.
ipc::ControlAnswer serve_control(Domain& domain, const side_msg& head, std::span<const uint8_t> payload);

}  // namespace side::domain
