// Region config loader: YAML (ARCHITECTURE.md, "Region config") -> Catalog.
//
// The loader never stops at the first problem: an administrator fixing a region wants the whole
// list at once. Each diagnostic carries the YAML path ("providers[0].units[2].resources[1].name")
// and, where yaml-cpp knows it, the line. Errors withhold the catalog; lint warnings (R6, R7, R8,
// R12) do not. A broken item is still counted (and its id still registered) so that one mistake
// gives one error, not a cascade of "unknown resource" errors further down.
#include <date/date.h>
#include <date/tz.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <initializer_list>
#include <slotmatch/assert.hpp>
#include <slotmatch/config.hpp>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace slotmatch {

namespace {

constexpr int hold_ttl_s_max = 3600;          // a hold longer than an hour keeps slots from others
constexpr std::size_t typo_distance_max = 2;  // "did you mean" only for near misses

struct Range {
    int lo;
    int hi;
};
constexpr Range duration_min_range{1, slot_duration_min_max};
constexpr Range window_days_range{1, window_days_max};
constexpr Range hold_ttl_s_range{1, hold_ttl_s_max};

enum class Need { required, optional };
using Keys = std::initializer_list<std::string_view>;

constexpr std::array<std::string_view, 7> weekday_names{"mon", "tue", "wed", "thu",
                                                        "fri", "sat", "sun"};
constexpr std::array<std::string_view, 3> web_flag_keys{"web_bookable", "web_cancellable",
                                                        "web_rebookable"};

// ---- paths, marks and small text helpers ----------------------------------------------------

std::string field(const std::string& path, std::string_view key) {
    if (path.empty()) {
        return std::string(key);
    }
    return path + "." + std::string(key);
}

std::string item(const std::string& path, std::size_t index) {
    return path + "[" + std::to_string(index) + "]";
}

// A missing key has no node and so no mark; the caller then points at the enclosing mapping.
YAML::Mark mark_of(const YAML::Node& node) {
    return node.IsDefined() ? node.Mark() : YAML::Mark::null_mark();
}

std::string quoted(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

std::string kind_name(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Scalar:
            return "a value";
        default:
            return "nothing";
    }
}

std::string joined(Keys keys) {
    std::string out;
    for (const std::string_view key : keys) {
        if (!out.empty()) {
            out += ", ";
        }
        out += key;
    }
    return out;
}

// Levenshtein distance, for "did you mean" on unknown keys (keys are short: cost is negligible).
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            const std::size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
            row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string unknown_key_message(std::string_view key, Keys allowed) {
    std::string message = "unknown key " + quoted(key);
    for (const std::string_view candidate : allowed) {
        if (edit_distance(key, candidate) <= typo_distance_max) {
            message += "; did you mean " + quoted(candidate) + "?";
            return message;
        }
    }
    return message + "; expected one of: " + joined(allowed);
}

bool is_blank(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c == ' ' || c == '\t'; });
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

int digits_value(std::string_view s) {
    int value = 0;
    for (const char c : s) {
        value = value * 10 + (c - '0');
    }
    return value;
}

// "HH:MM", 00:00..23:59, as minutes after local midnight.
std::optional<int> parse_hhmm(std::string_view text) {
    if (text.size() != 5 || text[2] != ':') {
        return std::nullopt;
    }
    for (const std::size_t i : {0u, 1u, 3u, 4u}) {
        if (!is_digit(text[i])) {
            return std::nullopt;
        }
    }
    const int hours = digits_value(text.substr(0, 2));
    const int minutes = digits_value(text.substr(3, 2));
    if (hours >= 24 || minutes >= 60) {
        return std::nullopt;
    }
    return hours * 60 + minutes;
}

// "YYYY-MM-DD", a real calendar date, as days since 1970-01-01.
std::optional<std::int32_t> parse_date(std::string_view text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
        return std::nullopt;
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (i != 4 && i != 7 && !is_digit(text[i])) {
            return std::nullopt;
        }
    }
    const date::year_month_day ymd{
        date::year{digits_value(text.substr(0, 4))},
        date::month{static_cast<unsigned>(digits_value(text.substr(5, 2)))},
        date::day{static_cast<unsigned>(digits_value(text.substr(8, 2)))}};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    return static_cast<std::int32_t>(date::sys_days{ymd}.time_since_epoch().count());
}

// Monday = bit 0 (Schedule::weekdays).
std::optional<unsigned> weekday_bit(const YAML::Node& day) {
    if (!day.IsScalar()) {
        return std::nullopt;
    }
    const auto it = std::find(weekday_names.begin(), weekday_names.end(), day.Scalar());
    if (it == weekday_names.end()) {
        return std::nullopt;
    }
    return static_cast<unsigned>(it - weekday_names.begin());
}

