#include <date/date.h>

#include <cstdio>
#include <slotmatch/patient.hpp>

namespace slotmatch {
namespace {

// Luhn over the ten digits YYMMDDNNNC: doubling every other digit from the left.
bool luhn_ok(std::string_view ten) {
    int sum = 0;
    for (std::size_t i = 0; i < ten.size(); ++i) {
        int d = ten[i] - '0';
        if (i % 2 == 0) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

int two_digits(std::string_view s, std::size_t at) {
    return (s[at] - '0') * 10 + (s[at + 1] - '0');
}

}  // namespace

PatientIdCheck parse_patient_id(std::string_view text) {
    std::string digits;
    digits.reserve(12);
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '-' && i == 8) continue;  // 19900101-1234
        if (c < '0' || c > '9') return {std::nullopt, "must be 12 digits YYYYMMDDNNNC"};
        digits.push_back(c);
    }
    if (digits.size() != 12) return {std::nullopt, "must be 12 digits YYYYMMDDNNNC"};
    int year = two_digits(digits, 0) * 100 + two_digits(digits, 2);
    int month = two_digits(digits, 4);
    int day = two_digits(digits, 6);
    if (day > 60) day -= 60;  // samordningsnummer
    date::year_month_day ymd{date::year{year}, date::month{static_cast<unsigned>(month)},
                             date::day{static_cast<unsigned>(day)}};
    if (year < 1850 || !ymd.ok()) return {std::nullopt, "date part is not a real date"};
    if (!luhn_ok(std::string_view(digits).substr(2))) {
        return {std::nullopt, "check digit does not match (Luhn)"};
    }
    return {PatientKey{std::stoull(digits)}, {}};
}

std::string format_patient_id(PatientKey key) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%012llu", static_cast<unsigned long long>(key.value));
    return buf;
}

}  // namespace slotmatch
