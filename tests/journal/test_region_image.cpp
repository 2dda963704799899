// The region file's image in a snapshot (issue 14, tools/journal/region_image.hpp): a start
// whose file is byte for byte the one a snapshot was made with reads the catalog from the
// snapshot instead of parsing the YAML, so the image must give what the parse gives; any other
// file is parsed; a damaged image is refused, never half read.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine_fixture.hpp"
#include "event_store.hpp"
#include "region_image.hpp"
#include "snapshot.hpp"
#include "temp_dir.hpp"

namespace slotmatch::testing {
namespace {

const std::string demo = std::string(SLOTMATCH_SOURCE_DIR) + "/tools/region/demo.yaml";

// What an engine made from `catalog` shows of it: its state (every slot laid out) and the
// catalog's lookups.
std::uint64_t engine_hash(Catalog catalog) {
    FixedClock clock{Instant{1'772'431'200}};
    Engine e(std::move(catalog), clock, EngineLimits{});
    return e.state_hash();
}

bool indices_in_range(const Catalog& c) {
    for (const Provider& p : c.providers) {
        for (const UnitIdx u : p.units) {
            if (u.value >= c.units.size()) return false;
        }
    }
    for (const Unit& u : c.units) {
        if (u.provider.value >= c.providers.size()) return false;
        for (const ResourceIdx r : u.resources) {
            if (r.value >= c.resources.size()) return false;
        }
        for (const TypeIdx t : u.local_types) {
            if (t.value >= c.types.size()) return false;
        }
    }
    for (const Resource& r : c.resources) {
        if (r.unit.value >= c.units.size()) return false;
    }
    for (const AppointmentType& t : c.types) {
        if (!t.region_wide && t.unit.value >= c.units.size()) return false;
    }
    for (const Schedule& s : c.schedules) {
        if (s.resource.value >= c.resources.size() || s.type.value >= c.types.size()) return false;
    }
    return true;
}

TEST(RegionImage, ReadsBackAsTheParseGivesIt) {
    const auto text = journal::read_region_text(demo);
    ASSERT_TRUE(text);
    EXPECT_EQ(text->key.bytes, std::filesystem::file_size(demo));
    const LoadResult parsed = load_region_text(text->text, demo);
    ASSERT_TRUE(parsed.ok());
    const std::string image = journal::encode_region(text->key, parsed);
    std::string why;
    const auto read = journal::decode_region(image, text->key, why);
    ASSERT_TRUE(read) << why;
    ASSERT_TRUE(read->ok());
    const Catalog& a = *parsed.catalog;
    const Catalog& b = *read->catalog;
    EXPECT_EQ(b.timezone, a.timezone);
    EXPECT_EQ(b.hold_ttl_s, a.hold_ttl_s);
    ASSERT_EQ(b.units.size(), a.units.size());
    ASSERT_EQ(b.types.size(), a.types.size());
    ASSERT_EQ(b.resources.size(), a.resources.size());
    ASSERT_EQ(b.schedules.size(), a.schedules.size());
    for (std::size_t i = 0; i < a.units.size(); ++i) {
        EXPECT_EQ(b.units[i].id, a.units[i].id);
        EXPECT_EQ(b.units[i].web.terms_book, a.units[i].web.terms_book);
        EXPECT_EQ(b.units[i].web.booking_active, a.units[i].web.booking_active);
        EXPECT_EQ(b.units[i].resources, a.units[i].resources);
        EXPECT_EQ(b.units[i].local_types, a.units[i].local_types);
        EXPECT_EQ(b.find_unit(a.units[i].id), UnitIdx{static_cast<std::uint32_t>(i)});
    }
    for (std::size_t i = 0; i < a.types.size(); ++i) {
        EXPECT_EQ(b.types[i].id, a.types[i].id);
        EXPECT_EQ(b.types[i].web_name, a.types[i].web_name);
        EXPECT_EQ(b.types[i].window_days, a.types[i].window_days);
        EXPECT_EQ(b.types[i].web_rebookable, a.types[i].web_rebookable);
        EXPECT_EQ(b.types[i].region_wide, a.types[i].region_wide);
        EXPECT_EQ(b.types[i].unit, a.types[i].unit);
        EXPECT_EQ(b.find_type(a.types[i].id), TypeIdx{static_cast<std::uint32_t>(i)});
    }
    for (std::size_t i = 0; i < a.resources.size(); ++i) {
        EXPECT_EQ(b.resources[i].name, a.resources[i].name);
        EXPECT_EQ(b.resources[i].kind, a.resources[i].kind);
        EXPECT_EQ(b.find_resource(a.resources[i].id), ResourceIdx{static_cast<std::uint32_t>(i)});
    }
    for (std::size_t i = 0; i < a.schedules.size(); ++i) {
        EXPECT_EQ(b.schedules[i].resource, a.schedules[i].resource);
        EXPECT_EQ(b.schedules[i].weekdays, a.schedules[i].weekdays);
        EXPECT_EQ(b.schedules[i].to_min, a.schedules[i].to_min);
        EXPECT_EQ(b.schedules[i].valid_to_day, a.schedules[i].valid_to_day);
        EXPECT_EQ(b.schedules[i].window_days, a.schedules[i].window_days);
    }
    // The same warnings (R6, R7, R8, R12 lint), word for word.
    ASSERT_EQ(read->diagnostics.size(), parsed.diagnostics.size());
    for (std::size_t i = 0; i < parsed.diagnostics.size(); ++i) {
        EXPECT_EQ(format_diagnostic(read->diagnostics[i]), format_diagnostic(parsed.diagnostics[i]));
    }
    // The same slots, laid out from either.
    EXPECT_EQ(engine_hash(*read->catalog), engine_hash(*parsed.catalog));
    // And the image of the image is the image.
    EXPECT_EQ(journal::encode_region(text->key, *read), image);
}

TEST(RegionImage, AFileThatChangedByOneByteIsParsedAgain) {
    const auto text = journal::read_region_text(demo);
    ASSERT_TRUE(text);
    const std::string image = journal::encode_region(text->key, load_region_text(text->text, demo));
    std::string edited = text->text;
    edited[edited.size() / 2] = edited[edited.size() / 2] == ' ' ? '\t' : ' ';
    const auto dir = fresh_temp_dir("region-image");
    const auto path = (dir / "edited.yaml").string();
    std::ofstream(path, std::ios::binary) << edited;
    const auto changed = journal::read_region_text(path);
    ASSERT_TRUE(changed);
    EXPECT_EQ(changed->key.bytes, text->key.bytes);
    EXPECT_NE(changed->key.hash, text->key.hash);
    std::string why;
    EXPECT_FALSE(journal::decode_region(image, changed->key, why));
    EXPECT_TRUE(why.empty()) << "a changed file is not damage: " << why;
    EXPECT_FALSE(journal::read_region_text((dir / "missing.yaml").string()));
    std::filesystem::remove_all(dir);
}

// Another build of slotmatchd (an upgrade) may load the same file into another catalog: an
// image another program wrote is not used, and that is not damage either.
TEST(RegionImage, AnImageAnotherProgramWroteIsParsedAgain) {
    const auto text = journal::read_region_text(demo);
    ASSERT_TRUE(text);
    EXPECT_NE(text->key.program, 0u) << "this program's bytes were not read";
    EXPECT_EQ(journal::read_region_text(demo)->key, text->key);
    journal::RegionKey other = text->key;
    other.program ^= 1;
    const std::string image = journal::encode_region(other, load_region_text(text->text, demo));
    std::string why;
    EXPECT_FALSE(journal::decode_region(image, text->key, why));
    EXPECT_TRUE(why.empty()) << "another program's image is not damage: " << why;
    EXPECT_TRUE(journal::decode_region(image, other, why)) << why;
}

TEST(RegionImage, ADamagedImageIsRefusedNeverHalfRead) {
    const auto text = journal::read_region_text(demo);
    ASSERT_TRUE(text);
    const std::string image = journal::encode_region(text->key, load_region_text(text->text, demo));
    std::string why;
    // Every cut: the header's are another format or another file, the rest damaged.
    for (std::size_t cut = 0; cut < image.size(); ++cut) {
        EXPECT_FALSE(journal::decode_region(std::string_view(image).substr(0, cut), text->key, why))
            << "cut at " << cut;
    }
    EXPECT_FALSE(journal::decode_region(image + "x", text->key, why));
    EXPECT_EQ(why, "its region image is damaged");
    // Every byte flipped in turn: refused, or read into a catalog whose every index names
    // what it holds (a flipped name or flag still reads; the snapshot's checksum is what
    // catches those).
    for (std::size_t at = 0; at < image.size(); ++at) {
        std::string flipped = image;
        flipped[at] = static_cast<char>(flipped[at] ^ 0x5a);
        const auto read = journal::decode_region(flipped, text->key, why);
        if (read) {
            ASSERT_TRUE(indices_in_range(*read->catalog)) << "flipped at " << at;
        }
    }
}

}  // namespace
}  // namespace slotmatch::testing
