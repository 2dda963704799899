// Hostile input against a real slotmatchd, over raw cppzmq DEALER and REQ sockets: bytes the
// client library would never send. The contract: every hostile message gets an error reply
// (ReplyMessage.error, or Result.error per operation: INVALID_REQUEST with the field, or the
// engine's code for an id that names nothing) or, where documented (a frame larger than
// ZMQ_MAXMSGSIZE = 1 MiB), a disconnect of that peer only. After every case the server answers a
// valid request correctly, and a refused request has changed nothing: the target slot is still
// free and no event was published.
#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>
#include <slotmatch/patient.hpp>
#include <thread>

#include "e2e/server_process.hpp"
#include "engine_fixture.hpp"

namespace slotmatch::testing {
namespace {

namespace fb = flatbuffers;
using SteadyClock = std::chrono::steady_clock;

constexpr int reply_timeout_ms = 5000;  // a reply that must come
constexpr int silence_ms = 1000;        // how long we watch for a reply that must not come
constexpr const char* fixed_clock = "fixed:2026-03-02T07:00:00+01:00";
constexpr const char* valid_patient = "19121212-1212";
constexpr const char* other_patient = "19900101-0017";
constexpr const char* luhn_broken_patient = "19121212-1213";  // the check digit is off by one

std::span<const std::uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::int64_t ms_since(SteadyClock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t).count();
}

// ------------------------------------------------------------------ requests, byte by byte

// Who acts, with the channel as a raw byte: values outside the enum are the point.
struct Who {
    std::uint8_t channel = 0;  // web
    std::string actor = "1177-gateway";
    std::string actor_name;
    std::string actor_unit;
    std::string client = "hostile";
};

Who staff() {
    Who w;
    w.channel = 2;
    w.actor = "staff-1";
    w.actor_name = "Sara Ek";
    w.actor_unit = "u1";
    return w;
}

using Ops = std::vector<fb::Offset<wire::Op>>;
using MakeOps = std::function<Ops(fb::FlatBufferBuilder&)>;

fb::Offset<fb::String> text_or_null(fb::FlatBufferBuilder& b, const std::string& s) {
    return s.empty() ? fb::Offset<fb::String>() : b.CreateString(s);
}

// One RequestMessage; every field as given, even where the client library would refuse.
std::string encode(const MakeOps& make, std::uint64_t request_id, const Who& who = {},
                   std::uint16_t version = codec::protocol_version) {
    fb::FlatBufferBuilder b(1024);
    const Ops ops = make(b);
    const auto actor =
        wire::CreateActor(b, static_cast<wire::Channel>(who.channel), text_or_null(b, who.actor),
                          text_or_null(b, who.actor_name), text_or_null(b, who.actor_unit));
    const auto client = text_or_null(b, who.client);
    const auto vector = b.CreateVector(ops);
    b.Finish(wire::CreateRequestMessage(b, version, request_id, client, actor, vector),
             wire::RequestMessageIdentifier());
    return {reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize()};
}

template <typename T>
fb::Offset<wire::Op> op(fb::FlatBufferBuilder& b, fb::Offset<T> body) {
    return wire::CreateOp(b, wire::OperationTraits<T>::enum_value, body.Union());
}

struct FindArgs {
    std::string unit = "u1";
    std::string type;
    std::string resource;
    std::string from;
    std::string to;
    std::uint32_t limit = 50;
};

fb::Offset<wire::Find> find_table(fb::FlatBufferBuilder& b, const FindArgs& f) {
    const auto unit = b.CreateString(f.unit);
    const auto type = text_or_null(b, f.type);
    const auto resource = text_or_null(b, f.resource);
    const auto from = text_or_null(b, f.from);
    const auto to = text_or_null(b, f.to);
    wire::FindBuilder find(b);
    find.add_unit(unit);
    find.add_appointment_type(type);
    find.add_resource(resource);
    find.add_from(from);
    find.add_to(to);
    find.add_limit(f.limit);
    return find.Finish();
}

fb::Offset<wire::Op> find_op(fb::FlatBufferBuilder& b, const FindArgs& f) {
    return op(b, find_table(b, f));
}

fb::Offset<wire::Op> hold_op(fb::FlatBufferBuilder& b, std::uint32_t slot,
                             const std::string& patient) {
    return op(b, wire::CreateHold(b, slot, b.CreateString(patient)));
}

struct BookArgs {
    std::optional<std::uint32_t> slot;
    std::optional<std::uint64_t> hold;
    std::optional<FindArgs> match;
    std::string patient = valid_patient;
    std::string phone;
    std::string reason;
};

fb::Offset<wire::Op> book_op(fb::FlatBufferBuilder& b, const BookArgs& a) {
    const auto patient = b.CreateString(a.patient);
    const auto phone = text_or_null(b, a.phone);
    const auto reason = text_or_null(b, a.reason);
    const auto match = a.match ? find_table(b, *a.match) : fb::Offset<wire::Find>();
    wire::BookBuilder book(b);
    if (a.slot) book.add_slot(*a.slot);
    if (a.hold) book.add_hold(*a.hold);
    book.add_match(match);
    book.add_patient(patient);
    book.add_phone(phone);
    book.add_reason(reason);
    return op(b, book.Finish());
}

fb::Offset<wire::Op> book_slot_op(fb::FlatBufferBuilder& b, std::uint32_t slot,
                                  const std::string& patient) {
    BookArgs a;
    a.slot = slot;
    a.patient = patient;
    return book_op(b, a);
}

fb::Offset<wire::Op> rebook_op(fb::FlatBufferBuilder& b, std::uint64_t booking,
                               std::optional<std::uint32_t> slot, const std::string& patient) {
    const auto p = text_or_null(b, patient);
    wire::RebookBuilder r(b);
    r.add_booking(booking);
    if (slot) r.add_slot(*slot);
    r.add_patient(p);
    return op(b, r.Finish());
}

fb::Offset<wire::Op> cancel_op(fb::FlatBufferBuilder& b, std::uint64_t booking,
                               const std::string& patient) {
    return op(b, wire::CreateCancel(b, booking, text_or_null(b, patient)));
}

fb::Offset<wire::Op> stats_op(fb::FlatBufferBuilder& b) {
    return op(b, wire::CreateGetStats(b));
}

// ------------------------------------------------------------------ raw sockets and replies

// A reply as it arrived: every frame (the envelope, then the body).
struct Answer {
    std::vector<std::string> frames;

    // The last frame verified as a ReplyMessage; nullptr when it is not one.
    const wire::ReplyMessage* message() const {
        return frames.empty() ? nullptr : codec::verify_reply(bytes_of(frames.back()));
    }
    const wire::Result* result(std::size_t i) const {
        const wire::ReplyMessage* m = message();
        if (m == nullptr || m->results() == nullptr || i >= m->results()->size()) return nullptr;
        return m->results()->Get(static_cast<fb::uoffset_t>(i));
    }
};

// A cppzmq socket of our own, in its own context, that sends whatever frames it is given.
class RawSocket {
  public:
    struct Options {
        zmq::socket_type type = zmq::socket_type::dealer;
        int send_hwm_messages = 1000;
        int receive_hwm_messages = 1000;
        bool monitor_disconnect = false;  // watch for the server closing this connection
        int receive_buffer_bytes = 0;     // SO_RCVBUF; 0 = the system's default
    };

    explicit RawSocket(const std::string& endpoint) : RawSocket(endpoint, Options{}) {}
    RawSocket(const std::string& endpoint, const Options& o) : ctx_(1), socket_(ctx_, o.type) {
        socket_.set(zmq::sockopt::linger, 0);
        socket_.set(zmq::sockopt::sndhwm, o.send_hwm_messages);
        socket_.set(zmq::sockopt::rcvhwm, o.receive_hwm_messages);
        socket_.set(zmq::sockopt::sndtimeo, reply_timeout_ms);
        if (o.receive_buffer_bytes > 0) socket_.set(zmq::sockopt::rcvbuf, o.receive_buffer_bytes);
        if (o.monitor_disconnect) {
            static std::atomic<int> monitors{0};
            const std::string address = "inproc://hostile-monitor-" + std::to_string(++monitors);
            if (zmq_socket_monitor(socket_.handle(), address.c_str(), ZMQ_EVENT_DISCONNECTED) !=
                0) {
                throw zmq::error_t();
            }
            monitor_.emplace(ctx_, zmq::socket_type::pair);
            monitor_->connect(address);
        }
        socket_.connect(endpoint);
    }

