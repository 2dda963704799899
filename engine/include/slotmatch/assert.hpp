// Always-on assertion for invariants (TigerBeetle style): NDEBUG does not remove it.
// User input never reaches an SM_ASSERT; it gets an ErrorCode instead.
#pragma once

#include <cstdio>
#include <cstdlib>

#define SM_ASSERT(cond)                                                                       \
    do {                                                                                      \
        if (!(cond)) [[unlikely]] {                                                           \
            std::fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                     \
        }                                                                                     \
    } while (0)
