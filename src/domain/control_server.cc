#include "domain/control_server.h"

#include <array>
#include <cstring>
#include <string>
#include <vector>

namespace side::domain {
namespace {

using namespace ipc;

// One overload per control operation: what the domain does for it. The return type is the operation's
// CallResultOf (Status, or Result of its reply).
Status run(Domain& d, const Decoded<AttachDevice>& m) {
  return d.attach_device(m.payload);
}
Result<uint64_t> run(Domain& d, const Decoded<Probe>& m) {
  return d.probe(static_cast<uint32_t>(m.args.target));
}
Status run(Domain& d, const Decoded<Remove>& m) {
  return d.remove(m.args.target);
}
Status run(Domain& d, const Decoded<Open>& m) {
  return d.open(m.args.target);
}
Status run(Domain& d, const Decoded<Close>& m) {
  return d.close(m.args.target);
}
Result<side_netdev_stats> run(Domain& d, const Decoded<Stats>& m) {
  return d.stats(m.args.target);
}
Status run(Domain& d, const Decoded<Unload>& m) {
  return d.unload(std::string(reinterpret_cast<const char*>(m.payload.data()), m.payload.size()));
}
Status run(Domain& d, const Decoded<SetMtu>& m) {
  return d.set_mtu(m.args.target, m.args.mtu);
}
Status run(Domain& d, const Decoded<SetMac>& m) {
  std::array<uint8_t, 6> mac;
  std::memcpy(mac.data(), m.args.mac.bytes, mac.size());
  return d.set_mac(m.args.target, mac);
}
Status run(Domain& d, const Decoded<SetRxMode>& m) {
  std::vector<std::array<uint8_t, 6>> mc(m.payload.size() / 6);
  for (size_t i = 0; i < mc.size(); ++i) std::memcpy(mc[i].data(), m.payload.data() + 6 * i, 6);
  return d.set_rx_mode(m.args.target, m.args.flags, mc);
}
Result<side_ethtool_info> run(Domain& d, const Decoded<Ethtool>& m) {
  return d.ethtool(m.args.target);
}
Result<std::string> run(Domain& d, const Decoded<Inject>& m) {
  return d.inject(static_cast<int>(m.args.type), m.args.seed);
}

ControlAnswer refused(const std::string& why) {
  return {-1, std::vector<uint8_t>(why.begin(), why.end())};
}

// The result of run() as the answer travels.
ControlAnswer answer(const Status& s) {
  return s ? ControlAnswer{} : refused(s.error().message);
}
ControlAnswer answer(const Result<std::string>& r) {
  return r ? ControlAnswer{0, std::vector<uint8_t>(r->begin(), r->end())} : refused(r.error().message);
}
template <class T>
ControlAnswer answer(const Result<T>& r) {
  if (!r) return refused(r.error().message);
  const auto* p = reinterpret_cast<const uint8_t*>(&*r);
  return {0, std::vector<uint8_t>(p, p + sizeof(T))};
}

}  // namespace

ControlAnswer serve_control(Domain& domain, const side_msg& head, std::span<const uint8_t> payload) {
  ControlAnswer out = refused("unknown request");
  visit_message(ControlOps{}, head.type, [&](auto op) {
    auto m = decode<decltype(op)>(head, payload);
    out = m ? answer(run(domain, *m)) : refused(m.error().message);
  });
  return out;
}

}  // namespace side::domain
