// The region file as slotmatchd loaded it, kept in each snapshot (docs/operations.md,
// "Snapshots"): the catalog and the warnings the YAML gave, under a key of the file's bytes.
// A start whose region file has the same key reads the catalog from the snapshot instead of
// parsing the YAML (a national region's 13.8 MB took 4 s of a restart); a file that changed by
// one byte is parsed as before. The image is the loaded file's, before recovery numbers the
// types as the store does, so it is what load_region_file would give again.
#pragma once

#include <cstdint>
#include <optional>
#include <slotmatch/config.hpp>
#include <string>
#include <string_view>

namespace slotmatch::journal {

// The region file's size and FNV-1a hash of its bytes, and the hash of the program that read
// it: another build (an upgrade) may load the same file into another catalog, so its start
// parses the YAML again.
struct RegionKey {
    std::uint64_t bytes = 0;
    std::uint64_t hash = 0;
    std::uint64_t program = 0;
    bool operator==(const RegionKey&) const = default;
};

// A region file's text and key; nothing when it cannot be read (load_region_file says why).
struct RegionText {
    std::string text;
    RegionKey key;
};
std::optional<RegionText> read_region_text(const std::string& path);

// The image of a region file that loaded (`loaded.ok()`), under its key.
std::string encode_region(const RegionKey& key, const LoadResult& loaded);
// The region back from an image, when it was made from a file with key `want`. Nothing when it
// was not (`why` empty: the file changed) or the image is damaged (`why` says so).
std::optional<LoadResult> decode_region(std::string_view image, const RegionKey& want,
                                        std::string& why);

}  // namespace slotmatch::journal
