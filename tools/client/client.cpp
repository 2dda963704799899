#include "client.hpp"

#include <poll.h>

#include <chrono>
#include <random>

#include "gate.hpp"

namespace slotmatch::client {

namespace fb = flatbuffers;

std::span<const std::uint8_t> RequestBuilder::finish(const Identity& who,
                                                     std::uint64_t request_id) {
    const auto optional_string = [&](const std::string& s) {
        return s.empty() ? fb::Offset<fb::String>() : fbb_.CreateString(s);
    };
    std::vector<fb::Offset<fb::String>> role_texts;
    for (const std::string& role : who.roles) role_texts.push_back(fbb_.CreateString(role));
    const auto roles = who.roles.empty() ? 0 : fbb_.CreateVector(role_texts);
    const auto actor =
        wire::CreateActor(fbb_, codec::to_wire(who.channel), optional_string(who.actor),
                          optional_string(who.actor_name), optional_string(who.actor_unit), roles);
    const auto client = optional_string(who.client);
    const auto ops = fbb_.CreateVector(ops_);
    fbb_.Finish(
        wire::CreateRequestMessage(fbb_, codec::protocol_version, request_id, client, actor, ops),
        codec::request_identifier);
    return {fbb_.GetBufferPointer(), fbb_.GetSize()};
}

std::uint64_t new_request_id() {
    static thread_local std::mt19937_64 rng(std::random_device{}());
    std::uint64_t id = 0;
    while (id == 0) id = rng() >> 1;  // leaves room to count up without wrapping to 0
    return id;
}

std::optional<CurveKeys> read_curve_keys(const std::string& pair_prefix,
                                         const std::string& server_public_file, std::string& why) {
    const auto mine = keys::read_key_pair(pair_prefix, why);
    if (!mine) return std::nullopt;
    const auto server = keys::read_key_file(server_public_file, why);
    if (!server) return std::nullopt;
    return CurveKeys{*mine, *server};
}

Connection::Connection(const std::string& server, int send_hwm_messages,
                       const std::optional<CurveKeys>& curve)
    : ctx_(1), socket_(ctx_, zmq::socket_type::dealer) {
    if (curve) keys::make_curve_client(socket_, curve->mine, curve->server_public);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::sndhwm, send_hwm_messages);
    socket_.set(zmq::sockopt::rcvhwm, send_hwm_messages);
    socket_.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(codec::reply_bytes_max));
    std::vector<std::string> each;
    for (std::size_t at = 0;;) {
        const std::size_t comma = server.find(',', at);
        each.push_back(server.substr(at, comma == std::string::npos ? comma : comma - at));
        if (comma == std::string::npos) break;
        at = comma + 1;
    }
    endpoints_ = each.size();
    // Several: only to a server whose connection is up (a standby does not listen).
    if (endpoints_ > 1) socket_.set(zmq::sockopt::immediate, 1);
    for (const std::string& endpoint : each) socket_.connect(endpoint);
}

bool Connection::send(std::span<const std::uint8_t> request, int timeout_ms) {
    socket_.set(zmq::sockopt::sndtimeo, timeout_ms);
    return socket_.send(zmq::buffer(request.data(), request.size()), zmq::send_flags::none)
        .has_value();
}

bool Connection::wait_readable(std::chrono::nanoseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const int fd = socket_.get(zmq::sockopt::fd);
    for (;;) {
        // ZMQ_FD is edge-triggered: ask ZMQ_EVENTS first, and again after every wake-up.
        if (socket_.get(zmq::sockopt::events) & ZMQ_POLLIN) return true;
        const auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::nanoseconds(0)) return false;
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        const timespec ts{static_cast<time_t>(ns / 1'000'000'000),
                          static_cast<long>(ns % 1'000'000'000)};
        pollfd p{fd, POLLIN, 0};
        ::ppoll(&p, 1, &ts, nullptr);
    }
}

std::optional<Reply> Connection::receive(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, std::max(left, std::chrono::milliseconds(0))) == 0) {
            return std::nullopt;
        }
        Reply r;
        if (!socket_.recv(r.bytes, zmq::recv_flags::dontwait)) continue;
        r.message =
            codec::verify_reply({static_cast<const std::uint8_t*>(r.bytes.data()), r.bytes.size()});
        if (r.message != nullptr) return r;
        ++malformed_;
    }
}

std::optional<Reply> Connection::call(std::span<const std::uint8_t> request,
                                      std::uint64_t request_id, int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    const auto left_ms = [&] {
        return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    };
    if (!send(request, timeout_ms)) return std::nullopt;
    for (;;) {
        if (left_ms() <= 0) return std::nullopt;
        // Several endpoints: a primary that died took the request with it; the same request
        // (same id: a server that has it answers from its retry cache) goes to the one up now.
        auto reply = receive(endpoints_ > 1 ? std::min(left_ms(), failover_resend_ms) : left_ms());
        if (!reply && endpoints_ > 1 && left_ms() > 0) {
            if (!send(request, left_ms())) return std::nullopt;
            continue;
        }
        if (!reply) return std::nullopt;
        // A malformed request is answered with request id 0 (its id could not be read).
        if (reply->message->request_id() == request_id || reply->message->request_id() == 0) {
            return reply;
        }
    }
}

std::optional<Catalog> fetch_catalog(Connection& c, const Identity& who, int timeout_ms,
                                     std::string& why, bool* answered) {
    RequestBuilder b;
    b.start();
    b.add(wire::CreateGetCatalog(b.fbb()));
    const std::uint64_t id = new_request_id();
    auto reply = c.call(b.finish(who, id), id, timeout_ms);
    if (!reply) {
        why = "no reply within " + std::to_string(timeout_ms) + " ms";
        return std::nullopt;
    }
    if (answered) *answered = true;
    const wire::ReplyMessage& m = *reply->message;
    if (m.error() || !m.results() || m.results()->size() != 1) {
        why = m.error() && m.error()->message() ? m.error()->message()->str()
                                                : "the catalog request was refused";
        return std::nullopt;
    }
    const wire::Result* r = m.results()->Get(0);
    if (!r->body_as_CatalogReply()) {
        why = r->error() && r->error()->message() ? r->error()->message()->str()
                                                  : "no catalog in the reply";
        return std::nullopt;
    }
    auto catalog = codec::decode_catalog(*r->body_as_CatalogReply());
    if (!catalog) why = "the catalog reply does not line up";
    return catalog;
}

}  // namespace slotmatch::client
