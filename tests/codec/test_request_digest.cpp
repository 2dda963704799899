// The canonical digest of a request (codec::request_digest): what idempotent retries compare.
// The same request written by other encoders has one digest; any change of content another.
#include <gtest/gtest.h>

#include <slotmatch/codec.hpp>
#include <string>
#include <vector>

namespace slotmatch {
namespace {

namespace fb = flatbuffers;

struct BookFields {
    std::optional<std::uint32_t> slot = 17;
    std::string patient = "191212121212";
    std::string reason;
    bool from_waitlist = false;
    std::string unit;  // actor unit
};

// The CLI's way: defaults left out, strings before the tables.
std::vector<std::uint8_t> compact(const BookFields& f) {
    fb::FlatBufferBuilder b;
    const auto patient = b.CreateString(f.patient);
    const auto reason = f.reason.empty() ? fb::Offset<fb::String>() : b.CreateString(f.reason);
    wire::BookBuilder book(b);
    if (f.slot) book.add_slot(*f.slot);
    book.add_patient(patient);
    book.add_reason(reason);
    book.add_from_waitlist(f.from_waitlist);
    const auto body = book.Finish();
    const auto ops =
        b.CreateVector(std::vector{wire::CreateOp(b, wire::Operation::Book, body.Union())});
    const auto actor = wire::CreateActor(b, wire::Channel::staff, b.CreateString("s1"), 0,
                                         f.unit.empty() ? 0 : b.CreateString(f.unit));
    b.Finish(wire::CreateRequestMessage(b, codec::protocol_version, 9, 0, actor, ops),
             codec::request_identifier);
    return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

// Another encoder's way: defaults written out, vtables not shared, fields in another order,
// an empty reason written as an empty string.
std::vector<std::uint8_t> verbose(const BookFields& f) {
    fb::FlatBufferBuilder b;
    b.ForceDefaults(true);
    b.DedupVtables(false);
    const auto unit = f.unit.empty() ? fb::Offset<fb::String>() : b.CreateString(f.unit);
    const auto id = b.CreateString("s1");
    wire::ActorBuilder actor(b);
    actor.add_unit(unit);
    actor.add_id(id);
    actor.add_channel(wire::Channel::staff);
    const auto who = actor.Finish();
    const auto reason = b.CreateString(f.reason);
    const auto patient = b.CreateString(f.patient);
    wire::BookBuilder book(b);
    book.add_from_waitlist(f.from_waitlist);
    book.add_reason(reason);
    book.add_patient(patient);
    if (f.slot) book.add_slot(*f.slot);
    const auto body = book.Finish();
    const auto ops =
        b.CreateVector(std::vector{wire::CreateOp(b, wire::Operation::Book, body.Union())});
    wire::RequestMessageBuilder m(b);
    m.add_ops(ops);
    m.add_actor(who);
    m.add_request_id(9);
    m.add_version(codec::protocol_version);
    b.Finish(m.Finish(), codec::request_identifier);
    return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

std::uint64_t digest(const std::vector<std::uint8_t>& bytes) {
    const wire::RequestMessage* m = codec::verify_request(bytes);
    EXPECT_NE(m, nullptr);
    return m ? codec::request_digest(*m) : 0;
}

TEST(RequestDigest, TheSameRequestFromTwoEncodersHasOneDigest) {
    const BookFields f;
    ASSERT_NE(compact(f), verbose(f));
    EXPECT_EQ(digest(compact(f)), digest(verbose(f)));
    BookFields g;
    g.reason = "ont i halsen";
    g.unit = "u1";
    g.from_waitlist = true;
    EXPECT_EQ(digest(compact(g)), digest(verbose(g)));
}

TEST(RequestDigest, AnyChangedFieldChangesTheDigest) {
    const std::uint64_t base = digest(compact({}));
    BookFields f;
    f.slot = 18;
    EXPECT_NE(digest(compact(f)), base);
    f = {};
    f.patient = "191212121213";
    EXPECT_NE(digest(compact(f)), base);
    f = {};
    f.reason = "x";
    EXPECT_NE(digest(compact(f)), base);
    f = {};
    f.from_waitlist = true;
    EXPECT_NE(digest(compact(f)), base);
    f = {};
    f.unit = "u2";
    EXPECT_NE(digest(compact(f)), base);
}

TEST(RequestDigest, AnAbsentVectorIsAnEmptyOne) {
    // Actor.roles left out, or written as an empty list: the same request.
    const auto with_roles = [](bool empty_list) {
        fb::FlatBufferBuilder b;
        const auto roles = empty_list ? b.CreateVector(std::vector<fb::Offset<fb::String>>{})
                                      : fb::Offset<fb::Vector<fb::Offset<fb::String>>>();
        const auto ops = b.CreateVector(std::vector{
            wire::CreateOp(b, wire::Operation::GetStats, wire::CreateGetStats(b).Union())});
        const auto actor =
            wire::CreateActor(b, wire::Channel::web, b.CreateString("a"), 0, 0, roles);
        b.Finish(wire::CreateRequestMessage(b, codec::protocol_version, 1, 0, actor, ops),
                 codec::request_identifier);
        return std::vector<std::uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
    };
    ASSERT_NE(with_roles(true), with_roles(false));
    EXPECT_EQ(digest(with_roles(true)), digest(with_roles(false)));
}

TEST(RequestDigest, AnAbsentOptionalScalarIsNotItsDefault) {
    // Book.slot absent asks for the earliest match; slot 0 names a slot.
    BookFields zero, absent;
    zero.slot = 0;
    absent.slot.reset();
    EXPECT_NE(digest(compact(zero)), digest(compact(absent)));
    EXPECT_EQ(digest(compact(absent)), digest(verbose(absent)));
}

TEST(RequestDigest, AnOperationTheSchemaDoesNotKnowIsDigestedByItsType) {
    // A newer client's operation: the union type is beyond the schema's; no crash, and two
    // unknown types differ.
    const auto unknown = [](std::uint8_t type) {
        fb::FlatBufferBuilder b;
        const auto body = wire::CreateGetCatalog(b).Union();
        const auto ops = b.CreateVector(
            std::vector{wire::CreateOp(b, static_cast<wire::Operation>(type), body)});
        const auto actor = wire::CreateActor(b, wire::Channel::web, b.CreateString("a"));
        b.Finish(wire::CreateRequestMessage(b, codec::protocol_version, 1, 0, actor, ops),
                 codec::request_identifier);
        return std::vector<std::uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
    };
    const auto a = unknown(200), b = unknown(201);
    const wire::RequestMessage* ma = codec::verify_request(a);
    const wire::RequestMessage* mb = codec::verify_request(b);
    ASSERT_NE(ma, nullptr);  // the verifier lets unknown operations through (Service refuses them)
    ASSERT_NE(mb, nullptr);
    EXPECT_NE(codec::request_digest(*ma), codec::request_digest(*mb));
}

}  // namespace
}  // namespace slotmatch
