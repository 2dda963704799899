// One or more tests per booking rule of DOMAIN.md, each covering the allowed and the refused
// case. Test names carry the rule number.
#include "engine_fixture.hpp"

namespace slotmatch::testing {
namespace {

using Rules = RuleRegion;

// ---- R2: web bookable means bookable on the web and by proxy --------------------------------

TEST_F(Rules, R2_WebBookableTypeIsBookableOnTheWeb) {
    auto ok = book(web(), slot("r1", "all3", "2026-03-02T08:00"), patient(1));
    ASSERT_TRUE(ok.ok()) << ok.message;
    EXPECT_EQ(ok.value.channel, Channel::web);
}

TEST_F(Rules, R2_NotWebBookableTypeIsRefusedOnWebAndProxy) {
    SlotId s = slot("r1", "nobook", "2026-03-02T13:00");
    EXPECT_EQ(book(web(), s, patient(1)).code, ErrorCode::appointment_not_allowed);
    EXPECT_EQ(book(proxy(), s, patient(1)).code, ErrorCode::appointment_not_allowed);
    EXPECT_FALSE(listed(find(web(), "u1"), s));
    EXPECT_TRUE(book(staff(), s, patient(1)).ok());  // staff book any type of their unit
}

TEST_F(Rules, R2_ProxyBooksWebBookableProxyType) {
    auto ok = book(proxy(), slot("r1", "ombud", "2026-03-02T11:00"), patient(2));
    ASSERT_TRUE(ok.ok()) << ok.message;
    EXPECT_EQ(ok.value.channel, Channel::proxy);
}

// ---- R3: web cancellable covers web and proxy cancel ----------------------------------------

TEST_F(Rules, R3_CancellableTypeIsCancelledOnWebAndByProxy) {
    auto a = book(web(), slot("r1", "all3", "2026-03-03T08:00"), patient(1));
    ASSERT_TRUE(a.ok());
    EXPECT_TRUE(engine->cancel(web(), a.value.id, patient(1)).ok());
    auto b = book(proxy(), slot("r1", "ombud", "2026-03-03T11:00"), patient(1));
    ASSERT_TRUE(b.ok());
    EXPECT_TRUE(engine->cancel(proxy(), b.value.id, patient(1)).ok());
}

TEST_F(Rules, R3_NotCancellableTypeIsRefusedOnWebAndByProxy) {
    auto a = book(web(), slot("r1", "norecancel", "2026-03-03T10:00"), patient(1));
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(engine->cancel(web(), a.value.id, patient(1)).code, ErrorCode::cancel_not_allowed);
    EXPECT_EQ(engine->cancel(proxy(), a.value.id, patient(1)).code, ErrorCode::cancel_not_allowed);
    EXPECT_TRUE(engine->booking(a.value.id)->active);
    EXPECT_TRUE(engine->cancel(staff(), a.value.id, {}).ok());
}

// ---- R4: web rebookable; proxies do not rebook ----------------------------------------------

TEST_F(Rules, R4_RebookableTypeIsRebookedOnTheWeb) {
    auto a = book(web(), slot("r1", "all3", "2026-03-03T08:00"), patient(1));
    ASSERT_TRUE(a.ok());
    auto moved = rebook(web(), a.value.id, slot("r1", "all3", "2026-03-04T08:20"), patient(1));
    ASSERT_TRUE(moved.ok()) << moved.message;
    EXPECT_EQ(moved.value.booking.slot.start, at("2026-03-04T08:20"));
    EXPECT_FALSE(engine->booking(a.value.id)->active);
}

TEST_F(Rules, R4_NotRebookableTypeIsRefusedOnTheWeb) {
    auto a = book(web(), slot("r2", "norebook", "2026-03-03T13:00"), patient(1));
    ASSERT_TRUE(a.ok()) << a.message;
    auto moved = rebook(web(), a.value.id, slot("r2", "norebook", "2026-03-04T13:00"), patient(1));
    EXPECT_EQ(moved.code, ErrorCode::rebook_not_allowed);
    EXPECT_TRUE(engine->booking(a.value.id)->active);
}

TEST_F(Rules, R4_ProxyMayNotRebookEvenARebookableType) {
    auto a = book(proxy(), slot("r1", "ombud", "2026-03-03T11:00"), patient(1));
    ASSERT_TRUE(a.ok());
    auto moved = rebook(proxy(), a.value.id, slot("r1", "ombud", "2026-03-04T11:00"), patient(1));
    EXPECT_EQ(moved.code, ErrorCode::rebook_not_allowed);
    // The citizen may rebook what the proxy booked (R8: proxy types carry all three flags).
    EXPECT_TRUE(
        rebook(web(), a.value.id, slot("r1", "ombud", "2026-03-04T11:00"), patient(1)).ok());
}

// ---- R5: the flags are independent ----------------------------------------------------------

TEST_F(Rules, R5_BookableAndRebookableButNotCancellable) {
    auto a = book(web(), slot("r1", "norecancel", "2026-03-03T10:00"), patient(1));
    ASSERT_TRUE(a.ok());
    auto moved =
        rebook(web(), a.value.id, slot("r1", "norecancel", "2026-03-03T10:20"), patient(1));
    ASSERT_TRUE(moved.ok()) << moved.message;
    EXPECT_EQ(engine->cancel(web(), moved.value.booking.id, patient(1)).code,
              ErrorCode::cancel_not_allowed);
}

TEST_F(Rules, R5_CancellableAndRebookableButNotBookable) {
    auto a = book(staff(), slot("r1", "nobook", "2026-03-03T13:00"), patient(1));
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(book(web(), slot("r1", "nobook", "2026-03-03T13:20"), patient(2)).code,
              ErrorCode::appointment_not_allowed);
    EXPECT_TRUE(engine->cancel(web(), a.value.id, patient(1)).ok());
}

// ---- R6: hidden types ------------------------------------------------------------------------

TEST_F(Rules, R6_HiddenTypeIsNeitherOfferedNorShownNorChangeable) {
    SlotId s = slot("r2", "hidden", "2026-03-03T09:00");
    EXPECT_FALSE(listed(find(web(), "u1"), s));
    EXPECT_EQ(book(web(), s, patient(1)).code, ErrorCode::appointment_not_allowed);
    auto a = book(staff(), s, patient(1));
    ASSERT_TRUE(a.ok());
    auto seen = engine->bookings(web(), patient(1));
    ASSERT_TRUE(seen.ok());
    EXPECT_TRUE(seen.value.empty());
    EXPECT_EQ(engine->bookings(staff(), patient(1)).value.size(), 1U);
    EXPECT_EQ(engine->cancel(web(), a.value.id, patient(1)).code, ErrorCode::cancel_not_allowed);
    EXPECT_EQ(rebook(web(), a.value.id, slot("r2", "hidden", "2026-03-04T09:00"), patient(1)).code,
              ErrorCode::rebook_not_allowed);
}

TEST_F(Rules, R6_HideClearsTheFlagsAtLoad) {
    const AppointmentType& t = engine->catalog().type(type("hidden"));
    EXPECT_FALSE(t.web_bookable || t.web_cancellable || t.web_rebookable);
    auto loaded = load_region_text(R"(
timezone: Europe/Stockholm
appointment_types:
  - {id: h, name: Dold, web_name: Dold, web_bookable: true, web_cancellable: true,
     web_rebookable: true, hide_from_patient: true}
providers: []
)",
                                   "r6");
    ASSERT_TRUE(loaded.ok());
    const AppointmentType& h = loaded.catalog->types[0];
    EXPECT_FALSE(h.web_bookable || h.web_cancellable || h.web_rebookable);
}

// ---- R7: no web name, never on the web ------------------------------------------------------

TEST_F(Rules, R7_TypeWithoutWebNameIsNeverOffered) {
    SlotId s = slot("r2", "noweb", "2026-03-03T10:00");
    EXPECT_FALSE(listed(find(web(), "u1"), s));
    EXPECT_FALSE(listed(find(proxy(), "u1"), s));
    EXPECT_EQ(book(web(), s, patient(1)).code, ErrorCode::appointment_not_allowed);
    EXPECT_EQ(book(proxy(), s, patient(1)).code, ErrorCode::appointment_not_allowed);
    EXPECT_TRUE(listed(find(staff(), "u1"), s));
    EXPECT_TRUE(book(staff(), s, patient(1)).ok());
}

// ---- R8: proxy types ------------------------------------------------------------------------

TEST_F(Rules, R8_ProxyBooksOnlyProxyTypes) {
    EXPECT_EQ(book(proxy(), slot("r1", "all3", "2026-03-03T08:00"), patient(1)).code,
              ErrorCode::appointment_not_allowed);
    auto found = find(proxy(), "u1");
    ASSERT_FALSE(found.value.empty());
    for (const SlotView& v : found.value) EXPECT_EQ(v.type, type("ombud"));
    // Proxies book into other providers' units too (units outside the region).
    EXPECT_TRUE(book(proxy(), slot("r3b", "ombud", "2026-03-03T08:00"), patient(1)).ok());
}

TEST_F(Rules, R8_CitizensAreNotOfferedProxyTypesButSeeAndChangeWhatAProxyBooked) {
    SlotId s = slot("r1", "ombud", "2026-03-03T11:00");
    EXPECT_FALSE(listed(find(web(), "u1"), s));
    EXPECT_EQ(book(web(), s, patient(1)).code, ErrorCode::appointment_not_allowed);
    auto a = book(proxy(), s, patient(1));
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(engine->bookings(web(), patient(1)).value.size(), 1U);
    EXPECT_TRUE(engine->cancel(web(), a.value.id, patient(1)).ok());
}

// ---- R10 / R11: the booking window -----------------------------------------------------------

TEST_F(Rules, R10_WindowOneShowsASlotFromMidnightOfItsOwnDay) {
    SlotId today = slot("r2", "win1", "2026-03-02T11:00");
    SlotId tomorrow = slot("r2", "win1", "2026-03-03T11:00");
    EXPECT_TRUE(listed(find(web(), "u1"), today));
    EXPECT_FALSE(listed(find(web(), "u1"), tomorrow));
    EXPECT_EQ(book(web(), tomorrow, patient(1)).code, ErrorCode::slot_not_available);
    clock->set(at("2026-03-02T23:59:59"));
    EXPECT_FALSE(listed(find(web(), "u1"), tomorrow));
    clock->set(at("2026-03-03T00:00:00"));
    EXPECT_TRUE(listed(find(web(), "u1"), tomorrow));
    EXPECT_TRUE(book(web(), tomorrow, patient(1)).ok());
}

TEST_F(Rules, R10_WindowFifteenShowsASlotFourteenDaysBefore) {
    // Clock: Monday 2026-03-02. Day 14 ahead is Monday 2026-03-16; day 15 is Tuesday 03-17.
    SlotId in = slot("r2", "norebook", "2026-03-16T13:00");
    SlotId out = slot("r2", "norebook", "2026-03-17T13:00");
    auto found = find(web(), "u1");
    EXPECT_TRUE(listed(found, in));
    EXPECT_FALSE(listed(found, out));
    EXPECT_EQ(book(web(), out, patient(1)).code, ErrorCode::slot_not_available);
    EXPECT_TRUE(book(web(), in, patient(1)).ok());
    EXPECT_TRUE(book(staff(), out, patient(2)).ok());  // the window is the web's
}

TEST_F(Rules, R11_EmptyWindowMeansSixtyDaysAhead) {
    // Clock: 2026-03-02. Day 60 is Friday 2026-05-01, day 61 Saturday 05-02 (a slot published
    // for the test), day 63 Monday 05-04.
    SlotId day60 = slot("r1", "all3", "2026-05-01T08:00");
    auto day61 =
        engine->publish_slot(staff(), resource("r1"), type("all3"), at("2026-05-02T08:00"));
    ASSERT_TRUE(day61.ok());
    SlotId day63 = slot("r1", "all3", "2026-05-04T08:00");
    EXPECT_EQ(book(web(), day61.value.id, patient(1)).code, ErrorCode::slot_not_available);
    EXPECT_EQ(book(web(), day63, patient(1)).code, ErrorCode::slot_not_available);
    EXPECT_TRUE(book(web(), day60, patient(1)).ok());
    clock->set(at("2026-03-03T00:00:00"));  // day 61 is now 60 days ahead
    EXPECT_TRUE(book(web(), day61.value.id, patient(2)).ok());
    EXPECT_EQ(book(web(), day63, patient(2)).code, ErrorCode::slot_not_available);
}

TEST_F(Rules, R11_AStartedSlotIsNeverBookable) {
    SlotId s = slot("r1", "all3", "2026-03-02T08:00");
    clock->set(at("2026-03-02T08:00:00"));
    EXPECT_EQ(book(staff(), s, patient(1)).code, ErrorCode::slot_has_passed);
    EXPECT_EQ(book(web(), s, patient(1)).code, ErrorCode::slot_has_passed);
    EXPECT_FALSE(listed(find(staff(), "u1"), s));
    clock->set(at("2026-03-02T07:59:59"));
    EXPECT_TRUE(book(web(), s, patient(1)).ok());
}

TEST_F(Rules, R11_DaysAreLocalDaysAcrossDaylightSaving) {
    // Summer time starts 2026-03-29: 08:00 local is 07:00 UTC before and 06:00 UTC after.
    auto before = engine->slot(slot("r1", "all3", "2026-03-27T08:00"));
    auto after = engine->slot(slot("r1", "all3", "2026-03-30T08:00"));
    EXPECT_EQ(before->start.value % seconds_per_day, 7 * seconds_per_hour);
    EXPECT_EQ(after->start.value % seconds_per_day, 6 * seconds_per_hour);
    EXPECT_EQ(engine->calendar().format(after->start), "2026-03-30T08:00:00+02:00");
    // A window-1 slot on the first summer day is visible from local midnight, 22:00 UTC.
    SlotId s = slot("r2", "win1", "2026-03-30T11:00");
    clock->set(Instant{at("2026-03-30T00:00:00").value - 1});
    EXPECT_EQ(book(web(), s, patient(1)).code, ErrorCode::slot_not_available);
    clock->set(at("2026-03-30T00:00:00"));
    EXPECT_TRUE(book(web(), s, patient(1)).ok());
}

// ---- R13 / R14: when slots appear and disappear ---------------------------------------------

TEST_F(Rules, R13_ACancelledSlotIsBookableAtOnce) {
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    auto a = book(web(), s, patient(1));
    ASSERT_TRUE(a.ok());
    EXPECT_FALSE(listed(find(web(), "u1"), s));
    ASSERT_TRUE(engine->cancel(web(), a.value.id, patient(1)).ok());
    EXPECT_TRUE(listed(find(web(), "u1"), s));
    EXPECT_TRUE(book(web(), s, patient(2)).ok());
}

TEST_F(Rules, R13_APublishedSlotIsVisibleAtOnce) {
    auto published =
        engine->publish_slot(staff(), resource("r1"), type("all3"), at("2026-03-03T16:00"));
    ASSERT_TRUE(published.ok()) << published.message;
    EXPECT_TRUE(listed(find(web(), "u1"), published.value.id));
    EXPECT_TRUE(book(web(), published.value.id, patient(1)).ok());
    EXPECT_EQ(
        engine->publish_slot(web(), resource("r1"), type("all3"), at("2026-03-03T17:00")).code,
        ErrorCode::unauthorized);
}

TEST_F(Rules, R13_ATypeSwapShowsTheSlotUnderItsNewType) {
    SlotId s = slot("r2", "noweb", "2026-03-03T10:00");
    EXPECT_FALSE(listed(find(web(), "u1"), s));
    auto swapped = engine->change_slot_type(staff(), s, type("all3"));
    ASSERT_TRUE(swapped.ok()) << swapped.message;
    EXPECT_EQ(swapped.value.type, type("all3"));
    EXPECT_TRUE(listed(find(web(), "u1"), s));
    EXPECT_TRUE(book(web(), s, patient(1)).ok());
    EXPECT_EQ(engine->change_slot_type(staff(), s, type("noweb")).code,
              ErrorCode::slot_already_reserved);
}

TEST_F(Rules, R13_UnblockingMakesSlotsVisibleAgain) {
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    auto k = engine->block(staff(), resource("r1"), at("2026-03-03T08:00"), at("2026-03-03T09:00"),
                           "Utbildning");
    ASSERT_TRUE(k.ok());
    EXPECT_FALSE(listed(find(web(), "u1"), s));
    ASSERT_TRUE(engine->unblock(staff(), k.value.id).ok());
    EXPECT_TRUE(listed(find(web(), "u1"), s));
}

TEST_F(Rules, R14_ABlockingEventHidesFreeSlotsAtOnce) {
    SlotId s = slot("r1", "all3", "2026-03-03T08:20");
    SlotId booked = slot("r1", "all3", "2026-03-03T08:40");
    auto a = book(web(), booked, patient(1));
    ASSERT_TRUE(a.ok());
    auto k =
        engine->block(staff(), resource("r1"), at("2026-03-03T08:10"), at("2026-03-03T09:00"), "");
    ASSERT_TRUE(k.ok()) << k.message;
    EXPECT_EQ(k.value.slots_changed, 2U);  // 08:00 (overlaps from 08:10) and 08:20
    EXPECT_EQ(k.value.reserved_untouched, 1U);
    EXPECT_FALSE(listed(find(web(), "u1"), s));
    EXPECT_EQ(book(web(), s, patient(2)).code, ErrorCode::slot_not_available);
    // The booking under the block stays; cancelled, its slot comes back blocked.
    ASSERT_TRUE(engine->cancel(web(), a.value.id, patient(1)).ok());
    EXPECT_EQ(engine->slot(booked)->state, SlotState::blocked);
    ASSERT_TRUE(engine->unblock(staff(), k.value.id).ok());
    EXPECT_EQ(engine->slot(booked)->state, SlotState::free);
    EXPECT_EQ(
        engine
            ->block(staff("u2"), resource("r1"), at("2026-03-03T08:00"), at("2026-03-03T09:00"), "")
            .code,
        ErrorCode::unauthorized);
}

TEST_F(Rules, R14_ABookedSlotDisappears) {
    SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    ASSERT_TRUE(book(web(), s, patient(1)).ok());
    EXPECT_FALSE(listed(find(web(), "u1"), s));
    EXPECT_EQ(book(web(), s, patient(2)).code, ErrorCode::slot_already_reserved);
}

TEST_F(Rules, R14_RemovingATypeFromTheScheduleRemovesItsSlots) {
    SlotId s = slot("r2", "win1", "2026-03-02T11:00");
    SlotId kept = slot("r2", "win1", "2026-03-02T11:15");
    auto a = book(web(), kept, patient(1));
    ASSERT_TRUE(a.ok());
    auto removed = engine->remove_type(staff(), unit("u1"), type("win1"));
    ASSERT_TRUE(removed.ok());
    EXPECT_GT(removed.value.slots_changed, 0U);
    EXPECT_EQ(removed.value.reserved_untouched, 1U);
    EXPECT_FALSE(listed(find(staff(), "u1"), s));
    EXPECT_EQ(book(staff(), s, patient(2)).code, ErrorCode::slot_not_available);
    ASSERT_TRUE(engine->cancel(web(), a.value.id, patient(1)).ok());
    EXPECT_EQ(book(staff(), kept, patient(2)).code, ErrorCode::slot_not_available);
}

// ---- R15 / R16: rebooking stays with provider, resource and type ----------------------------

TEST_F(Rules, R15_RebookingStaysWithTheSameCareProvider) {
    auto a = book(web(), slot("r1", "all3", "2026-03-03T08:00"), patient(1));
    ASSERT_TRUE(a.ok());
    auto other_provider =
        rebook(web(), a.value.id, slot("r4", "all3c", "2026-03-04T08:00"), patient(1));
    EXPECT_EQ(other_provider.code, ErrorCode::rebook_not_allowed);
    auto other_unit =
        rebook(web(), a.value.id, slot("r3", "all3b", "2026-03-04T08:00"), patient(1));
    EXPECT_EQ(other_unit.code, ErrorCode::rebook_not_allowed);
    EXPECT_TRUE(engine->booking(a.value.id)->active);
    EXPECT_TRUE(rebook(web(), a.value.id, slot("r1", "all3", "2026-03-05T08:00"), patient(1)).ok());
}

TEST_F(Rules, R16_RebookOffersOnlySameResourceAndType) {
    auto a = book(web(), slot("r1", "all3", "2026-03-03T08:00"), patient(1));
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(rebook(web(), a.value.id, slot("r2", "all3", "2026-03-04T08:00"), patient(1)).code,
              ErrorCode::rebook_not_allowed);  // same type, other resource
    EXPECT_EQ(
        rebook(web(), a.value.id, slot("r1", "norecancel", "2026-03-04T10:00"), patient(1)).code,
        ErrorCode::rebook_not_allowed);  // same resource, other type
    // r1's earliest all3 slot is taken, so r2's 08:00 would win if --first left the resource.
    ASSERT_TRUE(book(web(), slot("r1", "all3", "2026-03-02T08:00"), patient(9)).ok());
    auto first = engine->rebook(web(), RebookRequest{a.value.id, std::nullopt, patient(1)});
    ASSERT_TRUE(first.ok()) << first.message;
    EXPECT_EQ(first.value.booking.slot.resource, resource("r1"));
    EXPECT_EQ(first.value.booking.slot.type, type("all3"));
    EXPECT_EQ(first.value.booking.slot.start, at("2026-03-02T08:20"));  // the earliest free
}

// ---- R17 / R18: who changed it, and the patient's comment -----------------------------------

TEST_F(Rules, R17_ChangedByIsTheWebSystemOrTheStaffUser) {
    auto w = book(web(), slot("r1", "all3", "2026-03-03T08:00"), patient(1));
    auto s = book(staff(), slot("r1", "all3", "2026-03-03T08:20"), patient(2));
    ASSERT_TRUE(w.ok() && s.ok());
    EXPECT_EQ(changed_by(w.value), web_system_identity);
    EXPECT_EQ(changed_by(s.value), "Karin Lind (vgr-abc123)");
    auto p = book(proxy(), slot("r1", "ombud", "2026-03-03T11:00"), patient(3));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(changed_by(p.value), "1177 Vårdguiden på telefon");
}

TEST_F(Rules, R17_AStaffChangeWithoutTheStaffUsersNameIsRefused) {
    Actor nameless = staff();
    nameless.name = {};
    const SlotId s = slot("r1", "all3", "2026-03-03T08:00");
    auto refused = book(nameless, s, patient(1));
    EXPECT_EQ(refused.code, ErrorCode::invalid_request);
    EXPECT_EQ(refused.field, "actor_name");
    EXPECT_EQ(engine->slot(s)->state, SlotState::free);  // nothing changed
    EXPECT_TRUE(book(staff(), s, patient(1)).ok());
}

TEST_F(Rules, R18_WebBookingCarriesPhoneAndReasonWhenTheUnitAsks) {
    BookRequest r;
    r.slot = slot("r1", "all3", "2026-03-03T08:00");
    r.patient = patient(1);
    r.phone = PhoneText::from("0701234567");
    r.reason = ReasonText::from("Ont i halsen");
    auto a = engine->book(web(), r);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a.value.phone.view(), "0701234567");
    EXPECT_EQ(a.value.reason.view(), "Ont i halsen");
    r.slot = slot("r3", "all3b", "2026-03-03T08:20");  // u2: patient comment off
    auto b = engine->book(web(), r);
    ASSERT_TRUE(b.ok());
    EXPECT_TRUE(b.value.phone.empty());
    EXPECT_TRUE(b.value.reason.empty());
}

