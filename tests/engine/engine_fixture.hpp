// A small region built for the rule tests: every flag combination, three units with different
// web switches, and a fixed clock on Monday 2026-03-02 07:00 Stockholm time.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <slotmatch/config.hpp>
#include <slotmatch/engine.hpp>
#include <slotmatch/patient.hpp>
#include <string>

namespace slotmatch::testing {

inline const char* const rule_region_yaml = R"(
timezone: Europe/Stockholm
hold_ttl_s: 300
appointment_types:
  - {id: ombud, name: Ombud bedömning, web_name: Bedömning via 1177, web_bookable: true,
     web_cancellable: true, web_rebookable: true, duration_min: 15}
providers:
  - id: p1
    name: Region Test
    units:
      - id: u1
        name: Vårdcentralen Ett
        web: {booking_active: true, cancel_rebook_active: true, patient_comment: true,
              terms_book: Avboka senast 24 timmar innan., terms_cancel_rebook: Ring oss vid frågor.}
        resources:
          - {id: r1, type: person, name: Anna Berg}
          - {id: r2, type: position, name: Distriktssköterska}
        appointment_types:
          - {id: all3, name: Nybesök, web_name: Bedömning av nya besvär, web_bookable: true,
             web_cancellable: true, web_rebookable: true, duration_min: 20}
          - {id: norecancel, name: Återbesök, web_name: Återbesök, web_bookable: true,
             web_cancellable: false, web_rebookable: true, duration_min: 20}
          - {id: nobook, name: Uppföljning, web_name: Uppföljning, web_bookable: false,
             web_cancellable: true, web_rebookable: true, duration_min: 20}
          - {id: norebook, name: Provtagning, web_name: Provtagning, web_bookable: true,
             web_cancellable: true, web_rebookable: false, window_days: 15, duration_min: 10}
          - {id: hidden, name: Samtal kurator, hide_from_patient: true, duration_min: 30}
          - {id: noweb, name: Intern tid, duration_min: 30}
          - {id: win1, name: Akut tid, web_name: Akut tid idag, web_bookable: true,
             web_cancellable: true, web_rebookable: true, window_days: 1, duration_min: 15}
        schedules:
          - {resource: r1, appointment_type: all3, weekdays: [mon, tue, wed, thu, fri],
             from: "08:00", to: "10:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
          - {resource: r1, appointment_type: norecancel, weekdays: [mon, tue, wed, thu, fri],
             from: "10:00", to: "11:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
          - {resource: r1, appointment_type: ombud, weekdays: [mon, tue, wed, thu, fri],
             from: "11:00", to: "12:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
          - {resource: r1, appointment_type: nobook, weekdays: [mon, tue, wed, thu, fri],
             from: "13:00", to: "14:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
          - {resource: r2, appointment_type: all3, weekdays: [mon, tue, wed, thu, fri],
             from: "08:00", to: "09:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
          - {resource: r2, appointment_type: hidden, weekdays: [mon, tue, wed, thu, fri],
             from: "09:00", to: "10:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
          - {resource: r2, appointment_type: noweb, weekdays: [mon, tue, wed, thu, fri],
             from: "10:00", to: "11:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
          - {resource: r2, appointment_type: win1, weekdays: [mon, tue, wed, thu, fri],
             from: "11:00", to: "12:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
          - {resource: r2, appointment_type: norebook, weekdays: [mon, tue, wed, thu, fri],
             from: "13:00", to: "14:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
      - id: u2
        name: Vårdcentralen Två
        web: {booking_active: true, cancel_rebook_active: false, patient_comment: false}
        resources:
          - {id: r3, type: person, name: Per Lund}
          - {id: r3b, type: person, name: Eva Ek}
        appointment_types:
          - {id: all3b, name: Nybesök, web_name: Bedömning av nya besvär, web_bookable: true,
             web_cancellable: true, web_rebookable: true, duration_min: 20}
        schedules:
          - {resource: r3, appointment_type: all3b, weekdays: [mon, tue, wed, thu, fri],
             from: "08:00", to: "10:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
          - {resource: r3b, appointment_type: ombud, weekdays: [mon, tue, wed, thu, fri],
             from: "08:00", to: "10:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
  - id: p2
    name: Privat Vård AB
    units:
      - id: u3
        name: Vårdcentralen Tre
        web: {booking_active: false, cancel_rebook_active: true, patient_comment: false}
        resources:
          - {id: r4, type: person, name: Lisa Holm}
          - {id: r4b, type: person, name: Olle Ström}
        appointment_types:
          - {id: all3c, name: Nybesök, web_name: Bedömning av nya besvär, web_bookable: true,
             web_cancellable: true, web_rebookable: true, duration_min: 20}
        schedules:
          - {resource: r4, appointment_type: all3c, weekdays: [mon, tue, wed, thu, fri],
             from: "08:00", to: "10:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
          - {resource: r4b, appointment_type: all3c, weekdays: [mon, tue, wed, thu, fri],
             from: "08:00", to: "10:00", valid_from: 2026-01-01, valid_to: 2026-12-31}
)";

// A valid personnummer: born 1980-01-01 + (n / 900) days, serial 100 + n % 900, Luhn digit.
inline PatientKey patient(int n) {
    int day = 1 + (n / 900) % 28;
    int serial = 100 + n % 900;
    char digits[16];
    std::snprintf(digits, sizeof digits, "198001%02d%03d", day, serial);
    int sum = 0;
    for (int i = 2; i < 11; ++i) {
        int d = digits[i] - '0';
        if ((i - 2) % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
    }
    std::string full = std::string(digits) + std::to_string((10 - sum % 10) % 10);
    auto check = parse_patient_id(full);
    SM_ASSERT(check.key.has_value());
    return *check.key;
}

class RuleRegion : public ::testing::Test {
  protected:
    void SetUp() override {
        auto loaded = load_region_text(rule_region_yaml, "rule-region");
        for (const auto& d : loaded.diagnostics) {
            if (d.severity == Diagnostic::Severity::error) ADD_FAILURE() << format_diagnostic(d);
        }
        ASSERT_TRUE(loaded.ok());
        clock = std::make_unique<FixedClock>(at("2026-03-02T07:00:00+01:00"));
        engine = std::make_unique<Engine>(std::move(*loaded.catalog), *clock, limits());
    }
    virtual EngineLimits limits() const { return {}; }

    static Instant at(const char* iso) {
        static const Calendar cal("Europe/Stockholm");
        auto t = cal.parse_time(iso);
        SM_ASSERT(t.has_value());
        return *t;
    }
    UnitIdx unit(const char* id) const { return *engine->catalog().find_unit(id); }
    TypeIdx type(const char* id) const { return *engine->catalog().find_type(id); }
    ResourceIdx resource(const char* id) const { return *engine->catalog().find_resource(id); }

    // The slot of `resource` and `type` starting at the local time `iso`.
    SlotId slot(const char* res, const char* typ, const char* iso) const {
        Instant start = at(iso);
        for (std::uint32_t i = 0; i < engine->slot_count(); ++i) {
            auto v = engine->slot(SlotId{i});
            if (v->resource == resource(res) && v->type == type(typ) && v->start == start)
                return v->id;
        }
        ADD_FAILURE() << "no slot " << res << " " << typ << " " << iso;
        return SlotId{0};
    }

    static Actor web() {
        return Actor{Channel::web, ActorText::from("1177-gateway"), {}, false, {}};
    }
    static Actor proxy() {
        return Actor{Channel::proxy,
                     ActorText::from("1177-telefon"),
                     ActorName::from("1177 Vårdguiden på telefon"),
                     false,
                     {}};
    }
    Actor staff(const char* unit_id = "u1") const {
        return Actor{Channel::staff, ActorText::from("vgr-abc123"), ActorName::from("Karin Lind"),
                     true, unit(unit_id)};
    }

    Outcome<BookingView> book(const Actor& a, SlotId s, PatientKey p) {
        BookRequest r;
        r.slot = s;
        r.patient = p;
        return engine->book(a, r);
    }
    Outcome<MoveResult> rebook(const Actor& a, BookingId b, SlotId s, PatientKey p) {
        return engine->rebook(a, RebookRequest{b, s, p});
    }
    bool listed(const Outcome<std::vector<SlotView>>& found, SlotId s) const {
        for (const auto& v : found.value) {
            if (v.id == s) return true;
        }
        return false;
    }
    Outcome<std::vector<SlotView>> find(const Actor& a, const char* unit_id,
                                        std::optional<Instant> to = std::nullopt) {
        SlotQuery q;
        q.unit = unit(unit_id);
        q.to = to;
        q.limit = 1000;
        return engine->find(a, q);
    }
    std::size_t drain_events() {
        std::vector<Event> out(4096);
        return engine->events().drain(out);
    }

    std::unique_ptr<FixedClock> clock;
    std::unique_ptr<Engine> engine;
};

// The rule region with one engine limit changed, e.g. RegionWith<&EngineLimits::holds_max, 4>.
template <std::size_t EngineLimits::*Field, std::size_t Value>
class RegionWith : public RuleRegion {
  protected:
    EngineLimits limits() const override {
        EngineLimits l;
        l.*Field = Value;
        return l;
    }
};

}  // namespace slotmatch::testing
