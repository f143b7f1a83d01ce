// The one encoder and decoder of the messages declared in messages.h, shared by the supervisor and the domain.
//
// encode() builds a message's header (type, cookie, the typed arguments in its body) and refuses arguments or a
// payload its declaration does not allow, so that a sender never sends what its peer would refuse. decode() is the
// only way a received message becomes typed values: the type must be the declaration's, the payload length exact
// (a fixed payload) or bounded (bytes, in whole elements), and every range the declaration states is checked. A
// decoded message holds copies of the arguments and of a fixed payload; bytes stay a view of the caller's buffer,
// so no message costs a heap allocation on either end.
#pragma once

#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/sanitize.h"
#include "ipc/messages.h"
#include "ipc/ring.h"

namespace side::ipc {

// ---- payload values -------------------------------------------------------------------------------------------

template <class P>
struct PayloadTraits;
template <>
struct PayloadTraits<NoPayload> {
  using View = NoPayload;
  static bool fits(size_t len) { return len == 0; }
  static View view(std::span<const uint8_t>) { return {}; }
  static std::span<const uint8_t> bytes(const View&) { return {}; }
};
template <class T>
struct PayloadTraits<FixedPayload<T>> {
  using View = T;
  static bool fits(size_t len) { return len == sizeof(T); }
  static View view(std::span<const uint8_t> p) {
    T v;
    std::memcpy(&v, p.data(), sizeof v);
    return v;
  }
  static std::span<const uint8_t> bytes(const View& v) { return {reinterpret_cast<const uint8_t*>(&v), sizeof v}; }
};
template <uint32_t Max, uint32_t Unit>
struct PayloadTraits<BytesPayload<Max, Unit>> {
  using View = std::span<const uint8_t>;
  static bool fits(size_t len) { return len <= Max && len % Unit == 0; }
  static View view(std::span<const uint8_t> p) { return p; }
  static std::span<const uint8_t> bytes(const View& v) { return v; }
};

template <class M>
using PayloadOf = typename PayloadTraits<typename M::Payload>::View;
template <class M>
using ReplyOf = typename PayloadTraits<typename M::Reply>::View;

// Every declaration fits the envelope, and names its target where recovery expects it.
template <class M>
constexpr bool well_formed() {
  using A = typename M::Args;
  static_assert(std::is_trivially_copyable_v<A> && sizeof(A) <= SIDE_MSG_BODY_SIZE, "Args must fit the body");
  if constexpr (M::kTarget != Target::kNone) {
    static_assert(offsetof(A, target) == 0 && sizeof(A::target) == 8, "a target is the first 64-bit argument");
  }
  return true;
}

// The declaration's own checks: the arguments' ranges, and (for a fixed payload) their agreement with it.
template <class M>
bool valid_message(const typename M::Args& a, const PayloadOf<M>& p) {
  if constexpr (requires { M::valid(a, p); })
    return M::valid(a, p);
  else
    return M::valid(a);
}

// ---- encoding -------------------------------------------------------------------------------------------------

template <class M>
side_msg header(const typename M::Args& args, uint64_t cookie = 0) {
  static_assert(well_formed<M>());
  side_msg h{};
  h.type = M::kType;
  h.cookie = cookie;
  std::memcpy(h.body, &args, sizeof args);
  return h;
}

// The header of a message, or an error if the arguments or the payload are outside the declaration: the refusal
// the receiver would give (EINVAL), said the way a refusing domain says it.
template <class M>
Result<side_msg> encode(const typename M::Args& args, std::span<const uint8_t> payload, uint64_t cookie = 0) {
  using T = PayloadTraits<typename M::Payload>;
  if (!T::fits(payload.size())) return make_error(std::string(M::kName) + ": payload of the wrong size (-22)");
  if (!valid_message<M>(args, T::view(payload)))
    return make_error(std::string(M::kName) + ": argument out of range (-22)");
  return header<M>(args, cookie);
}

// Encodes and pushes; false if refused by the declaration or by the ring (full, broken, too large).
template <class M>
bool push(Ring& ring, const typename M::Args& args, std::span<const uint8_t> payload = {}, uint64_t cookie = 0) {
  auto h = encode<M>(args, payload, cookie);
  return h && ring.push(*h, payload);
}

// ---- decoding -------------------------------------------------------------------------------------------------

template <class M>
struct Decoded {
  uint64_t cookie = 0;
  typename M::Args args{};
  PayloadOf<M> payload{};
};

// `payload` is the message's payload as received (its length is what the ring delivered).
template <class M>
Result<Decoded<M>> decode(const side_msg& h, std::span<const uint8_t> payload) {
  using T = PayloadTraits<typename M::Payload>;
  if (h.type != M::kType) return make_error(std::string(M::kName) + ": wrong message type");
  if (!T::fits(payload.size())) return make_error(std::string("malformed ") + M::kName + " message (payload size)");
  Decoded<M> d;
  d.cookie = h.cookie;
  std::memcpy(&d.args, h.body, sizeof d.args);
  d.payload = T::view(payload);
  if (!valid_message<M>(d.args, d.payload)) {
    return make_error(std::string("malformed ") + M::kName + " message (argument out of range)");
  }
  return d;
}

// Whether `type` is a message of `List` whose declaration accepts this header and payload.
template <class List>
bool decodes(const side_msg& h, std::span<const uint8_t> payload) {
  bool ok = false;
  visit_message(List{}, h.type, [&](auto m) { ok = static_cast<bool>(decode<decltype(m)>(h, payload)); });
  return ok;
}

// ---- control replies ------------------------------------------------------------------------------------------

// What a control operation's caller gets: Status for no reply data, else the reply's value (text as a string).
template <class Op>
struct CallResult {
  using Type = Result<ReplyOf<Op>>;
};
template <class Op>
requires std::is_same_v<typename Op::Reply, NoPayload>
struct CallResult<Op> {
  using Type = Status;
};
template <class Op>
requires(!std::is_same_v<typename Op::Reply, NoPayload> &&
         !requires { typename Op::Reply::Type; }) struct CallResult<Op> {
  using Type = Result<std::string>;
};
template <class Op>
using CallResultOf = typename CallResult<Op>::Type;

// Strings a domain put in an ethtool answer: sanitized, bounded and terminated, whatever it sent.
inline void sanitize_reply(side_ethtool_info& info) {
  for (char* f : {info.driver, info.version, info.fw_version, info.bus_info}) sanitize_field(f, 32);
}

// A reply of operation Op as the supervisor takes it from the domain: a refusal's text sanitized, a success's
// payload checked against the declaration (and its strings sanitized, where the declaration says how).
template <class Op>
CallResultOf<Op> decode_reply(int64_t status, std::span<const uint8_t> payload) {
  using R = typename Op::Reply;
  if (status != 0) return make_error(sanitize_text(payload, kMaxText));
  if (!PayloadTraits<R>::fits(payload.size())) {
    return make_error(std::string("malformed ") + Op::kName + " reply from the domain");
  }
  if constexpr (std::is_same_v<R, NoPayload>) {
    return {};
  } else if constexpr (requires { typename R::Type; }) {
    auto v = PayloadTraits<R>::view(payload);
    if constexpr (requires { sanitize_reply(v); }) sanitize_reply(v);
    return v;
  } else {
    return sanitize_text(payload, R::kMax);
  }
}

// ---- control requests as a transport carries them -----------------------------------------------------------

// A control request, encoded (owned: requests are rare, and recovery keeps the ones it replays).
struct ControlRequest {
  side_msg head{};
  std::vector<uint8_t> payload;
  uint64_t& target() { return head.body[0]; }  // the declaration's kTarget says what it names
};
// Its answer: 0 and the operation's reply payload, or an error and its explanation.
struct ControlAnswer {
  int64_t status = 0;
  std::vector<uint8_t> payload;
};

template <class Op>
Result<ControlRequest> make_request(const typename Op::Args& args, std::span<const uint8_t> payload = {}) {
  auto h = encode<Op>(args, payload);
  if (!h) return h.error();
  return ControlRequest{*h, std::vector<uint8_t>(payload.begin(), payload.end())};
}

}  // namespace side::ipc
