// Local calendar of the region (Europe/Stockholm, daylight saving included), through the date
// library's tz database. Everything the rules say in "days" is a local calendar day (R10, R11).
#pragma once

#include <cstdint>
#include <optional>
#include <slotmatch/types.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace date {
class time_zone;
}

namespace slotmatch {

using LocalDay = std::int32_t;  // local calendar days since 1970-01-01

class Calendar {
  public:
    // Throws std::runtime_error for an unknown zone (the config loader has already checked it).
    explicit Calendar(const std::string& zone_name);

    // Precomputes the local midnights of days [first, last], so that local_day() and
    // local_midnight() on them are a binary search in a small array instead of a time-zone
    // look-up (the booking window is computed on every booking). Call before sharing.
    void cache_days(LocalDay first, LocalDay last);

    LocalDay local_day(Instant t) const;
    // The instant a local wall-clock time happens; a time that does not exist (the spring-forward
    // hour) maps to the instant after the gap, an ambiguous one (autumn) to its first occurrence.
    Instant at_local(LocalDay day, int minute_of_day) const;
    // The same, but nothing for a wall-clock time that does not exist that day (the hour the
    // clocks skip in spring): a schedule has no slot there.
    std::optional<Instant> existing_local(LocalDay day, int minute_of_day) const;
    Instant local_midnight(LocalDay day) const;
    // The day's local midnight when the whole day keeps one offset from UTC (the clocks do not
    // change within it): each of its wall-clock times is then that midnight plus its minutes,
    // as at_local gives it (a zone whose clocks go back at the day's end shows its last hour
    // twice; at_local takes the first), so expanding a schedule needs one look-up a day, not
    // two a slot. Nothing on a day the clocks change, or one without a midnight.
    std::optional<Instant> steady_midnight(LocalDay day) const;
    // ISO weekday index, Monday = 0.
    static int weekday(LocalDay day);

    // "2026-03-02T08:00:00+01:00"
    std::string format(Instant t) const;
    // Accepts "2026-03-02T08:00:00+01:00", "...Z", or a local "2026-03-02T08:00[:00]".
    std::optional<Instant> parse_time(std::string_view text) const;
    // "2026-03-02" as a local day.
    static std::optional<LocalDay> parse_day(std::string_view text);
    static std::string format_day(LocalDay day);

  private:
    const date::time_zone* zone_;
    LocalDay cached_first_ = 0;
    std::vector<std::int64_t> midnights_;  // midnights_[i]: day cached_first_ + i
};

}  // namespace slotmatch
