// The event store's contract, one typed suite for every backend (SQLite in slotmatch_tests,
// PostgreSQL in slotmatch_pg_tests): order and content survive a reopen, resent events are
// skipped, a gap is refused whole, the schema is versioned and a newer one refused.
// A backend's Traits give: std::string fresh_address() (an empty store of its own),
// void mark_newer_schema(const std::string& address) (as a later slotmatch would leave it) and
// void run_sql(const std::string& address, const std::string& sql).
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "access_audit.hpp"
#include "store_events.hpp"

namespace slotmatch::journal::contract {

template <typename Traits>
class StoreContract : public ::testing::Test {
  protected:
    void SetUp() override { address_ = Traits::fresh_address(); }
    // The store; on SQLite claimed as its one writer (as slotmatchd and slotmatch-journal claim
    // it), whose follower keeps the log's and the audit's entries. PostgreSQL writes them with
    // the events, and its claim, an advisory lock, is freed only once the server has seen the
    // last connection go: a reopen right after a close could find it still held.
    std::unique_ptr<EventStore> open() {
        auto store = open_unclaimed();
        std::string why;
        if (store && address_.rfind("sqlite:", 0) == 0 && !store->claim_writer(why)) {
            ADD_FAILURE() << why;
            return nullptr;
        }
        return store;
    }
    std::unique_ptr<EventStore> open_unclaimed() {
        std::string why;
        auto store = open_store(address_, why);
        EXPECT_TRUE(store) << why;
        return store;
    }
    std::vector<Event> stored(EventStore& store) { return all_events(store); }
    std::string address_;
};

TYPED_TEST_SUITE_P(StoreContract);

TYPED_TEST_P(StoreContract, EventsSurviveAReopenInOrderWithTheirContent) {
    {
        auto store = this->open();
        ASSERT_TRUE(store);
        const auto r = store->append(events(1, 3000));
        ASSERT_TRUE(r.ok) << r.error;
        EXPECT_EQ(r.appended, 3000u);
        EXPECT_EQ(r.committed_through, 3000u);
    }
    auto store = this->open();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->last_seq(), 3000u);
    const auto all = this->stored(*store);
    ASSERT_EQ(all.size(), 3000u);
    for (std::uint64_t i = 0; i < all.size(); ++i) {
        const Event want = event(i + 1);
        EXPECT_EQ(all[i].seq, want.seq);
        EXPECT_EQ(all[i].kind, want.kind);
        EXPECT_EQ(all[i].time, want.time);
        EXPECT_EQ(all[i].booking, want.booking);
        EXPECT_EQ(all[i].after.slot, want.after.slot);
        EXPECT_EQ(all[i].reason.view(), "Ont i örat");
        EXPECT_EQ(all[i].actor.view(), "1177-gateway");
    }
}

TYPED_TEST_P(StoreContract, ResentEventsAreSkippedByTheirSequenceNumber) {
    auto store = this->open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->append(events(1, 10)).ok);
    const auto r = store->append(events(5, 15));  // a resend after a lost acknowledgement
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.duplicates, 6u);
    EXPECT_EQ(r.appended, 5u);
    EXPECT_EQ(r.committed_through, 15u);
    EXPECT_EQ(this->stored(*store).size(), 15u);
}

TYPED_TEST_P(StoreContract, AGapIsRefusedWholeAndNamesTheMissingNumber) {
    auto store = this->open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->append(events(1, 10)).ok);
    auto batch = events(11, 20);
    batch.erase(batch.begin() + 3);  // 14 is missing
    const auto r = store->append(batch);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.gap_expected, 14u);
    EXPECT_NE(r.error.find("expected 14"), std::string::npos) << r.error;
    EXPECT_EQ(store->last_seq(), 10u);
    EXPECT_EQ(this->stored(*store).size(), 10u);  // 11..13 were not kept either
}

TYPED_TEST_P(StoreContract, TheSchemaIsVersionedAndANewerOneIsRefused) {
    this->open();
    {
        auto store = this->open();  // a second open migrates nothing
        ASSERT_TRUE(store);
        EXPECT_EQ(store->version(), schema_version);
    }
    TypeParam::mark_newer_schema(this->address_);
    std::string why;
    EXPECT_FALSE(open_store(this->address_, why));
    EXPECT_NE(why.find("schema version 99"), std::string::npos) << why;
}