    // All frames of one message; false when ZeroMQ did not take them within the send timeout.
    bool send(const std::vector<std::string>& frames) {
        for (std::size_t i = 0; i < frames.size(); ++i) {
            const auto flags =
                i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
            if (!socket_.send(zmq::buffer(frames[i].data(), frames[i].size()), flags)) {
                return false;
            }
        }
        return true;
    }

    // The next whole message, or nothing after `wait_ms`.
    std::optional<Answer> receive(int wait_ms) {
        zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, std::chrono::milliseconds(wait_ms)) == 0) return std::nullopt;
        Answer a;
        constexpr std::size_t frames_max = 64;  // a bound, far above anything the server sends
        bool more = true;
        while (more && a.frames.size() < frames_max) {
            zmq::message_t m;
            // The first frame is there (poll); the rest of a message arrives with it.
            if (!socket_.recv(
                    m, a.frames.empty() ? zmq::recv_flags::dontwait : zmq::recv_flags::none)) {
                return std::nullopt;
            }
            a.frames.emplace_back(static_cast<const char*>(m.data()), m.size());
            more = m.more();
        }
        return a;
    }

    // True when the server closed this connection within `wait_ms`.
    bool wait_disconnected(int wait_ms) {
        if (!monitor_) return false;
        const auto start = SteadyClock::now();
        while (ms_since(start) < wait_ms) {
            zmq::pollitem_t item{monitor_->handle(), 0, ZMQ_POLLIN, 0};
            const auto left = std::chrono::milliseconds(wait_ms - ms_since(start));
            if (zmq::poll(&item, 1, std::max(left, std::chrono::milliseconds(0))) == 0) break;
            zmq::message_t event, address;
            if (!monitor_->recv(event, zmq::recv_flags::dontwait)) continue;
            if (event.more()) (void)monitor_->recv(address, zmq::recv_flags::none);
            std::uint16_t id = 0;
            if (event.size() >= sizeof id) std::memcpy(&id, event.data(), sizeof id);
            if (id == ZMQ_EVENT_DISCONNECTED) return true;
        }
        return false;
    }

  private:
    zmq::context_t ctx_;
    zmq::socket_t socket_;
    std::optional<zmq::socket_t> monitor_;
};

std::string error_text(const wire::Error* e) {
    if (e == nullptr) return "no error";
    return std::string(wire::EnumNameErrorCode(e->code())) +
           " field=" + (e->field() ? e->field()->str() : "(none)") +
           " message=" + (e->message() ? e->message()->str() : "(none)");
}

// The whole message was refused: ReplyMessage.error with `code` and `field`, and no results.
void expect_message_refused(const std::optional<Answer>& a, std::string_view field,
                            std::uint64_t request_id,
                            wire::ErrorCode code = wire::ErrorCode::INVALID_REQUEST) {
    ASSERT_TRUE(a.has_value()) << "no reply within " << reply_timeout_ms << " ms";
    const wire::ReplyMessage* m = a->message();
    ASSERT_NE(m, nullptr) << "the reply's last frame is not a verified ReplyMessage";
    EXPECT_EQ(m->request_id(), request_id);
    ASSERT_NE(m->error(), nullptr) << "expected ReplyMessage.error";
    EXPECT_STREQ(wire::EnumNameErrorCode(m->error()->code()), wire::EnumNameErrorCode(code))
        << error_text(m->error());
    ASSERT_NE(m->error()->field(), nullptr) << error_text(m->error());
    EXPECT_EQ(m->error()->field()->string_view(), field) << error_text(m->error());
    EXPECT_TRUE(m->results() == nullptr || m->results()->size() == 0);
}

// Operation `i` of the reply was refused with `code` and `field`.
void expect_result_refused(const std::optional<Answer>& a, std::size_t i, wire::ErrorCode code,
                           std::string_view field) {
    SCOPED_TRACE("operation " + std::to_string(i));
    ASSERT_TRUE(a.has_value()) << "no reply within " << reply_timeout_ms << " ms";
    const wire::ReplyMessage* m = a->message();
    ASSERT_NE(m, nullptr) << "the reply's last frame is not a verified ReplyMessage";
    ASSERT_EQ(m->error(), nullptr) << error_text(m->error());
    const wire::Result* r = a->result(i);
    ASSERT_NE(r, nullptr) << "no result " << i;
    ASSERT_NE(r->error(), nullptr) << "the operation was accepted";
    EXPECT_STREQ(wire::EnumNameErrorCode(r->error()->code()), wire::EnumNameErrorCode(code))
        << error_text(r->error());
    ASSERT_NE(r->error()->field(), nullptr) << error_text(r->error());
    EXPECT_EQ(r->error()->field()->string_view(), field) << error_text(r->error());
}

// Operation `i` was a find that returned at least one free slot.
void expect_found_slots(const std::optional<Answer>& a, std::size_t i) {
    SCOPED_TRACE("operation " + std::to_string(i));
    ASSERT_TRUE(a.has_value()) << "no reply within " << reply_timeout_ms << " ms";
    const wire::Result* r = a->result(i);
    ASSERT_NE(r, nullptr) << "no result " << i
                          << (a->message() ? error_text(a->message()->error()) : " (unverified)");
    ASSERT_EQ(r->error(), nullptr) << error_text(r->error());
    ASSERT_NE(r->body_as_SlotList(), nullptr);
    ASSERT_NE(r->body_as_SlotList()->slots(), nullptr);
    EXPECT_GT(r->body_as_SlotList()->slots()->size(), 0u);
    for (const wire::Slot* s : *r->body_as_SlotList()->slots()) {
        EXPECT_EQ(s->state(), wire::SlotState::free);
    }
}

// A request through a client-library connection (which sends any bytes it is given).
std::optional<Answer> ask_on(client::Connection& c, const std::string& request,
                             std::uint64_t request_id) {
    const auto reply = c.call(bytes_of(request), request_id, reply_timeout_ms);
    if (!reply) return std::nullopt;
    return Answer{
        {std::string(static_cast<const char*>(reply->bytes.data()), reply->bytes.size())}};
}

// The free slots of u1 / all3 from now, in start order.
std::vector<std::uint32_t> free_slots_on(client::Connection& c) {
    const std::uint64_t id = client::new_request_id();
    const auto a = ask_on(c,
                          encode(
                              [](auto& b) {
                                  FindArgs f;
                                  f.type = "all3";
                                  f.limit = 1000;
                                  return Ops{find_op(b, f)};
                              },
                              id),
                          id);
    std::vector<std::uint32_t> out;
    expect_found_slots(a, 0);
    if (!a || !a->result(0) || !a->result(0)->body_as_SlotList()) return out;
    for (const wire::Slot* s : *a->result(0)->body_as_SlotList()->slots()) {
        out.push_back(s->slot_id());
    }
    return out;
}

struct Counters {
    std::uint64_t messages = 0;
    std::uint64_t malformed = 0;
    std::uint64_t replies_dropped = 0;
    // Events that changed state: a refusal of a patient operation publishes an `accessed`
    // event for the access audit, and nothing else.
    std::uint64_t events_published = 0;
    std::uint64_t in_flight = 0;
    std::uint64_t slots = 0;
};

// ------------------------------------------------------------------ the fixture

class Hostile : public ::testing::Test {
  protected:
    void SetUp() override { start(1); }

    // A fresh slotmatchd with `threads` workers, the rule region and the fixed clock.
    void start(unsigned threads) {
        connection_.reset();
        server_.reset();
        const std::string config = write_temp_file("hostile-region.yaml", rule_region_yaml);
        server_ = std::make_unique<ServerProcess>(std::vector<std::string>{
            "--config", config, "--clock", fixed_clock, "--threads", std::to_string(threads)});
        ASSERT_FALSE(server_->endpoint().empty()) << server_->output();
        connection_ = std::make_unique<client::Connection>(server_->endpoint());
        const std::vector<std::uint32_t> slots = free_slots();
        ASSERT_GE(slots.size(), 3u);
        target_ = slots[0];
        spare_ = slots[1];
        slot_count_ = static_cast<std::uint32_t>(stats().slots);
        ASSERT_GT(slot_count_, spare_);
        rebaseline();
    }

    const std::string& endpoint() const { return server_->endpoint(); }

  public:  // for the helpers below that run many cases against the fixture's server
    ServerProcess& server() { return *server_; }
    std::uint32_t target() const { return target_; }
    void restart(unsigned threads) { start(threads); }

