// Engine behaviour beyond single rules: patient ids, holds, permissions, the order of refusal
// codes, events, and refusals that change nothing.
#include "engine_fixture.hpp"

namespace slotmatch::testing {
namespace {

using EngineTest = RuleRegion;

// ---- patient ids --------------------------------------------------------------------------

TEST(PatientId, AcceptsPersonnummerAndSamordningsnummer) {
    auto p = parse_patient_id("199001012385");  // Luhn over 9001012385
    ASSERT_TRUE(p.key.has_value()) << p.why;
    EXPECT_EQ(format_patient_id(*p.key), "199001012385");
    EXPECT_TRUE(parse_patient_id("19900101-2385").key.has_value());
    // Samordningsnummer: day + 60 (1990-01-61 is the 1st).
    EXPECT_TRUE(parse_patient_id(format_patient_id(patient(5))).key.has_value());
    auto s = parse_patient_id("199001612382");
    EXPECT_TRUE(s.key.has_value()) << s.why;
    // Over 100: Skatteverket's "+" separator; with the century given it is the same number.
    EXPECT_EQ(parse_patient_id("19121212+1212").key, parse_patient_id("191212121212").key);
    EXPECT_TRUE(parse_patient_id("19121212+1212").key.has_value());
}

TEST(PatientId, TheCheckDigitCoversTheLastTenDigitsAndTheYearStartsAt1850) {
    // The same ten digits under another century: the same check digit (the century is not in
    // it), and both are valid as long as the date is real.
    EXPECT_TRUE(parse_patient_id("189001012385").key.has_value());
    EXPECT_TRUE(parse_patient_id("209001012385").key.has_value());
    const auto old = parse_patient_id("184901012385");
    EXPECT_FALSE(old.key.has_value());
    EXPECT_NE(old.why.find("date"), std::string::npos) << old.why;
    EXPECT_FALSE(parse_patient_id("1990010+12385").key);  // the separator after the date only
}

TEST(PatientId, RefusesWrongLengthDigitsDateAndCheckDigit) {
    EXPECT_FALSE(parse_patient_id("").key);
    EXPECT_FALSE(parse_patient_id("9001012389").key);     // 10 digits
    EXPECT_FALSE(parse_patient_id("1990010123851").key);  // 13 digits
    EXPECT_FALSE(parse_patient_id("19900101238X").key);
    EXPECT_FALSE(parse_patient_id("199013012385").key);  // month 13
    EXPECT_FALSE(parse_patient_id("199002302385").key);  // 30 February
    auto luhn = parse_patient_id("199001012386");
    EXPECT_FALSE(luhn.key);
    EXPECT_NE(luhn.why.find("Luhn"), std::string::npos);
}

TEST_F(EngineTest, AnInvalidPatientIsAnInvalidRequestNamingTheField) {
    auto r = book(web(), slot("r1", "all3", "2026-03-03T08:00"), PatientKey{199001012386ULL});
    EXPECT_EQ(r.code, ErrorCode::invalid_request);
    EXPECT_EQ(r.field, "patient");
    EXPECT_EQ(engine->hold(web(), slot("r1", "all3", "2026-03-03T08:00"), PatientKey{12}).field,
              "patient");
}

// ---- channel, actor and unit ---------------------------------------------------------------

TEST_F(EngineTest, StaffActOnlyInsideTheirOwnUnit) {
    SlotId s = slot("r3", "all3b", "2026-03-03T08:00");
    EXPECT_EQ(book(staff("u1"), s, patient(1)).code, ErrorCode::unauthorized);
    auto a = book(staff("u2"), s, patient(1));
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(engine->cancel(staff("u1"), a.value.id, {}).code, ErrorCode::unauthorized);
    SlotQuery q;
    q.unit = unit("u2");
    EXPECT_EQ(engine->find(staff("u1"), q).code, ErrorCode::unauthorized);
    Actor nameless = staff();
    nameless.has_unit = false;
    EXPECT_EQ(book(nameless, s, patient(1)).field, "actor_unit");
}

TEST_F(EngineTest, CitizensReachOnlyTheirOwnBookings) {
    auto a = book(web(), slot("r1", "all3", "2026-03-03T08:00"), patient(1));
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(engine->cancel(web(), a.value.id, patient(2)).code, ErrorCode::booking_not_found);
    EXPECT_EQ(engine->bookings(web(), patient(2)).value.size(), 0U);
    EXPECT_TRUE(engine->booking(a.value.id)->active);
}

TEST_F(EngineTest, UnknownIdsAreRefused) {
    EXPECT_EQ(book(web(), SlotId{4000000}, patient(1)).code, ErrorCode::invalid_request);
    EXPECT_EQ(engine->cancel(web(), BookingId{999}, patient(1)).code, ErrorCode::booking_not_found);
    EXPECT_EQ(engine->cancel(web(), BookingId{0}, patient(1)).code, ErrorCode::booking_not_found);
    EXPECT_EQ(engine->unblock(staff(), BlockId{77}).code, ErrorCode::invalid_request);
    BookRequest none;
    none.patient = patient(1);
    EXPECT_EQ(engine->book(web(), none).code, ErrorCode::invalid_request);
}

TEST_F(EngineTest, PatientCannotHoldTwoOverlappingBookings) {
    ASSERT_TRUE(book(web(), slot("r1", "all3", "2026-03-03T08:00"), patient(1)).ok());
    // r2's 08:00-08:20 overlaps r1's 08:00-08:20; 08:20 on r1 touches but does not overlap.
    auto clash = book(web(), slot("r2", "all3", "2026-03-03T08:00"), patient(1));
    EXPECT_EQ(clash.code, ErrorCode::patient_already_occupied);
    EXPECT_EQ(engine->slot(slot("r2", "all3", "2026-03-03T08:00"))->state, SlotState::free);
    EXPECT_TRUE(book(web(), slot("r1", "all3", "2026-03-03T08:20"), patient(1)).ok());
    EXPECT_TRUE(book(web(), slot("r2", "all3", "2026-03-03T08:00"), patient(2)).ok());
}

// ---- holds -----------------------------------------------------------------------------------

TEST_F(EngineTest, AHoldReservesTheSlotForItsPatientUntilItExpires) {
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    auto h = engine->hold(web(), s, patient(1));
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h.value.expires_at.value - clock->now().value, 300);
    EXPECT_FALSE(listed(find(web(), "u1"), s));
    EXPECT_EQ(book(web(), s, patient(2)).code, ErrorCode::slot_already_reserved);
    BookRequest r;
    r.hold = h.value.id;
    r.patient = patient(1);
    auto b = engine->book(web(), r);
    ASSERT_TRUE(b.ok()) << b.message;
    EXPECT_EQ(b.value.slot.id, s);
}

TEST_F(EngineTest, AnExpiredHoldIsRefusedAndItsSlotFreed) {
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    auto h = engine->hold(web(), s, patient(1));
    ASSERT_TRUE(h.ok());
    clock->advance_s(300);
    EXPECT_TRUE(listed(find(web(), "u1"), s));  // bookable as soon as the hold expires
    BookRequest r;
    r.hold = h.value.id;
    r.patient = patient(1);
    EXPECT_EQ(engine->book(web(), r).code, ErrorCode::hold_expired);
    drain_events();
    EXPECT_EQ(engine->expire_holds(), 1U);
    std::vector<Event> out(8);
    ASSERT_EQ(engine->events().drain(out), 1U);
    EXPECT_EQ(out[0].kind, EventKind::hold_expired);
    EXPECT_EQ(engine->slot(s)->state, SlotState::free);
    EXPECT_TRUE(book(web(), s, patient(2)).ok());
    EXPECT_EQ(engine->book(web(), r).code, ErrorCode::hold_expired);
}

TEST_F(EngineTest, AHoldOfAnotherPatientCannotBeUsed) {
    auto h = engine->hold(web(), slot("r1", "all3", "2026-03-03T08:00"), patient(1));
    ASSERT_TRUE(h.ok());
    BookRequest r;
    r.hold = h.value.id;
    r.patient = patient(2);
    EXPECT_EQ(engine->book(web(), r).code, ErrorCode::invalid_request);
}

// ---- book the earliest match ---------------------------------------------------------------

TEST_F(EngineTest, BookFirstTakesTheEarliestFreeMatchingSlot) {
    BookRequest r;
    r.patient = patient(1);
    SlotQuery q;
    q.unit = unit("u1");
    q.type = type("all3");
    q.from = at("2026-03-03T00:00");
    r.match = q;
    auto a = engine->book(web(), r);
    ASSERT_TRUE(a.ok()) << a.message;
    EXPECT_EQ(a.value.slot.start, at("2026-03-03T08:00"));
    // The same patient is busy 08:00-08:20 on both resources now, so the next is 08:20.
    auto b = engine->book(web(), r);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b.value.slot.start, at("2026-03-03T08:20"));
    q.resource = resource("r2");
    r.match = q;
    r.patient = patient(2);
    auto c = engine->book(web(), r);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c.value.slot.resource, resource("r2"));
}

