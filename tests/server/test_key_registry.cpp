// The key registry (clients.yaml, ARCHITECTURE.md "Keys") and the actor a request under a key
// acts as: what a region's IT writes, the mistakes it is told about, and what a key may narrow.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine_fixture.hpp"
#include "key_actor.hpp"
#include "key_files.hpp"
#include "temp_dir.hpp"

namespace slotmatch {
namespace {

namespace fb = flatbuffers;

class KeyRegistryTest : public ::testing::Test {
  protected:
    void SetUp() override {
        LoadResult loaded = load_region_text(testing::rule_region_yaml, "rule region");
        ASSERT_TRUE(loaded.ok());
        catalog_ = std::move(*loaded.catalog);
        path_ = (testing::fresh_temp_dir("keys") / "clients.yaml").string();
        for (auto& k : key_) k = keys::new_key_pair()->public_text;
    }
    void TearDown() override {
        std::filesystem::remove_all(std::filesystem::path(path_).parent_path());
    }
    std::unique_ptr<const keys::KeyRegistry> load(const std::string& text, std::string& why) {
        std::ofstream(path_, std::ios::trunc) << text;
        return keys::KeyRegistry::load(
            path_, [this](std::string_view u) { return catalog_.find_unit(std::string(u)); }, why);
    }
    std::string entry(int k, const std::string& rest) const {
        return "  - key: \"" + key_[k] + "\"\n" + rest;
    }