  protected:
    // A request through the client library's connection (which takes any bytes).
    std::optional<Answer> ask(const std::string& request, std::uint64_t request_id) {
        return ask_on(*connection_, request, request_id);
    }
    // One valid operation, as the 1177 gateway.
    std::optional<Answer> ask_one(const MakeOps& make, const Who& who = {}) {
        const std::uint64_t id = client::new_request_id();
        return ask(encode(make, id, who), id);
    }

    std::vector<std::uint32_t> free_slots() { return free_slots_on(*connection_); }
    bool slot_is_free(std::uint32_t slot) {
        const auto slots = free_slots();
        return std::find(slots.begin(), slots.end(), slot) != slots.end();
    }

    Counters stats() {
        const auto a = ask_one([](auto& b) { return Ops{stats_op(b)}; });
        const wire::Result* r = a ? a->result(0) : nullptr;
        if (r == nullptr || r->body_as_StatsReply() == nullptr) {
            ADD_FAILURE() << "no stats reply";
            return {};
        }
        const wire::StatsReply& s = *r->body_as_StatsReply();
        return {s.messages(),        s.malformed(),
                s.replies_dropped(), s.events_published() - s.accesses_recorded(),
                s.in_flight(),       s.slots()};
    }
    // Events are drained after each burst: read until two readings agree.
    Counters settled_stats() {
        Counters last = stats();
        for (int i = 0; i < 20; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            const Counters now = stats();
            if (now.events_published == last.events_published) return now;
            last = now;
        }
        return last;
    }
    void rebaseline() { baseline_events_ = settled_stats().events_published; }

    // The server still runs, answers a valid find from a client-library connection with free
    // slots, and nothing changed: the target slot is free and no event was published.
    void expect_serving_and_unchanged() {
        ASSERT_TRUE(server_->alive()) << "slotmatchd died:\n" << server_->output();
        const std::vector<std::uint32_t> slots = free_slots();
        EXPECT_FALSE(slots.empty());
        EXPECT_NE(std::find(slots.begin(), slots.end(), target_), slots.end())
            << "the target slot " << target_ << " is no longer free";
        EXPECT_EQ(settled_stats().events_published, baseline_events_)
            << "a refused request published an event";
    }

    std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<client::Connection> connection_;
    std::uint32_t target_ = 0;      // the slot every hostile booking aims at; must stay free
    std::uint32_t spare_ = 0;       // a second free slot, for the valid bookings of a test
    std::uint32_t slot_count_ = 0;  // slot ids are 0 .. slot_count_ - 1
    std::uint64_t baseline_events_ = 0;
};

// ------------------------------------------------------------------ random and truncated bytes

TEST_F(Hostile, RandomBytesOfEverySizeGetAnInvalidRequestReply) {
    std::mt19937_64 rng(20260302);
    const Counters before = stats();
    RawSocket raw(endpoint());
    const std::vector<std::size_t> sizes{
        0,  1,  2,  3,  4,  7,   8,    9,    16,    31,
        32, 33, 34, 64, 65, 100, 1000, 4096, 65536, codec::message_bytes_max};
    std::uint64_t sent = 0;
    for (const std::size_t size : sizes) {
        // Plain noise, and noise that carries the file identifier and a small root offset, so
        // that it passes the first checks and the verifier walks into the garbage.
        for (const bool looks_like_a_request : {false, true}) {
            if (looks_like_a_request && size < 8) continue;
            std::string bytes(size, '\0');
            for (char& c : bytes) c = static_cast<char>(rng());
            if (looks_like_a_request) {
                const auto root = static_cast<std::uint32_t>(8 + 4 * (rng() % (size / 4)));
                std::memcpy(bytes.data(), &root, sizeof root);
                std::memcpy(bytes.data() + 4, wire::RequestMessageIdentifier(), 4);
            }
            SCOPED_TRACE("size " + std::to_string(size) +
                         (looks_like_a_request ? " with the identifier" : ""));
            ASSERT_EQ(codec::verify_request(bytes_of(bytes)), nullptr)
                << "the seed produced a valid request; the case proves nothing";
            ASSERT_TRUE(raw.send({bytes}));
            ++sent;
            expect_message_refused(raw.receive(reply_timeout_ms), "message", 0);
        }
    }
    const Counters after = stats();
    EXPECT_EQ(after.malformed - before.malformed, sent);
    EXPECT_EQ(after.messages - before.messages, sent + 1) << "one reply per message (+ stats)";
    expect_serving_and_unchanged();
}

TEST_F(Hostile, TruncatedRequestsAreRefusedAndBookNothing) {
    const std::uint64_t id = client::new_request_id();
    BookArgs a;
    a.slot = target_;
    a.phone = "0701234567";
    a.reason = "Ont i halsen sedan en vecka";
    const std::string whole = encode([&](auto& b) { return Ops{book_op(b, a)}; }, id);
    ASSERT_NE(codec::verify_request(bytes_of(whole)), nullptr);
    RawSocket raw(endpoint());
    // Every cut: 0 .. size - 1 bytes. A cut into the alignment padding after the last string
    // leaves a whole request (nothing of it is lost), so those few cuts are not sent.
    std::size_t skipped = 0;
    for (std::size_t cut = 0; cut < whole.size(); ++cut) {
        const std::string part = whole.substr(0, cut);
        if (codec::verify_request(bytes_of(part)) != nullptr) {
            EXPECT_GE(cut + 4, whole.size()) << "a cut at " << cut << " still verifies";
            ++skipped;
            continue;
        }
        SCOPED_TRACE("cut at " + std::to_string(cut) + " of " + std::to_string(whole.size()));
        ASSERT_TRUE(raw.send({part}));
        expect_message_refused(raw.receive(reply_timeout_ms), "message", 0);
    }
    EXPECT_LE(skipped, 3u);
    EXPECT_TRUE(slot_is_free(target_)) << "a truncated booking booked the slot";
    expect_serving_and_unchanged();
    // The truncated copies left nothing in the retry cache: the whole request books, and its
    // retry gets the same booking.
    ASSERT_TRUE(raw.send({whole}));
    const auto booked = raw.receive(reply_timeout_ms);
    ASSERT_TRUE(booked && booked->result(0) && booked->result(0)->body_as_BookingReply())
        << (booked && booked->result(0) ? error_text(booked->result(0)->error()) : "no reply");
    const std::uint64_t booking =
        booked->result(0)->body_as_BookingReply()->booking()->booking_id();
    EXPECT_EQ(booked->message()->request_id(), id);
    ASSERT_TRUE(raw.send({whole}));
    const auto retry = raw.receive(reply_timeout_ms);
    ASSERT_TRUE(retry && retry->result(0) && retry->result(0)->body_as_BookingReply());
    EXPECT_EQ(retry->result(0)->body_as_BookingReply()->booking()->booking_id(), booking);
    EXPECT_FALSE(slot_is_free(target_));
}

// ------------------------------------------------------------------ size bounds

TEST_F(Hostile, OversizeMessageDisconnectsThatPeerAndANewConnectionIsServed) {
    const Counters before = stats();
    RawSocket::Options o;
    o.monitor_disconnect = true;
    RawSocket big(endpoint(), o);
    // A well-formed booking of the target slot, over 1 MiB through its client name.
    Who who;
    who.client = std::string(codec::message_bytes_max, 'c');
    const std::uint64_t id = client::new_request_id();
    const std::string bytes =
        encode([&](auto& b) { return Ops{book_slot_op(b, target_, valid_patient)}; }, id, who);
    ASSERT_GT(bytes.size(), codec::message_bytes_max);
    ASSERT_TRUE(big.send({bytes}));
    EXPECT_TRUE(big.wait_disconnected(reply_timeout_ms))
        << "ZMQ_MAXMSGSIZE should close the connection that sent the oversize frame";
    EXPECT_FALSE(big.receive(silence_ms).has_value()) << "an oversize message got a reply";
    ASSERT_TRUE(server_->alive()) << server_->output();

    // A new connection is served; so is the connection that was open all along.
    client::Connection fresh(endpoint());
    EXPECT_FALSE(free_slots_on(fresh).empty());
    expect_serving_and_unchanged();
    const Counters after = stats();
    EXPECT_EQ(after.malformed, before.malformed) << "the oversize frame never reaches verify";
    // The peer that was cut off reconnects (ZeroMQ does) and is served like anyone else.
    const std::uint64_t again = client::new_request_id();
    ASSERT_TRUE(big.send({encode([](auto& b) { return Ops{find_op(b, {})}; }, again)}));
    const auto reply = big.receive(reply_timeout_ms);
    ASSERT_TRUE(reply.has_value()) << "the reconnected peer got no answer";
    ASSERT_NE(reply->message(), nullptr);
    EXPECT_EQ(reply->message()->request_id(), again);
    expect_found_slots(reply, 0);
}

