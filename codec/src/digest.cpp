// The canonical digest of a request (codec.hpp): a walk over the decoded message, guided by
// the schema's own reflection data (flatc --bfbs-gen-embed), so that it covers every field of
// every operation the schema has or will have, without a hand-kept list. Each field is read as
// a reader sees it: an absent scalar is its default, an absent string is empty; a table is
// either absent or its fields. Field order is the schema's (by name), never the encoder's.
// The schema is compiled once into a plan per table (Plan), which the walk follows.
#include <flatbuffers/reflection.h>

#include <bit>
#include <slotmatch/codec.hpp>
#include <string_view>

#include "slotmatch/slotmatch_bfbs_generated.h"

namespace slotmatch::codec {

namespace {

namespace rf = reflection;

// One multiply per word (rotate, xor, multiply by an odd constant: each a bijection of the
// state, so two sequences that differ in one word never meet); splitmix64's finaliser at the
// end. The digest is only compared with the same key's retry of the same request id.
struct Digest {
    std::uint64_t h = 0x6A09E667F3BCC908ULL;

    void add(std::uint64_t v) { h = (std::rotl(h, 23) ^ v) * 0x9E3779B97F4A7C15ULL; }
    void add(std::string_view s) {
        add(s.size());
        add(std::hash<std::string_view>{}(s));
    }
    std::uint64_t value() const { return mix64(h); }
};

const rf::Schema& schema() {
    static const rf::Schema& s = *rf::GetSchema(wire::RequestMessageBinarySchema::data());
    return s;
}

bool is_scalar(rf::BaseType t) {
    return t >= rf::UType && t <= rf::Double;
}
bool is_float(rf::BaseType t) {
    return t == rf::Float || t == rf::Double;
}

// A scalar as a 64-bit pattern: integers widened by their sign, floats as their double's bits.
std::uint64_t read_scalar(rf::BaseType t, const std::uint8_t* p) {
    namespace f = flatbuffers;
    switch (t) {
        case rf::UType:
        case rf::Bool:
        case rf::UByte:
            return f::ReadScalar<std::uint8_t>(p);
        case rf::Byte:
            return static_cast<std::uint64_t>(f::ReadScalar<std::int8_t>(p));
        case rf::Short:
            return static_cast<std::uint64_t>(f::ReadScalar<std::int16_t>(p));
        case rf::UShort:
            return f::ReadScalar<std::uint16_t>(p);
        case rf::Int:
            return static_cast<std::uint64_t>(f::ReadScalar<std::int32_t>(p));
        case rf::UInt:
            return f::ReadScalar<std::uint32_t>(p);
        case rf::Long:
            return static_cast<std::uint64_t>(f::ReadScalar<std::int64_t>(p));
        case rf::ULong:
            return f::ReadScalar<std::uint64_t>(p);
        case rf::Float:
            return std::bit_cast<std::uint64_t>(double{f::ReadScalar<float>(p)});
        case rf::Double:
            return std::bit_cast<std::uint64_t>(f::ReadScalar<double>(p));
        default:
            return 0;
    }
}

// The schema compiled once into what the walk needs per field, so that a request's digest
// costs no name lookups or allocations (the reflection walk spent most of its time there).
struct Shape;

struct Step {
    std::uint16_t id = 0;
    flatbuffers::voffset_t offset = 0;
    rf::BaseType type = rf::None;
    rf::BaseType element = rf::None;  // a vector's elements
    bool optional = false;            // an optional scalar (`= null`)
    std::uint64_t absent = 0;         // a scalar's default, as read_scalar gives it
    const Shape* table = nullptr;     // a table field, or a vector's table elements
    std::uint32_t struct_size = 0;    // a struct field, or a vector's struct elements
    flatbuffers::voffset_t union_type_offset = 0;
    const std::vector<const Shape*>* members = nullptr;  // a union's tables by type value
};

struct Shape {
    std::vector<Step> steps;  // the schema's order (by name), deprecated fields left out
};

struct Plan {
    std::vector<Shape> shapes;                             // one per schema object
    std::vector<std::vector<const Shape*>> union_members;  // one per schema enum
    const Shape* root = nullptr;

    Plan() {
        const rf::Schema& s = schema();
        shapes.resize(s.objects()->size());
        union_members.resize(s.enums()->size());
        for (flatbuffers::uoffset_t e = 0; e < s.enums()->size(); ++e) {
            const rf::Enum& en = *s.enums()->Get(e);
            if (!en.is_union()) continue;
            auto& members = union_members[e];
            for (const rf::EnumVal* v : *en.values()) {
                const auto value = static_cast<std::size_t>(v->value());
                if (members.size() <= value) members.resize(value + 1, nullptr);
                if (v->union_type() != nullptr && v->union_type()->base_type() == rf::Obj) {
                    members[value] = &shapes[v->union_type()->index()];
                }
            }
        }
        for (flatbuffers::uoffset_t o = 0; o < s.objects()->size(); ++o) {
            const rf::Object& object = *s.objects()->Get(o);
            for (const rf::Field* field : *object.fields()) {
                if (field->deprecated()) continue;
                shapes[o].steps.push_back(step(object, *field));
            }
        }
        for (flatbuffers::uoffset_t o = 0; o < s.objects()->size(); ++o) {
            if (s.objects()->Get(o) == s.root_table()) root = &shapes[o];
        }
    }