    Catalog catalog_;
    std::string path_;
    std::string key_[5];
};

TEST_F(KeyRegistryTest, AWellFormedFileMapsEachKeyToWhoItIs) {
    std::string why;
    const auto r = load("clients:\n" +
                            entry(0,
                                  "    channel: web\n    actor: 1177-gateway\n"
                                  "    name: 1177 Vårdguidens e-tjänster\n    rate: 500\n") +
                            entry(1,
                                  "    channel: staff\n    actor: vgr-anna01\n"
                                  "    name: Anna Andersson\n    units: [u1, u2]\n"
                                  "    roles: [region-admin]\n    burst: 10\n") +
                            entry(2, "    channel: engine\n    actor: slotmatchd-1\n"),
                        why);
    ASSERT_TRUE(r) << why;
    ASSERT_EQ(r->holders().size(), 3u);
    const keys::KeyHolder* web = r->find(key_[0]);
    ASSERT_NE(web, nullptr);
    EXPECT_EQ(web->channel, keys::KeyChannel::web);
    EXPECT_EQ(web->name, "1177 Vårdguidens e-tjänster");
    EXPECT_EQ(web->rate, 500);
    EXPECT_EQ(web->burst, 1000);  // twice the rate when not given
    const keys::KeyHolder* staff = r->find(key_[1]);
    ASSERT_NE(staff, nullptr);
    EXPECT_TRUE(staff->region_admin);
    EXPECT_EQ(staff->unit_index.size(), 2u);
    EXPECT_EQ(staff->rate, keys::rate_default);
    EXPECT_EQ(staff->burst, 10);
    EXPECT_EQ(r->find(key_[3]), nullptr);
    std::string none_why;
    EXPECT_TRUE(load("clients: []\n", none_why)) << none_why;  // nobody admitted: valid
}

TEST_F(KeyRegistryTest, EveryMistakeIsReportedWithItsLineAndNothingLoads) {
    std::string why;
    const auto r = load("clients:\n" + entry(0, "    channel: nurse\n    actor: a\n    name: A\n") +
                            "  - key: \"short\"\n    channel: web\n    actor: b\n    name: B\n" +
                            entry(1, "    channel: staff\n    actor: c\n    name: C\n") +
                            entry(2,
                                  "    channel: staff\n    actor: d\n    name: D\n"
                                  "    units: [nowhere]\n    colour: blue\n") +
                            entry(4,
                                  "    channel: web\n    actor: e\n    name: E\n"
                                  "    units: [u1]\n    roles: [region-admin]\n"
                                  "    rate: -1\n") +
                            entry(3, "    channel: web\n    actor: f\n    name: F\n") +
                            entry(3, "    channel: web\n    actor: g\n    name: G\n"),
                        why);
    EXPECT_FALSE(r);
    for (const char* expected :
         {":2: channel must be web, proxy, staff or engine", ":6: key must be",
          ":10: a staff key lists the units", "no unit 'nowhere'", "unknown field 'colour'",
          "a web key acts from no unit", "region-admin is a role of staff keys",
          "rate is a number above 0", "is listed twice"}) {
        EXPECT_NE(why.find(expected), std::string::npos) << expected << "\n" << why;
    }
    EXPECT_FALSE(load("clients: {}\n", why));
    // Shapes yaml-cpp cannot turn into text: refused like any mistake, never thrown.
    EXPECT_FALSE(load("clients:\n  - ? [a, b]\n    : 1\n", why));
    EXPECT_FALSE(load("clients:\n  - key: [1, 2]\n    channel: {a: b}\n    actor: [x]\n", why));
    EXPECT_FALSE(load("clients:\n  - {key: \"" + key_[0] +
                          "\", channel: web, actor: a, name: A, "
                          "rate: [1]}\n",
                      why));
    EXPECT_FALSE(load("clients: [\n", why));
    EXPECT_NE(why.find(path_), std::string::npos) << why;
}

TEST_F(KeyRegistryTest, AReloadWithMistakesKeepsTheRegistryInForce) {
    std::string why;
    std::ofstream(path_) << "clients:\n"
                         << entry(0, "    channel: web\n    actor: a\n    name: A\n");
    auto ring = keys::KeyRing::open(path_, {}, why);
    ASSERT_TRUE(ring) << why;
    const keys::KeyRegistry* before = &ring->current();
    std::ofstream(path_, std::ios::trunc) << "clients:\n  - key: 1\n";
    EXPECT_FALSE(ring->reload(why));
    EXPECT_EQ(&ring->current(), before);
    std::ofstream(path_, std::ios::trunc) << "clients: []\n";
    EXPECT_TRUE(ring->reload(why)) << why;
    EXPECT_EQ(ring->current().find(key_[0]), nullptr);
    // What a request in flight points at stays valid.
    EXPECT_NE(before->find(key_[0]), nullptr);
}

// The actor of a request under a key: what the key is, narrowed by the request only.
class KeyActor : public KeyRegistryTest {
  protected:
    void SetUp() override {
        KeyRegistryTest::SetUp();
        std::string why;
        registry_ = load("clients:\n" +
                             entry(0,
                                   "    channel: staff\n    actor: vgr-anna01\n"
                                   "    name: Anna Andersson\n    units: [u1, u2]\n") +
                             entry(1,
                                   "    channel: web\n    actor: 1177-gateway\n"
                                   "    name: 1177\n") +
                             entry(2, "    channel: engine\n    actor: slotmatchd\n"),
                         why);
        ASSERT_TRUE(registry_) << why;
    }
    Outcome<Actor> actor_of(int k, wire::Channel channel, const std::string& id,
                            const std::string& unit, bool admin = false) {
        b_.Clear();
        std::vector<fb::Offset<fb::String>> roles;
        if (admin) roles.push_back(b_.CreateString("region-admin"));
        b_.Finish(wire::CreateActor(
            b_, channel, id.empty() ? 0 : b_.CreateString(id), b_.CreateString("Typed Name"),
            unit.empty() ? 0 : b_.CreateString(unit), admin ? b_.CreateVector(roles) : 0));
        return keys::actor_of(fb::GetRoot<wire::Actor>(b_.GetBufferPointer()),
                              *registry_->find(key_[k]), catalog_);
    }

