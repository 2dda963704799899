// Text put together at compile time from literals and constants, for messages that name a
// limit: the message states the constant's own value, so it cannot drift from the bound it
// describes, and a refusal built from it is still static text that never allocates (Outcome).
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <slotmatch/assert.hpp>
#include <string_view>

namespace slotmatch {

class StaticText {
  public:
    static constexpr std::size_t text_bytes_max = 120;  // as long as a refusal message gets

    constexpr std::string_view view() const { return {chars_.data(), size_}; }
    constexpr void append(std::string_view text) {
        for (char c : text) push(c);
    }
    // In decimal.
    constexpr void append(std::unsigned_integral auto number) {
        std::array<char, 20> digits{};  // 2^64 - 1 has 20
        std::size_t n = 0;
        do {
            digits[n++] = static_cast<char>('0' + number % 10);
            number /= 10;
        } while (number != 0);
        while (n > 0) push(digits[--n]);
    }

  private:
    constexpr void push(char c) {
        SM_ASSERT(size_ < chars_.size());  // at compile time, a text too long does not compile
        chars_[size_++] = c;
    }

    std::array<char, text_bytes_max> chars_{};
    std::size_t size_ = 0;
};

// static_text("must be 1..", SlotQuery::limit_max): string literals and unsigned constants.
template <typename... Parts>
consteval StaticText static_text(const Parts&... parts) {
    StaticText text;
    (text.append(parts), ...);
    return text;
}

}  // namespace slotmatch