std::string hhmm(int minutes) {
    std::string out = "00:00";
    out[0] = static_cast<char>('0' + minutes / 600);
    out[1] = static_cast<char>('0' + minutes / 60 % 10);
    out[3] = static_cast<char>('0' + minutes % 60 / 10);
    out[4] = static_cast<char>('0' + minutes % 10);
    return out;
}

std::optional<ResourceKind> parse_resource_kind(std::string_view text) {
    if (text == "position") {
        return ResourceKind::position;
    }
    if (text == "person") {
        return ResourceKind::person;
    }
    if (text == "room") {
        return ResourceKind::room;
    }
    if (text == "equipment") {
        return ResourceKind::equipment;
    }
    return std::nullopt;
}

// ---- R12 lint on position names -------------------------------------------------------------

// ASCII only: the UTF-8 bytes of å, ä, ö are >= 0x80 and pass through unchanged.
std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

// Letters are ASCII letters and any UTF-8 byte of a non-ASCII character (å, ä, ö, é ...).
bool is_letter(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || byte >= 0x80;
}

struct Word {
    std::string_view text;
    bool hyphen_follows;  // "AT-läkare": the word is the prefix of a compound
};

std::vector<Word> words_of(std::string_view text) {
    std::vector<Word> words;
    std::size_t i = 0;
    while (i < text.size()) {
        if (!is_letter(text[i])) {
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < text.size() && is_letter(text[end])) {
            ++end;
        }
        words.push_back({text.substr(i, end - i), end < text.size() && text[end] == '-'});
        i = end;
    }
    return words;
}

// "DSK", "SSK", "USK": 2-5 capital ASCII letters standing alone. The prefix of a hyphenated
// compound ("AT-läkare", "ST-läkare") is the established written-out title, not an abbreviation.
std::optional<std::string_view> abbreviation_in(std::string_view name) {
    for (const Word& word : words_of(name)) {
        const bool capitals = std::all_of(word.text.begin(), word.text.end(),
                                          [](char c) { return c >= 'A' && c <= 'Z'; });
        if (capitals && word.text.size() >= 2 && word.text.size() <= 5 && !word.hyphen_follows) {
            return word.text;
        }
    }
    return std::nullopt;
}

// "Rum 3", "Behandlingsrum 2", "Operationssal", "Room 4": Swedish compounds put the room last.
bool names_a_room(std::string_view name) {
    const std::string lower = ascii_lower(name);
    for (const Word& word : words_of(lower)) {
        for (const std::string_view suffix : {"rum", "sal", "room"}) {
            if (word.text.ends_with(suffix)) {
                return true;
            }
        }
    }
    return false;
}

struct PositionNameProblem {
    std::string message;
};

std::vector<PositionNameProblem> position_name_problems(std::string_view name) {
    std::vector<PositionNameProblem> problems;
    const std::string shown = quoted(name);
    if (const auto abbreviation = abbreviation_in(name)) {
        const std::string what = *abbreviation == name
                                     ? " is an abbreviation"
                                     : " contains the abbreviation " + quoted(*abbreviation);
        problems.push_back({"position name " + shown + what +
                            "; citizens see this name: write the role out, e.g. "
                            "Distriktssköterska"});
    }
    if (names_a_room(name)) {
        problems.push_back({"position name " + shown +
                            " is a room name; citizens see this name: write the role, e.g. "
                            "Distriktssköterska (a room is a resource of type room)"});
    }
    const std::string lower = ascii_lower(name);
    if (lower.find("stafettläkare") != std::string::npos) {
        problems.push_back({"position name " + shown +
                            " names a locum (stafettläkare); write the role the citizen meets, "
                            "e.g. Läkare"});
    }
    if (lower.find("bemanningspersonal") != std::string::npos) {
        problems.push_back({"position name " + shown +
                            " names agency staff (bemanningspersonal); write the role the "
                            "citizen meets, e.g. Sjuksköterska"});
    }
    return problems;
}

// ---- the loader -----------------------------------------------------------------------------

// Schedules refer to resources and types by id, possibly declared further down the file, so
// they are resolved after everything else is in the catalog.
struct PendingSchedule {
    YAML::Node node;
    std::string path;
    UnitIdx unit;
};

// First path an id was seen at, per kind, for "duplicate id" messages that say where.
using FirstSeen = std::unordered_map<std::string, std::string>;

class Loader {
  public:
    LoadResult load(const YAML::Node& root);

  private:
    void report(Diagnostic::Severity severity, std::string path, const YAML::Mark& at,
                std::string rule, std::string message);
    void error(std::string path, const YAML::Mark& at, std::string message);
    void warn(std::string path, const YAML::Mark& at, std::string rule, std::string message);