// ---- the order of refusal codes ------------------------------------------------------------

TEST_F(EngineTest, RefusalCodesFollowTheDocumentedOrder) {
    SlotId s = slot("r1", "all3", "2026-03-02T08:00");
    ASSERT_TRUE(book(web(), s, patient(1)).ok());
    clock->set(at("2026-03-02T09:00:00"));
    // Started and taken: SLOT_HAS_PASSED comes before SLOT_ALREADY_RESERVED.
    EXPECT_EQ(book(web(), s, patient(2)).code, ErrorCode::slot_has_passed);
    // Not allowed and started: the permission code comes first.
    EXPECT_EQ(book(proxy(), s, patient(2)).code, ErrorCode::appointment_not_allowed);
    // Invalid patient beats everything after it.
    EXPECT_EQ(book(proxy(), s, PatientKey{1}).code, ErrorCode::invalid_request);
}

// The access audit: an access is one `accessed` event through the rings; with no room it is
// not recorded and the caller must refuse (OVERLOADED), so no read goes unrecorded.
TEST_F(EngineTest, AnAccessIsAnEventAndAFullBufferRefusesToRecordIt) {
    static_assert(static_cast<int>(EventKind::accessed) == 12,
                  "stored kinds keep their numbers: accessed comes last");
    auto loaded = load_region_text(rule_region_yaml, "small-ring");
    ASSERT_TRUE(loaded.ok());
    EngineLimits tiny;
    tiny.events_max = 2;
    Engine small(std::move(*loaded.catalog), *clock, tiny);
    AccessRecord access;
    access.action = AccessAction::cancel;
    access.outcome = ErrorCode::booking_not_found;
    access.patient = patient(1);
    access.on_behalf_of = patient(2);
    access.unit = unit("u1");
    access.booking = BookingId{77};
    EXPECT_TRUE(small.record_access(web(), access));
    EXPECT_TRUE(small.record_access(web(), access));
    EXPECT_FALSE(small.record_access(web(), access));  // full: not recorded
    std::vector<Event> out(4);
    ASSERT_EQ(small.events().drain(out), 2U);
    const Event& e = out[0];
    EXPECT_EQ(e.kind, EventKind::accessed);
    EXPECT_EQ(e.channel, Channel::web);
    EXPECT_EQ(e.time, small.now());
    EXPECT_EQ(e.action, AccessAction::cancel);
    EXPECT_EQ(e.outcome, ErrorCode::booking_not_found);
    EXPECT_EQ(e.patient, patient(1));
    EXPECT_EQ(e.on_behalf_of, patient(2));
    EXPECT_EQ(e.unit, unit("u1"));
    EXPECT_EQ(e.booking, BookingId{77});
    EXPECT_TRUE(small.record_access(web(), access));  // drained: room again
}

