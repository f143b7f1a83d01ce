#include "domain/control_server.h"

#include <array>
#include <cstring>
#include <string>
#include <vector>

namespace side::domain {
namespace {

using namespace ipc;

// What the domain does for each control operation. The return type is the operation's CallResultOf (Status, or
// Result of its reply). An operation that is one kernel-API call runs its entry point, as its declaration says:
template <class Op>
requires requires {
  Op::kEntry;
}
CallResultOf<Op> run(Domain& d, const Decoded<Op>& m) {
  ReplyOf<Op> reply{};
  SIDE_TRY(d.run_entry(Op::kName, Op::kEntry, [&](uint64_t entry) {
    return Op::enter(reinterpret_cast<typename Op::Entry>(entry), m.args, m.payload, reply);
  }));
  if constexpr (std::is_same_v<typename Op::Reply, NoPayload>)
    return {};
  else
    return reply;
}

// The others, each with the domain's own work:
Status run(Domain& d, const Decoded<AttachDevice>& m) {
  return d.attach_device(m.payload);
}
Result<uint64_t> run(Domain& d, const Decoded<Probe>& m) {
  return d.probe(static_cast<uint32_t>(m.args.target));
}
Status run(Domain& d, const Decoded<Remove>& m) {
  return d.remove(m.args.target);
}
Status run(Domain& d, const Decoded<Unload>& m) {
  return d.unload(std::string(reinterpret_cast<const char*>(m.payload.data()), m.payload.size()));
}
Result<std::string> run(Domain& d, const Decoded<Inject>& m) {
  return d.inject(static_cast<int>(m.args.type), m.args.seed);
}
Status run(Domain& d, const Decoded<BlockSubmit>& m) {
  const auto& a = m.args;
  return d.block_submit(static_cast<uint32_t>(a.target), a.op, a.sector, a.nr_sectors, m.payload, a.tag);
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
