#include "devices/net/nic.h"

namespace side::net {

const char* to_string(RxResult r) {
  switch (r) {
    case RxResult::kAccepted:
      return "accepted";
    case RxResult::kDroppedLinkDown:
      return "link down";
    case RxResult::kDroppedDisabled:
      return "receiver disabled";
    case RxResult::kDroppedFiltered:
      return "filtered";
    case RxResult::kDroppedSize:
      return "bad size";
    case RxResult::kDroppedNoDescriptors:
      return "no descriptors (overrun)";
    case RxResult::kDroppedBadRing:
      return "bad ring";
    case RxResult::kDroppedIommuFault:
      return "iommu fault";
  }
  return "?";
}

}  // namespace side::net
