// Loading a region config (YAML, the format of ARCHITECTURE.md) into a Catalog. Loading checks
// everything and reports every problem with its path; errors stop the start, lint warnings
// (R6, R7, R8, R12) are reported and the region still loads.
#pragma once

#include <optional>
#include <slotmatch/catalog.hpp>
#include <string>
#include <vector>

namespace slotmatch {

struct Diagnostic {
    enum class Severity { error, warning };
    Severity severity = Severity::error;
    std::string path;     // "providers[0].units[2].resources[1].name"
    std::string rule;     // "R12" for a lint, empty for a plain format error
    std::string message;  // what is wrong and, where it helps, what to write instead
};

struct LoadResult {
    std::optional<Catalog> catalog;  // set only when there is no error
    std::vector<Diagnostic> diagnostics;

    bool ok() const { return catalog.has_value(); }
    std::size_t error_count() const;
    std::size_t warning_count() const;
};

LoadResult load_region_file(const std::string& path);
LoadResult load_region_text(const std::string& yaml_text, const std::string& source_name);

// "error providers[0].units[1].resources[0].name: ... (R12)" — one line per diagnostic.
std::string format_diagnostic(const Diagnostic& d);

}  // namespace slotmatch