// ---- R22: back on the waitlist ---------------------------------------------------------------

TEST_F(Rules, R22_AWaitlistBookingCancelledOnTheWebGoesBackOnTheWaitlist) {
    ASSERT_TRUE(engine->waitlist_add(staff(), unit("u1"), type("all3"), patient(1)).ok());
    BookRequest r;
    r.slot = slot("r1", "all3", "2026-03-03T08:00");
    r.patient = patient(1);
    r.from_waitlist = true;
    auto a = engine->book(staff(), r);
    ASSERT_TRUE(a.ok());
    EXPECT_TRUE(engine->waitlist(staff(), unit("u1")).value.empty());
    auto c = engine->cancel(web(), a.value.id, patient(1));
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c.value.returned_to_waitlist);
    auto list = engine->waitlist(staff(), unit("u1"));
    ASSERT_EQ(list.value.size(), 1U);
    EXPECT_EQ(list.value[0].patient, patient(1));
    EXPECT_EQ(list.value[0].type, type("all3"));
}

TEST_F(Rules, R22_OnlyWaitlistBookingsCancelledOnTheWebReturn) {
    ASSERT_TRUE(engine->waitlist_add(staff(), unit("u1"), type("all3"), patient(1)).ok());
    BookRequest r;
    r.slot = slot("r1", "all3", "2026-03-03T08:00");
    r.patient = patient(1);
    r.from_waitlist = true;
    auto a = engine->book(staff(), r);
    ASSERT_TRUE(a.ok());
    auto c = engine->cancel(staff(), a.value.id, {});
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE(c.value.returned_to_waitlist);  // staff cancelled: their decision
    auto b = book(web(), slot("r1", "all3", "2026-03-03T08:20"), patient(2));
    ASSERT_TRUE(b.ok());
    auto d = engine->cancel(web(), b.value.id, patient(2));
    ASSERT_TRUE(d.ok());
    EXPECT_FALSE(d.value.returned_to_waitlist);  // not booked from the waitlist
    EXPECT_TRUE(engine->waitlist(staff(), unit("u1")).value.empty());
    EXPECT_EQ(engine->waitlist(web(), unit("u1")).code, ErrorCode::unauthorized);
}

