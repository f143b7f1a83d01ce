// Whether this build runs under a sanitizer runtime (ASan, TSan, MSan), for the few places that must allow for it:
// the runtime's own system calls and shadow memory, and its slowdown of every instruction.
#pragma once

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SIDE_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SIDE_SANITIZER_BUILD 1
#endif
#endif

namespace side {

#if defined(SIDE_SANITIZER_BUILD)
inline constexpr bool kSanitizerBuild = true;
// How much longer driver code takes under the sanitizer runtime (a Debug build with every access checked):
// measured 3-5x on the e1000's interrupt path on a loaded two-core machine, where healthy driver code was seen to
// stay 1-2 s in one entry point. Time bounds meant for a healthy driver are stretched by this much.
inline constexpr unsigned kSanitizerSlowdown = 4;
#else
inline constexpr bool kSanitizerBuild = false;
inline constexpr unsigned kSanitizerSlowdown = 1;
#endif

}  // namespace side