    bool expect_map(const YAML::Node& node, const std::string& path);
    void check_keys(const YAML::Node& map, const std::string& path, Keys allowed);
    std::optional<YAML::Node> scalar(const YAML::Node& map, const std::string& path,
                                     std::string_view key, Need need);
    bool read_text(const YAML::Node& map, const std::string& path, std::string_view key, Need need,
                   std::string& out);
    bool read_flag(const YAML::Node& map, const std::string& path, std::string_view key, bool& out);
    bool read_int(const YAML::Node& map, const std::string& path, std::string_view key, Range range,
                  int& out);
    template <typename F>
    void for_each_item(const YAML::Node& map, const std::string& path, std::string_view key,
                       Need need, F&& load_item);
    bool claim_id(FirstSeen& seen, std::string_view kind, const std::string& id,
                  const std::string& path, const YAML::Mark& at);

    void load_region(const YAML::Node& root);
    void load_timezone(const YAML::Node& root);
    void load_provider(const YAML::Node& node, const std::string& path);
    void load_unit(const YAML::Node& node, const std::string& path, ProviderIdx provider);
    void load_web(const YAML::Node& unit_node, const std::string& unit_path, WebSettings& web);
    void load_resource(const YAML::Node& node, const std::string& path, UnitIdx unit);
    void load_type(const YAML::Node& node, const std::string& path, std::optional<UnitIdx> unit);
    void read_type_fields(const YAML::Node& node, const std::string& path, AppointmentType& type);
    void lint_type(const YAML::Node& node, const std::string& path, AppointmentType& type);
    void load_schedule(const PendingSchedule& pending);
    void check_overlap(const Schedule& schedule, const std::string& path, const YAML::Mark& at);
    void resolve_resource(const YAML::Node& node, const std::string& path, UnitIdx unit,
                          Schedule& schedule);
    const AppointmentType* resolve_type(const YAML::Node& node, const std::string& path,
                                        UnitIdx unit, Schedule& schedule);
    void read_weekdays(const YAML::Node& node, const std::string& path, Schedule& schedule);
    void read_block(const YAML::Node& node, const std::string& path, const AppointmentType* type,
                    Schedule& schedule);
    void read_validity(const YAML::Node& node, const std::string& path, Schedule& schedule);

    Catalog catalog_;
    std::vector<Diagnostic> diagnostics_;
    std::vector<PendingSchedule> pending_schedules_;
    // The schedules that loaded without error (index, path) by resource, in file order, for the
    // overlap check: only a resource's own can overlap (a national region's 54,423 schedules
    // took a second to check against each other).
    std::unordered_map<std::uint32_t, std::vector<std::pair<std::size_t, std::string>>>
        clean_schedules_;
    FirstSeen provider_ids_, unit_ids_, resource_ids_, type_ids_;
};

void Loader::report(Diagnostic::Severity severity, std::string path, const YAML::Mark& at,
                    std::string rule, std::string message) {
    if (!at.is_null()) {
        message = "line " + std::to_string(at.line + 1) + ": " + message;
    }
    diagnostics_.push_back({severity, std::move(path), std::move(rule), std::move(message)});
}

void Loader::error(std::string path, const YAML::Mark& at, std::string message) {
    report(Diagnostic::Severity::error, std::move(path), at, "", std::move(message));
}

void Loader::warn(std::string path, const YAML::Mark& at, std::string rule, std::string message) {
    report(Diagnostic::Severity::warning, std::move(path), at, std::move(rule), std::move(message));
}

bool Loader::expect_map(const YAML::Node& node, const std::string& path) {
    if (node.IsMap()) {
        return true;
    }
    error(path, mark_of(node), "expected a mapping (key: value lines), found " + kind_name(node));
    return false;
}

// Typo protection: a misspelt optional key would otherwise silently fall back to its default.
void Loader::check_keys(const YAML::Node& map, const std::string& path, Keys allowed) {
    std::vector<std::string> seen;
    for (const auto& entry : map) {
        const YAML::Node& key_node = entry.first;
        if (!key_node.IsScalar()) {
            error(path, mark_of(key_node),
                  "a key must be a plain name, found " + kind_name(key_node));
            continue;
        }
        const std::string key = key_node.Scalar();
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
            error(field(path, key), key_node.Mark(), "key " + quoted(key) + " appears twice");
        } else if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            error(field(path, key), key_node.Mark(), unknown_key_message(key, allowed));
        }
        seen.push_back(key);
    }
}

