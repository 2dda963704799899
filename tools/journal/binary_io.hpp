// Plain values in native byte order, for the journal's own files (snapshots and the region
// image in them): a Writer appends, a Reader reads back with every read bounds-checked, so a
// short or damaged file reads as damaged rather than past its end.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace slotmatch::journal {

class Writer {
  public:
    template <typename T>
    void put(const T& v) {
        static_assert(std::is_trivially_copyable_v<T>);
        out_.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    void put_bytes(const std::uint8_t* data, std::size_t size) {
        out_.append(reinterpret_cast<const char*>(data), size);
    }
    // Its size, then its bytes.
    void put_text(std::string_view text) {
        put(static_cast<std::uint64_t>(text.size()));
        out_.append(text);
    }
    std::string& bytes() { return out_; }

  private:
    std::string out_;
};

class Reader {
  public:
    explicit Reader(std::string_view in) : in_(in) {}
    template <typename T>
    bool get(T& v) {
        static_assert(std::is_trivially_copyable_v<T>);
        if (in_.size() - at_ < sizeof v) return false;
        std::memcpy(&v, in_.data() + at_, sizeof v);
        at_ += sizeof v;
        return true;
    }
    bool skip(std::size_t n, std::string_view& out) {
        if (in_.size() - at_ < n) return false;
        out = in_.substr(at_, n);
        at_ += n;
        return true;
    }
    bool get_text(std::string& text) {
        std::uint64_t n = 0;
        std::string_view bytes;
        if (!get(n) || n > in_.size() - at_ || !skip(static_cast<std::size_t>(n), bytes)) {
            return false;
        }
        text.assign(bytes);
        return true;
    }
    // A count of records of `each` bytes that must fit in what is left.
    bool count(std::uint64_t& n, std::size_t each) {
        return get(n) && n <= (in_.size() - at_) / each;
    }
    bool done() const { return at_ == in_.size(); }

  private:
    std::string_view in_;
    std::size_t at_ = 0;
};

}  // namespace slotmatch::journal