TEST_F(EngineTest, AFullEventBufferRefusesWithOverloadedAndChangesNothing) {
    // A fresh engine with room for two events, never drained.
    auto loaded = load_region_text(rule_region_yaml, "small-ring");
    ASSERT_TRUE(loaded.ok());
    EngineLimits tiny;
    tiny.events_max = 2;
    Engine small(std::move(*loaded.catalog), *clock, tiny);
    SlotId s1 = slot("r1", "all3", "2026-03-03T08:00");
    SlotId s2 = slot("r1", "all3", "2026-03-03T08:20");
    BookRequest r;
    r.slot = s1;
    r.patient = patient(1);
    auto a = small.book(web(), r);
    ASSERT_TRUE(a.ok());
    r.slot = s2;
    ASSERT_TRUE(small.book(web(), r).ok());
    r.slot = slot("r1", "all3", "2026-03-03T08:40");
    EXPECT_EQ(small.book(web(), r).code, ErrorCode::overloaded);
    EXPECT_EQ(small.slot(*r.slot)->state, SlotState::free);
    EXPECT_EQ(small.cancel(web(), a.value.id, patient(1)).code, ErrorCode::overloaded);
    EXPECT_TRUE(small.booking(a.value.id)->active);
    SlotQuery q;
    q.unit = unit("u1");
    EXPECT_TRUE(small.find(web(), q).ok());  // finds keep working
    std::vector<Event> out(2);
    EXPECT_EQ(small.events().drain(out), 2U);
    EXPECT_TRUE(small.book(web(), r).ok());  // drained: room again
}