// The scalar at map[key]; an undefined node when it is absent; nullopt when it is bad or
// required and missing (then already reported). An empty value ("key:") counts as absent, so
// "window_days:" means "N empty" (R11).
std::optional<YAML::Node> Loader::scalar(const YAML::Node& map, const std::string& path,
                                         std::string_view key, Need need) {
    const YAML::Node node = map[std::string(key)];
    const bool absent = !node.IsDefined() || node.IsNull();
    if (absent && need == Need::required) {
        const YAML::Mark at = node.IsDefined() ? node.Mark() : map.Mark();
        error(field(path, key), at, "missing required field " + quoted(key));
        return std::nullopt;
    }
    if (absent) {
        return YAML::Node(YAML::NodeType::Undefined);
    }
    if (!node.IsScalar()) {
        error(field(path, key), node.Mark(), "expected a single value, found " + kind_name(node));
        return std::nullopt;
    }
    return node;
}

// Returns false when the field is bad or required and missing (already reported); an absent
// optional field leaves `out` at its default and returns true.
bool Loader::read_text(const YAML::Node& map, const std::string& path, std::string_view key,
                       Need need, std::string& out) {
    const std::optional<YAML::Node> node = scalar(map, path, key, need);
    if (!node) {
        return false;
    }
    if (!node->IsDefined()) {
        return true;
    }
    if (need == Need::required && is_blank(node->Scalar())) {
        error(field(path, key), node->Mark(), quoted(key) + " must not be empty");
        return false;
    }
    out = node->Scalar();
    return true;
}

bool Loader::read_flag(const YAML::Node& map, const std::string& path, std::string_view key,
                       bool& out) {
    const std::optional<YAML::Node> node = scalar(map, path, key, Need::optional);
    if (!node) {
        return false;
    }
    if (!node->IsDefined()) {
        return true;
    }
    if (!YAML::convert<bool>::decode(*node, out)) {
        error(field(path, key), node->Mark(),
              quoted(key) + " must be true or false, found " + quoted(node->Scalar()));
        return false;
    }
    return true;
}

// Every number in the config is optional with a default, so `out` keeps it when absent.
bool Loader::read_int(const YAML::Node& map, const std::string& path, std::string_view key,
                      Range range, int& out) {
    const std::optional<YAML::Node> node = scalar(map, path, key, Need::optional);
    if (!node) {
        return false;
    }
    if (!node->IsDefined()) {
        return true;
    }
    int value = 0;
    if (!YAML::convert<int>::decode(*node, value)) {
        error(field(path, key), node->Mark(),
              quoted(key) + " must be a whole number, found " + quoted(node->Scalar()));
        return false;
    }
    if (value < range.lo || value > range.hi) {
        error(field(path, key), node->Mark(),
              quoted(key) + " must be " + std::to_string(range.lo) + ".." +
                  std::to_string(range.hi) + ", found " + std::to_string(value));
        return false;
    }
    out = value;
    return true;
}

template <typename F>
void Loader::for_each_item(const YAML::Node& map, const std::string& path, std::string_view key,
                           Need need, F&& load_item) {
    const YAML::Node list = map[std::string(key)];
    const std::string list_path = field(path, key);
    if (!list.IsDefined() || list.IsNull()) {
        if (need == Need::required) {
            error(list_path, mark_of(list.IsDefined() ? list : map),
                  "missing required list " + quoted(key));
        }
        return;
    }
    if (!list.IsSequence()) {
        error(list_path, list.Mark(),
              "expected a list (\"- ...\" items), found " + kind_name(list));
        return;
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
        load_item(list[i], item(list_path, i));
    }
}

// Ids are unique per kind across the whole region, so a bare id names one thing everywhere.
bool Loader::claim_id(FirstSeen& seen, std::string_view kind, const std::string& id,
                      const std::string& path, const YAML::Mark& at) {
    const auto [it, inserted] = seen.emplace(id, path);
    if (inserted) {
        return true;
    }
    error(
        path, at,
        "duplicate " + std::string(kind) + " id " + quoted(id) + " (first at " + it->second + ")");
    return false;
}

// ---- sections -------------------------------------------------------------------------------

LoadResult Loader::load(const YAML::Node& root) {
    load_region(root);
    for (const PendingSchedule& pending : pending_schedules_) {
        load_schedule(pending);
    }

    LoadResult result;
    result.diagnostics = std::move(diagnostics_);
    if (result.error_count() == 0) {
        SM_ASSERT(catalog_.unit_by_id.size() == catalog_.units.size());
        SM_ASSERT(catalog_.resource_by_id.size() == catalog_.resources.size());
        SM_ASSERT(catalog_.type_by_id.size() == catalog_.types.size());
        result.catalog = std::move(catalog_);
    }
    return result;
}

void Loader::load_region(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) {
        error("", YAML::Mark::null_mark(), "the region config is empty");
        return;
    }
    if (!expect_map(root, "")) {
        return;
    }
    check_keys(root, "", {"timezone", "hold_ttl_s", "appointment_types", "providers"});
    load_timezone(root);
    read_int(root, "", "hold_ttl_s", hold_ttl_s_range, catalog_.hold_ttl_s);
    // Region-wide types first: they are the central ones, proxy types among them (R8).
    for_each_item(
        root, "", "appointment_types", Need::optional,
        [&](const YAML::Node& n, const std::string& p) { load_type(n, p, std::nullopt); });
    for_each_item(root, "", "providers", Need::required,
                  [&](const YAML::Node& n, const std::string& p) { load_provider(n, p); });
}

