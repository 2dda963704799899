// Recovery (issue 5): an engine rebuilt from the events another engine published has the same
// state_hash(), answers old ids the same way, continues the event numbering, and behaves like
// the original from there on. Refusals: a gap in the events, and events of another region.
#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "engine_fixture.hpp"

namespace slotmatch::testing {
namespace {

class Recovery : public RuleRegion {
  protected:
    // Moves every event published so far into `log`, numbered as the journal numbers them.
    void collect() {
        std::vector<Event> out(4096);
        while (std::size_t n = engine->events().drain(out)) {
            log.insert(log.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
        }
    }
    static EventScan scan_of(const std::vector<Event>& events) {
        return [&events](const std::function<bool(const Event&)>& visit, std::string&) {
            for (const Event& e : events) {
                if (!visit(e)) break;
            }
            return true;
        };
    }
    std::unique_ptr<Engine> fresh_engine(const char* yaml = rule_region_yaml) {
        auto loaded = load_region_text(yaml, "rule-region");
        SM_ASSERT(loaded.ok());
        return std::make_unique<Engine>(std::move(*loaded.catalog), *clock, limits());
    }
    // A second engine on the same region and clock, rebuilt from `events`.
    std::unique_ptr<Engine> restored(const std::vector<Event>& events, std::string* why = nullptr) {
        auto e = fresh_engine();
        std::string reason;
        auto summary = e->restore(scan_of(events), reason);
        if (why != nullptr) *why = reason;
        if (!summary) return nullptr;
        last_summary = *summary;
        return e;
    }

    // A snapshot (event_fold.hpp) of log[0, to): the fold of `prev` (or nothing) and of
    // log[from, to), and the events recovery still needs, in order.
    struct Snapshot {
        FoldState state;
        std::vector<Event> kept;
    };
    Snapshot compact(const Snapshot* prev, std::size_t from, std::size_t to) const {
        EventFold fold = prev != nullptr ? EventFold(prev->state) : EventFold();
        for (std::size_t i = from; i < to; ++i) fold.note(log[i]);
        Snapshot snap;
        snap.state = fold.state(to == 0 ? 0 : log[to - 1].seq);
        if (prev != nullptr) {
            for (const Event& ev : prev->kept) {
                if (fold.keeps(ev)) snap.kept.push_back(ev);
            }
        }
        for (std::size_t i = from; i < to; ++i) {
            if (fold.keeps(log[i])) snap.kept.push_back(log[i]);
        }
        return snap;
    }
    // An engine rebuilt from `snap` and log[from, to).
    std::unique_ptr<Engine> restored_from(const Snapshot& snap, std::size_t from, std::size_t to,
                                          std::string* why = nullptr) {
        auto e = fresh_engine();
        std::string reason;
        const auto summary = e->restore(
            [&](const std::function<bool(const Event&)>& visit, std::string&) {
                for (const Event& ev : snap.kept) {
                    if (!visit(ev)) return true;
                }
                for (std::size_t i = from; i < to; ++i) {
                    if (!visit(log[i])) break;
                }
                return true;
            },
            reason, &snap.state);
        if (why != nullptr) *why = reason;
        if (!summary) return nullptr;
        last_summary = *summary;
        return e;
    }

    std::vector<Event> log;
    RestoreSummary last_summary;
};

TEST_F(Recovery, RestoresBookingsHoldsBlocksWaitlistAndScheduleChanges) {
    BookRequest web_booking;
    web_booking.slot = slot("r1", "all3", "2026-03-03T08:00");
    web_booking.patient = patient(1);
    web_booking.phone = PhoneText::from("0701234567");
    web_booking.reason = ReasonText::from("ont i halsen");
    auto a = engine->book(web(), web_booking);  // R18: phone and reason kept
    ASSERT_TRUE(a.ok());
    auto b = book(staff(), slot("r1", "all3", "2026-03-03T08:20"), patient(2));
    ASSERT_TRUE(b.ok());
    auto moved = rebook(web(), a.value.id, slot("r1", "all3", "2026-03-04T08:00"), patient(1));
    ASSERT_TRUE(moved.ok());
    ASSERT_TRUE(engine->cancel(staff(), b.value.id, {}).ok());
    auto held = engine->hold(web(), slot("r1", "all3", "2026-03-05T08:00"), patient(3));
    ASSERT_TRUE(held.ok());
    auto expiring = engine->hold(web(), slot("r1", "all3", "2026-03-05T08:20"), patient(4));
    ASSERT_TRUE(expiring.ok());
    auto k1 = engine->block(staff(), resource("r2"), at("2026-03-03T08:00+01:00"),
                            at("2026-03-03T09:00+01:00"), "utbildning");
    auto k2 = engine->block(staff(), resource("r2"), at("2026-03-04T08:00+01:00"),
                            at("2026-03-04T09:00+01:00"), "");
    ASSERT_TRUE(k1.ok() && k2.ok());
    ASSERT_TRUE(engine->unblock(staff(), k2.value.id).ok());
    ASSERT_TRUE(engine->waitlist_add(staff(), unit("u1"), type("all3"), patient(5)).ok());
    ASSERT_TRUE(engine->waitlist_add(staff(), unit("u1"), type("all3"), patient(6)).ok());
    BookRequest from_list;
    from_list.slot = slot("r1", "all3", "2026-03-06T08:00");
    from_list.patient = patient(5);
    from_list.from_waitlist = true;
    ASSERT_TRUE(engine->book(staff(), from_list).ok());  // R22: patient 5 leaves the waitlist
    auto published =
        engine->publish_slot(staff(), resource("r1"), type("all3"), at("2026-03-07T12:00+01:00"));
    ASSERT_TRUE(published.ok());
    ASSERT_TRUE(
        engine->change_slot_type(staff(), slot("r1", "nobook", "2026-03-03T13:00"), type("all3"))
            .ok());
    ASSERT_TRUE(engine->remove_type(staff(), unit("u1"), type("noweb")).ok());
    clock->set(Instant{clock->now().value + 200});
    auto late = engine->hold(web(), slot("r1", "all3", "2026-03-05T08:40"), patient(7));
    ASSERT_TRUE(late.ok());
    clock->set(Instant{clock->now().value + 200});
    ASSERT_EQ(engine->expire_holds(), 2u);  // the first two holds; `late` lives on
    collect();

    auto copy = restored(log);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(copy->state_hash(), engine->state_hash());
    EXPECT_EQ(last_summary.events, log.size());
    EXPECT_EQ(last_summary.bookings, 2u);  // the rebooked one and the one from the waitlist
    EXPECT_EQ(last_summary.holds, 1u);
    EXPECT_EQ(last_summary.blocks, 1u);
    EXPECT_EQ(last_summary.waitlist, 1u);
    EXPECT_EQ(last_summary.published_slots, 1u);
    EXPECT_EQ(last_summary.type_changes, 1u);
    EXPECT_EQ(last_summary.type_removals, 1u);

    // The booking made by the rebook is there with every detail, under its id.
    auto view = copy->booking(moved.value.booking.id);
    ASSERT_TRUE(view && view->active);
    EXPECT_EQ(view->phone.view(), "0701234567");
    EXPECT_EQ(view->reason.view(), "ont i halsen");
    EXPECT_EQ(view->changed_at, moved.value.booking.changed_at);
    EXPECT_EQ(changed_by(*view), changed_by(moved.value.booking));
    // Old ids answer as before: the rebooked and the cancelled booking are over.
    EXPECT_EQ(copy->cancel(staff(), a.value.id, {}).code, ErrorCode::booking_already_cancelled);
    EXPECT_EQ(copy->cancel(staff(), b.value.id, {}).code, ErrorCode::booking_already_cancelled);
    // The slot the block covers stays blocked; the unblocked one is bookable.
    EXPECT_EQ(copy->slot(slot("r2", "all3", "2026-03-03T08:00"))->state, SlotState::blocked);
    EXPECT_TRUE(
        copy->book(staff(),
                   BookRequest{
                       slot("r2", "all3", "2026-03-04T08:00"), {}, {}, patient(8), {}, {}, false})
            .ok());
    // The live hold can still be booked through; the expired one cannot.
    BookRequest via_hold;
    via_hold.hold = late.value.id;
    via_hold.patient = patient(7);
    EXPECT_TRUE(copy->book(web(), via_hold).ok());
    via_hold.hold = held.value.id;
    via_hold.patient = patient(3);
    EXPECT_FALSE(copy->book(web(), via_hold).ok());
    // Numbering continues after the stored events.
    std::vector<Event> out(16);
    ASSERT_EQ(copy->events().drain(out), 2u);  // the two bookings made on the copy
    EXPECT_EQ(out[0].seq, log.size() + 1);
}

// A patient's list holds upcoming visits only (at most 16): with 26 bookings of one patient,
// 10 of them over, recovery rebuilds the list from the 16 that have not ended.
TEST_F(Recovery, EndedVisitsDoNotCountAgainstAPatientsBookings) {
    std::vector<SlotId> days;  // 08:00 on the weekdays from Tuesday 2026-03-03 on
    for (int d = 1; days.size() < 26; ++d) {
        const Instant day{at("2026-03-03T08:00+01:00").value + (d - 1) * seconds_per_day};
        const auto local = engine->calendar().format(day);
        if (engine->calendar().weekday(engine->calendar().local_day(day)) >= 5) continue;
        days.push_back(slot("r1", "all3", local.substr(0, 16).c_str()));
    }
    for (int n = 0; n < 16; ++n) ASSERT_TRUE(book(staff(), days[n], patient(1)).ok()) << n;
    EXPECT_EQ(book(staff(), days[16], patient(1)).code, ErrorCode::patient_already_occupied);
    clock->set(Instant{engine->slot(days[9])->end.value + 60});  // ten visits are over
    for (int n = 16; n < 26; ++n) ASSERT_TRUE(book(staff(), days[n], patient(1)).ok()) << n;
    collect();
    auto copy = restored(log);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(last_summary.bookings, 26u);
    EXPECT_EQ(copy->state_hash(), engine->state_hash());
}

// A slot published after its type was removed stays bookable (the removal was before it).
TEST_F(Recovery, ASlotPublishedAfterItsTypeWasRemovedStays) {
    ASSERT_TRUE(engine->remove_type(staff(), unit("u1"), type("noweb")).ok());
    auto published =
        engine->publish_slot(staff(), resource("r2"), type("noweb"), at("2026-03-09T15:00+01:00"));
    ASSERT_TRUE(published.ok());
    collect();
    auto copy = restored(log);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(copy->state_hash(), engine->state_hash());
    EXPECT_EQ(copy->slot(published.value.id)->state, SlotState::free);
}

// An expired hold whose slot a block took before the sweep ended the hold: the block has no
// slot event, so the newest stored snapshot still says held; recovery leaves the slot blocked.
TEST_F(Recovery, AnExpiredHoldTakenByABlockStaysBlocked) {
    const SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    ASSERT_TRUE(engine->hold(web(), s, patient(1)).ok());
    clock->set(Instant{clock->now().value + 400});  // past the 300 s hold, no sweep yet
    ASSERT_TRUE(engine
                    ->block(staff(), resource("r1"), at("2026-03-03T08:00+01:00"),
                            at("2026-03-03T09:00+01:00"), "")
                    .ok());
    ASSERT_EQ(engine->slot(s)->state, SlotState::blocked);
    collect();
    auto copy = restored(log);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(copy->slot(s)->state, SlotState::blocked);
    EXPECT_EQ(copy->state_hash(), engine->state_hash());
}

// An ended booking's id is answered as before on every channel: the citizen who cancelled it
// on the web gets BOOKING_ALREADY_CANCELLED again, not BOOKING_NOT_FOUND.
TEST_F(Recovery, AnEndedBookingIsAnsweredAsBefore) {
    auto b = book(web(), slot("r3", "all3b", "2026-03-03T08:00"), patient(1));
    ASSERT_TRUE(b.ok());
    auto first = engine->cancel(staff("u2"), b.value.id, {});
    ASSERT_TRUE(first.ok());
    collect();
    auto copy = restored(log);
    ASSERT_NE(copy, nullptr);
    for (Engine* e : {engine.get(), copy.get()}) {
        EXPECT_EQ(e->cancel(web(), b.value.id, patient(1)).code,
                  ErrorCode::booking_already_cancelled);
        EXPECT_EQ(e->cancel(staff("u2"), b.value.id, {}).code,
                  ErrorCode::booking_already_cancelled);
    }
}

TEST_F(Recovery, NewIdsNeverRepeatOldOnes) {
    std::vector<BookingId> ids;
    const SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    for (int i = 0; i < 5; ++i) {
        auto r = book(staff(), s, patient(i));
        ASSERT_TRUE(r.ok());
        ids.push_back(r.value.id);
        ASSERT_TRUE(engine->cancel(staff(), r.value.id, {}).ok());
    }
    collect();
    auto copy = restored(log);
    ASSERT_NE(copy, nullptr);
    for (int i = 0; i < 20; ++i) {
        auto r = copy->book(staff(), BookRequest{s, {}, {}, patient(10 + i), {}, {}, false});
        ASSERT_TRUE(r.ok());
        for (BookingId old : ids) EXPECT_NE(r.value.id, old);
        ids.push_back(r.value.id);
        ASSERT_TRUE(copy->cancel(staff(), r.value.id, {}).ok());
    }
}

// Seeded random operations on both engines after the restore: every answer's code and every
// slot's state agree.
TEST_F(Recovery, RandomHistoryThenBothEnginesAnswerAlike) {
    std::vector<SlotId> slots;
    for (std::uint32_t i = 0; i < engine->slot_count(); ++i) {
        auto v = engine->slot(SlotId{i});
        if (v->unit == unit("u1") && v->start.value < at("2026-03-14T00:00+01:00").value) {
            slots.push_back(v->id);
        }
    }
    ASSERT_GT(slots.size(), 50u);
    struct Side {
        Engine* engine;
        std::vector<BookingId> bookings;  // in creation order: the same list on both sides
        std::vector<BlockId> blocks;
    };
    auto step = [&](Side& side, std::mt19937_64& rng) -> ErrorCode {
        Engine& e = *side.engine;
        const SlotId s = slots[rng() % slots.size()];
        const PatientKey p = patient(static_cast<int>(rng() % 40));
        const Actor who = rng() % 2 ? web() : staff();
        switch (rng() % 9) {
            case 0:
            case 1: {
                auto r = e.book(who, BookRequest{s, {}, {}, p, {}, {}, false});
                if (r.ok()) side.bookings.push_back(r.value.id);
                return r.code;
            }
            case 2: {
                if (side.bookings.empty()) return ErrorCode::ok;
                auto r = e.cancel(staff(), side.bookings[rng() % side.bookings.size()], {});
                return r.code;
            }
            case 3: {
                if (side.bookings.empty()) return ErrorCode::ok;
                auto r = e.rebook(
                    staff(), RebookRequest{side.bookings[rng() % side.bookings.size()], s, {}});
                if (r.ok()) side.bookings.push_back(r.value.booking.id);
                return r.code;
            }
            case 4:
                return e.hold(web(), s, p).code;
            case 5: {
                const Instant from = e.slot(s)->start;
                auto r =
                    e.block(staff(), e.slot(s)->resource, from, Instant{from.value + 1800}, "");
                if (r.ok()) side.blocks.push_back(r.value.id);
                return r.code;
            }
            case 6: {
                if (side.blocks.empty()) return ErrorCode::ok;
                return e.unblock(staff(), side.blocks[rng() % side.blocks.size()]).code;
            }
            case 7:
                return e.waitlist_add(staff(), unit("u1"), type("all3"), p).code;
            default:
                e.expire_holds();
                return ErrorCode::ok;
        }
    };
    Side original{engine.get(), {}, {}};
    std::mt19937_64 history(7);
    for (int i = 0; i < 3000; ++i) {
        step(original, history);
        if (i % 500 == 0) clock->set(Instant{clock->now().value + 120});
        if (i % 100 == 0) collect();
    }
    collect();
    auto copy = restored(log);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(copy->state_hash(), engine->state_hash());
    Side twin{copy.get(), original.bookings, original.blocks};
    std::mt19937_64 left(11);
    std::mt19937_64 right(11);
    for (int i = 0; i < 3000; ++i) {
        const ErrorCode a = step(original, left);
        const ErrorCode b = step(twin, right);
        ASSERT_EQ(a, b) << "operation " << i;
        if (i % 700 == 0) clock->set(Instant{clock->now().value + 120});
        if (i % 100 == 0) {
            collect();
            std::vector<Event> out(4096);
            while (copy->events().drain(out) != 0) {
            }
        }
    }
    for (SlotId s : slots) EXPECT_EQ(copy->slot(s)->state, engine->slot(s)->state);
}

// Four threads change slots while a fifth drains, so lanes are numbered out of the order their
// changes were made in; recovery orders each slot's changes by version and still matches.
TEST_F(Recovery, ConcurrentHistoryWithOutOfOrderNumbering) {
    std::vector<SlotId> slots;
    for (const char* day : {"2026-03-03", "2026-03-04", "2026-03-05"}) {
        for (const char* time : {"T08:00", "T08:20", "T08:40", "T09:00"}) {
            slots.push_back(slot("r1", "all3", (std::string(day) + time).c_str()));
        }
    }
    // Rounds of four threads' changes until some slot's changes were numbered against their
    // order (a busy machine may run the threads one after another for a whole round).
    const auto round = [&](int r) {
        std::atomic<bool> done{false};
        std::thread drainer([&] {
            while (!done.load()) collect();
        });
        std::vector<std::thread> workers;
        for (int t = 0; t < 4; ++t) {
            workers.emplace_back([&, t] {
                std::mt19937_64 rng(static_cast<std::uint64_t>(t + 4 * r));
                std::vector<BookingId> mine;  // this thread's bookings, some ended by others' moves
                for (int i = 0; i < 3000; ++i) {
                    const SlotId s = slots[rng() % slots.size()];
                    const std::size_t pick = mine.empty() ? 0 : rng() % mine.size();
                    switch (mine.empty() ? 0 : rng() % 3) {
                        case 0:
                            if (auto r = book(staff(), s,
                                              patient(t * 10 + static_cast<int>(rng() % 10)));
                                r.ok()) {
                                mine.push_back(r.value.id);
                            }
                            break;
                        case 1:
                            (void)engine->cancel(staff(), mine[pick], {});
                            mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(pick));
                            break;
                        default:
                            if (auto r = engine->rebook(staff(), RebookRequest{mine[pick], s, {}});
                                r.ok()) {
                                mine[pick] = r.value.booking.id;
                            }
                    }
                }
            });
        }
        for (auto& w : workers) w.join();
        done.store(true);
        drainer.join();
        collect();
    };
    // Changes of one slot numbered against their order: what this test is about.
    const auto inversions = [&] {
        std::map<std::uint32_t, std::uint32_t> newest;
        int n = 0;
        for (const Event& e : log) {
            auto [it, fresh] = newest.try_emplace(e.after.slot.value, e.after.version);
            if (!fresh && e.after.version < it->second) ++n;
            it->second = std::max(it->second, e.after.version);
        }
        return n;
    };
#if defined(__SANITIZE_THREAD__)  // far fewer interleavings there; the check below is off
    constexpr int rounds_max = 1;
#else
    constexpr int rounds_max = 20;
#endif
    int rounds = 0;
    do round(rounds++);
    while (inversions() == 0 && rounds < rounds_max);
#if !defined(__SANITIZE_THREAD__)  // far fewer interleavings there; the check below still runs
    EXPECT_GT(inversions(), 0) << "after " << rounds << " rounds";
#endif
    auto copy = restored(log);
    ASSERT_NE(copy, nullptr);
    EXPECT_EQ(copy->state_hash(), engine->state_hash());
    // What a crash leaves: a prefix of the numbered events, cut anywhere. Each restores, and
    // no slot has two bookings. A snapshot taken halfway to the cut, where the numbering may
    // put one slot's changes on both sides of it, restores the same state.
    for (std::size_t cut = log.size() / 7; cut < log.size(); cut += log.size() / 7) {
        std::vector<Event> prefix(log.begin(), log.begin() + static_cast<std::ptrdiff_t>(cut));
        std::string why;
        auto part = restored(prefix, &why);
        ASSERT_NE(part, nullptr) << "cut at " << cut << ": " << why;
        const Snapshot half = compact(nullptr, 0, cut / 2);
        auto via_snapshot = restored_from(half, cut / 2, cut, &why);
        ASSERT_NE(via_snapshot, nullptr) << "cut at " << cut << ": " << why;
        EXPECT_EQ(via_snapshot->state_hash(), part->state_hash()) << "cut at " << cut;
        std::map<std::uint32_t, std::uint64_t> owner;
        std::size_t booked = 0;
        for (int p = 0; p < 40; ++p) {
            auto list = part->bookings(staff(), patient(p));
            ASSERT_TRUE(list.ok());
            for (const BookingView& v : list.value) {
                EXPECT_TRUE(owner.emplace(v.slot.id.value, v.id.value).second)
                    << "slot " << v.slot.id.value << " twice at cut " << cut;
            }
        }
        for (SlotId s : slots) booked += part->slot(s)->state == SlotState::booked ? 1 : 0;
        EXPECT_EQ(booked, owner.size()) << "cut at " << cut;
    }
}

// Snapshots (issue 14): a history of every kind of change, snapshotted at eight cuts, each
// snapshot folded from the one before and the events since. Recovery from a snapshot and the
// events after it rebuilds what recovery from the whole history rebuilds: the same state hash
// and summary, and the same ids given next.
TEST_F(Recovery, ASnapshotAndTheEventsAfterItRestoreAsTheWholeHistory) {
    std::vector<SlotId> slots;
    for (std::uint32_t i = 0; i < engine->slot_count(); ++i) {
        auto v = engine->slot(SlotId{i});
        if (v->unit == unit("u1") && v->start.value < at("2026-03-21T00:00+01:00").value) {
            slots.push_back(v->id);
        }
    }
    ASSERT_GT(slots.size(), 100u);
    std::vector<BookingId> bookings;
    std::vector<BlockId> blocks;
    std::vector<WaitlistEntryId> waiting;
    std::mt19937_64 rng(23);
    int published = 0;
    for (int i = 0; i < 6000; ++i) {
        const SlotId s = slots[rng() % slots.size()];
        const PatientKey p = patient(static_cast<int>(rng() % 200));
        const Actor who = rng() % 2 ? web() : staff();
        switch (rng() % 16) {
            case 0:
            case 1:
            case 2:
                if (auto r = engine->book(who, BookRequest{s, {}, {}, p, {}, {}, false}); r.ok()) {
                    bookings.push_back(r.value.id);
                }
                break;
            case 3:
            case 14:
            case 15:
                if (!bookings.empty()) {
                    (void)engine->cancel(staff(), bookings[rng() % bookings.size()], {});
                }
                break;
            case 4:
                if (!bookings.empty()) {
                    auto r = engine->rebook(
                        staff(), RebookRequest{bookings[rng() % bookings.size()], s, {}});
                    if (r.ok()) bookings.push_back(r.value.booking.id);
                }
                break;
            case 5:
                (void)engine->hold(web(), s, p);
                break;
            case 6: {
                const Instant from = engine->slot(s)->start;
                auto r = engine->block(staff(), engine->slot(s)->resource, from,
                                       Instant{from.value + 1800}, "");
                if (r.ok()) blocks.push_back(r.value.id);
                break;
            }
            case 7:
                if (!blocks.empty()) (void)engine->unblock(staff(), blocks[rng() % blocks.size()]);
                break;
            case 8:
                if (auto r = engine->waitlist_add(staff(), unit("u1"), type("all3"), p); r.ok()) {
                    waiting.push_back(r.value.id);
                }
                break;
            case 9: {  // R22: booked from the waitlist
                BookRequest r{s, {}, {}, p, {}, {}, true};
                if (auto b = engine->book(staff(), r); b.ok()) bookings.push_back(b.value.id);
                break;
            }
            case 10:  // R13: a slot's type changed, and back
                (void)engine->change_slot_type(
                    staff(), s, engine->slot(s)->type == type("all3") ? type("nobook")
                                                                      : type("all3"));
                break;
            case 11:
                if (published < 20) {  // published one at a time, each in its own free time
                    const Instant t{at("2026-03-21T06:00+01:00").value + published++ * 3600};
                    (void)engine->publish_slot(staff(), resource("r1"), type("all3"), t);
                }
                break;
            case 12: {  // R9: a type's text changed
                TypeChange c;
                c.web_info = "info " + std::to_string(i);
                (void)engine->set_type(staff(), type("all3"), c);
                break;
            }
            default:
                engine->expire_holds();
        }
        if (i % 300 == 0) clock->set(Instant{clock->now().value + 120});
        if (i % 100 == 0) collect();
    }
    collect();
    auto whole = restored(log);
    ASSERT_NE(whole, nullptr);
    ASSERT_EQ(whole->state_hash(), engine->state_hash());
    const RestoreSummary all = last_summary;
    ASSERT_GT(all.bookings, 0u);
    ASSERT_GT(all.blocks, 0u);
    ASSERT_GT(all.waitlist, 0u);
    ASSERT_GT(all.published_slots, 0u);
    ASSERT_GT(all.type_changes, 0u);

    std::optional<Snapshot> snap;
    std::size_t done = 0;
    for (int k = 1; k <= 8; ++k) {
        const std::size_t cut = log.size() * static_cast<std::size_t>(k) / 8;
        snap = compact(snap ? &*snap : nullptr, done, cut);
        done = cut;
        // What recovery needs only: no ended booking's or hold's traffic.
        EXPECT_LT(snap->kept.size(), cut);
        for (const Event& ev : snap->kept) {
            EXPECT_NE(ev.kind, EventKind::cancelled) << ev.seq;
            EXPECT_NE(ev.kind, EventKind::hold_expired) << ev.seq;
        }
        std::string why;
        auto copy = restored_from(*snap, cut, log.size(), &why);
        ASSERT_NE(copy, nullptr) << "snapshot " << k << ": " << why;
        EXPECT_EQ(copy->state_hash(), engine->state_hash()) << "snapshot " << k;
        EXPECT_EQ(last_summary.last_seq, all.last_seq);
        EXPECT_EQ(last_summary.bookings, all.bookings);
        EXPECT_EQ(last_summary.holds, all.holds);
        EXPECT_EQ(last_summary.blocks, all.blocks);
        EXPECT_EQ(last_summary.waitlist, all.waitlist);
        EXPECT_EQ(last_summary.published_slots, all.published_slots);
        EXPECT_EQ(last_summary.type_changes, all.type_changes);
        // Ids and numbering go on as after a whole replay.
        whole = restored(log);
        ASSERT_NE(whole, nullptr);
        bool booked = false;
        for (const SlotId s : slots) {
            auto a = whole->book(staff(), BookRequest{s, {}, {}, patient(201), {}, {}, false});
            auto b = copy->book(staff(), BookRequest{s, {}, {}, patient(201), {}, {}, false});
            ASSERT_EQ(a.code, b.code);
            if (!a.ok()) continue;
            EXPECT_EQ(a.value.id, b.value.id);
            ASSERT_TRUE(whole->cancel(staff(), a.value.id, {}).ok());
            ASSERT_TRUE(copy->cancel(staff(), b.value.id, {}).ok());
            booked = true;
            break;
        }
        ASSERT_TRUE(booked);
        std::vector<Event> a(16), b(16);
        ASSERT_EQ(whole->events().drain(a), copy->events().drain(b));
        EXPECT_EQ(a[0].seq, b[0].seq);
        EXPECT_EQ(a[0].seq, log.size() + 1);
    }
}

// A snapshot whose kept events are not in order is refused, saying so.
TEST_F(Recovery, RefusesASnapshotWhoseKeptEventsAreOutOfOrder) {
    ASSERT_TRUE(engine->waitlist_add(staff(), unit("u1"), type("all3"), patient(1)).ok());
    ASSERT_TRUE(engine->waitlist_add(staff(), unit("u1"), type("all3"), patient(2)).ok());
    ASSERT_TRUE(book(staff(), slot("r1", "all3", "2026-03-03T08:00"), patient(3)).ok());
    collect();
    Snapshot snap = compact(nullptr, 0, log.size());
    ASSERT_EQ(snap.kept.size(), 3u);
    std::swap(snap.kept[0], snap.kept[1]);
    std::string why;
    EXPECT_EQ(restored_from(snap, log.size(), log.size(), &why), nullptr);
    EXPECT_NE(why.find("out of order"), std::string::npos) << why;
}

// The events after a snapshot are read once (Engine::restore keeps their bookings' details by
// record). A record used again can be numbered before its earlier use (several worker
// threads): the details kept are the newest generation's, the live booking's, whatever the
// order. Kept by record and last event alone, the first booking's details would win and the
// live booking would have none.
TEST_F(Recovery, ARecordUsedAgainAndNumberedFirstAfterASnapshotKeepsItsBookingsDetails) {
    ASSERT_TRUE(book(staff(), slot("r1", "all3", "2026-03-03T08:00"), patient(7)).ok());
    collect();
    const std::size_t cut = log.size();
    const Snapshot snap = compact(nullptr, 0, cut);
    auto first = book(web(), slot("r1", "all3", "2026-03-03T08:20"), patient(1));
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(engine->cancel(staff(), first.value.id, {}).ok());
    auto again = book(web(), slot("r1", "all3", "2026-03-03T08:40"), patient(2));
    ASSERT_TRUE(again.ok());
    collect();
    ASSERT_EQ(log.size(), cut + 3);
    // The same record (an id's low 40 bits), in its next generation.
    constexpr std::uint64_t record = (std::uint64_t{1} << 40) - 1;
    ASSERT_EQ(again.value.id.value & record, first.value.id.value & record);
    ASSERT_GT(again.value.id.value, first.value.id.value);
    // The newer booking numbered first, the older one and its cancel after it.
    std::rotate(log.begin() + static_cast<std::ptrdiff_t>(cut),
                log.begin() + static_cast<std::ptrdiff_t>(cut + 2), log.end());
    for (std::size_t i = cut; i < log.size(); ++i) log[i].seq = i + 1;
    ASSERT_EQ(log[cut].booking, again.value.id);
    std::string why;
    auto copy = restored_from(snap, cut, log.size(), &why);
    ASSERT_NE(copy, nullptr) << why;
    EXPECT_EQ(copy->state_hash(), engine->state_hash());
    const auto live = copy->booking(again.value.id);
    ASSERT_TRUE(live.has_value());
    EXPECT_TRUE(live->active);
    EXPECT_EQ(live->patient, patient(2));
    EXPECT_EQ(live->channel, Channel::web);
}

// The same for a hold record: used again (the first hold expired) and numbered before its
// earlier use, the live hold is the newest generation's.
TEST_F(Recovery, AHoldRecordUsedAgainAndNumberedFirstAfterASnapshotKeepsItsHold) {
    ASSERT_TRUE(book(staff(), slot("r1", "all3", "2026-03-03T08:00"), patient(7)).ok());
    collect();
    const std::size_t cut = log.size();
    const Snapshot snap = compact(nullptr, 0, cut);
    auto first = engine->hold(web(), slot("r1", "all3", "2026-03-03T08:20"), patient(1));
    ASSERT_TRUE(first.ok());
    clock->set(Instant{clock->now().value + 400});  // past the 300 s hold
    ASSERT_EQ(engine->expire_holds(), 1u);         // and its record free again
    const SlotId held = slot("r1", "all3", "2026-03-03T08:40");
    auto again = engine->hold(web(), held, patient(2));
    ASSERT_TRUE(again.ok());
    collect();
    constexpr std::uint64_t record = (std::uint64_t{1} << 40) - 1;  // an id's low 40 bits
    ASSERT_EQ(again.value.id.value & record, first.value.id.value & record);
    ASSERT_GT(again.value.id.value, first.value.id.value);
    // The newer hold numbered first.
    const auto newer = std::find_if(log.begin() + static_cast<std::ptrdiff_t>(cut), log.end(),
                                    [&](const Event& e) {
                                        return e.kind == EventKind::held &&
                                               e.after.hold == again.value.id;
                                    });
    ASSERT_NE(newer, log.end());
    std::rotate(log.begin() + static_cast<std::ptrdiff_t>(cut), newer, newer + 1);
    for (std::size_t i = cut; i < log.size(); ++i) log[i].seq = i + 1;
    std::string why;
    auto copy = restored_from(snap, cut, log.size(), &why);
    ASSERT_NE(copy, nullptr) << why;
    EXPECT_EQ(copy->state_hash(), engine->state_hash());
    EXPECT_EQ(copy->slot(held)->state, SlotState::held);
    EXPECT_EQ(last_summary.holds, 1u);
}

TEST_F(Recovery, StateHashSeesALostEvent) {
    ASSERT_TRUE(book(staff(), slot("r1", "all3", "2026-03-03T08:00"), patient(1)).ok());
    ASSERT_TRUE(book(staff(), slot("r1", "all3", "2026-03-03T08:20"), patient(2)).ok());
    collect();
    log.pop_back();  // the last booking never reached the store
    auto copy = restored(log);
    ASSERT_NE(copy, nullptr);
    EXPECT_NE(copy->state_hash(), engine->state_hash());
    EXPECT_EQ(copy->slot(slot("r1", "all3", "2026-03-03T08:20"))->state, SlotState::free);
}

TEST_F(Recovery, RefusesAGapInTheEvents) {
    ASSERT_TRUE(book(staff(), slot("r1", "all3", "2026-03-03T08:00"), patient(4)).ok());
    ASSERT_TRUE(book(staff(), slot("r1", "all3", "2026-03-03T08:20"), patient(5)).ok());
    ASSERT_TRUE(book(staff(), slot("r1", "all3", "2026-03-03T08:40"), patient(6)).ok());
    collect();
    ASSERT_GE(log.size(), 3u);
    log.erase(log.begin() + 1);
    std::string why;
    EXPECT_EQ(restored(log, &why), nullptr);
    EXPECT_NE(why.find("event 2 is missing"), std::string::npos) << why;
}

TEST_F(Recovery, RefusesEventsOfAnotherRegionConfig) {
    ASSERT_TRUE(book(staff(), slot("r1", "all3", "2026-03-03T08:00"), patient(1)).ok());
    collect();
    // The same region with r1's first schedule starting an hour later: slot ids and starts
    // no longer agree with the store.
    std::string other = rule_region_yaml;
    const std::string from = "from: \"08:00\", to: \"10:00\"";
    other.replace(other.find(from), from.size(), "from: \"09:00\", to: \"10:00\"");
    auto e = fresh_engine(other.c_str());
    std::string why;
    EXPECT_FALSE(e->restore(scan_of(log), why));
    EXPECT_NE(why.find("another region config"), std::string::npos) << why;
}

}  // namespace
}  // namespace slotmatch::testing
