// Engines with a store's history (issue 11): an engine that starts with nothing laid out and
// rebuilds itself from the events another published, as slotmatchd does on a store, and what a
// start does after recovery (record the region file's seed, apply what it changed). Shared by
// the slot identity, schedule and settings tests.
#pragma once

#include <string>
#include <vector>

#include "engine_fixture.hpp"

namespace slotmatch::testing {

// The rule region with the schedule of r1 / all3 ending on `valid_to` instead of 2026-12-31.
inline std::string region_with_r1_all3_until(const std::string& valid_to) {
    std::string yaml = rule_region_yaml;
    const auto at = yaml.find("{resource: r1, appointment_type: all3,");
    const auto end = yaml.find("valid_to: 2026-12-31", at);
    SM_ASSERT(at != std::string::npos && end != std::string::npos);
    yaml.replace(end, std::string("valid_to: 2026-12-31").size(), "valid_to: " + valid_to);
    return yaml;
}

class StoreHistory : public RuleRegion {
  protected:
    // An engine on `yaml` rebuilt from `log` (nothing laid out before: a server with a store).
    std::unique_ptr<Engine> from_store(const std::string& yaml, std::string* why = nullptr) {
        auto loaded = load_region_text(yaml, "store-history");
        SM_ASSERT(loaded.ok());
        auto e = std::make_unique<Engine>(std::move(*loaded.catalog), *clock, limits(),
                                          Engine::Seed::none);
        std::string reason;
        const auto summary = e->restore(
            [this](const std::function<bool(const Event&)>& visit, std::string&) {
                for (const Event& ev : log) {
                    if (!visit(ev)) break;
                }
                return true;
            },
            reason);
        if (why != nullptr) *why = reason;
        if (!summary) return nullptr;
        last = *summary;
        return e;
    }
    // Moves the engine's events into the log, numbered as the journal numbers them.
    void collect(Engine& e) {
        std::vector<Event> out(4096);
        while (std::size_t n = e.events().drain(out)) {
            log.insert(log.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
        }
    }
    // What a start does after recovery: record the seed, then apply the region file's changes.
    std::vector<BookingId> start(Engine& e, bool accept_orphans = false,
                                 ErrorCode expect = ErrorCode::ok) {
        std::string why;
        EXPECT_TRUE(e.record_seed([&] { collect(e); }, why)) << why;
        std::vector<BookingId> in_the_way;
        for (const SeedChange& c : e.seed_changes()) {
            const auto applied = e.apply_seed_change(c, accept_orphans, in_the_way);
            EXPECT_EQ(applied.code, expect) << applied.message;
            if (!applied.ok()) break;
        }
        collect(e);
        return in_the_way;
    }
    SlotId slot_of(const Engine& e, const char* res, const char* typ, const char* iso) const {
        const Instant t = at(iso);
        for (std::uint32_t i = 0; i < e.slot_count(); ++i) {
            const auto v = e.slot(SlotId{i});
            if (v->resource == resource(res) && v->type == type(typ) && v->start == t) return v->id;
        }
        ADD_FAILURE() << "no slot " << res << " " << typ << " " << iso;
        return SlotId{0};
    }
    Outcome<BookingView> book_on(Engine& e, const Actor& a, SlotId s, PatientKey p) {
        BookRequest r;
        r.slot = s;
        r.patient = p;
        return e.book(a, r);
    }

    std::vector<Event> log;
    RestoreSummary last;
};

}  // namespace slotmatch::testing