    std::unique_ptr<const keys::KeyRegistry> registry_;
    fb::FlatBufferBuilder b_;
};

TEST_F(KeyActor, R17_TheKeyDecidesTheChannelIdAndName) {
    const auto a = actor_of(0, wire::Channel::web, "", "u2");  // web: the schema's default
    ASSERT_TRUE(a.ok()) << a.message;
    EXPECT_EQ(a.value.channel, Channel::staff);
    EXPECT_EQ(a.value.id.view(), "vgr-anna01");
    EXPECT_EQ(a.value.name.view(), "Anna Andersson");  // not the typed name
    EXPECT_TRUE(a.value.has_unit);
    EXPECT_EQ(a.value.unit, *catalog_.find_unit("u2"));
    EXPECT_FALSE(a.value.region_admin);
}

TEST_F(KeyActor, TheRequestMayOnlyNarrow) {
    const auto other_channel = actor_of(0, wire::Channel::proxy, "", "u1");
    EXPECT_EQ(other_channel.code, ErrorCode::unauthorized);
    EXPECT_EQ(other_channel.field, "channel");
    const auto other_id = actor_of(0, wire::Channel::staff, "vgr-other", "u1");
    EXPECT_EQ(other_id.code, ErrorCode::unauthorized);
    EXPECT_EQ(other_id.field, "actor");
    EXPECT_TRUE(actor_of(0, wire::Channel::staff, "vgr-anna01", "u1").ok());
    const auto other_unit = actor_of(0, wire::Channel::staff, "", "u3");
    EXPECT_EQ(other_unit.code, ErrorCode::unauthorized);
    EXPECT_EQ(other_unit.field, "actor_unit");
    const auto no_unit = actor_of(1, wire::Channel::web, "", "u1");
    EXPECT_EQ(no_unit.code, ErrorCode::unauthorized);
    const auto admin = actor_of(0, wire::Channel::staff, "", "u1", true);
    EXPECT_EQ(admin.code, ErrorCode::unauthorized);
    EXPECT_EQ(admin.field, "roles");
    const auto engine = actor_of(2, wire::Channel::web, "", "");
    EXPECT_EQ(engine.code, ErrorCode::unauthorized);
    // Malformed fields are INVALID_REQUEST, which comes first.
    const auto unknown_unit = actor_of(0, wire::Channel::proxy, "", "nowhere");
    EXPECT_EQ(unknown_unit.code, ErrorCode::invalid_request);
    EXPECT_EQ(unknown_unit.field, "actor_unit");
}

TEST_F(KeyActor, AStaffKeyWithSeveralUnitsActsFromNoneUntilTheRequestNamesOne) {
    const auto a = actor_of(0, wire::Channel::staff, "", "");
    ASSERT_TRUE(a.ok());
    EXPECT_FALSE(a.value.has_unit);  // the engine then asks which (INVALID_REQUEST actor_unit)
}

TEST(KeyFiles, AKeyPairIsWrittenSecretFirstAndReadBackChecked) {
    const std::string dir = (testing::fresh_temp_dir("keyfiles") / "keys").string();
    const auto pair = keys::new_key_pair();
    ASSERT_TRUE(pair);
    std::string why;
    ASSERT_TRUE(keys::write_key_pair(dir, "one", *pair, why)) << why;
    const auto perms = std::filesystem::status(dir + "/one.key").permissions();
    EXPECT_EQ(perms & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const auto read = keys::read_key_pair(dir + "/one", why);
    ASSERT_TRUE(read) << why;
    EXPECT_EQ(read->public_text, pair->public_text);
    // A public key that is not the secret's.
    ASSERT_TRUE(keys::write_key_pair(dir, "two", *keys::new_key_pair(), why));
    std::filesystem::copy_file(dir + "/two.pub", dir + "/one.pub",
                               std::filesystem::copy_options::overwrite_existing);
    EXPECT_FALSE(keys::read_key_pair(dir + "/one", why));
    EXPECT_NE(why.find("is not the public key of"), std::string::npos) << why;
    std::ofstream(dir + "/bad.key") << "not a key\n";
    EXPECT_FALSE(keys::read_key_file(dir + "/bad.key", why));
    std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
}

TEST(KeyFiles, AnExistingKeyOrASymbolicLinkIsNeverWrittenOver) {
    const std::filesystem::path dir = testing::fresh_temp_dir("keyfiles") / "keys";
    const auto first = keys::new_key_pair();
    std::string why;
    ASSERT_TRUE(keys::write_key_pair(dir.string(), "one", *first, why)) << why;
    EXPECT_FALSE(keys::write_key_pair(dir.string(), "one", *keys::new_key_pair(), why));
    EXPECT_NE(why.find("already exists"), std::string::npos) << why;
    const auto kept = keys::read_key_pair((dir / "one").string(), why);
    ASSERT_TRUE(kept) << why;
    EXPECT_EQ(kept->secret_text, first->secret_text);
    // A link where the secret would go: refused, and the file it points at left as it was.
    std::ofstream(dir / "elsewhere") << "untouched\n";
    std::filesystem::create_symlink(dir / "elsewhere", dir / "two.key");
    EXPECT_FALSE(keys::write_key_pair(dir.string(), "two", *keys::new_key_pair(), why));
    std::string text;
    std::getline(std::ifstream(dir / "elsewhere"), text);
    EXPECT_EQ(text, "untouched");
    EXPECT_FALSE(std::filesystem::exists(dir / "two.pub"));
    // A public key in the way: no half pair (the secret just written is removed again).
    std::ofstream(dir / "three.pub") << "in the way\n";
    EXPECT_FALSE(keys::write_key_pair(dir.string(), "three", *keys::new_key_pair(), why));
    EXPECT_FALSE(std::filesystem::exists(dir / "three.key"));
    std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
}

}  // namespace
}  // namespace slotmatch
