// The canonical digest of a request (codec.hpp): a walk over the decoded message, guided by
// the schema's own reflection data (flatc --bfbs-gen-embed), so that it covers every field of
// every operation the schema has or will have, without a hand-kept list. Each field is read as
// a reader sees it: an absent scalar is its default, an absent string is empty; a table is
// either absent or its fields. Field order is the schema's (by name), never the encoder's.
#include <flatbuffers/reflection.h>

#include <slotmatch/codec.hpp>
#include <string_view>

#include "slotmatch/slotmatch_bfbs_generated.h"

namespace slotmatch::codec {

namespace {

namespace rf = reflection;

struct Digest {
    std::uint64_t h = 0x6A09E667F3BCC908ULL;

    void add(std::uint64_t v) {  // splitmix64's finaliser over h ^ v
        std::uint64_t z = h ^ (v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2));
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        h = z ^ (z >> 31);
    }
    void add(std::string_view s) {
        add(s.size());
        add(std::hash<std::string_view>{}(s));
    }
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

void walk(const rf::Object& object, const flatbuffers::Table& table, Digest& d);

// The table type a union field holds, or null when its type value is not in the schema.
const rf::Object* union_object(const rf::Object& parent, const rf::Field& field,
                               const flatbuffers::Table& table) {
    const rf::Field* type_field = parent.fields()->LookupByKey(
        (field.name()->str() + flatbuffers::UnionTypeFieldSuffix()).c_str());
    if (type_field == nullptr) return nullptr;
    const auto value = flatbuffers::GetAnyFieldI(table, *type_field);
    const rf::Enum& e = *schema().enums()->Get(field.type()->index());
    const rf::EnumVal* v = e.values()->LookupByKey(value);
    if (v == nullptr || v->union_type() == nullptr || v->union_type()->base_type() != rf::Obj) {
        return nullptr;
    }
    return schema().objects()->Get(v->union_type()->index());
}

void walk_struct(const rf::Object& object, const uint8_t* bytes, Digest& d) {
    d.add(std::string_view(reinterpret_cast<const char*>(bytes), object.bytesize()));
}

void walk_vector(const rf::Field& field, const flatbuffers::Table& table, Digest& d) {
    // An absent vector reads as an empty one (Actor.roles: none either way).
    const auto* v = table.GetPointer<const flatbuffers::VectorOfAny*>(field.offset());
    d.add(std::uint64_t{v ? v->size() : 0});
    if (v == nullptr) return;
    const rf::BaseType element = field.type()->element();
    for (flatbuffers::uoffset_t i = 0; i < v->size(); ++i) {
        if (is_float(element)) {
            const double x = flatbuffers::GetAnyVectorElemF(v, element, i);
            d.add(std::bit_cast<std::uint64_t>(x));
        } else if (is_scalar(element)) {
            d.add(static_cast<std::uint64_t>(flatbuffers::GetAnyVectorElemI(v, element, i)));
        } else if (element == rf::String) {
            const auto* s = flatbuffers::GetAnyVectorElemPointer<const flatbuffers::String>(v, i);
            d.add(s ? s->string_view() : std::string_view());
        } else if (element == rf::Obj) {
            const rf::Object& o = *schema().objects()->Get(field.type()->index());
            if (o.is_struct()) {
                walk_struct(
                    o, flatbuffers::GetAnyVectorElemAddressOf<const uint8_t>(v, i, o.bytesize()),
                    d);
            } else {
                const auto* t =
                    flatbuffers::GetAnyVectorElemPointer<const flatbuffers::Table>(v, i);
                if (t) walk(o, *t, d);
            }
        }
    }
}

void walk(const rf::Object& object, const flatbuffers::Table& table, Digest& d) {
    for (const rf::Field* field : *object.fields()) {
        if (field->deprecated()) continue;
        d.add(std::uint64_t{field->id()});
        // An optional scalar (`= null`) absent is not its default: Book.slot absent is "the
        // earliest match", not slot 0.
        const rf::BaseType type = field->type()->base_type();
        if (field->optional() && is_scalar(type)) {
            d.add(std::uint64_t{table.CheckField(field->offset())});
        }
        if (is_float(type)) {
            d.add(std::bit_cast<std::uint64_t>(flatbuffers::GetAnyFieldF(table, *field)));
        } else if (is_scalar(type)) {
            d.add(static_cast<std::uint64_t>(flatbuffers::GetAnyFieldI(table, *field)));
        } else if (type == rf::String) {
            const flatbuffers::String* s = flatbuffers::GetFieldS(table, *field);
            d.add(s ? s->string_view() : std::string_view());
        } else if (type == rf::Vector) {
            walk_vector(*field, table, d);
        } else if (type == rf::Obj) {
            const rf::Object& o = *schema().objects()->Get(field->type()->index());
            if (o.is_struct()) {
                const auto* s = table.GetStruct<const uint8_t*>(field->offset());
                d.add(std::uint64_t{s != nullptr});
                if (s) walk_struct(o, s, d);
            } else {
                const flatbuffers::Table* t = flatbuffers::GetFieldT(table, *field);
                d.add(std::uint64_t{t != nullptr});
                if (t) walk(o, *t, d);
            }
        } else if (type == rf::Union) {
            // Its type is the field before (hashed as a scalar); a type this schema does not
            // know (a newer client's operation) counts by its type alone.
            const flatbuffers::Table* t = flatbuffers::GetFieldT(table, *field);
            const rf::Object* o = t ? union_object(object, *field, table) : nullptr;
            d.add(std::uint64_t{o != nullptr});
            if (o) walk(*o, *t, d);
        }
    }
}

}  // namespace

std::uint64_t request_digest(const wire::RequestMessage& request) {
    Digest d;
    walk(*schema().root_table(), reinterpret_cast<const flatbuffers::Table&>(request), d);
    return d.h;
}

}  // namespace slotmatch::codec