void Loader::load_timezone(const YAML::Node& root) {
    if (!read_text(root, "", "timezone", Need::optional, catalog_.timezone)) {
        return;
    }
    try {
        date::locate_zone(catalog_.timezone);
    } catch (const std::exception& e) {
        const YAML::Node node = root["timezone"];
        error("timezone", mark_of(node),
              "time zone " + quoted(catalog_.timezone) + " cannot be loaded (" + e.what() +
                  "); use an IANA name such as Europe/Stockholm");
    }
}

void Loader::load_provider(const YAML::Node& node, const std::string& path) {
    if (!expect_map(node, path)) {
        return;
    }
    check_keys(node, path, {"id", "name", "units"});
    const ProviderIdx index{static_cast<std::uint32_t>(catalog_.providers.size())};
    Provider provider;
    if (read_text(node, path, "id", Need::required, provider.id)) {
        claim_id(provider_ids_, "provider", provider.id, field(path, "id"), node["id"].Mark());
    }
    read_text(node, path, "name", Need::required, provider.name);
    catalog_.providers.push_back(std::move(provider));
    for_each_item(node, path, "units", Need::optional,
                  [&](const YAML::Node& n, const std::string& p) { load_unit(n, p, index); });
}

void Loader::load_unit(const YAML::Node& node, const std::string& path, ProviderIdx provider) {
    if (!expect_map(node, path)) {
        return;
    }
    check_keys(node, path, {"id", "name", "web", "resources", "appointment_types", "schedules"});
    const UnitIdx index{static_cast<std::uint32_t>(catalog_.units.size())};
    Unit unit;
    unit.provider = provider;
    if (read_text(node, path, "id", Need::required, unit.id) &&
        claim_id(unit_ids_, "unit", unit.id, field(path, "id"), node["id"].Mark())) {
        catalog_.unit_by_id.emplace(unit.id, index);
    }
    read_text(node, path, "name", Need::required, unit.name);
    load_web(node, path, unit.web);
    catalog_.units.push_back(std::move(unit));
    catalog_.providers[provider.value].units.push_back(index);

    for_each_item(node, path, "resources", Need::optional,
                  [&](const YAML::Node& n, const std::string& p) { load_resource(n, p, index); });
    for_each_item(node, path, "appointment_types", Need::optional,
                  [&](const YAML::Node& n, const std::string& p) { load_type(n, p, index); });
    for_each_item(node, path, "schedules", Need::optional,
                  [&](const YAML::Node& n, const std::string& p) {
                      pending_schedules_.push_back({n, p, index});
                  });
}

// R18, R25. Absent switches are off: a unit is on the web only when someone turned it on.
void Loader::load_web(const YAML::Node& unit_node, const std::string& unit_path, WebSettings& web) {
    const YAML::Node node = unit_node["web"];
    if (!node.IsDefined() || node.IsNull()) {
        return;
    }
    const std::string path = field(unit_path, "web");
    if (!expect_map(node, path)) {
        return;
    }
    check_keys(node, path,
               {"booking_active", "cancel_rebook_active", "patient_comment", "terms_book",
                "terms_cancel_rebook"});
    read_flag(node, path, "booking_active", web.booking_active);
    read_flag(node, path, "cancel_rebook_active", web.cancel_rebook_active);
    read_flag(node, path, "patient_comment", web.patient_comment);
    read_text(node, path, "terms_book", Need::optional, web.terms_book);
    read_text(node, path, "terms_cancel_rebook", Need::optional, web.terms_cancel_rebook);
}

void Loader::load_resource(const YAML::Node& node, const std::string& path, UnitIdx unit) {
    if (!expect_map(node, path)) {
        return;
    }
    check_keys(node, path, {"id", "type", "name"});
    const ResourceIdx index{static_cast<std::uint32_t>(catalog_.resources.size())};
    Resource resource;
    resource.unit = unit;
    if (read_text(node, path, "id", Need::required, resource.id) &&
        claim_id(resource_ids_, "resource", resource.id, field(path, "id"), node["id"].Mark())) {
        catalog_.resource_by_id.emplace(resource.id, index);
    }
    std::string kind;
    if (read_text(node, path, "type", Need::required, kind)) {
        if (const auto parsed = parse_resource_kind(kind)) {
            resource.kind = *parsed;
        } else {
            error(field(path, "type"), node["type"].Mark(),
                  "resource type " + quoted(kind) +
                      " is not one of position, person, room, equipment");
        }
    }
    const bool named = read_text(node, path, "name", Need::required, resource.name);
    if (named && resource.kind == ResourceKind::position) {
        for (PositionNameProblem& problem : position_name_problems(resource.name)) {
            warn(field(path, "name"), node["name"].Mark(), "R12", std::move(problem.message));
        }
    }
    catalog_.resources.push_back(std::move(resource));
    catalog_.units[unit.value].resources.push_back(index);
}

