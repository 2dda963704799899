// The web booking log (R19-R23): one row per booking, rebooking and cancellation made on the
// web channel, written in the same transaction as the event it comes from, and purged after
// log_retention_s (R20). A row is stored as its key (unit, changed_at, seq); its values come
// from the event (web_log_row), so a purged row is gone from the log while the event stays. The
// events themselves are never deleted (they are the recovery source); only log rows are.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <slotmatch/events.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace slotmatch::journal {

class EventStore;

inline constexpr std::int64_t log_retention_s = 31 * seconds_per_day;  // R20
inline constexpr std::size_t log_rows_max = 10'000;                    // rows in one reply
// SQLite keeps the log's entries in this many time-ordered runs, by unit (sqlite_store.cpp): a
// batch writes at the ends of at most this many, a unit's query reads its run of the window.
inline constexpr std::uint32_t log_buckets = 64;

enum class LogStatus : std::uint8_t { booked = 0, rebooked = 1, cancelled = 2 };
std::string_view to_string(LogStatus s);  // "Booked", "Rebooked", "Cancelled"

// A booking's values one side of a change (R21). Catalog indices, as in the events.
struct LogValues {
    SlotId slot;
    ResourceIdx resource;
    TypeIdx type;
    Instant start;
    BookingId booking;
    std::string phone;   // R18, where set
    std::string reason;  // R18, where set
    friend bool operator==(const LogValues&, const LogValues&) = default;
};

struct LogRow {
    std::uint64_t seq = 0;  // the event's
    UnitIdx unit;
    Instant changed_at;
    LogStatus status = LogStatus::booked;
    std::string changed_by;  // R17
    PatientKey patient;
    std::optional<LogValues> before;  // none for a new booking
    std::optional<LogValues> after;   // none for a cancellation
    bool billable = false;            // R23
};

// Whether an event makes a log row: web-channel booked, rebooked and cancelled events only.
bool makes_log_row(const Event& e);
// The log row an event makes (nothing for the others). The store keeps the row's key (unit,
// changed_at, seq) and reads its values from the event, so one function decides both.
std::optional<LogRow> web_log_row(const Event& e);
// Adds the log row of an event the web booking log names to `out`; false, saying why, when the
// event is no web change (the log and the events disagree).
bool add_log_row(const Event& e, std::vector<LogRow>& out, std::string& why);

// When a journal purges the web booking log (R20): at most every purge_check_ms of wall time
// it looks at its clock, and purges when the cut-off (now - log_retention_s) has moved by
// purge_step_s since the last purge, or backwards past it; so a real clock purges about once a
// minute and a fixed clock moved ahead (`slotmatch admin clock --set`) within a second.
class LogPurgeSchedule {
  public:
    static constexpr int purge_check_ms = 500;
    static constexpr std::int64_t purge_step_s = 60;
    // The cut-off to purge at now, or nothing when no purge is due.
    std::optional<Instant> due(Instant now, std::chrono::steady_clock::time_point wall);
    void failed() { last_cutoff_.reset(); }  // the purge did not happen: due again next check

  private:
    std::chrono::steady_clock::time_point checked_{};
    std::optional<Instant> last_cutoff_;
};
// Runs a purge if one is due; prints a failure on stderr (prefixed with `who`).
void purge_if_due(EventStore& store, LogPurgeSchedule& schedule, Instant now, const char* who);

}  // namespace slotmatch::journal
