// Swedish patient identity numbers: personnummer and samordningsnummer, 12 digits YYYYMMDDNNNC.
// The date part must be a real date (a samordningsnummer adds 60 to the day), and C is the Luhn
// check digit over the last ten digits YYMMDDNNN.
#pragma once

#include <optional>
#include <slotmatch/types.hpp>
#include <string>
#include <string_view>

namespace slotmatch {

struct PatientIdCheck {
    std::optional<PatientKey> key;
    std::string why;  // set when key is empty: what is wrong, for an INVALID_REQUEST message
};

// Accepts "199001011234" and the common "19900101-1234" form.
PatientIdCheck parse_patient_id(std::string_view text);
std::string format_patient_id(PatientKey key);  // always 12 digits
// The same check on a key already in numeric form (no text, no allocation).
bool valid_patient_key(PatientKey key);

}  // namespace slotmatch
