// The cache line: the unit in which cores share memory. Fields that different threads write
// are kept on different lines (alignas(cache_line_bytes)); on one line, every write by one
// thread takes the line from the others' caches even though they never touch the same field
// (false sharing), and a hot counter next to read-mostly fields slows every reader.
#pragma once

#include <cstddef>

namespace slotmatch {

// x86-64, the engine's target, has 64-byte lines. A named constant rather than
// std::hardware_destructive_interference_size: g++ 12 warns about every use of that in a header
// (-Winterference-size, an error under -Werror), because its value follows -mtune and so would
// change the layout of these types between builds; and clang 14 (clang-tidy) with libstdc++ 12
// does not declare it at all.
inline constexpr std::size_t cache_line_bytes = 64;

// The line, counted from the start of an object aligned to a line, that holds the byte at
// `offset_bytes` (for static_asserts on offsetof: these fields are on different lines).
constexpr std::size_t cache_line_of(std::size_t offset_bytes) {
    return offset_bytes / cache_line_bytes;
}

}  // namespace slotmatch
