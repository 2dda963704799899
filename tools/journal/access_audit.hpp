// The access audit (Patientdatalagen): every event that touched a patient's bookings, hold or
// waitlist (booked, rebooked, cancelled, held, waitlist_added, returned_to_waitlist,
// waitlist_removed) and every
// `accessed` event (a read, or a refusal) is filed under that patient in the batch's
// transaction. Entries are kept by (patient bucket, seq): a batch touches at most
// audit_buckets places of the tree, and a patient's audit reads one bucket.
#pragma once

#include <cstdint>
#include <slotmatch/events.hpp>
#include <string_view>

namespace slotmatch::journal {

inline constexpr std::uint64_t audit_buckets = 64;
inline constexpr std::size_t audit_rows_max = 10'000;  // entries in one reply
// The events of one patient a booking's details are looked for among (a lifetime's worth).
inline constexpr std::size_t patient_events_max = 1'000'000;

// Whose bookings an event touched (none: 0).
PatientKey audit_patient(const Event& e);
// The audit's action word for an event: "book", "cancel", ... or an accessed event's action.
std::string_view audit_action(const Event& e);

}  // namespace slotmatch::journal
