// Patients for the benchmarks: personnummer that the engine and the protocol accept.
#pragma once

#include <cstdio>
#include <string>

namespace slotmatch::bench {

// "YYYYMMDDNNNC": born on the given day (a real one: the engine checks it), serial NNN, and C
// the Luhn check digit over the last ten digits (engine/src/patient.cpp).
inline std::string personnummer(int year, unsigned month, unsigned day, unsigned serial) {
    char text[32];
    std::snprintf(text, sizeof text, "%04d%02u%02u%03u", year, month, day, serial % 1000);
    int sum = 0;
    for (std::size_t k = 2; k < 11; ++k) {
        int v = text[k] - '0';
        if (k % 2 == 0 && (v *= 2) > 9) v -= 9;
        sum += v;
    }
    text[11] = static_cast<char>('0' + (10 - sum % 10) % 10);
    text[12] = '\0';
    return text;
}

}  // namespace slotmatch::bench
