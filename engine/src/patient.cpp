#include <date/date.h>

#include <array>
#include <cstdio>
#include <slotmatch/patient.hpp>

namespace slotmatch {
namespace {

using Digits = std::array<int, 12>;  // YYYYMMDDNNNC

// Why the twelve digits are not a personnummer or samordningsnummer, or nullptr if they are:
// the date part must be a real date (a samordningsnummer adds 60 to the day), and the check
// digit is Luhn over the last ten digits, doubling every other digit from the left.
const char* check_digits(const Digits& d) {
    const int year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3];
    const int month = d[4] * 10 + d[5];
    int day = d[6] * 10 + d[7];
    if (day > 60) day -= 60;
    const date::year_month_day ymd{date::year{year}, date::month{static_cast<unsigned>(month)},
                                   date::day{static_cast<unsigned>(day)}};
    if (year < 1850 || !ymd.ok()) return "date part is not a real date";
    int sum = 0;
    for (std::size_t i = 2; i < 12; ++i) {
        int v = d[i];
        if (i % 2 == 0 && (v *= 2) > 9) v -= 9;
        sum += v;
    }
    return sum % 10 == 0 ? nullptr : "check digit does not match (Luhn)";
}

}  // namespace

PatientIdCheck parse_patient_id(std::string_view text) {
    Digits d{};
    std::size_t n = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        // 19900101-1234; "+" is how Skatteverket writes it for people 100 or older (with the
        // century given, the same number).
        if ((c == '-' || c == '+') && i == 8) continue;
        if (c < '0' || c > '9' || n == d.size())
            return {std::nullopt, "must be 12 digits YYYYMMDDNNNC"};
        d[n++] = c - '0';
    }
    if (n != d.size()) return {std::nullopt, "must be 12 digits YYYYMMDDNNNC"};
    if (const char* why = check_digits(d)) return {std::nullopt, why};
    std::uint64_t key = 0;
    for (int v : d) key = key * 10 + static_cast<std::uint64_t>(v);
    return {PatientKey{key}, {}};
}

bool valid_patient_key(PatientKey key) {
    if (key.value == 0 || key.value >= patient_key_limit) return false;
    Digits d{};
    std::uint64_t rest = key.value;
    for (std::size_t i = d.size(); i-- > 0; rest /= 10) d[i] = static_cast<int>(rest % 10);
    return check_digits(d) == nullptr;
}

std::string format_patient_id(PatientKey key) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%012llu", static_cast<unsigned long long>(key.value));
    return buf;
}

}  // namespace slotmatch