TEST_F(Rules, R22_FromTheWaitlistRequiresBeingOnIt) {
    // Otherwise a citizen could put themselves on any unit's waitlist by cancelling.
    BookRequest r;
    r.slot = slot("r1", "all3", "2026-03-03T08:00");
    r.patient = patient(1);
    r.from_waitlist = true;
    auto a = engine->book(web(), r);
    EXPECT_EQ(a.code, ErrorCode::invalid_request);
    EXPECT_EQ(a.field, "from_waitlist");
    EXPECT_EQ(engine->slot(*r.slot)->state, SlotState::free);
}

// ---- R23: late cancellation billing ----------------------------------------------------------

TEST_F(Rules, R23_ExactlyTwentyFourHoursBeforeIsNotBilled) {
    auto a = book(web(), slot("r1", "all3", "2026-03-04T08:00"), patient(1));
    ASSERT_TRUE(a.ok());
    clock->set(at("2026-03-03T08:00:00"));
    auto c = engine->cancel(web(), a.value.id, patient(1));
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE(c.value.billable);
}

TEST_F(Rules, R23_LessThanTwentyFourHoursBeforeIsBilled) {
    auto a = book(web(), slot("r1", "all3", "2026-03-04T08:00"), patient(1));
    ASSERT_TRUE(a.ok());
    clock->set(at("2026-03-03T08:00:01"));
    auto moved = rebook(web(), a.value.id, slot("r1", "all3", "2026-03-05T08:00"), patient(1));
    ASSERT_TRUE(moved.ok());
    EXPECT_TRUE(moved.value.billable);
}