TEST_F(Hostile, MessageOfExactlyOneMebibyteIsServed) {
    // The bound is inclusive: a well-formed request of exactly 1 MiB is read and answered.
    const std::uint64_t id = client::new_request_id();
    // A second find's unit id fills the message (the client name is bounded much lower).
    // Padding makes the size move in steps of up to 8 bytes, so grow by the shortfall, then
    // shrink one byte at a time onto the bound.
    std::string bytes;
    FindArgs pad;
    pad.unit.assign(codec::message_bytes_max - 512, 'u');
    for (int tries = 0; tries < 64; ++tries) {
        bytes = encode([&](auto& b) { return Ops{find_op(b, {}), find_op(b, pad)}; }, id);
        if (bytes.size() == codec::message_bytes_max) break;
        if (bytes.size() < codec::message_bytes_max) {
            pad.unit.append(codec::message_bytes_max - bytes.size(), 'u');
        } else {
            pad.unit.pop_back();
        }
    }
    ASSERT_EQ(bytes.size(), codec::message_bytes_max);
    ASSERT_NE(codec::verify_request(bytes_of(bytes)), nullptr);
    RawSocket raw(endpoint());
    ASSERT_TRUE(raw.send({bytes}));
    const auto reply = raw.receive(reply_timeout_ms);
    ASSERT_TRUE(reply.has_value());
    ASSERT_NE(reply->message(), nullptr);
    EXPECT_EQ(reply->message()->request_id(), id);
    expect_found_slots(reply, 0);
    const wire::Result* padded = reply->result(1);
    ASSERT_NE(padded, nullptr);
    ASSERT_NE(padded->error(), nullptr);
    EXPECT_EQ(padded->error()->code(), wire::ErrorCode::INVALID_REQUEST);
    expect_serving_and_unchanged();
}

// ------------------------------------------------------------------ ids that name nothing

TEST_F(Hostile, UnknownIdsAreRefusedWithTheirField) {
    // A real booking (of the spare slot, for the other patient) to aim at with the wrong one.
    const auto made = ask_one([&](auto& b) { return Ops{book_slot_op(b, spare_, other_patient)}; });
    ASSERT_TRUE(made && made->result(0) && made->result(0)->body_as_BookingReply());
    const std::uint64_t booking = made->result(0)->body_as_BookingReply()->booking()->booking_id();
    rebaseline();

    const std::uint32_t beyond = slot_count_;  // the first id past the region's last slot
    const std::uint64_t id = client::new_request_id();
    const auto reply =
        ask(encode(
                [&](auto& b) {
                    FindArgs no_unit, no_resource, no_type, match;
                    no_unit.unit = "no-such-unit";
                    no_resource.resource = "no-such-resource";
                    no_type.type = "no-such-type";
                    match.unit = "no-such-unit";
                    match.type = "all3";
                    BookArgs by_hold, by_match;
                    by_hold.hold = 0xdeadbeefULL;
                    by_match.match = match;
                    return Ops{
                        find_op(b, no_unit),                             // 0
                        find_op(b, no_resource),                         // 1
                        find_op(b, no_type),                             // 2
                        hold_op(b, beyond, valid_patient),               // 3
                        hold_op(b, 0xffffffffU, valid_patient),          // 4
                        book_slot_op(b, beyond, valid_patient),          // 5
                        book_op(b, by_hold),                             // 6
                        book_op(b, by_match),                            // 7
                        rebook_op(b, 0x7777, target_, valid_patient),    // 8
                        cancel_op(b, 0, valid_patient),                  // 9
                        cancel_op(b, ~std::uint64_t{0}, valid_patient),  // 10
                        cancel_op(b, booking, valid_patient),            // 11: not this citizen's
                        rebook_op(b, booking, beyond, other_patient),    // 12
                        op(b, wire::CreateWaitlistAdd(b, b.CreateString("no-such-unit"),
                                                      b.CreateString("all3"),
                                                      b.CreateString(valid_patient))),  // 13
                        op(b, wire::CreateWaitlistAdd(b, b.CreateString("u1"),
                                                      b.CreateString("no-such-type"),
                                                      b.CreateString(valid_patient))),       // 14
                        op(b, wire::CreateWaitlistList(b, b.CreateString("no-such-unit"))),  // 15
                        op(b, wire::CreateGetCatalog(b, b.CreateString("no-such-unit"))),    // 16
                        op(b, wire::CreateBookings(b, b.CreateString(valid_patient))),  // 17: none
                    };
                },
                id),
            id);
    using E = wire::ErrorCode;
    expect_result_refused(reply, 0, E::INVALID_REQUEST, "unit");
    expect_result_refused(reply, 1, E::INVALID_REQUEST, "resource");
    expect_result_refused(reply, 2, E::INVALID_REQUEST, "appointment_type");
    expect_result_refused(reply, 3, E::INVALID_REQUEST, "slot");
    expect_result_refused(reply, 4, E::INVALID_REQUEST, "slot");
    expect_result_refused(reply, 5, E::INVALID_REQUEST, "slot");
    expect_result_refused(reply, 6, E::INVALID_REQUEST, "hold");
    expect_result_refused(reply, 7, E::INVALID_REQUEST, "unit");
    expect_result_refused(reply, 8, E::BOOKING_NOT_FOUND, "booking");
    expect_result_refused(reply, 9, E::BOOKING_NOT_FOUND, "booking");
    expect_result_refused(reply, 10, E::BOOKING_NOT_FOUND, "booking");
    expect_result_refused(reply, 11, E::BOOKING_NOT_FOUND, "booking");
    expect_result_refused(reply, 12, E::INVALID_REQUEST, "slot");
    expect_result_refused(reply, 13, E::INVALID_REQUEST, "unit");
    expect_result_refused(reply, 14, E::INVALID_REQUEST, "appointment_type");
    expect_result_refused(reply, 15, E::INVALID_REQUEST, "unit");
    expect_result_refused(reply, 16, E::INVALID_REQUEST, "unit");
    ASSERT_TRUE(reply && reply->result(17) && reply->result(17)->body_as_BookingList());
    EXPECT_EQ(reply->result(17)->body_as_BookingList()->bookings()->size(), 0u);
    ASSERT_TRUE(reply->message());
    EXPECT_EQ(reply->message()->results()->size(), 18u);

    // The booking aimed at is untouched: still the other patient's, on the spare slot.
    const auto list = ask_one(
        [](auto& b) { return Ops{op(b, wire::CreateBookings(b, b.CreateString(other_patient)))}; });
    ASSERT_TRUE(list && list->result(0) && list->result(0)->body_as_BookingList());
    ASSERT_EQ(list->result(0)->body_as_BookingList()->bookings()->size(), 1u);
    const wire::Booking* kept = list->result(0)->body_as_BookingList()->bookings()->Get(0);
    EXPECT_EQ(kept->booking_id(), booking);
    EXPECT_EQ(kept->slot()->slot_id(), spare_);
    expect_serving_and_unchanged();
}

// An id that exists in another unit names nothing here. docs/protocol.md ("Errors"): "field
// names the request field concerned", and the request's field is `appointment_type` (as the
// codec says for an id that exists nowhere), not `type`.
TEST_F(Hostile, IdsOfAnotherUnitAreRefusedWithTheRequestFieldName) {
    using E = wire::ErrorCode;
    const std::uint64_t id = client::new_request_id();
    const auto reply = ask(
        encode(
            [&](auto& b) {
                FindArgs other_type, other_resource;
                other_type.type = "all3b";       // unit u2's own type
                other_resource.resource = "r3";  // a resource of unit u2
                return Ops{
                    find_op(b, other_type), find_op(b, other_resource),
                    op(b, wire::CreateWaitlistAdd(b, b.CreateString("u1"), b.CreateString("all3b"),
                                                  b.CreateString(valid_patient)))};
            },
            id),
        id);
    expect_result_refused(reply, 0, E::INVALID_REQUEST, "appointment_type");
    expect_result_refused(reply, 1, E::INVALID_REQUEST, "resource");
    expect_result_refused(reply, 2, E::INVALID_REQUEST, "appointment_type");
    expect_serving_and_unchanged();
}