    Step step(const rf::Object& object, const rf::Field& field) {
        const rf::Schema& s = schema();
        Step st;
        st.id = field.id();
        st.offset = field.offset();
        st.type = field.type()->base_type();
        st.element = field.type()->element();
        st.optional = field.optional();
        if (is_float(st.type)) {
            st.absent = std::bit_cast<std::uint64_t>(field.default_real());
        } else if (is_scalar(st.type)) {
            st.absent = static_cast<std::uint64_t>(field.default_integer());
        }
        const bool holds_object =
            st.type == rf::Obj || (st.type == rf::Vector && st.element == rf::Obj);
        if (holds_object) {
            const rf::Object& o = *s.objects()->Get(field.type()->index());
            if (o.is_struct()) {
                st.struct_size = static_cast<std::uint32_t>(o.bytesize());
            } else {
                st.table = &shapes[field.type()->index()];
            }
        }
        if (st.type == rf::Union) {
            const rf::Field* type_field = object.fields()->LookupByKey(
                (field.name()->str() + flatbuffers::UnionTypeFieldSuffix()).c_str());
            if (type_field != nullptr) {
                st.union_type_offset = type_field->offset();
                st.members = &union_members[field.type()->index()];
            }
        }
        return st;
    }
};

const Plan& plan() {
    static const Plan p;
    return p;
}

void walk(const Shape& shape, const flatbuffers::Table& table, Digest& d);

void add_struct(const std::uint8_t* bytes, std::uint32_t size, Digest& d) {
    d.add(std::string_view(reinterpret_cast<const char*>(bytes), size));
}

void walk_vector(const Step& step, const flatbuffers::Table& table, Digest& d) {
    // An absent vector reads as an empty one (Actor.roles: none either way).
    const auto* v = table.GetPointer<const flatbuffers::VectorOfAny*>(step.offset);
    d.add(std::uint64_t{v ? v->size() : 0});
    if (v == nullptr) return;
    for (flatbuffers::uoffset_t i = 0; i < v->size(); ++i) {
        if (is_scalar(step.element)) {
            const auto size = static_cast<std::size_t>(flatbuffers::GetTypeSize(step.element));
            d.add(read_scalar(step.element, v->Data() + i * size));
        } else if (step.element == rf::String) {
            const auto* s = flatbuffers::GetAnyVectorElemPointer<const flatbuffers::String>(v, i);
            d.add(s ? s->string_view() : std::string_view());
        } else if (step.struct_size != 0) {
            add_struct(
                flatbuffers::GetAnyVectorElemAddressOf<const std::uint8_t>(v, i, step.struct_size),
                step.struct_size, d);
        } else if (step.table != nullptr) {
            const auto* t = flatbuffers::GetAnyVectorElemPointer<const flatbuffers::Table>(v, i);
            if (t) walk(*step.table, *t, d);
        }
    }
}

void walk(const Shape& shape, const flatbuffers::Table& table, Digest& d) {
    for (const Step& step : shape.steps) {
        d.add(std::uint64_t{step.id});
        if (is_scalar(step.type)) {
            // An optional scalar (`= null`) absent is not its default: Book.slot absent is "the
            // earliest match", not slot 0.
            const std::uint8_t* p = table.GetAddressOf(step.offset);
            if (step.optional) d.add(std::uint64_t{p != nullptr});
            d.add(p ? read_scalar(step.type, p) : step.absent);
        } else if (step.type == rf::String) {
            const auto* s = table.GetPointer<const flatbuffers::String*>(step.offset);
            d.add(s ? s->string_view() : std::string_view());
        } else if (step.type == rf::Vector) {
            walk_vector(step, table, d);
        } else if (step.type == rf::Obj && step.struct_size != 0) {
            const auto* s = table.GetStruct<const std::uint8_t*>(step.offset);
            d.add(std::uint64_t{s != nullptr});
            if (s) add_struct(s, step.struct_size, d);
        } else if (step.type == rf::Obj) {
            const auto* t = table.GetPointer<const flatbuffers::Table*>(step.offset);
            d.add(std::uint64_t{t != nullptr});
            if (t) walk(*step.table, *t, d);
        } else if (step.type == rf::Union) {
            // Its type is the field before (hashed as a scalar); a type this schema does not
            // know (a newer client's operation) counts by its type alone.
            const auto* t = table.GetPointer<const flatbuffers::Table*>(step.offset);
            const Shape* member = nullptr;
            if (t != nullptr && step.members != nullptr) {
                const auto value = table.GetField<std::uint8_t>(step.union_type_offset, 0);
                if (value < step.members->size()) member = (*step.members)[value];
            }
            d.add(std::uint64_t{member != nullptr});
            if (member) walk(*member, *t, d);
        }
    }
}

}  // namespace

std::uint64_t request_digest(const wire::RequestMessage& request) {
    Digest d;
    walk(*plan().root, reinterpret_cast<const flatbuffers::Table&>(request), d);
    return d.value();
}

}  // namespace slotmatch::codec