TEST_F(Rules, R23_TheSourceExamplesAreNotBilled) {
    // Changed a week before the previous start (15:52 → 08:00 and 15:53 → 08:15 the week after).
    auto a = book(web(), slot("r1", "all3", "2026-03-09T08:00"), patient(1));
    auto b = book(web(), slot("r1", "all3", "2026-03-09T08:20"), patient(2));
    ASSERT_TRUE(a.ok() && b.ok());
    clock->set(at("2026-03-02T15:52:00"));
    auto moved = rebook(web(), a.value.id, slot("r1", "all3", "2026-03-10T08:00"), patient(1));
    ASSERT_TRUE(moved.ok());
    EXPECT_FALSE(moved.value.billable);
    clock->set(at("2026-03-02T15:53:00"));
    auto cancelled = engine->cancel(web(), b.value.id, patient(2));
    ASSERT_TRUE(cancelled.ok());
    EXPECT_FALSE(cancelled.value.billable);
}

TEST_F(Rules, R23_HoursAreRealHoursAcrossDaylightSaving) {
    // Summer time starts in the night to Sunday 2026-03-29. From Saturday 11:30 to Sunday 12:00
    // the wall clock shows 24.5 hours but only 23.5 real hours pass: billable.
    auto sunday = engine->publish_slot(staff(), resource("r1"), type("all3"),
                                       at("2026-03-29T12:00:00+02:00"));
    ASSERT_TRUE(sunday.ok());
    auto a = book(web(), sunday.value.id, patient(1));
    ASSERT_TRUE(a.ok()) << a.message;
    clock->set(at("2026-03-28T11:30:00+01:00"));
    auto late = engine->cancel(web(), a.value.id, patient(1));
    ASSERT_TRUE(late.ok());
    EXPECT_TRUE(late.value.billable);
    auto b = book(web(), sunday.value.id, patient(2));
    ASSERT_TRUE(b.ok());
    clock->set(at("2026-03-28T11:00:00+01:00"));  // 24.0 real hours before
    auto in_time = engine->cancel(web(), b.value.id, patient(2));
    ASSERT_TRUE(in_time.ok());
    EXPECT_FALSE(in_time.value.billable);
}

