// The hand-off of events from the thread that makes them to the thread that drains them, as the
// engine does it (EventRings: a lane reserved, each event filled in its cell, published) against
// Boost.Lockfree's single-producer queue (boost::lockfree::spsc_queue: an event filled aside,
// then copied in by push; drained by pop into a buffer). The design card names Boost.Lockfree;
// docs/engine.md records which one the engine keeps and why. One producer, one consumer thread,
// 2^20 booked events per iteration, drained 4,096 at a time.
#include <benchmark/benchmark.h>

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <memory>
#include <slotmatch/event_ring.hpp>
#include <thread>
#include <vector>

namespace {

using slotmatch::Event;

constexpr std::size_t events_per_iteration = std::size_t{1} << 20;
constexpr std::size_t capacity = std::size_t{1} << 14;
constexpr std::size_t drain_max = 4096;

void fill(Event& e, std::size_t i) {
    e.kind = slotmatch::EventKind::booked;
    e.channel = slotmatch::Channel::web;
    e.unit = slotmatch::UnitIdx{static_cast<std::uint32_t>(i % 1200)};
    e.patient = slotmatch::PatientKey{191212121212 + i};
    e.booking = slotmatch::BookingId{i};
    e.actor = slotmatch::ActorText::from("1177-gateway");
}

void BM_HandOffEventRings(benchmark::State& state) {
    for (auto _ : state) {
        slotmatch::EventRings rings(capacity, 1);
        std::thread consumer([&] {
            std::vector<Event> out(drain_max);
            std::size_t got = 0;
            while (got < events_per_iteration) got += rings.drain(out);
            benchmark::DoNotOptimize(out.data());
        });
        slotmatch::EventRings::Lane* lane = rings.claim();
        for (std::size_t i = 0; i < events_per_iteration; ++i) {
            while (!lane->try_reserve(1)) {
            }
            fill(lane->next(), i);
            lane->commit();
        }
        rings.release(lane);
        consumer.join();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events_per_iteration));
}

void BM_HandOffBoostLockfreeSpsc(benchmark::State& state) {
    for (auto _ : state) {
        auto queue = std::make_unique<boost::lockfree::spsc_queue<Event>>(capacity);
        std::thread consumer([&] {
            std::vector<Event> out(drain_max);
            std::size_t got = 0;
            while (got < events_per_iteration) got += queue->pop(out.data(), out.size());
            benchmark::DoNotOptimize(out.data());
        });
        for (std::size_t i = 0; i < events_per_iteration; ++i) {
            Event e;
            fill(e, i);
            while (!queue->push(e)) {
            }
        }
        consumer.join();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events_per_iteration));
}

}  // namespace

BENCHMARK(BM_HandOffEventRings)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_HandOffBoostLockfreeSpsc)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
