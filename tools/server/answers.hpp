// One operation's answer, refused or accepted, as the service's handlers write it (service.cpp
// and service_admin.cpp).
#pragma once

#include <slotmatch/codec.hpp>

#include "service.hpp"

namespace slotmatch::tools::answers {

inline Service::Answer refused(flatbuffers::FlatBufferBuilder& b, ErrorCode code,
                               std::string_view field, std::string_view message) {
    const auto error = codec::encode_error(b, code, field, message);
    return {code, wire::CreateResult(b, error)};
}

template <typename T>
Service::Answer refused(flatbuffers::FlatBufferBuilder& b, const Outcome<T>& o) {
    return refused(b, o.code, o.field, o.message);
}

template <typename Body>
Service::Answer accepted(flatbuffers::FlatBufferBuilder& b, flatbuffers::Offset<Body> body) {
    return {ErrorCode::ok,
            wire::CreateResult(b, 0, wire::ReplyBodyTraits<Body>::enum_value, body.Union())};
}

}  // namespace slotmatch::tools::answers