TEST_F(Hostile, UnknownIdsFromStaffAreRefusedWithTheirField) {
    const std::uint32_t beyond = slot_count_;
    const std::uint64_t id = client::new_request_id();
    const auto reply =
        ask(encode(
                [&](auto& b) {
                    const auto block = [&](const char* resource, const char* from, const char* to) {
                        return op(b, wire::CreateBlock(b, b.CreateString(resource),
                                                       b.CreateString(from), b.CreateString(to)));
                    };
                    return Ops{
                        op(b, wire::CreateUnblock(b, 77)),                      // 0
                        op(b, wire::CreateUnblock(b, 0)),                       // 1
                        op(b, wire::CreateUnblock(b, ~std::uint64_t{0})),       // 2
                        block("no-such-resource", "2026-03-02", "2026-03-03"),  // 3
                        block("r1", "not a date", "2026-03-03"),                // 4
                        block("r1", "2026-03-02", "2026-13-45"),                // 5
                        hold_op(b, beyond, valid_patient),                      // 6
                        book_slot_op(b, beyond, valid_patient),                 // 7
                        rebook_op(b, 0x123456789ULL, std::nullopt, ""),         // 8
                        cancel_op(b, 0x123456789ULL, ""),                       // 9
                    };
                },
                id, staff()),
            id);
    using E = wire::ErrorCode;
    expect_result_refused(reply, 0, E::INVALID_REQUEST, "block");
    expect_result_refused(reply, 1, E::INVALID_REQUEST, "block");
    expect_result_refused(reply, 2, E::INVALID_REQUEST, "block");
    expect_result_refused(reply, 3, E::INVALID_REQUEST, "resource");
    expect_result_refused(reply, 4, E::INVALID_REQUEST, "from");
    expect_result_refused(reply, 5, E::INVALID_REQUEST, "to");
    expect_result_refused(reply, 6, E::INVALID_REQUEST, "slot");
    expect_result_refused(reply, 7, E::INVALID_REQUEST, "slot");
    expect_result_refused(reply, 8, E::BOOKING_NOT_FOUND, "booking");
    expect_result_refused(reply, 9, E::BOOKING_NOT_FOUND, "booking");

    // Staff acting from a unit that does not exist: every operation names actor_unit.
    Who nowhere = staff();
    nowhere.actor_unit = "no-such-unit";
    const std::uint64_t id2 = client::new_request_id();
    const auto refused = ask(encode(
                                 [&](auto& b) {
                                     return Ops{find_op(b, {}), hold_op(b, target_, valid_patient),
                                                book_slot_op(b, target_, valid_patient)};
                                 },
                                 id2, nowhere),
                             id2);
    for (std::size_t i = 0; i < 3; ++i) {
        expect_result_refused(refused, i, E::INVALID_REQUEST, "actor_unit");
    }
    expect_serving_and_unchanged();
}

// ------------------------------------------------------------------ values outside the schema

TEST_F(Hostile, ChannelOutsideTheEnumIsRefused) {
    for (const std::uint8_t channel : {std::uint8_t{3}, std::uint8_t{7}, std::uint8_t{255}}) {
        SCOPED_TRACE("channel " + std::to_string(channel));
        Who who;
        who.channel = channel;
        const std::uint64_t id = client::new_request_id();
        const std::string bytes = encode(
            [&](auto& b) {
                return Ops{find_op(b, {}), hold_op(b, target_, valid_patient),
                           book_slot_op(b, target_, valid_patient)};
            },
            id, who);
        ASSERT_NE(codec::verify_request(bytes_of(bytes)), nullptr)
            << "FlatBuffers does not check enum ranges: this reaches the service";
        RawSocket raw(endpoint());
        ASSERT_TRUE(raw.send({bytes}));
        const auto reply = raw.receive(reply_timeout_ms);
        for (std::size_t i = 0; i < 3; ++i) {
            expect_result_refused(reply, i, wire::ErrorCode::INVALID_REQUEST, "channel");
        }
        if (reply && reply->message()) {
            EXPECT_EQ(reply->message()->request_id(), id);
        }
    }
    expect_serving_and_unchanged();
}

TEST_F(Hostile, UnknownOperationTypeIsRefusedAndTheRestOfTheBatchIsServed) {
    const std::uint64_t id = client::new_request_id();
    const auto reply =
        ask(encode(
                [&](auto& b) {
                    // Each unknown type carries a real table as its body (the body is required).
                    const auto unknown = [&](std::uint8_t type) {
                        return wire::CreateOp(b, static_cast<wire::Operation>(type),
                                              wire::CreateGetStats(b).Union());
                    };
                    // The first type past the schema's last (it grows at the end).
                    const auto past_last =
                        static_cast<std::uint8_t>(static_cast<int>(wire::Operation::MAX) + 1);
                    return Ops{unknown(99),  find_op(b, {}),
                               unknown(0),   unknown(past_last),
                               unknown(255), hold_op(b, target_, luhn_broken_patient)};
                },
                id),
            id);
    using E = wire::ErrorCode;
    expect_result_refused(reply, 0, E::INVALID_REQUEST, "op");
    expect_found_slots(reply, 1);
    expect_result_refused(reply, 2, E::INVALID_REQUEST, "op");
    expect_result_refused(reply, 3, E::INVALID_REQUEST, "op");
    expect_result_refused(reply, 4, E::INVALID_REQUEST, "op");
    expect_result_refused(reply, 5, E::INVALID_REQUEST, "patient");
    expect_serving_and_unchanged();
}

TEST_F(Hostile, WrongProtocolVersionIsRefused) {
    RawSocket raw(endpoint());
    for (const std::uint16_t version : {std::uint16_t{0}, std::uint16_t{2}, std::uint16_t{65535}}) {
        SCOPED_TRACE("version " + std::to_string(version));
        const std::uint64_t id = client::new_request_id();
        ASSERT_TRUE(raw.send({encode(
            [&](auto& b) {
                return Ops{hold_op(b, target_, valid_patient),
                           book_slot_op(b, target_, valid_patient)};
            },
            id, {}, version)}));
        expect_message_refused(raw.receive(reply_timeout_ms), "version", id);
    }
    expect_serving_and_unchanged();
}

TEST_F(Hostile, ZeroOpsAndMoreThan1024OpsAreRefused) {
    RawSocket raw(endpoint());
    {
        SCOPED_TRACE("no operations");
        const std::uint64_t id = client::new_request_id();
        ASSERT_TRUE(raw.send({encode([](auto&) { return Ops{}; }, id)}));
        expect_message_refused(raw.receive(reply_timeout_ms), "ops", id);
    }
    {
        SCOPED_TRACE("1025 holds of one slot");
        const std::uint64_t id = client::new_request_id();
        ASSERT_TRUE(raw.send({encode(
            [&](auto& b) {
                Ops ops;
                for (std::size_t i = 0; i <= codec::batch_ops_max; ++i) {
                    ops.push_back(hold_op(b, target_, valid_patient));
                }
                return ops;
            },
            id)}));
        expect_message_refused(raw.receive(reply_timeout_ms), "ops", id);
    }
    {
        SCOPED_TRACE("5000 operations: past the verifier's table bound");
        const std::uint64_t id = client::new_request_id();
        ASSERT_TRUE(raw.send({encode(
            [](auto& b) {
                Ops ops;
                for (int i = 0; i < 5000; ++i) ops.push_back(stats_op(b));
                return ops;
            },
            id)}));
        const auto reply = raw.receive(reply_timeout_ms);
        ASSERT_TRUE(reply && reply->message() && reply->message()->error());
        EXPECT_EQ(reply->message()->error()->code(), wire::ErrorCode::INVALID_REQUEST)
            << error_text(reply->message()->error());
        EXPECT_NE(reply->message()->error()->field(), nullptr);
    }
    {
        SCOPED_TRACE("exactly 1024 finds: the bound itself is served");
        const std::uint64_t id = client::new_request_id();
        ASSERT_TRUE(raw.send({encode(
            [](auto& b) {
                Ops ops;
                FindArgs one;
                one.limit = 1;
                for (std::size_t i = 0; i < codec::batch_ops_max; ++i)
                    ops.push_back(find_op(b, one));
                return ops;
            },
            id)}));
        const auto reply = raw.receive(reply_timeout_ms);
        ASSERT_TRUE(reply && reply->message());
        ASSERT_EQ(reply->message()->error(), nullptr) << error_text(reply->message()->error());
        ASSERT_EQ(reply->message()->results()->size(), codec::batch_ops_max);
        expect_found_slots(reply, 0);
        expect_found_slots(reply, codec::batch_ops_max - 1);
    }
    expect_serving_and_unchanged();
}