// One writer per store: a second claim is refused while the first store is open, readers go
// on, and the claim is free again once the writer has gone.
TYPED_TEST_P(StoreContract, OneWriterAtATime) {
    auto first = this->open_unclaimed();
    ASSERT_TRUE(first);
    std::string why;
    ASSERT_TRUE(first->claim_writer(why)) << why;
    {
        auto second = this->open_unclaimed();
        ASSERT_TRUE(second);
        EXPECT_FALSE(second->claim_writer(why));
        EXPECT_NE(why.find("one writer per store"), std::string::npos) << why;
        ASSERT_TRUE(first->append(events(1, 10)).ok);
        EXPECT_EQ(this->stored(*second).size(), 10u);  // reading needs no claim
    }
    first.reset();
    auto third = this->open_unclaimed();
    ASSERT_TRUE(third);
    EXPECT_TRUE(third->claim_writer(why)) << why;
}

// R19, R21, R23: web bookings, rebookings and cancellations make log rows in the batch's
// transaction; staff and proxy changes and other web events make none.
TYPED_TEST_P(StoreContract, R19_WebChangesMakeLogRowsWithBeforeAndAfter) {
    auto store = this->open();
    ASSERT_TRUE(store);
    const auto batch = log_events();
    ASSERT_TRUE(store->append(batch).ok);
    std::string why;
    auto reader = open_reader(this->address_, why);  // a second connection, as slotmatchd uses
    ASSERT_TRUE(reader) << why;
    std::vector<LogRow> rows;
    ASSERT_TRUE(reader->web_log(UnitIdx{1}, Instant{0}, 100, rows, why)) << why;
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].status, LogStatus::booked);
    EXPECT_EQ(rows[0].seq, 1u);
    EXPECT_FALSE(rows[0].before);
    ASSERT_TRUE(rows[0].after);
    EXPECT_EQ(rows[0].after->slot, SlotId{40});
    EXPECT_EQ(rows[0].after->booking, BookingId{10});
    EXPECT_EQ(rows[0].after->phone, "0701234567");
    EXPECT_EQ(rows[0].after->reason, "Ont i örat");
    EXPECT_EQ(rows[0].changed_by, "1177 Vårdguidens e-tjänster");  // R17
    EXPECT_EQ(rows[0].patient, PatientKey{191212121212});
    EXPECT_EQ(rows[1].status, LogStatus::rebooked);
    ASSERT_TRUE(rows[1].before && rows[1].after);
    EXPECT_EQ(rows[1].before->slot, SlotId{40});
    EXPECT_EQ(rows[1].before->booking, BookingId{10});
    EXPECT_EQ(rows[1].after->slot, SlotId{41});
    EXPECT_EQ(rows[1].after->booking, BookingId{11});
    EXPECT_EQ(rows[1].before->resource, rows[1].after->resource);
    EXPECT_EQ(rows[1].before->phone, rows[1].after->phone);
    EXPECT_TRUE(rows[1].billable);  // R23
    EXPECT_EQ(rows[2].status, LogStatus::cancelled);
    ASSERT_TRUE(rows[2].before);
    EXPECT_FALSE(rows[2].after);
    EXPECT_EQ(rows[2].before->booking, BookingId{11});
    EXPECT_FALSE(rows[2].billable);
    rows.clear();
    ASSERT_TRUE(reader->web_log(UnitIdx{2}, Instant{0}, 100, rows, why)) << why;
    EXPECT_TRUE(rows.empty());  // another unit's log
    // A unit whose entries share unit 1's run (SQLite keeps 64 runs by unit) has its own log.
    Event neighbour = batch[0];
    neighbour.seq = batch.size() + 1;
    neighbour.unit = UnitIdx{1 + log_buckets};
    ASSERT_TRUE(store->append(std::vector<Event>{neighbour}).ok);
    rows.clear();
    ASSERT_TRUE(reader->web_log(UnitIdx{1 + log_buckets}, Instant{0}, 100, rows, why)) << why;
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].seq, neighbour.seq);
    rows.clear();
    ASSERT_TRUE(reader->web_log(UnitIdx{1}, Instant{0}, 100, rows, why)) << why;
    EXPECT_EQ(rows.size(), 3u);
    rows.clear();
    ASSERT_TRUE(reader->web_log(UnitIdx{1}, batch[3].time, 100, rows, why)) << why;
    EXPECT_EQ(rows.size(), 2u);  // since: the rebooking and the cancellation
}

