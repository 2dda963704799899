// slotmatch_codec_bench: what the front thread pays per request message before the engine sees
// it — the FlatBuffers verifier, and the canonical digest the retry cache compares
// (codec::request_digest, which walks the schema's reflection data), against a plain hash of
// the message's bytes (what the retry cache compared before issue 12). Requests of 1, 16 and
// 256 Book operations; items are requests.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <slotmatch/codec.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slotmatch {
namespace {

namespace fb = flatbuffers;

// A web booking request of `n` Book operations, as the client library writes it.
std::vector<std::uint8_t> book_request(int n) {
    fb::FlatBufferBuilder b;
    std::vector<fb::Offset<wire::Op>> ops;
    for (int i = 0; i < n; ++i) {
        const auto patient = b.CreateString("19121212121" + std::to_string(i % 10));
        const auto reason = b.CreateString("kontroll");
        wire::BookBuilder book(b);
        book.add_slot(static_cast<std::uint32_t>(1000 + i));
        book.add_patient(patient);
        book.add_reason(reason);
        ops.push_back(wire::CreateOp(b, wire::Operation::Book, book.Finish().Union()));
    }
    const auto op_vector = b.CreateVector(ops);
    const auto actor = wire::CreateActor(b, wire::Channel::web, b.CreateString("191212121212"));
    b.Finish(wire::CreateRequestMessage(b, codec::protocol_version, 42, b.CreateString("portal-7"),
                                        actor, op_vector),
             codec::request_identifier);
    return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

void BM_Verify(benchmark::State& state) {
    const auto bytes = book_request(static_cast<int>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(codec::verify_request(bytes));
    state.SetItemsProcessed(state.iterations());
    state.counters["bytes"] = static_cast<double>(bytes.size());
}

void BM_Digest(benchmark::State& state) {
    const auto bytes = book_request(static_cast<int>(state.range(0)));
    const wire::RequestMessage* m = codec::verify_request(bytes);
    if (m == nullptr) {
        state.SkipWithError("the request does not verify");
        return;
    }
    for (auto _ : state) benchmark::DoNotOptimize(codec::request_digest(*m));
    state.SetItemsProcessed(state.iterations());
}

void BM_ByteHash(benchmark::State& state) {
    const auto bytes = book_request(static_cast<int>(state.range(0)));
    const std::string_view view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    for (auto _ : state) {
        benchmark::DoNotOptimize(view.data());
        benchmark::DoNotOptimize(std::hash<std::string_view>{}(view));
    }
    state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Verify)->Arg(1)->Arg(16)->Arg(256);
BENCHMARK(BM_Digest)->Arg(1)->Arg(16)->Arg(256);
BENCHMARK(BM_ByteHash)->Arg(1)->Arg(16)->Arg(256);

}  // namespace
}  // namespace slotmatch

BENCHMARK_MAIN();