TEST_F(Hostile, FieldValuesOutOfRangeAreRefused) {
    const std::uint64_t id = client::new_request_id();
    const auto reply = ask(
        encode(
            [&](auto& b) {
                FindArgs zero, huge, bad_from, backwards;
                zero.limit = 0;
                huge.limit = codec::find_limit_max + 1;
                bad_from.from = "2026-02-30";
                backwards.from = "2026-03-05";
                backwards.to = "2026-03-03";
                BookArgs none, both;
                both.slot = target_;
                both.hold = 1;
                return Ops{find_op(b, zero),
                           find_op(b, huge),
                           find_op(b, bad_from),
                           find_op(b, backwards),
                           book_op(b, none),
                           book_op(b, both),
                           op(b, wire::CreateHold(b, fb::nullopt, b.CreateString(valid_patient)))};
            },
            id),
        id);
    using E = wire::ErrorCode;
    expect_result_refused(reply, 0, E::INVALID_REQUEST, "limit");
    expect_result_refused(reply, 1, E::INVALID_REQUEST, "limit");
    expect_result_refused(reply, 2, E::INVALID_REQUEST, "from");
    expect_result_refused(reply, 3, E::INVALID_REQUEST, "to");
    expect_result_refused(reply, 4, E::INVALID_REQUEST, "slot");
    expect_result_refused(reply, 5, E::INVALID_REQUEST, "slot");
    expect_result_refused(reply, 6, E::INVALID_REQUEST, "slot");  // a hold names its slot
    expect_serving_and_unchanged();
}

TEST_F(Hostile, MissingRequiredFieldsFailVerification) {
    // Required tables and strings are checked by the verifier: the whole message is refused
    // with field "message" and request id 0, before anything reads it.
    // Built field by field: the generated builders assert on a missing required field.
    const auto build = [](bool with_actor, bool with_ops, bool with_patient) {
        fb::FlatBufferBuilder b;
        const auto p = b.CreateString(valid_patient);
        const auto book_start = b.StartTable();
        b.AddElement<std::uint32_t>(wire::Book::VT_SLOT, 0);
        if (with_patient) b.AddOffset(wire::Book::VT_PATIENT, p);
        const fb::Offset<wire::Book> body(b.EndTable(book_start));
        const auto ops = b.CreateVector(Ops{op(b, body)});
        const auto actor = wire::CreateActor(b, wire::Channel::web, b.CreateString("1177"));
        const auto start = b.StartTable();
        b.AddElement<std::uint64_t>(wire::RequestMessage::VT_REQUEST_ID, 42, 0);
        if (with_actor) b.AddOffset(wire::RequestMessage::VT_ACTOR, actor);
        if (with_ops) b.AddOffset(wire::RequestMessage::VT_OPS, ops);
        b.Finish(fb::Offset<wire::RequestMessage>(b.EndTable(start)),
                 wire::RequestMessageIdentifier());
        return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
    };
    ASSERT_NE(codec::verify_request(bytes_of(build(true, true, true))), nullptr)
        << "the complete message must verify, or the cases below prove nothing";
    RawSocket raw(endpoint());
    for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
             {"no actor", build(false, true, true)},
             {"no ops", build(true, false, true)},
             {"a book without its patient", build(true, true, false)}}) {
        SCOPED_TRACE(name);
        ASSERT_TRUE(raw.send({bytes}));
        expect_message_refused(raw.receive(reply_timeout_ms), "message", 0);
    }
    {
        SCOPED_TRACE("an empty actor id");
        Who nobody;
        nobody.actor.clear();
        const std::uint64_t id = client::new_request_id();
        const auto reply =
            ask(encode(
                    [&](auto& b) {
                        return Ops{find_op(b, {}), hold_op(b, target_, valid_patient),
                                   book_slot_op(b, target_, valid_patient), stats_op(b),
                                   op(b, wire::CreateGetCatalog(b))};
                    },
                    id, nobody),
                id);
        for (std::size_t i = 0; i < 5; ++i) {  // every operation needs an actor, stats included
            expect_result_refused(reply, i, wire::ErrorCode::INVALID_REQUEST, "actor");
        }
    }
    expect_serving_and_unchanged();
}

// ------------------------------------------------------------------ patients and strings

TEST_F(Hostile, MalformedPersonnummerIsRefused) {
    const std::vector<std::string> bad{
        luhn_broken_patient, "191212121213",         "19121312-1212", "abc",
        "1912121212",        std::string(1000, '9'), "19121212+1212x"};
    for (const std::string& p : bad) {
        ASSERT_FALSE(parse_patient_id(p).key.has_value()) << p << " is valid after all";
    }
    for (const std::string& p : bad) {
        SCOPED_TRACE("patient " + p.substr(0, 20));
        const std::uint64_t id = client::new_request_id();
        const auto reply = ask(
            encode(
                [&](auto& b) {
                    return Ops{
                        hold_op(b, target_, p),
                        book_slot_op(b, target_, p),
                        op(b, wire::CreateBookings(b, b.CreateString(p))),
                        cancel_op(b, 1, p),
                        rebook_op(b, 1, target_, p),
                        op(b, wire::CreateWaitlistAdd(b, b.CreateString("u1"),
                                                      b.CreateString("all3"), b.CreateString(p)))};
                },
                id),
            id);
        for (std::size_t i = 0; i < 6; ++i) {
            expect_result_refused(reply, i, wire::ErrorCode::INVALID_REQUEST, "patient");
        }
    }
    {
        SCOPED_TRACE("an empty patient");
        const std::uint64_t id = client::new_request_id();
        const auto reply =
            ask(encode(
                    [&](auto& b) {
                        return Ops{hold_op(b, target_, ""), book_slot_op(b, target_, "")};
                    },
                    id),
                id);
        expect_result_refused(reply, 0, wire::ErrorCode::INVALID_REQUEST, "patient");
        expect_result_refused(reply, 1, wire::ErrorCode::INVALID_REQUEST, "patient");
    }
    expect_serving_and_unchanged();
}

// Text that replies, the CLI's JSON and the journal's log will show again must be UTF-8: a byte
// sequence that is not (a lone continuation byte, an overlong form, a surrogate, a truncated
// sequence) is refused, and Swedish text (å, ä, ö) is not.
TEST_F(Hostile, TextThatIsNotUtf8IsRefused) {
    using E = wire::ErrorCode;
    for (const std::string& bad :
         {std::string("\xff"),
          std::string("a\x80"
                      "b"),
          std::string("\xc0\xaf"), std::string("\xed\xa0\x80"), std::string("\xe5\x9b"),
          std::string("\xf4\x90\x80\x80"), std::string("\xf5\x80\x80\x80")}) {
        SCOPED_TRACE("bytes of size " + std::to_string(bad.size()));
        BookArgs bad_reason, bad_phone;
        bad_reason.slot = target_;
        bad_reason.reason = bad;
        bad_phone.slot = target_;
        bad_phone.phone = bad;
        const auto reply = ask_one([&](auto& b) {
            return Ops{book_op(b, bad_reason), book_op(b, bad_phone)};
        });
        expect_result_refused(reply, 0, E::INVALID_REQUEST, "reason");
        expect_result_refused(reply, 1, E::INVALID_REQUEST, "phone");
        Who who = staff();
        who.actor_name = "Karin " + bad;
        const std::uint64_t id = client::new_request_id();
        const auto named = ask(encode([&](auto& b) { return Ops{find_op(b, {})}; }, id, who), id);
        expect_result_refused(named, 0, E::INVALID_REQUEST, "actor_name");
        Who gateway;
        gateway.actor = "1177-" + bad;
        const std::uint64_t id2 = client::new_request_id();
        const auto actor =
            ask(encode([&](auto& b) { return Ops{find_op(b, {})}; }, id2, gateway), id2);
        expect_result_refused(actor, 0, E::INVALID_REQUEST, "actor");
        const auto block = ask_one(
            [&](auto& b) {
                return Ops{op(b, wire::CreateBlock(
                                     b, b.CreateString("r1"), b.CreateString("2026-03-02"),
                                     b.CreateString("2026-03-03"), b.CreateString("Kurs " + bad)))};
            },
            staff());
        expect_result_refused(block, 0, E::INVALID_REQUEST, "reason");
    }
    expect_serving_and_unchanged();
    BookArgs swedish;
    swedish.slot = spare_;
    swedish.patient = other_patient;
    swedish.reason = "Ont i örat, svårt att höra på vänster sida";
    const auto reply = ask_one([&](auto& b) { return Ops{book_op(b, swedish)}; });
    ASSERT_TRUE(reply && reply->result(0) && reply->result(0)->body_as_BookingReply());
}