// ---- R25: the unit's case types ----------------------------------------------------------------

TEST_F(Rules, R25_BookingCaseTypeOffOffersNothingOnTheWeb) {
    SlotId s = slot("r4", "all3c", "2026-03-03T08:00");
    auto found = find(web(), "u3");
    ASSERT_TRUE(found.ok());
    EXPECT_TRUE(found.value.empty());
    EXPECT_EQ(book(web(), s, patient(1)).code, ErrorCode::appointment_not_allowed);
    EXPECT_TRUE(book(staff("u3"), s, patient(1)).ok());
    EXPECT_TRUE(book(web(), slot("r1", "all3", "2026-03-03T08:00"), patient(2)).ok());
}

TEST_F(Rules, R25_CancelRebookCaseTypeOffRefusesWebCancelAndRebook) {
    auto a = book(web(), slot("r3", "all3b", "2026-03-03T08:00"), patient(1));
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(engine->cancel(web(), a.value.id, patient(1)).code, ErrorCode::cancel_not_allowed);
    EXPECT_EQ(rebook(web(), a.value.id, slot("r3", "all3b", "2026-03-04T08:00"), patient(1)).code,
              ErrorCode::rebook_not_allowed);
    EXPECT_TRUE(engine->cancel(staff("u2"), a.value.id, {}).ok());
    const Unit& u1 = engine->catalog().unit(unit("u1"));
    EXPECT_EQ(u1.web.terms_book, "Avboka senast 24 timmar innan.");
}

}  // namespace
}  // namespace slotmatch::testing