TYPED_TEST_P(StoreContract, R19_ARefusedBatchLeavesNoLogRows) {
    auto store = this->open();
    ASSERT_TRUE(store);
    auto batch = log_events();
    batch.erase(batch.begin() + 2);  // a gap: nothing of the batch may stay
    EXPECT_FALSE(store->append(batch).ok);
    std::vector<LogRow> rows;
    std::string why;
    ASSERT_TRUE(store->web_log(UnitIdx{1}, Instant{0}, 100, rows, why)) << why;
    EXPECT_TRUE(rows.empty());
}

// R20: the purge deletes log rows changed before the cut-off and never an event.
TYPED_TEST_P(StoreContract, R20_PurgeDeletesOldLogRowsAndKeepsEveryEvent) {
    auto store = this->open();
    ASSERT_TRUE(store);
    const auto batch = log_events();
    ASSERT_TRUE(store->append(batch).ok);
    std::string why;
    const auto none = store->purge_web_log(batch[0].time, why);  // nothing before the first
    ASSERT_TRUE(none) << why;
    EXPECT_EQ(*none, 0u);
    const auto purged = store->purge_web_log(batch[3].time, why);  // before the rebooking
    ASSERT_TRUE(purged) << why;
    EXPECT_EQ(*purged, 1u);
    std::vector<LogRow> rows;
    ASSERT_TRUE(store->web_log(UnitIdx{1}, Instant{0}, 100, rows, why)) << why;
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].status, LogStatus::rebooked);
    EXPECT_EQ(this->stored(*store).size(), batch.size());  // the recovery source is whole
}

TYPED_TEST_P(StoreContract, LogReadsStopAtTheirLimit) {
    auto store = this->open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->append(log_events()).ok);
    std::vector<LogRow> rows;
    std::string why;
    ASSERT_TRUE(store->web_log(UnitIdx{1}, Instant{0}, 2, rows, why)) << why;
    EXPECT_EQ(rows.size(), 2u);
}

// The access audit: every event that touched a patient (changes, and accessed events: reads
// and refusals) is filed under that patient, with its fields, in the batch's transaction.
TYPED_TEST_P(StoreContract, TheAuditFilesEveryAccessUnderItsPatient) {
    auto store = this->open();
    ASSERT_TRUE(store);
    auto batch = log_events();  // patient 191212121212: 6 events that touched them
    Event read;
    read.seq = batch.size() + 1;
    read.time = Instant{batch.back().time.value + 60};
    read.kind = EventKind::accessed;
    read.channel = Channel::proxy;
    read.actor = ActorText::from("1177-telefon");
    read.unit = no_unit;
    read.patient = PatientKey{191212121212};
    read.on_behalf_of = PatientKey{191212121212};
    read.action = AccessAction::bookings;
    batch.push_back(read);
    Event refused = read;
    refused.seq = read.seq + 1;
    refused.patient = PatientKey{198001011239};  // another patient
    refused.action = AccessAction::cancel;
    refused.outcome = ErrorCode::booking_not_found;
    batch.push_back(refused);
    Event published;  // no patient: not in anyone's audit
    published.seq = refused.seq + 1;
    published.kind = EventKind::slot_published;
    batch.push_back(published);
    ASSERT_TRUE(store->append(batch).ok);
    std::string why;
    auto reader = open_reader(this->address_, why);
    ASSERT_TRUE(reader) << why;
    std::vector<Event> mine;
    ASSERT_TRUE(reader->audit(PatientKey{191212121212}, Instant{0}, 100, mine, why)) << why;
    std::vector<std::uint64_t> seqs;
    for (const Event& e : mine) seqs.push_back(e.seq);
    EXPECT_EQ(seqs, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7}));
    ASSERT_EQ(mine.back().kind, EventKind::accessed);
    EXPECT_EQ(mine.back().action, AccessAction::bookings);
    EXPECT_EQ(mine.back().on_behalf_of, PatientKey{191212121212});
    EXPECT_EQ(mine.back().unit, no_unit);
    EXPECT_EQ(audit_action(mine.back()), "bookings");
    EXPECT_EQ(audit_action(mine[0]), "book");
    std::vector<Event> theirs;
    ASSERT_TRUE(reader->audit(PatientKey{198001011239}, Instant{0}, 100, theirs, why)) << why;
    ASSERT_EQ(theirs.size(), 1u);
    EXPECT_EQ(theirs[0].outcome, ErrorCode::booking_not_found);
    std::vector<Event> later;
    ASSERT_TRUE(reader->audit(PatientKey{191212121212}, read.time, 100, later, why)) << why;
    EXPECT_EQ(later.size(), 1u);  // since
}

