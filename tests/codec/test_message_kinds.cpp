// Each message kind carries its own FlatBuffers file identifier (codec.hpp), so a peer that
// takes two kinds on one socket tells them apart without trying to verify one as the other;
// and what older peers sent, every kind with the request's "SMW1", is still read.
#include <gtest/gtest.h>

#include <slotmatch/codec.hpp>
#include <string>

#include "engine_fixture.hpp"
#include "service.hpp"

namespace slotmatch {
namespace {

namespace fb = flatbuffers;

std::span<const std::uint8_t> bytes(const fb::FlatBufferBuilder& b) {
    return {b.GetBufferPointer(), b.GetSize()};
}

void finish_request(fb::FlatBufferBuilder& b, const char* identifier) {
    const auto actor = wire::CreateActor(b, wire::Channel::staff, b.CreateString("staff-1"));
    const auto ops = b.CreateVector(
        std::vector<fb::Offset<wire::Op>>{wire::CreateOp(b, wire::Operation::GetCatalog,
                                                         wire::CreateGetCatalog(b).Union())});
    b.Finish(wire::CreateRequestMessage(b, codec::protocol_version, 7, 0, actor, ops), identifier);
}

void finish_batch(fb::FlatBufferBuilder& b, const char* identifier) {
    Event e;
    e.seq = 1;
    e.kind = EventKind::booked;
    const auto events = b.CreateVector(std::vector<fb::Offset<wire::Event>>{
        codec::encode_event(b, e)});
    b.Finish(wire::CreateEventBatch(b, events, 0, 99), identifier);
}

void finish_ack(fb::FlatBufferBuilder& b, const char* identifier) {
    b.Finish(wire::CreateJournalAck(b, 5), identifier);
}

TEST(MessageKinds, RequestsKeepTheSchemasIdentifier) {
    EXPECT_EQ(std::string(codec::request_identifier), wire::RequestMessageIdentifier());
}

TEST(MessageKinds, EachKindIsToldByItsIdentifierAndVerifiesOnlyAsItself) {
    fb::FlatBufferBuilder request, batch, ack;
    finish_request(request, codec::request_identifier);
    finish_batch(batch, codec::event_batch_identifier);
    finish_ack(ack, codec::journal_ack_identifier);
    EXPECT_EQ(codec::message_kind(bytes(request)), codec::MessageKind::request);
    EXPECT_EQ(codec::message_kind(bytes(batch)), codec::MessageKind::event_batch);
    EXPECT_EQ(codec::message_kind(bytes(ack)), codec::MessageKind::journal_ack);
    EXPECT_NE(codec::verify_request(bytes(request)), nullptr);
    EXPECT_NE(codec::verify_event_batch(bytes(batch)), nullptr);
    EXPECT_NE(codec::verify_journal_ack(bytes(ack)), nullptr);
    // A batch is never taken for a request, nor an ack for a batch, nor the reverse.
    EXPECT_EQ(codec::verify_request(bytes(batch)), nullptr);
    EXPECT_EQ(codec::verify_event_batch(bytes(ack)), nullptr);
    EXPECT_EQ(codec::verify_journal_ack(bytes(batch)), nullptr);
    EXPECT_EQ(codec::verify_reply(bytes(batch)), nullptr);
    const std::uint8_t short_bytes[] = {1, 2, 3};
    EXPECT_EQ(codec::message_kind(short_bytes), codec::MessageKind::unknown);
}

TEST(MessageKinds, WhatOlderPeersSentWithTheSharedIdentifierIsStillRead) {
    fb::FlatBufferBuilder batch, ack;
    finish_batch(batch, codec::request_identifier);
    finish_ack(ack, codec::request_identifier);
    ASSERT_NE(codec::verify_event_batch(bytes(batch)), nullptr);
    EXPECT_EQ(codec::verify_event_batch(bytes(batch))->producer(), 99u);
    ASSERT_NE(codec::verify_journal_ack(bytes(ack)), nullptr);
    EXPECT_EQ(codec::verify_journal_ack(bytes(ack))->committed(), 5u);
}

// The server's replies, answers and whole-message refusals alike, carry the reply's identifier.
class ServiceReplies : public testing::RuleRegion {};

TEST_F(ServiceReplies, CarryTheReplyIdentifier) {
    tools::ServerCounters counters;
    tools::Service service(*engine, nullptr, counters);
    fb::FlatBufferBuilder request, reply;
    finish_request(request, codec::request_identifier);
    service.answer(*codec::verify_request(bytes(request)), reply);
    EXPECT_EQ(codec::message_kind(bytes(reply)), codec::MessageKind::reply);
    ASSERT_NE(codec::verify_reply(bytes(reply)), nullptr);
    EXPECT_EQ(codec::verify_reply(bytes(reply))->request_id(), 7u);
    tools::Service::refuse_message(reply, 8, ErrorCode::invalid_request, "message", "no");
    EXPECT_EQ(codec::message_kind(bytes(reply)), codec::MessageKind::reply);
    EXPECT_EQ(codec::verify_request(bytes(reply)), nullptr) << "a reply is no request";
}

}  // namespace
}  // namespace slotmatch
