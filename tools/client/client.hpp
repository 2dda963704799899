// The client library that the CLI, the load generator, the benchmarks and the bindings share:
// a DEALER connection to slotmatchd, request messages built with the codec's schema, replies
// matched by request id and verified before use, and a timeout on every wait (a client never
// hangs on a server that is gone).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <slotmatch/codec.hpp>
#include <span>
#include <string>
#include <zmq.hpp>

#include "key_files.hpp"

namespace slotmatch::client {

// Who the requests act as (ARCHITECTURE.md: --channel, --actor, --actor-name, --actor-unit).
struct Identity {
    Channel channel = Channel::web;
    std::string actor;
    std::string actor_name;
    std::string actor_unit;
    std::string client;  // stable client name for retries across connections (may be empty)
    std::vector<std::string> roles = {};  // "region-admin" (R8)
};

// A verified reply; `message` points into `bytes`. ZeroMQ keeps messages of 33 bytes or less
// inside the message object, so a move re-points `message` at the bytes' new place.
struct Reply {
    zmq::message_t bytes;
    const wire::ReplyMessage* message = nullptr;

    Reply() = default;
    Reply(Reply&& other) noexcept { *this = std::move(other); }
    Reply& operator=(Reply&& other) noexcept {
        const bool verified = other.message != nullptr;
        bytes = std::move(other.bytes);
        message = verified ? flatbuffers::GetRoot<wire::ReplyMessage>(bytes.data()) : nullptr;
        other.message = nullptr;
        return *this;
    }
};

// Builds one request message of one or more operations.
class RequestBuilder {
  public:
    explicit RequestBuilder(std::size_t initial_bytes = 1024) : fbb_(initial_bytes) {}

    flatbuffers::FlatBufferBuilder& fbb() { return fbb_; }
    // Starts a new message (clears the previous one).
    void start() {
        fbb_.Clear();
        ops_.clear();
    }
    template <typename T>
    void add(flatbuffers::Offset<T> body) {
        ops_.push_back(wire::CreateOp(fbb_, wire::OperationTraits<T>::enum_value, body.Union()));
    }
    std::size_t size() const { return ops_.size(); }
    // Finishes the message; the bytes stay valid until the next start().
    std::span<const std::uint8_t> finish(const Identity& who, std::uint64_t request_id);

  private:
    flatbuffers::FlatBufferBuilder fbb_;
    std::vector<flatbuffers::Offset<wire::Op>> ops_;
};

// A random, non-zero request id (the first of a sequence a client may count up from).
std::uint64_t new_request_id();

// A client's CurveZMQ: its own key pair (slotmatch keygen) and the server's public key. A server
// started with --keys answers only clients whose public key its clients.yaml lists.
struct CurveKeys {
    keys::KeyPair mine;
    std::string server_public;
};
// Reads DIR/NAME.key, DIR/NAME.pub (`pair_prefix` = DIR/NAME) and the server's public key file;
// nothing, with the reason in `why`, when a file is missing or holds no key.
std::optional<CurveKeys> read_curve_keys(const std::string& pair_prefix,
                                         const std::string& server_public_file, std::string& why);

class Connection {
  public:
    // Connects (ZeroMQ connects lazily: a missing server shows as a timeout on receive), with
    // CurveZMQ when `curve` is given. `server` may name several endpoints, comma-separated: a
    // primary and its standbys (docs/operations.md, "A hot standby"). Requests then go only
    // to a server whose connection is up (ZMQ_IMMEDIATE), and a standby listens only once it
    // has taken over, so they reach the one primary; call() sends a request again, under the
    // same id, when no reply came within failover_resend_ms.
    explicit Connection(const std::string& server, int send_hwm_messages = 100'000,
                        const std::optional<CurveKeys>& curve = std::nullopt);
    static constexpr int failover_resend_ms = 500;

    // Queues a request; false if ZeroMQ cannot take it within timeout_ms.
    bool send(std::span<const std::uint8_t> request, int timeout_ms);
    // Blocks until a reply may be read or `timeout` passes (microsecond resolution, unlike
    // zmq_poll's milliseconds: an open-loop load waits 20 µs between sends without spinning
    // next to ZeroMQ's I/O thread). True when a reply is waiting.
    bool wait_readable(std::chrono::nanoseconds timeout);
    // The next reply, verified; nothing after timeout_ms. A reply that fails verification is
    // skipped and counted in malformed_replies().
    std::optional<Reply> receive(int timeout_ms);
    // send, then wait for the reply carrying `request_id` (replies to other ids are dropped).
    std::optional<Reply> call(std::span<const std::uint8_t> request, std::uint64_t request_id,
                              int timeout_ms);

    std::uint64_t malformed_replies() const { return malformed_; }
    std::size_t endpoints() const { return endpoints_; }
    zmq::socket_t& socket() { return socket_; }

  private:
    zmq::context_t ctx_;
    zmq::socket_t socket_;
    std::uint64_t malformed_ = 0;
    std::size_t endpoints_ = 0;
};

// The whole region's catalog (entity names for rendering replies); nothing on timeout or a
// refusal, with the reason in `why` (and `answered` set when the server did answer: a refusal).
std::optional<Catalog> fetch_catalog(Connection& c, const Identity& who, int timeout_ms,
                                     std::string& why, bool* answered = nullptr);

}  // namespace slotmatch::client