void Loader::load_type(const YAML::Node& node, const std::string& path,
                       std::optional<UnitIdx> unit) {
    if (!expect_map(node, path)) {
        return;
    }
    check_keys(node, path,
               {"id", "name", "web_name", "web_info", "web_bookable", "web_cancellable",
                "web_rebookable", "hide_from_patient", "window_days", "duration_min"});
    const TypeIdx index{static_cast<std::uint32_t>(catalog_.types.size())};
    AppointmentType type;
    type.region_wide = !unit.has_value();
    if (unit) {
        type.unit = *unit;
    }
    if (read_text(node, path, "id", Need::required, type.id) &&
        claim_id(type_ids_, "appointment type", type.id, field(path, "id"), node["id"].Mark())) {
        catalog_.type_by_id.emplace(type.id, index);
    }
    read_type_fields(node, path, type);
    lint_type(node, path, type);
    catalog_.types.push_back(std::move(type));
    if (unit) {
        catalog_.units[unit->value].local_types.push_back(index);
    }
}

void Loader::read_type_fields(const YAML::Node& node, const std::string& path,
                              AppointmentType& type) {
    read_text(node, path, "name", Need::required, type.name);
    read_text(node, path, "web_name", Need::optional, type.web_name);
    read_text(node, path, "web_info", Need::optional, type.web_info);
    read_flag(node, path, "web_bookable", type.web_bookable);
    read_flag(node, path, "web_cancellable", type.web_cancellable);
    read_flag(node, path, "web_rebookable", type.web_rebookable);
    read_flag(node, path, "hide_from_patient", type.hide_from_patient);
    int window_days = 0;  // stays 0 when absent: "N empty" (R11)
    if (read_int(node, path, "window_days", window_days_range, window_days) && window_days > 0) {
        type.window_days = window_days;
    }
    // A bad duration has its error already; 0 tells the schedules not to measure against it.
    if (!read_int(node, path, "duration_min", duration_min_range, type.duration_min)) {
        type.duration_min = 0;
    }
}

void Loader::lint_type(const YAML::Node& node, const std::string& path, AppointmentType& type) {
    const auto at = [&](std::string_view key) {
        const YAML::Node value = node[std::string(key)];
        return value.IsDefined() ? value.Mark() : node.Mark();
    };
    const std::array<bool*, 3> flags{&type.web_bookable, &type.web_cancellable,
                                     &type.web_rebookable};
    if (type.is_proxy() && !type.region_wide) {
        warn(field(path, "name"), at("name"), "R8",
             "unit-local type " + quoted(type.name) +
                 " is a proxy type (its name contains \"Ombud\"); proxy types are configured "
                 "centrally: move it to the region-wide appointment_types or rename it");
    }
    for (std::size_t i = 0; i < flags.size() && type.is_proxy(); ++i) {
        if (*flags[i]) {
            continue;
        }
        warn(field(path, web_flag_keys[i]), at(web_flag_keys[i]), "R8",
             "proxy type " + quoted(type.name) + " must have " + std::string(web_flag_keys[i]) +
                 ": true (proxy types carry all three web flags)");
    }
    std::string set_flags;
    for (std::size_t i = 0; i < flags.size(); ++i) {
        if (*flags[i]) {
            set_flags += (set_flags.empty() ? "" : ", ") + std::string(web_flag_keys[i]);
        }
    }
    if (type.hide_from_patient && !set_flags.empty()) {
        warn(field(path, "hide_from_patient"), at("hide_from_patient"), "R6",
             "hide_from_patient clears " + set_flags +
                 ": the citizen can neither see, book, cancel nor rebook this type; remove the "
                 "flags to say what happens");
        for (bool* flag : flags) {
            *flag = false;  // R6: cleared in the catalog, not overridden
        }
    } else if (!set_flags.empty() && type.web_name.empty()) {
        warn(field(path, "web_name"), at("web_name"), "R7",
             set_flags +
                 " set but there is no web_name, so the type is never offered on the web or to "
                 "proxies; add a web_name or remove the flags");
    }
}

// ---- schedules ------------------------------------------------------------------------------