// A store written at schema 1 (events only) gets its log and audit entries when it is
// migrated: the log and the audit are queries over every event kept.
TYPED_TEST_P(StoreContract, MigratingASchema1StoreFillsTheLogAndTheAudit) {
    {
        auto store = this->open();
        ASSERT_TRUE(store);
        ASSERT_TRUE(store->append(log_events()).ok);
    }
    TypeParam::run_sql(this->address_,
                       "DROP TABLE IF EXISTS web_log; DROP TABLE IF EXISTS audit;"
                       " DROP TABLE IF EXISTS store_identity; DROP INDEX events_entities;"
                       " DROP TABLE IF EXISTS snapshot_parts; DROP TABLE IF EXISTS snapshots;"
                       " DELETE FROM schema_migrations WHERE version > 1");
    auto store = this->open();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->version(), schema_version);
    std::vector<LogRow> rows;
    std::string why;
    ASSERT_TRUE(store->web_log(UnitIdx{1}, Instant{0}, 100, rows, why)) << why;
    EXPECT_EQ(rows.size(), 3u);
    std::vector<Event> audited;
    ASSERT_TRUE(store->audit(PatientKey{191212121212}, Instant{0}, 100, audited, why)) << why;
    EXPECT_EQ(audited.size(), 6u);  // every event of log_events() touched the patient
}

// The appointment types a store records are read back by number and id, the ones added live
// with their whole definition (the journal numbers its region file's types by them), through a
// reader connection; other events are not among them.
TYPED_TEST_P(StoreContract, TheRecordedTypesComeBackWithTheDefinitionsOfTheOnesAddedLive) {
    auto store = this->open();
    ASSERT_TRUE(store);
    ConfigChange added;
    added.entity = EntityKind::type;
    added.index = 1;
    added.defines = true;
    added.type.id = "vacc";
    added.type.name = "Vaccination";
    added.type.duration_min = 10;
    added.type.region_wide = false;
    added.type.unit = UnitIdx{2};
    added.type.web_name = "Vaccin";
    std::vector<Event> batch = log_events();
    const auto recorded = [&](std::uint32_t index, const char* id, const ConfigChange* config) {
        Event e;
        e.seq = batch.size() + 1;
        e.kind = EventKind::entity_recorded;
        e.entity = EntityKind::type;
        e.type = TypeIdx{index};
        e.reason = ReasonText::from(id);
        e.config = config;
        batch.push_back(e);
    };
    recorded(0, "all3", nullptr);
    recorded(1, "vacc", &added);
    ASSERT_TRUE(store->append(batch).ok);
    std::string why;
    auto reader = open_reader(this->address_, why);
    ASSERT_TRUE(reader) << why;
    std::vector<RecordedType> types;
    ASSERT_TRUE(reader->recorded_types(types, why)) << why;
    ASSERT_EQ(types.size(), 2u);
    EXPECT_EQ(types[0].index, 0u);
    EXPECT_EQ(types[0].id, "all3");
    EXPECT_FALSE(types[0].added);
    EXPECT_EQ(types[1].index, 1u);
    EXPECT_EQ(types[1].id, "vacc");
    ASSERT_TRUE(types[1].added);
    EXPECT_EQ(types[1].added->name, "Vaccination");
    EXPECT_EQ(types[1].added->duration_min, 10);
    EXPECT_FALSE(types[1].added->region_wide);
    EXPECT_EQ(types[1].added->unit, UnitIdx{2});
    EXPECT_EQ(types[1].added->web_name, "Vaccin");
}

REGISTER_TYPED_TEST_SUITE_P(StoreContract, EventsSurviveAReopenInOrderWithTheirContent,
                            ResentEventsAreSkippedByTheirSequenceNumber,
                            AGapIsRefusedWholeAndNamesTheMissingNumber,
                            TheSchemaIsVersionedAndANewerOneIsRefused, OneWriterAtATime,
                            R19_WebChangesMakeLogRowsWithBeforeAndAfter,
                            R19_ARefusedBatchLeavesNoLogRows,
                            R20_PurgeDeletesOldLogRowsAndKeepsEveryEvent, LogReadsStopAtTheirLimit,
                            TheAuditFilesEveryAccessUnderItsPatient,
                            MigratingASchema1StoreFillsTheLogAndTheAudit,
                            TheRecordedTypesComeBackWithTheDefinitionsOfTheOnesAddedLive);

}  // namespace slotmatch::journal::contract
