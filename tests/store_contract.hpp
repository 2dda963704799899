// The event store's contract, one typed suite for every backend (SQLite in slotmatch_tests,
// PostgreSQL in slotmatch_pg_tests): order and content survive a reopen, resent events are
// skipped, a gap is refused whole, the schema is versioned and a newer one refused.
// A backend's Traits give: std::string fresh_address() (an empty store of its own) and
// void mark_newer_schema(const std::string& address) (as a later slotmatch would leave it).
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "store_events.hpp"

namespace slotmatch::journal::contract {

template <typename Traits>
class StoreContract : public ::testing::Test {
  protected:
    void SetUp() override { address_ = Traits::fresh_address(); }
    std::unique_ptr<EventStore> open() {
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
    auto first = this->open();
    ASSERT_TRUE(first);
    std::string why;
    ASSERT_TRUE(first->claim_writer(why)) << why;
    {
        auto second = this->open();
        ASSERT_TRUE(second);
        EXPECT_FALSE(second->claim_writer(why));
        EXPECT_NE(why.find("one writer per store"), std::string::npos) << why;
        ASSERT_TRUE(first->append(events(1, 10)).ok);
        EXPECT_EQ(this->stored(*second).size(), 10u);  // reading needs no claim
    }
    first.reset();
    auto third = this->open();
    ASSERT_TRUE(third);
    EXPECT_TRUE(third->claim_writer(why)) << why;
}

REGISTER_TYPED_TEST_SUITE_P(StoreContract, EventsSurviveAReopenInOrderWithTheirContent,
                            ResentEventsAreSkippedByTheirSequenceNumber,
                            AGapIsRefusedWholeAndNamesTheMissingNumber,
                            TheSchemaIsVersionedAndANewerOneIsRefused, OneWriterAtATime);

}  // namespace slotmatch::journal::contract