TEST_F(Hostile, OverlongStringsAreRefused) {
    using E = wire::ErrorCode;
    const auto batch = [&](auto& b) {
        return Ops{find_op(b, {}), hold_op(b, target_, valid_patient),
                   book_slot_op(b, target_, valid_patient)};
    };
    for (const std::size_t length : {std::size_t{49}, std::size_t{100'000}}) {
        SCOPED_TRACE("actor id of " + std::to_string(length) + " bytes");
        Who who;
        who.actor = std::string(length, 'a');
        const std::uint64_t id = client::new_request_id();
        const auto reply = ask(encode(batch, id, who), id);
        for (std::size_t i = 0; i < 3; ++i)
            expect_result_refused(reply, i, E::INVALID_REQUEST, "actor");
    }
    {
        SCOPED_TRACE("actor name of 65 bytes");
        Who who = staff();
        who.actor_name = std::string(65, 'n');
        const std::uint64_t id = client::new_request_id();
        const auto reply = ask(encode(batch, id, who), id);
        for (std::size_t i = 0; i < 3; ++i) {
            expect_result_refused(reply, i, E::INVALID_REQUEST, "actor_name");
        }
    }
    {
        SCOPED_TRACE("an actor id of exactly 48 bytes is served");
        Who who;
        who.actor = std::string(48, 'a');
        expect_found_slots(ask_one([](auto& b) { return Ops{find_op(b, {})}; }, who), 0);
    }
    {
        SCOPED_TRACE("reason of 121 bytes, phone of 25 bytes, block reason of 121 bytes");
        BookArgs long_reason, long_phone;
        long_reason.slot = target_;
        long_reason.reason = std::string(121, 'r');
        long_phone.slot = target_;
        long_phone.phone = std::string(25, '0');
        const auto reply = ask_one([&](auto& b) {
            return Ops{book_op(b, long_reason), book_op(b, long_phone)};
        });
        expect_result_refused(reply, 0, E::INVALID_REQUEST, "reason");
        expect_result_refused(reply, 1, E::INVALID_REQUEST, "phone");
        const auto block = ask_one(
            [](auto& b) {
                return Ops{
                    op(b, wire::CreateBlock(b, b.CreateString("r1"), b.CreateString("2026-03-02"),
                                            b.CreateString("2026-03-03"),
                                            b.CreateString(std::string(121, 'r'))))};
            },
            staff());
        expect_result_refused(block, 0, E::INVALID_REQUEST, "reason");
    }
    expect_serving_and_unchanged();
    {
        SCOPED_TRACE("a reason of exactly 120 bytes books (the spare slot)");
        BookArgs exact;
        exact.slot = spare_;
        exact.patient = other_patient;
        exact.reason = std::string(120, 'r');
        const auto reply = ask_one([&](auto& b) { return Ops{book_op(b, exact)}; });
        ASSERT_TRUE(reply && reply->result(0) && reply->result(0)->body_as_BookingReply())
            << (reply && reply->result(0) ? error_text(reply->result(0)->error()) : "no reply");
        const wire::Booking* booked = reply->result(0)->body_as_BookingReply()->booking();
        ASSERT_NE(booked->reason(), nullptr);
        EXPECT_EQ(booked->reason()->size(), 120u);
    }
}

// ------------------------------------------------------------------ framing

// docs/protocol.md, "One frame, one message": the server takes the last frame as the body and
// echoes the frames before it; up to 4 frames are accepted, the ROUTER's identity included, so
// a DEALER may put up to 2 frames of envelope before its body. A valid request hidden in an
// envelope frame (here: a hold of the target slot) must never be run, and an envelope frame
// that is not a request at all must never be read as one.
void expect_envelope_answered(ServerProcess& server, const std::vector<std::string>& envelope) {
    const std::uint64_t id = client::new_request_id();
    std::vector<std::string> frames = envelope;
    frames.push_back(encode([](auto& b) { return Ops{find_op(b, {})}; }, id));
    RawSocket raw(server.endpoint());  // its own connection: a lost reply stays lost
    ASSERT_TRUE(raw.send(frames));
    std::optional<Answer> reply;
    const auto asked = SteadyClock::now();
    while (!reply && server.alive() && ms_since(asked) < reply_timeout_ms) {
        reply = raw.receive(50);  // short waits: a server that crashed fails the case at once
    }
    ASSERT_TRUE(server.alive()) << "slotmatchd died";
    ASSERT_TRUE(reply.has_value()) << "no reply within " << reply_timeout_ms << " ms";
    EXPECT_EQ(reply->frames.size(), envelope.size() + 1) << "the envelope did not come back";
    for (std::size_t i = 0; i < envelope.size() && i + 1 < reply->frames.size(); ++i) {
        EXPECT_EQ(reply->frames[i], envelope[i]) << "envelope frame " << i << " changed";
    }
    const wire::ReplyMessage* m = reply->message();
    ASSERT_NE(m, nullptr) << "the last frame is not a ReplyMessage";
    EXPECT_EQ(m->request_id(), id) << "the server answered another frame than the body";
    expect_found_slots(reply, 0);
}

// Every case on `threads` workers; a case that kills the server is reported with the signal,
// and the server is started again so that the remaining cases are still tried.
void expect_envelopes_answered(Hostile& fixture, unsigned threads) {
    for (std::size_t i = 0;; ++i) {
        ServerProcess& server = fixture.server();
        const std::string hidden =
            encode([&](auto& b) { return Ops{hold_op(b, fixture.target(), valid_patient)}; },
                   client::new_request_id());
        const std::vector<std::pair<std::string, std::vector<std::string>>> cases{
            {"no envelope", {}},
            {"an empty delimiter (REQ style)", {""}},
            {"one frame", {"x"}},
            {"two frames, the second a valid hold", {"x", hidden}},
            {"two frames, the first a valid hold", {hidden, ""}},
            {"two frames of one byte each", {"x", "y"}},
            {"two empty frames", {"", ""}},
        };
        if (i >= cases.size()) return;
        SCOPED_TRACE("envelope: " + cases[i].first);
        expect_envelope_answered(server, cases[i].second);
        if (!server.alive()) {
            const int status = server.stop();
            ADD_FAILURE() << "slotmatchd (--threads " << threads << ") "
                          << (WIFSIGNALED(status)
                                  ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                  : "exited with " + std::to_string(WEXITSTATUS(status)))
                          << " on this envelope; starting a new one for the remaining cases";
            ASSERT_NO_FATAL_FAILURE(fixture.restart(threads));
        }
    }
}

TEST_F(Hostile, EnvelopeFramesUpToTheLimitComeBackAndOnlyTheLastFrameIsRun) {
    expect_envelopes_answered(*this, 1);
    expect_serving_and_unchanged();
}

TEST_F(Hostile, EnvelopeFramesUpToTheLimitComeBackAndOnlyTheLastFrameIsRunWithWorkers) {
    ASSERT_NO_FATAL_FAILURE(start(2));
    expect_envelopes_answered(*this, 2);
    expect_serving_and_unchanged();
}

TEST_F(Hostile, MoreThanFourFramesGetAnErrorReplyWithoutTheEnvelope) {
    const Counters before = stats();
    // A DEALER's 4 and 6 frames arrive at the ROUTER as 5 and 7 (its identity first). The body
    // is a valid hold of the target slot: it must not run.
    for (const std::size_t envelope : {std::size_t{3}, std::size_t{5}}) {
        SCOPED_TRACE(std::to_string(envelope + 2) + " frames at the server");
        RawSocket raw(endpoint());
        std::vector<std::string> frames(envelope, "e");
        frames.push_back(encode([&](auto& b) { return Ops{hold_op(b, target_, valid_patient)}; },
                                client::new_request_id()));
        ASSERT_TRUE(raw.send(frames));
        const auto reply = raw.receive(reply_timeout_ms);
        ASSERT_TRUE(reply.has_value()) << "no reply within " << reply_timeout_ms << " ms";
        EXPECT_EQ(reply->frames.size(), 1u) << "the reply goes to the identity alone";
        expect_message_refused(reply, "message", 0);
    }
    EXPECT_EQ(stats().malformed - before.malformed, 2u) << "both are counted as malformed";
    expect_serving_and_unchanged();
}

// A REQ socket puts an empty delimiter before the body; the reply must come back through it.
void expect_req_client_answered(const std::string& endpoint) {
    RawSocket::Options o;
    o.type = zmq::socket_type::req;
    RawSocket req(endpoint, o);
    {
        SCOPED_TRACE("a valid find from a REQ socket");
        const std::uint64_t id = client::new_request_id();
        ASSERT_TRUE(req.send({encode([](auto& b) { return Ops{find_op(b, {})}; }, id)}));
        const auto reply = req.receive(reply_timeout_ms);
        ASSERT_TRUE(reply.has_value()) << "the REQ client got no reply";
        ASSERT_EQ(reply->frames.size(), 1u) << "REQ strips the delimiter";
        ASSERT_NE(reply->message(), nullptr);
        EXPECT_EQ(reply->message()->request_id(), id);
        expect_found_slots(reply, 0);
    }
    {
        SCOPED_TRACE("garbage from a REQ socket");
        ASSERT_TRUE(req.send({"not a flatbuffer"}));
        expect_message_refused(req.receive(reply_timeout_ms), "message", 0);
    }
    {
        SCOPED_TRACE("an empty body from a REQ socket");
        ASSERT_TRUE(req.send({""}));
        expect_message_refused(req.receive(reply_timeout_ms), "message", 0);
    }
    {
        SCOPED_TRACE("a malformed personnummer from a REQ socket");
        const std::uint64_t id = client::new_request_id();
        ASSERT_TRUE(req.send({encode(
            [](auto& b) {
                return Ops{op(b, wire::CreateBookings(b, b.CreateString(luhn_broken_patient)))};
            },
            id)}));
        expect_result_refused(req.receive(reply_timeout_ms), 0, wire::ErrorCode::INVALID_REQUEST,
                              "patient");
    }
}

TEST_F(Hostile, ReqSocketClientIsAnswered) {
    expect_req_client_answered(endpoint());
    expect_serving_and_unchanged();
}

TEST_F(Hostile, ReqSocketClientIsAnsweredWithWorkers) {
    ASSERT_NO_FATAL_FAILURE(start(2));
    expect_req_client_answered(endpoint());
    expect_serving_and_unchanged();
}

// ------------------------------------------------------------------ flood

struct Flood {
    std::size_t messages = 50'000;
    int receive_hwm_messages = 100;  // the flooder never reads: replies back up into the server
    int receive_buffer_bytes = 0;    // small: almost nothing waits in the kernel either
    bool expect_dropped = false;     // more than the server's send_hwm_messages back up
};

// One client sends `flood.messages` requests and never reads a reply. A second client is
// answered correctly while the flood is being served and after it; the server stays up; stats
// counts every flood message (answered, or its reply dropped).
void flood_while_serving(ServerProcess& server, client::Connection& good, const Counters& before,
                         const Flood& flood_options) {
    const std::size_t flood = flood_options.messages;
    constexpr std::size_t first_check_after = 10'000;
    constexpr auto flood_deadline = std::chrono::seconds(120);
    RawSocket::Options o;
    o.send_hwm_messages = 100'000;
    o.receive_hwm_messages = flood_options.receive_hwm_messages;
    o.receive_buffer_bytes = flood_options.receive_buffer_bytes;
    RawSocket flooder(server.endpoint(), o);
    std::atomic<std::size_t> sent{0};
    std::atomic<bool> send_failed{false};
    const auto started = SteadyClock::now();
    {
        std::jthread sender([&](std::stop_token stop) {
            FindArgs one;
            one.limit = 1;
            for (std::size_t i = 0; i < flood && !stop.stop_requested(); ++i) {
                if (!flooder.send(
                        {encode([&](auto& b) { return Ops{find_op(b, one)}; }, 1'000'000 + i)})) {
                    send_failed = true;
                    return;
                }
                sent.fetch_add(1, std::memory_order_relaxed);
            }
        });
        while (sent.load() < first_check_after && !send_failed.load() &&
               SteadyClock::now() - started < flood_deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        ASSERT_FALSE(send_failed.load()) << "the server stopped taking the flood";
        // While the flood is queued: a find and the stats in one message.
        std::size_t calls = 0;
        bool answered_mid_flood = false;
        std::int64_t slowest_ms = 0;
        std::size_t overloaded = 0;
        do {
            const auto asked = SteadyClock::now();
            const std::uint64_t id = client::new_request_id();
            const std::string bytes = encode(
                [](auto& b) {
                    FindArgs f;
                    f.type = "all3";
                    return Ops{find_op(b, f), stats_op(b)};
                },
                id);
            const auto reply = ask_on(good, bytes, id);
            slowest_ms = std::max(slowest_ms, ms_since(asked));
            ASSERT_TRUE(reply.has_value()) << "the good client got no answer during the flood";
            ASSERT_NE(reply->message(), nullptr);
            if (const wire::Error* e = reply->message()->error();
                e != nullptr && e->code() == wire::ErrorCode::OVERLOADED) {
                // Documented back-pressure (a full worker queue): nothing ran; ask again.
                ++overloaded;
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
                continue;
            }
            expect_found_slots(reply, 0);
            const wire::Result* s = reply->result(1);
            ASSERT_TRUE(s && s->body_as_StatsReply());
            if (s->body_as_StatsReply()->messages() < before.messages + flood) {
                answered_mid_flood = true;
            }
            ++calls;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        } while (sent.load() < flood && !send_failed.load() &&
                 SteadyClock::now() - started < flood_deadline);
        sender.request_stop();
        sender.join();
        ASSERT_FALSE(send_failed.load()) << "the server stopped taking the flood";
        ASSERT_EQ(sent.load(), flood);
        EXPECT_TRUE(answered_mid_flood)
            << "no answer came while the flood was still being served (fair queueing)";
        ::testing::Test::RecordProperty("calls_during_flood", static_cast<int>(calls));
        ::testing::Test::RecordProperty("slowest_call_ms", static_cast<int>(slowest_ms));
        ::testing::Test::RecordProperty("overloaded_during_flood", static_cast<int>(overloaded));
        std::cout << "[flood] " << calls << " good calls answered during the flood (" << overloaded
                  << " more refused OVERLOADED), slowest " << slowest_ms << " ms\n";
    }
    // Every flood message is counted (answered, or its reply dropped), within a bound.
    std::uint64_t messages = 0;
    std::uint64_t dropped = 0;
    while (SteadyClock::now() - started < flood_deadline) {
        const std::uint64_t id = client::new_request_id();
        const auto reply = ask_on(good, encode([](auto& b) { return Ops{stats_op(b)}; }, id), id);
        ASSERT_TRUE(reply && reply->result(0) && reply->result(0)->body_as_StatsReply());
        messages = reply->result(0)->body_as_StatsReply()->messages();
        dropped = reply->result(0)->body_as_StatsReply()->replies_dropped();
        if (messages >= before.messages + flood) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_GE(messages - before.messages, flood) << "not every flood message was served";
    EXPECT_LE(dropped - before.replies_dropped, flood);
    if (flood_options.expect_dropped) {
        EXPECT_GT(dropped, before.replies_dropped)
            << "more replies backed up than send_hwm_messages (100,000), yet none was dropped";
    }
    ::testing::Test::RecordProperty("replies_dropped", static_cast<int>(dropped));
    std::cout << "[flood] served " << (messages - before.messages) << " messages in "
              << ms_since(started) << " ms, replies_dropped " << dropped << '\n';
    ASSERT_TRUE(server.alive()) << server.output();
}

TEST_F(Hostile, FloodOfUnreadRequestsDoesNotStopTheServer) {
    flood_while_serving(*server_, *connection_, stats(), Flood{});
    if (HasFatalFailure()) return;
    client::Connection fresh(endpoint());
    EXPECT_FALSE(free_slots_on(fresh).empty());
    expect_serving_and_unchanged();
}

TEST_F(Hostile, FloodOfUnreadRequestsDoesNotStopTheServerWithWorkers) {
    ASSERT_NO_FATAL_FAILURE(start(2));
    flood_while_serving(*server_, *connection_, stats(), Flood{});
    if (HasFatalFailure()) return;
    client::Connection fresh(endpoint());
    EXPECT_FALSE(free_slots_on(fresh).empty());
    expect_serving_and_unchanged();
}

// docs/protocol.md: "If a client has ... send_hwm_messages (100,000) replies waiting unread, the
// reply is dropped and counted in replies_dropped", instead of blocking the server.
TEST_F(Hostile, FloodBeyondTheSendHighWaterMarkDropsRepliesAndKeepsServing) {
    Flood flood;
    flood.messages = 160'000;
    flood.receive_hwm_messages = 1;
    flood.receive_buffer_bytes = 4096;
    flood.expect_dropped = true;
    flood_while_serving(*server_, *connection_, stats(), flood);
    if (HasFatalFailure()) return;
    client::Connection fresh(endpoint());
    EXPECT_FALSE(free_slots_on(fresh).empty());
    expect_serving_and_unchanged();
}

}  // namespace
}  // namespace slotmatch::testing
