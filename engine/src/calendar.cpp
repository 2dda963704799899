#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <slotmatch/calendar.hpp>
#include <stdexcept>

namespace slotmatch {
namespace {

using std::chrono::seconds;
using sys_s = std::chrono::time_point<std::chrono::system_clock, seconds>;

bool parse_int(std::string_view text, int& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size();
}

// "YYYY-MM-DD" → civil date, checked for existence (2026-02-30 is refused).
std::optional<date::year_month_day> parse_ymd(std::string_view text) {
    int y = 0, m = 0, d = 0;
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    if (!parse_int(text.substr(0, 4), y) || !parse_int(text.substr(5, 2), m) ||
        !parse_int(text.substr(8, 2), d)) {
        return std::nullopt;
    }
    date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(m)},
                             date::day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) return std::nullopt;
    return ymd;
}

// "HH:MM" or "HH:MM:SS" → seconds after midnight.
std::optional<int> parse_clock_time(std::string_view text) {
    int h = 0, m = 0, s = 0;
    if (text.size() != 5 && text.size() != 8) return std::nullopt;
    if (text[2] != ':' || !parse_int(text.substr(0, 2), h) || !parse_int(text.substr(3, 2), m)) {
        return std::nullopt;
    }
    if (text.size() == 8 && (text[5] != ':' || !parse_int(text.substr(6, 2), s))) {
        return std::nullopt;
    }
    if (h > 23 || m > 59 || s > 59) return std::nullopt;
    return h * 3600 + m * 60 + s;
}

// "+01:00", "-05:30", "Z" → offset seconds east of UTC.
std::optional<int> parse_offset(std::string_view text) {
    if (text == "Z") return 0;
    int h = 0, m = 0;
    if (text.size() != 6 || (text[0] != '+' && text[0] != '-') || text[3] != ':') {
        return std::nullopt;
    }
    if (!parse_int(text.substr(1, 2), h) || !parse_int(text.substr(4, 2), m) || h > 14 || m > 59) {
        return std::nullopt;
    }
    int offset = h * 3600 + m * 60;
    return text[0] == '-' ? -offset : offset;
}

}  // namespace

Calendar::Calendar(const std::string& zone_name) : zone_(date::locate_zone(zone_name)) {}

void Calendar::cache_days(LocalDay first, LocalDay last) {
    cached_first_ = first;
    midnights_.clear();
    for (LocalDay d = first; d <= last + 1; ++d) midnights_.push_back(at_local(d, 0).value);
}

Instant Calendar::local_midnight(LocalDay day) const {
    if (!midnights_.empty() && day >= cached_first_ &&
        day - cached_first_ < static_cast<LocalDay>(midnights_.size())) {
        return Instant{midnights_[static_cast<std::size_t>(day - cached_first_)]};
    }
    return at_local(day, 0);
}

LocalDay Calendar::local_day(Instant t) const {
    if (!midnights_.empty() && t.value >= midnights_.front() && t.value < midnights_.back()) {
        auto after = std::upper_bound(midnights_.begin(), midnights_.end(), t.value);
        return cached_first_ + static_cast<LocalDay>(after - midnights_.begin() - 1);
    }
    auto local = zone_->to_local(sys_s{seconds{t.value}});
    return static_cast<LocalDay>(date::floor<date::days>(local).time_since_epoch().count());
}

Instant Calendar::at_local(LocalDay day, int minute_of_day) const {
    auto local = date::local_days{date::days{day}} + std::chrono::minutes{minute_of_day};
    auto info = zone_->get_info(local);
    sys_s utc{};
    if (info.result == date::local_info::nonexistent) {
        utc = sys_s{info.second.begin};  // the first instant after the gap
    } else {
        // unique or ambiguous: the first occurrence uses the first offset
        utc = sys_s{local.time_since_epoch() - info.first.offset};
    }
    return Instant{utc.time_since_epoch().count()};
}

std::optional<Instant> Calendar::existing_local(LocalDay day, int minute_of_day) const {
    auto local = date::local_days{date::days{day}} + std::chrono::minutes{minute_of_day};
    if (zone_->get_info(local).result == date::local_info::nonexistent) return std::nullopt;
    return at_local(day, minute_of_day);
}

std::optional<Instant> Calendar::steady_midnight(LocalDay day) const {
    const auto local = date::local_days{date::days{day}};
    const auto info = zone_->get_info(local);
    if (info.result != date::local_info::unique) return std::nullopt;
    const sys_s midnight{local.time_since_epoch() - info.first.offset};
    // The offset in force at midnight holds until the next midnight at least.
    if (info.first.end < midnight + date::days{1}) return std::nullopt;
    return Instant{midnight.time_since_epoch().count()};
}

int Calendar::weekday(LocalDay day) {
    return static_cast<int>(date::weekday{date::sys_days{date::days{day}}}.iso_encoding()) - 1;
}

std::string Calendar::format(Instant t) const {
    sys_s utc{seconds{t.value}};
    auto info = zone_->get_info(utc);
    auto local = utc.time_since_epoch() + info.offset;
    auto days = date::floor<date::days>(local);
    date::year_month_day ymd{date::sys_days{days}};
    date::hh_mm_ss<seconds> tod{local - days};
    const int off = static_cast<int>(info.offset.count());
    const int off_abs = off < 0 ? -off : off;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d%c%02d:%02d",
                  static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()), static_cast<int>(tod.hours().count()),
                  static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()),
                  off < 0 ? '-' : '+', off_abs / 3600, (off_abs % 3600) / 60);
    return buf;
}

std::optional<Instant> Calendar::parse_time(std::string_view text) const {
    if (text.size() < 16 || text[10] != 'T') return std::nullopt;
    auto ymd = parse_ymd(text.substr(0, 10));
    if (!ymd) return std::nullopt;
    auto rest = text.substr(11);
    std::size_t clock_len = rest.size() >= 8 && rest[5] == ':' ? 8 : 5;
    auto tod = parse_clock_time(rest.substr(0, clock_len));
    if (!tod) return std::nullopt;
    auto zone_part = rest.substr(clock_len);
    auto day = static_cast<LocalDay>(date::sys_days{*ymd}.time_since_epoch().count());
    if (zone_part.empty()) {
        Instant midnight_local = at_local(day, *tod / 60);
        return Instant{midnight_local.value + *tod % 60};
    }
    auto offset = parse_offset(zone_part);
    if (!offset) return std::nullopt;
    return Instant{static_cast<std::int64_t>(day) * seconds_per_day + *tod - *offset};
}

std::optional<LocalDay> Calendar::parse_day(std::string_view text) {
    auto ymd = parse_ymd(text);
    if (!ymd) return std::nullopt;
    return static_cast<LocalDay>(date::sys_days{*ymd}.time_since_epoch().count());
}

std::string Calendar::format_day(LocalDay day) {
    date::year_month_day ymd{date::sys_days{date::days{day}}};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
    return buf;
}

}  // namespace slotmatch
