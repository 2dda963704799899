// slotmatch_bench: in-process figures for the slot index and the booking paths, on a generated
// region of about 5.8 M slots (300 health centres, 60 days; `slotmatch-gen --units 300
// --days 60` writes the same region). Each benchmark runs with 1 and 2 threads; threads work on
// disjoint units, the uniform workload of a region where citizens spread over health centres.
// Throughput is items_per_second over real time. The event ring is drained as the benchmark
// runs, as the journal would.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <slotmatch/config.hpp>
#include <slotmatch/engine.hpp>
#include <slotmatch/patient.hpp>
#include <sstream>

#include "bench_patients.hpp"
#include "region_gen.hpp"

namespace slotmatch::bench {
namespace {

constexpr int region_units = 300;
constexpr int region_days = 60;
constexpr std::size_t lane_slots_max = 4096;
constexpr std::size_t lane_patients = 1024;
constexpr std::uint64_t drain_every = 64;  // iterations between two drains of the event ring

struct Region {
    FixedClock clock{Instant{0}};
    std::unique_ptr<Engine> engine;
    std::mutex drain_mutex;          // the ring has one consumer at a time
    std::vector<UnitIdx> web_units;  // web booking, cancel and rebook all on
};

Instant at(const Engine& e, const char* iso) {
    return *e.calendar().parse_time(iso);
}

Region& region() {
    static Region* r = [] {
        auto* region = new Region;
        tools::RegionSpec spec;
        // SLOTMATCH_BENCH_UNITS shrinks the region for profiling runs (figures use the default).
        const char* units = std::getenv("SLOTMATCH_BENCH_UNITS");
        spec.units = units != nullptr ? std::atoi(units) : region_units;
        spec.days = region_days;
        std::ostringstream yaml, progress;
        tools::generate_region(spec, yaml, progress);
        auto loaded = load_region_text(yaml.str(), "bench-region");
        if (!loaded.ok()) {
            std::cerr << "bench: the generated region does not load\n";
            std::abort();
        }
        EngineLimits limits;
        limits.bookings_max = std::size_t{1} << 27;  // records are not recycled yet
        limits.events_max = std::size_t{1} << 16;
        region->engine =
            std::make_unique<Engine>(std::move(*loaded.catalog), region->clock, limits);
        region->clock.set(at(*region->engine, "2026-12-01T06:00:00+01:00"));
        const Catalog& c = region->engine->catalog();
        for (std::uint32_t u = 0; u < c.units.size(); ++u) {
            if (c.units[u].web.booking_active && c.units[u].web.cancel_rebook_active) {
                region->web_units.push_back(UnitIdx{u});
            }
        }
        std::fprintf(stderr, "bench region: %zu units, %zu slots\n", c.units.size(),
                     region->engine->slot_count());
        return region;
    }();
    return *r;
}

void drain_some(Region& r, std::vector<Event>& buffer) {
    std::unique_lock lock(r.drain_mutex, std::try_to_lock);
    if (lock.owns_lock()) r.engine->events().drain(buffer);
}

Actor web() {
    return Actor{Channel::web, ActorText::from("1177-gateway"), {}, false, {}};
}

PatientKey patient(std::uint32_t lane, std::uint32_t n) {
    // Born in January 1950 + lane, on day 1 + n / 1000 (mod 28), serial n.
    return *parse_patient_id(
                personnummer(static_cast<int>(1950 + lane % 40), 1, 1 + (n / 1000) % 28, n % 1000))
                .key;
}

// One thread's share of the region: free slots the web may book, cancel and rebook, in units
// no other thread of the run touches.
struct Lane {
    std::vector<SlotView> slots;
    std::vector<PatientKey> patients;
    std::vector<Event> drain_buffer = std::vector<Event>(4096);
};

Lane web_lane(const benchmark::State& state) {
    Region& r = region();
    const Catalog& c = r.engine->catalog();
    Lane lane;
    for (std::size_t i = state.thread_index();
         i < r.web_units.size() && lane.slots.size() < lane_slots_max; i += state.threads()) {
        SlotQuery q;
        q.unit = r.web_units[i];
        q.limit = 200;
        for (const SlotView& s : r.engine->find(web(), q).value) {
            const AppointmentType& t = c.type(s.type);
            if (t.web_cancellable && t.web_rebookable) lane.slots.push_back(s);
        }
    }
    for (std::uint32_t n = 0; n < lane_patients; ++n) {
        lane.patients.push_back(patient(static_cast<std::uint32_t>(state.thread_index()), n));
    }
    return lane;
}

// The loop of the book-then-cancel benchmarks: `request(i)` is the i-th booking request; two
// operations per iteration (the book and the cancel).
template <typename MakeRequest>
void book_then_cancel(benchmark::State& state, Lane& lane, MakeRequest request) {
    Region& r = region();
    std::uint64_t i = 0;
    for (auto _ : state) {
        BookRequest req = request(i);
        req.patient = lane.patients[i % lane.patients.size()];
        auto booked = r.engine->book(web(), req);
        auto cancelled = r.engine->cancel(web(), booked.value.id, req.patient);
        if (!booked.ok() || !cancelled.ok()) {
            state.SkipWithError(booked.ok() ? "cancel refused" : "book refused");
            break;
        }
        if (++i % drain_every == 0) drain_some(r, lane.drain_buffer);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 2);
}

// Book a slot on the web, then cancel it.
void BM_BookCancel(benchmark::State& state) {
    Lane lane = web_lane(state);
    book_then_cancel(state, lane, [&](std::uint64_t i) {
        BookRequest req;
        req.slot = lane.slots[i % lane.slots.size()].id;
        return req;
    });
}

// The earliest free slot of one resource and type, with the first half of its day booked.
void BM_FindFirstFree(benchmark::State& state) {
    Region& r = region();
    Lane lane = web_lane(state);
    const SlotView first = lane.slots.front();
    // Book the first half of this shard's slots on the lane's first day (once per process).
    static std::once_flag booked_half[2];
    std::call_once(booked_half[state.thread_index() % 2], [&] {
        std::vector<SlotId> day;
        for (const SlotView& s : lane.slots) {
            if (s.resource == first.resource && s.type == first.type &&
                s.start.value < first.start.value + 12 * seconds_per_hour) {
                day.push_back(s.id);
            }
        }
        for (std::size_t k = 0; k < day.size() / 2; ++k) {
            BookRequest req;
            req.slot = day[k];
            req.patient = lane.patients[k];
            r.engine->book(web(), req);
        }
    });
    for (auto _ : state) {
        auto found = r.engine->earliest_free(web(), first.resource, first.type, first.start);
        benchmark::DoNotOptimize(found);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// Move one web booking back and forth between two slots of its resource and type.
void BM_Rebook(benchmark::State& state) {
    Region& r = region();
    Lane lane = web_lane(state);
    const SlotView a = lane.slots[lane.slots.size() / 2];
    SlotId b_slot{0};
    for (const SlotView& s : lane.slots) {
        if (s.resource == a.resource && s.type == a.type && s.id != a.id) b_slot = s.id;
    }
    const PatientKey p = lane.patients.back();
    BookRequest req;
    req.slot = a.id;
    req.patient = p;
    auto current = r.engine->book(web(), req);
    if (!current.ok()) {
        state.SkipWithError("setup booking refused");
        return;
    }
    BookingId booking = current.value.id;
    SlotId other = b_slot;
    std::uint64_t i = 0;
    for (auto _ : state) {
        auto moved = r.engine->rebook(web(), RebookRequest{booking, other, p});
        if (!moved.ok()) {
            state.SkipWithError("rebook refused");
            break;
        }
        other = moved.value.booking.slot.id == a.id ? b_slot : a.id;
        booking = moved.value.booking.id;
        if (++i % drain_every == 0) drain_some(r, lane.drain_buffer);
    }
    r.engine->cancel(web(), booking, p);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// Book the earliest free slot matching unit + type + one day, then cancel it.
void BM_BookFirstMatch(benchmark::State& state) {
    Lane lane = web_lane(state);
    const SlotView s = lane.slots[lane.slots.size() / 3];
    SlotQuery q;
    q.unit = s.unit;
    q.type = s.type;
    q.from = Instant{s.start.value - 6 * seconds_per_hour};
    q.to = Instant{s.start.value + 6 * seconds_per_hour};
    book_then_cancel(state, lane, [&](std::uint64_t) {
        BookRequest req;
        req.match = q;
        return req;
    });
}

BENCHMARK(BM_BookCancel)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_FindFirstFree)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Rebook)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_BookFirstMatch)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace slotmatch::bench

BENCHMARK_MAIN();