void Loader::load_schedule(const PendingSchedule& pending) {
    const YAML::Node& node = pending.node;
    const std::string& path = pending.path;
    if (!expect_map(node, path)) {
        return;
    }
    check_keys(node, path,
               {"resource", "appointment_type", "weekdays", "from", "to", "valid_from", "valid_to",
                "window_days"});
    const std::size_t diagnostics_before = diagnostics_.size();
    Schedule schedule;
    resolve_resource(node, path, pending.unit, schedule);
    const AppointmentType* type = resolve_type(node, path, pending.unit, schedule);
    read_weekdays(node, path, schedule);
    read_block(node, path, type, schedule);
    read_validity(node, path, schedule);
    int window_days = 0;  // R10 as scheduled; absent: the type's
    if (read_int(node, path, "window_days", window_days_range, window_days) && window_days > 0) {
        schedule.window_days = static_cast<std::int16_t>(window_days);
    }
    const bool clean = std::none_of(
        diagnostics_.begin() + static_cast<std::ptrdiff_t>(diagnostics_before), diagnostics_.end(),
        [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::error; });
    if (clean) {
        check_overlap(schedule, path, node.Mark());
        clean_schedules_[schedule.resource.value].emplace_back(catalog_.schedules.size(), path);
    }
    catalog_.schedules.push_back(schedule);
}

// A resource is in one place at a time: two schedules of one resource that share a weekday, a
// time of day and a validity day would lay out overlapping slots.
void Loader::check_overlap(const Schedule& s, const std::string& path, const YAML::Mark& at) {
    for (const auto& [index, other_path] : clean_schedules_[s.resource.value]) {
        const Schedule& o = catalog_.schedules[index];
        if ((o.weekdays & s.weekdays) == 0 || o.from_min >= s.to_min || s.from_min >= o.to_min ||
            o.valid_from_day > s.valid_to_day || s.valid_from_day > o.valid_to_day) {
            continue;
        }
        error(path, at,
              "overlaps " + other_path +
                  " on the same resource, weekday and time; a resource has one slot at a time");
        return;
    }
}

void Loader::resolve_resource(const YAML::Node& node, const std::string& path, UnitIdx unit,
                              Schedule& schedule) {
    std::string id;
    if (!read_text(node, path, "resource", Need::required, id)) {
        return;
    }
    const YAML::Mark at = node["resource"].Mark();
    const auto found = catalog_.find_resource(id);
    if (!found) {
        error(field(path, "resource"), at, "unknown resource " + quoted(id));
        return;
    }
    const Resource& resource = catalog_.resource(*found);
    if (resource.unit != unit) {
        error(field(path, "resource"), at,
              "resource " + quoted(id) + " belongs to unit " +
                  quoted(catalog_.unit(resource.unit).id) +
                  "; a schedule may only use its own unit's resources");
        return;
    }
    schedule.resource = *found;
}

const AppointmentType* Loader::resolve_type(const YAML::Node& node, const std::string& path,
                                            UnitIdx unit, Schedule& schedule) {
    std::string id;
    if (!read_text(node, path, "appointment_type", Need::required, id)) {
        return nullptr;
    }
    const YAML::Mark at = node["appointment_type"].Mark();
    const auto found = catalog_.find_type(id);
    if (!found) {
        error(field(path, "appointment_type"), at, "unknown appointment type " + quoted(id));
        return nullptr;
    }
    if (!catalog_.type_usable_in(*found, unit)) {
        const AppointmentType& type = catalog_.type(*found);
        error(field(path, "appointment_type"), at,
              "appointment type " + quoted(id) + " is local to unit " +
                  quoted(catalog_.unit(type.unit).id) +
                  "; use one of this unit's types or a region-wide one");
        return nullptr;
    }
    schedule.type = *found;
    return &catalog_.type(*found);
}

void Loader::read_weekdays(const YAML::Node& node, const std::string& path, Schedule& schedule) {
    const YAML::Node list = node["weekdays"];
    if (list.IsDefined() && list.IsSequence() && list.size() == 0) {
        error(field(path, "weekdays"), list.Mark(),
              "\"weekdays\" is empty: the schedule lays out no slots");
        return;
    }
    const auto add_day = [&](const YAML::Node& day, const std::string& day_path) {
        const std::optional<unsigned> bit = weekday_bit(day);
        if (!bit) {
            const std::string found = day.IsScalar() ? quoted(day.Scalar()) : kind_name(day);
            error(day_path, mark_of(day),
                  "weekday " + found + " is not one of mon, tue, wed, thu, fri, sat, sun");
            return;
        }
        schedule.weekdays = static_cast<std::uint8_t>(schedule.weekdays | 1u << *bit);
    };
    for_each_item(node, path, "weekdays", Need::required, add_day);
}

