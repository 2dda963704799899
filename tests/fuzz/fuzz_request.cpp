// The protocol's fuzz target (libFuzzer, with ASan and UBSan: the fuzz preset): an input is a
// key choice and the bytes of one message, taken down the server's real path: FlatBuffers
// verification, the canonical digest of retries, the actor of the key (authorisation), the
// operations on one engine that lives across inputs, and the encoded reply, which must verify.
// After each input the engine's invariants are checked; a broken one aborts, which libFuzzer
// reports as a crash with the input that did it:
//   - no slot is held by two active bookings, and an active booking's slot is booked;
//   - the booked slots are exactly the active bookings' slots (counted both ways);
//   - every reply verifies and carries the request's id and one result per operation.
// tools/test.sh runs it for a bounded minute from tests/fuzz/corpus; docs/security.md has a
// longer run.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <slotmatch/codec.hpp>
#include <slotmatch/config.hpp>
#include <unordered_set>
#include <vector>

#include "fuzz_region.hpp"
#include "key_files.hpp"
#include "key_registry.hpp"
#include "service.hpp"

namespace slotmatch::fuzz {
namespace {

[[noreturn]] void broken(const char* what) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
}

struct Harness {
    FixedClock clock{Instant{0}};
    std::unique_ptr<Engine> engine;
    tools::ServerCounters counters;
    std::unique_ptr<tools::Service> service;
    std::unique_ptr<keys::KeyRing> ring;
    const keys::KeyHolder* holders[key_choices] = {};
    flatbuffers::FlatBufferBuilder builder{64 * 1024};
    std::vector<Event> drained = std::vector<Event>(4096);
    std::unordered_set<std::uint64_t> bookings;  // every booking id a reply has named

    Harness() {
        LoadResult loaded = load_region_text(region_yaml, "fuzz region");
        if (!loaded.ok()) broken("the fuzz region does not load");
        clock.set(*Calendar(loaded.catalog->timezone).parse_time(clock_text));
        engine = std::make_unique<Engine>(std::move(*loaded.catalog), clock);
        service = std::make_unique<tools::Service>(*engine, &clock, counters);
        std::string keys_text[key_choices];
        for (std::uint8_t k = 1; k < key_choices; ++k)
            keys_text[k] = keys::new_key_pair()->public_text;
        const std::string path =
            (std::filesystem::temp_directory_path() /
             ("slotmatch-fuzz-clients-" + std::to_string(::getpid()) + ".yaml"))
                .string();
        std::ofstream(path) << clients_yaml(keys_text);
        std::string why;
        const Engine& e = *engine;
        ring = keys::KeyRing::open(
            path, [&e](std::string_view u) { return e.catalog().find_unit(std::string(u)); }, why);
        std::filesystem::remove(path);
        if (!ring) broken(why.c_str());
        for (std::uint8_t k = 1; k < key_choices; ++k)
            holders[k] = ring->current().find(keys_text[k]);
    }

    void note_bookings(const wire::ReplyMessage& reply) {
        if (reply.results() == nullptr) return;
        for (const wire::Result* r : *reply.results()) {
            if (const auto* b = r->body_as_BookingReply()) {
                if (b->booking()) bookings.insert(b->booking()->booking_id());
                if (b->previous() != 0) bookings.insert(b->previous());
            }
        }
    }

    void check() {
        std::unordered_set<std::uint32_t> held_slots;
        for (const std::uint64_t id : bookings) {
            const auto b = engine->booking(BookingId{id});
            if (!b || !b->active) continue;
            if (!held_slots.insert(b->slot_id.value).second) broken("a slot booked twice");
            const auto s = engine->slot(b->slot_id);
            if (!s || s->state != SlotState::booked)
                broken("an active booking's slot is not booked");
        }
        std::size_t booked = 0;
        for (std::uint32_t i = 0; i < engine->slot_count(); ++i) {
            const auto s = engine->slot(SlotId{i});
            if (s && s->state == SlotState::booked) ++booked;
        }
        if (booked != held_slots.size()) broken("booked slots and active bookings differ");
    }
};

Harness& harness() {
    static Harness h;
    return h;
}

}  // namespace
}  // namespace slotmatch::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    slotmatch::fuzz::harness();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace slotmatch;
    if (size < 1) return 0;
    fuzz::Harness& h = fuzz::harness();
    const keys::KeyHolder* key = h.holders[data[0] % fuzz::key_choices];
    // Aligned, as a ZeroMQ message's bytes are.
    const std::vector<std::uint8_t> bytes(data + 1, data + size);
    const wire::RequestMessage* m = codec::verify_request(bytes);
    std::uint64_t id = 0;
    std::size_t ops = 0;
    if (m == nullptr) {
        tools::Service::refuse_message(h.builder, 0, ErrorCode::invalid_request, "message", "no");
    } else {
        (void)codec::request_digest(*m);
        (void)tools::Service::changes_state(*m);
        (void)h.service->shard_key(*m);
        h.service->answer(*m, h.builder, key);
        id = m->request_id();
        ops = m->ops()->size();
    }
    const std::span<const std::uint8_t> reply{h.builder.GetBufferPointer(), h.builder.GetSize()};
    const wire::ReplyMessage* r = codec::verify_reply(reply);
    if (r == nullptr) fuzz::broken("a reply that does not verify");
    if (r->request_id() != id) fuzz::broken("a reply under another request id");
    if (r->error() == nullptr && (r->results() == nullptr || r->results()->size() != ops)) {
        fuzz::broken("a reply without one result per operation");
    }
    (void)tools::Service::all_overloaded(reply);
    h.note_bookings(*r);
    h.engine->expire_holds();
    h.engine->end_past_blocks();
    while (h.engine->events().drain(h.drained) > 0) {
    }
    h.check();
    return 0;
}
