// The fuzz target's world, shared by the target (fuzz_request.cpp) and the seed writer
// (write_seeds.cpp): a small region (two units, the flag combinations that decide permissions,
// about 150 slots over two weeks, so that checking every slot after each input stays cheap), a
// fixed clock, and one registry entry per kind of key. The first byte of an input chooses the
// key a message arrives under; the rest is the message.
#pragma once

#include <cstdint>
#include <string>

namespace slotmatch::fuzz {

inline const char* const region_yaml = R"(
timezone: Europe/Stockholm
hold_ttl_s: 300
appointment_types:
  - {id: ombud, name: Ombud bedömning, web_name: Bedömning via 1177, web_bookable: true,
     web_cancellable: true, web_rebookable: true, duration_min: 15}
providers:
  - id: p1
    name: Region Fuzz
    units:
      - id: u1
        name: Vårdcentralen Ett
        web: {booking_active: true, cancel_rebook_active: true, patient_comment: true}
        resources:
          - {id: r1, type: person, name: Anna Berg}
          - {id: r2, type: position, name: Distriktssköterska}
        appointment_types:
          - {id: all3, name: Nybesök, web_name: Bedömning av nya besvär, web_bookable: true,
             web_cancellable: true, web_rebookable: true, duration_min: 20}
          - {id: norecancel, name: Återbesök, web_name: Återbesök, web_bookable: true,
             web_cancellable: false, web_rebookable: true, window_days: 5, duration_min: 20}
          - {id: hidden, name: Samtal kurator, hide_from_patient: true, duration_min: 30}
        schedules:
          - {resource: r1, appointment_type: all3, weekdays: [mon, tue, wed, thu, fri],
             from: "08:00", to: "10:00", valid_from: 2026-03-02, valid_to: 2026-03-13}
          - {resource: r1, appointment_type: ombud, weekdays: [mon, tue, wed, thu, fri],
             from: "11:00", to: "12:00", valid_from: 2026-03-02, valid_to: 2026-03-13}
          - {resource: r2, appointment_type: hidden, weekdays: [mon, wed, fri],
             from: "09:00", to: "10:00", valid_from: 2026-03-02, valid_to: 2026-03-13}
          - {resource: r2, appointment_type: norecancel, weekdays: [tue, thu],
             from: "13:00", to: "14:00", valid_from: 2026-03-02, valid_to: 2026-03-13}
      - id: u2
        name: Vårdcentralen Två
        web: {booking_active: false, cancel_rebook_active: true}
        resources:
          - {id: r3, type: person, name: Per Lund}
        appointment_types:
          - {id: all3b, name: Nybesök, web_name: Bedömning av nya besvär, web_bookable: true,
             web_cancellable: true, web_rebookable: true, duration_min: 20}
        schedules:
          - {resource: r3, appointment_type: all3b, weekdays: [mon, tue, wed, thu, fri],
             from: "08:00", to: "09:00", valid_from: 2026-03-02, valid_to: 2026-03-13}
)";

inline constexpr const char* clock_text = "2026-03-02T07:00:00+01:00";

// What the first byte of an input selects (modulo key_choices).
enum class KeyChoice : std::uint8_t { none, web, proxy, staff, region_admin, engine };
inline constexpr std::uint8_t key_choices = 6;

// clients.yaml for the choices (the keys are the target's own, made at start).
inline std::string clients_yaml(const std::string keys[key_choices]) {
    return "clients:\n"
           "  - {key: \"" +
           keys[1] +
           "\", channel: web, actor: 1177-gateway, name: 1177}\n"
           "  - {key: \"" +
           keys[2] +
           "\", channel: proxy, actor: 1177-telefon, name: Telefon}\n"
           "  - {key: \"" +
           keys[3] +
           "\", channel: staff, actor: s1, name: Sara, units: [u1]}\n"
           "  - {key: \"" +
           keys[4] +
           "\", channel: staff, actor: it1, name: IT, units: [u1, u2],"
           " roles: [region-admin]}\n"
           "  - {key: \"" +
           keys[5] + "\", channel: engine, actor: slotmatchd-1}\n";
}

}  // namespace slotmatch::fuzz