// "from"/"to": the daily block slots are laid out in. It must hold at least one slot.
void Loader::read_block(const YAML::Node& node, const std::string& path,
                        const AppointmentType* type, Schedule& schedule) {
    std::optional<int> minutes[2];
    const std::array<std::string_view, 2> keys{"from", "to"};
    for (std::size_t i = 0; i < keys.size(); ++i) {
        std::string text;
        if (!read_text(node, path, keys[i], Need::required, text)) {
            continue;
        }
        minutes[i] = parse_hhmm(text);
        if (!minutes[i]) {
            error(field(path, keys[i]), node[std::string(keys[i])].Mark(),
                  quoted(keys[i]) + " must be a time HH:MM (00:00..23:59), found " + quoted(text));
        }
    }
    if (!minutes[0] || !minutes[1]) {
        return;
    }
    schedule.from_min = *minutes[0];
    schedule.to_min = *minutes[1];
    const YAML::Mark at = node["to"].Mark();
    if (schedule.from_min >= schedule.to_min) {
        error(field(path, "to"), at,
              "\"to\" " + hhmm(schedule.to_min) + " must be after \"from\" " +
                  hhmm(schedule.from_min) + " (a block ends on the day it starts)");
    } else if (type && type->duration_min > 0 &&
               schedule.to_min - schedule.from_min < type->duration_min) {
        error(field(path, "to"), at,
              "the block " + hhmm(schedule.from_min) + "-" + hhmm(schedule.to_min) + " is " +
                  std::to_string(schedule.to_min - schedule.from_min) + " min, shorter than one " +
                  std::to_string(type->duration_min) + " min slot of " + quoted(type->id));
    }
}

void Loader::read_validity(const YAML::Node& node, const std::string& path, Schedule& schedule) {
    std::optional<std::int32_t> days[2];
    const std::array<std::string_view, 2> keys{"valid_from", "valid_to"};
    for (std::size_t i = 0; i < keys.size(); ++i) {
        std::string text;
        if (!read_text(node, path, keys[i], Need::required, text)) {
            continue;
        }
        days[i] = parse_date(text);
        if (!days[i]) {
            error(field(path, keys[i]), node[std::string(keys[i])].Mark(),
                  quoted(keys[i]) + " must be a date YYYY-MM-DD, found " + quoted(text));
        }
    }
    if (!days[0] || !days[1]) {
        return;
    }
    schedule.valid_from_day = *days[0];
    schedule.valid_to_day = *days[1];
    if (schedule.valid_from_day > schedule.valid_to_day) {
        error(field(path, "valid_to"), node["valid_to"].Mark(),
              "\"valid_to\" is before \"valid_from\": the schedule is never valid");
    }
}

std::size_t count_severity(const std::vector<Diagnostic>& diagnostics,
                           Diagnostic::Severity severity) {
    return static_cast<std::size_t>(
        std::count_if(diagnostics.begin(), diagnostics.end(),
                      [&](const Diagnostic& d) { return d.severity == severity; }));
}

}  // namespace

std::size_t LoadResult::error_count() const {
    return count_severity(diagnostics, Diagnostic::Severity::error);
}

std::size_t LoadResult::warning_count() const {
    return count_severity(diagnostics, Diagnostic::Severity::warning);
}

LoadResult load_region_text(const std::string& yaml_text, const std::string& source_name) {
    std::vector<YAML::Node> documents;
    try {
        documents = YAML::LoadAll(yaml_text);
    } catch (const YAML::Exception& e) {
        // The parser stops at the first syntax error; nothing after it can be trusted.
        LoadResult result;
        std::string where;
        if (!e.mark.is_null()) {
            where = "line " + std::to_string(e.mark.line + 1) + ", column " +
                    std::to_string(e.mark.column + 1) + ": ";
        }
        result.diagnostics.push_back(
            {Diagnostic::Severity::error, "", "",
             where + "YAML syntax error in " + source_name + ": " + e.msg});
        return result;
    }
    // A second document ("---") would be silently ignored: say so instead.
    if (documents.size() > 1) {
        LoadResult result;
        result.diagnostics.push_back({Diagnostic::Severity::error, "", "",
                                      "the region config must be one YAML document, found " +
                                          std::to_string(documents.size()) + " (remove \"---\")"});
        return result;
    }
    return Loader{}.load(documents.empty() ? YAML::Node() : documents.front());
}

LoadResult load_region_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream text;
    if (file) {
        text << file.rdbuf();
    }
    if (!file || file.bad()) {
        LoadResult result;
        result.diagnostics.push_back(
            {Diagnostic::Severity::error, "", "", "cannot read region config " + quoted(path)});
        return result;
    }
    return load_region_text(text.str(), path);
}

std::string format_diagnostic(const Diagnostic& d) {
    std::string line = d.severity == Diagnostic::Severity::error ? "error" : "warning";
    if (!d.path.empty()) {
        line += " " + d.path;
    }
    line += ": " + d.message;
    if (!d.rule.empty()) {
        line += " (" + d.rule + ")";
    }
    return line;
}

}  // namespace slotmatch
