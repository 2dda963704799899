// slotmatch_store_bench: events per second committed into the journal's store, one
// transaction per batch. By default a SQLite file in the temp directory (WAL,
// synchronous=FULL); with SLOTMATCH_BENCH_STORE=postgresql://... an empty PostgreSQL database
// (synchronous_commit=on). Items are events; the batch size is the benchmark's argument.
// BM_StoreAppend stores web bookings, each of which also makes a web booking log entry and an
// access audit entry (the worst case); BM_StoreAppendStaff stores staff bookings (an audit
// entry each, no log entry); BM_StoreAppendAdmin stores blocks (no patient: neither).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "event_store.hpp"

namespace slotmatch::bench {
namespace {

Event booked(std::uint64_t seq, Channel channel, EventKind kind) {
    Event e;
    e.seq = seq;
    e.time = Instant{1'772'431'200 + static_cast<std::int64_t>(seq % 86400)};
    e.kind = kind;
    e.channel = channel;
    e.actor = ActorText::from("1177-gateway");
    e.unit = UnitIdx{static_cast<std::uint32_t>(seq % 1200)};
    e.resource = ResourceIdx{static_cast<std::uint32_t>(seq % 20000)};
    e.booking = BookingId{seq};
    e.patient = PatientKey{kind == EventKind::booked ? 191212121212 + seq % 100000 : 0};
    e.after.slot = SlotId{static_cast<std::uint32_t>(seq)};
    e.after.state = SlotState::booked;
    e.after.booking = e.booking;
    e.after.patient = e.patient;
    return e;
}

void append_bench(benchmark::State& state, Channel channel, EventKind kind = EventKind::booked) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("slotmatch-store-bench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::string why;
    const char* address = std::getenv("SLOTMATCH_BENCH_STORE");
    auto store = journal::open_store(
        address ? std::string(address) : "sqlite:" + (dir / "journal.sqlite").string(), why);
    // Claimed, as slotmatchd claims it: on SQLite the claimed writer's follower writes the
    // log's and the audit's entries beside the commits, as in service.
    if (!store || !store->claim_writer(why)) {
        state.SkipWithError(why.c_str());
        return;
    }
    const auto batch = static_cast<std::size_t>(state.range(0));
    std::vector<Event> events(batch);
    std::uint64_t seq = store->last_seq() + 1;  // a shared database carries on
    for (auto _ : state) {
        state.PauseTiming();
        for (auto& e : events) e = booked(seq++, channel, kind);
        state.ResumeTiming();
        const auto r = store->append(events);
        if (!r.ok) {
            state.SkipWithError(r.error.c_str());
            break;
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
    store.reset();
    std::filesystem::remove_all(dir);
}
void BM_StoreAppend(benchmark::State& state) {
    append_bench(state, Channel::web);
}
void BM_StoreAppendStaff(benchmark::State& state) {
    append_bench(state, Channel::staff);
}
BENCHMARK(BM_StoreAppend)->Arg(1)->Arg(64)->Arg(1024)->Arg(4096)->Arg(16384)->UseRealTime();
void BM_StoreAppendAdmin(benchmark::State& state) {
    append_bench(state, Channel::staff, EventKind::blocked);
}
BENCHMARK(BM_StoreAppendStaff)->Arg(1024)->Arg(4096)->UseRealTime();
BENCHMARK(BM_StoreAppendAdmin)->Arg(1024)->Arg(4096)->UseRealTime();

}  // namespace
}  // namespace slotmatch::bench

BENCHMARK_MAIN();
