// The wire codec: verification of untrusted bytes against codec/slotmatch.fbs, and conversion
// between wire messages and engine types in both directions (the server encodes what the engine
// answers; clients decode it back into the same engine views, so there is one JSON renderer).
// Request fields that name catalog entities, patients and times are decoded here, against the
// region's catalog and calendar, into the engine's request types; every failure is an
// INVALID_REQUEST naming the field.
#pragma once

#include <slotmatch/slotmatch_generated.h>

#include <cstdint>
#include <optional>
#include <slotmatch/catalog.hpp>
#include <slotmatch/engine.hpp>
#include <slotmatch/static_text.hpp>
#include <span>
#include <string_view>

namespace slotmatch::codec {

inline constexpr std::uint16_t protocol_version = 1;
// Bounds on what one message may carry (ZeroMQ refuses bigger frames: ZMQ_MAXMSGSIZE).
inline constexpr std::size_t message_bytes_max = std::size_t{1} << 20;
inline constexpr std::size_t batch_ops_max = 1024;
// RequestMessage.client: a client's stable name for retries, kept with each stored answer.
inline constexpr std::size_t client_bytes_max = 64;
inline constexpr StaticText client_too_long_text =
    static_text("the client name is at most ", client_bytes_max, " bytes");
inline constexpr auto find_limit_max = static_cast<std::uint32_t>(SlotQuery::limit_max);
inline constexpr std::size_t reply_slots_max = std::size_t{1} << 16;  // all finds of a message
// Refusal texts that name a bound, built from it (the server and the journal share them).
inline constexpr StaticText batch_ops_text =
    static_text("a message carries 1 to ", batch_ops_max, " operations");
inline constexpr StaticText reply_slots_text =
    static_text("the finds of one message may return ", reply_slots_max, " slots in all");
inline constexpr StaticText reason_too_long_text =
    static_text("reason is too long (", ReasonText::capacity(), " bytes of UTF-8 at most)");
// Verifier bounds: a request is at most Message > ops > Op > body > match (depth 6 with the
// vectors); tables: two per op plus the actor and the message.
inline constexpr unsigned verify_depth_max = 8;
inline constexpr unsigned verify_tables_max = 4 * batch_ops_max + 8;
// Replies come from the server a client chose to trust, and they are larger: a batch of finds
// (reply_slots_max slots of 40 bytes) or a national region's catalog (about 1,200 units with
// their resources and types, several tables each). The bounds still stop a runaway.
inline constexpr std::size_t reply_bytes_max = std::size_t{64} << 20;
inline constexpr unsigned reply_verify_depth_max = 16;
inline constexpr unsigned reply_verify_tables_max = 1u << 22;
// An event batch on the journal link (slotmatchd sends at most link_batch_events_max events of
// a few hundred bytes each; a replay answer replay_batch_events).
inline constexpr std::size_t event_batch_bytes_max = std::size_t{16} << 20;
// Recovery through the journal: stored events per answer to a replay request.
inline constexpr std::size_t replay_batch_events = 4096;
// How a journal's refusal starts when it takes no events of this producer: it has restarted and
// wants a hello first; or another slotmatchd has taken it over (fenced). Both acknowledge
// nothing (committed 0).
inline constexpr std::string_view link_hello_first = "hello first";
inline constexpr std::string_view link_fenced = "fenced";

// Each message kind is finished with a FlatBuffers file identifier of its own (bytes 4-7), so a
// peer that takes two kinds on one socket (slotmatch-journal: queries and event batches) tells
// them apart by it. Before, every kind carried the request's "SMW1" (the schema's
// file_identifier); readers still take that from older peers.
inline constexpr const char* request_identifier = "SMW1";
inline constexpr const char* reply_identifier = "SMR1";
inline constexpr const char* event_batch_identifier = "SME1";
inline constexpr const char* journal_ack_identifier = "SMA1";
enum class MessageKind : std::uint8_t {
    request,      // "SMW1": a request, or any kind from a peer older than the identifiers
    reply,        // "SMR1"
    event_batch,  // "SME1"
    journal_ack,  // "SMA1"
    unknown,      // too short, or another identifier
};
MessageKind message_kind(std::span<const std::uint8_t> bytes);

// The message, or nullptr when the bytes are not a well-formed message of that kind within
// the bounds (a reply, a batch or an ack may also carry the older "SMW1").
const wire::RequestMessage* verify_request(std::span<const std::uint8_t> bytes);
// A digest of what a verified request says, not of how it was encoded: two encoders (flatc's
// C++ and Python builders, say) that write the same request in other bytes get the same
// digest, and a request that differs in any field gets another. Idempotent retries compare it.
std::uint64_t request_digest(const wire::RequestMessage& request);
// splitmix64's finaliser: every bit of the result depends on every bit of `z` (the digest's
// last step, and the server's retry keys).
constexpr std::uint64_t mix64(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
const wire::ReplyMessage* verify_reply(std::span<const std::uint8_t> bytes);
const wire::EventBatch* verify_event_batch(std::span<const std::uint8_t> bytes);
const wire::JournalAck* verify_journal_ack(std::span<const std::uint8_t> bytes);

wire::ErrorCode to_wire(ErrorCode e);
ErrorCode from_wire(wire::ErrorCode e);
wire::Channel to_wire(Channel c);
std::optional<Channel> from_wire(wire::Channel c);  // nothing for an out-of-range value

// ---- engine -> wire (server side)
wire::Slot to_wire(const SlotView& s);
flatbuffers::Offset<wire::Booking> encode_booking(flatbuffers::FlatBufferBuilder& b,
                                                  const BookingView& v);
// The catalog as `viewer`'s channel may see it (R7: no internal names for citizens and
// proxies; web names and info only of the types their channel books, R6, R8; staff see
// everything).
flatbuffers::Offset<wire::CatalogReply> encode_catalog(flatbuffers::FlatBufferBuilder& b,
                                                       const Catalog& c,
                                                       std::optional<UnitIdx> only,
                                                       Channel viewer = Channel::staff);
flatbuffers::Offset<wire::AppointmentType> encode_type(flatbuffers::FlatBufferBuilder& b,
                                                       TypeIdx index, const AppointmentType& t,
                                                       Channel viewer = Channel::staff);
flatbuffers::Offset<wire::Unit> encode_unit(flatbuffers::FlatBufferBuilder& b, const Catalog& c,
                                            UnitIdx u, const WebSettings& web);
flatbuffers::Offset<wire::Event> encode_event(flatbuffers::FlatBufferBuilder& b, const Event& e);
flatbuffers::Offset<wire::Error> encode_error(flatbuffers::FlatBufferBuilder& b, ErrorCode code,
                                              std::string_view field, std::string_view message);

// ---- wire -> engine (client side, and the journal)
SlotView from_wire(const wire::Slot& s);
BookingView decode_booking(const wire::Booking& b);
// A whole-region catalog reply back into a Catalog (with its look-up maps); nothing when the
// reply is partial (--unit) or its indices do not line up.
std::optional<Catalog> decode_catalog(const wire::CatalogReply& c);
// A settings change (Event::config) is decoded into `configs`, which must outlive the event;
// without it the event comes without its config.
Event decode_event(const wire::Event& e, ConfigArena* configs = nullptr);

// ---- request fields -> engine requests (server side). Refusals are INVALID_REQUEST with the
// field; the messages are static text.
// Text a reply or a log will show again: at most `bytes_max` bytes of valid UTF-8 (JSON output
// cannot carry anything else). `too_long` is the refusal's message when it is too long.
Outcome<bool> check_text(std::string_view text, std::size_t bytes_max, std::string_view field,
                         std::string_view too_long);
bool valid_utf8(std::string_view text);
Outcome<Actor> decode_actor(const wire::Actor* a, const Catalog& catalog);
Outcome<PatientKey> decode_patient(const flatbuffers::String* p, std::string_view field);
// A time bound: "2026-03-02" is that local day's start (from) or the next day's start (to, so
// the day is inclusive); otherwise an ISO 8601 time.
Outcome<Instant> decode_time(const flatbuffers::String* text, const Calendar& calendar,
                             bool end_of_day, std::string_view field);
Outcome<SlotQuery> decode_query(const wire::Find& f, const Catalog& catalog,
                                const Calendar& calendar);
Outcome<BookRequest> decode_book(const wire::Book& b, const Catalog& catalog,
                                 const Calendar& calendar);

}  // namespace slotmatch::codec