// ---- events --------------------------------------------------------------------------------

TEST_F(EngineTest, EveryStateChangeYieldsOneEventInSequence) {
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    auto a = book(web(), s, patient(1));
    auto m = rebook(web(), a.value.id, slot("r1", "all3", "2026-03-03T08:20"), patient(1));
    auto c = engine->cancel(web(), m.value.booking.id, patient(1));
    ASSERT_TRUE(a.ok() && m.ok() && c.ok());
    EXPECT_EQ(book(web(), SlotId{s.value}, patient(2)).ok(), true);
    EXPECT_EQ(book(web(), SlotId{s.value}, patient(3)).code, ErrorCode::slot_already_reserved);
    std::vector<Event> out(16);
    ASSERT_EQ(engine->events().drain(out), 4U);  // the refusal made none
    EXPECT_EQ(out[0].kind, EventKind::booked);
    EXPECT_EQ(out[1].kind, EventKind::rebooked);
    EXPECT_EQ(out[2].kind, EventKind::cancelled);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i].seq, static_cast<std::uint64_t>(i + 1));
    EXPECT_EQ(out[0].before.state, SlotState::free);
    EXPECT_EQ(out[0].after.state, SlotState::booked);
    EXPECT_EQ(out[0].after.patient, patient(1));
    EXPECT_EQ(out[0].channel, Channel::web);
    EXPECT_EQ(out[0].unit, unit("u1"));
    EXPECT_EQ(out[1].before.slot, s);
    EXPECT_EQ(out[1].after.start, at("2026-03-03T08:20"));
    EXPECT_GT(out[3].after.version, out[0].after.version);  // versions order one slot's changes
}

TEST_F(EngineTest, RefusedRebookLeavesBothSlotsAsTheyWere) {
    auto a = book(web(), slot("r1", "all3", "2026-03-03T08:00"), patient(1));
    auto b = book(web(), slot("r1", "all3", "2026-03-03T08:20"), patient(2));
    ASSERT_TRUE(a.ok() && b.ok());
    auto r = rebook(web(), a.value.id, b.value.slot.id, patient(1));
    EXPECT_EQ(r.code, ErrorCode::slot_already_reserved);
    EXPECT_TRUE(engine->booking(a.value.id)->active);
    EXPECT_TRUE(engine->booking(b.value.id)->active);
    EXPECT_EQ(engine->bookings(web(), patient(1)).value.size(), 1U);
}

}  // namespace
}  // namespace slotmatch::testing

namespace slotmatch::testing {
namespace {

TEST_F(EngineTest, EarliestFreeIsTheFirstOpenSlotOfOneResourceAndType) {
    ASSERT_TRUE(book(web(), slot("r1", "all3", "2026-03-02T08:00"), patient(1)).ok());
    auto first = engine->earliest_free(web(), resource("r1"), type("all3"), Instant{0});
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->start, at("2026-03-02T08:20"));
    auto later = engine->earliest_free(web(), resource("r1"), type("all3"), at("2026-03-04T00:00"));
    ASSERT_TRUE(later.has_value());
    EXPECT_EQ(later->start, at("2026-03-04T08:00"));
    // Nothing for a channel that may not book the type, or staff of another unit.
    EXPECT_FALSE(engine->earliest_free(proxy(), resource("r1"), type("all3"), Instant{0}));
    EXPECT_FALSE(engine->earliest_free(staff("u2"), resource("r1"), type("all3"), Instant{0}));
}

}  // namespace
}  // namespace slotmatch::testing
