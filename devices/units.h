// Byte sizes as people write them on command lines and read them in messages. Sizes use
// binary multiples: K = KiB = 1024, M = MiB, G = GiB, T = TiB.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <absl/status/statusor.h>

namespace tg {

// "4096", "512K", "512M", "2G", "1T", "512MiB", "64B" (suffix letter in either case).
// INVALID_ARGUMENT naming the text when it is not such a size or does not fit in 64 bits.
absl::StatusOr<uint64_t> parse_bytes(std::string_view text);

// "100 B", "512.0 MiB", "1.5 GiB": the largest unit that keeps the number >= 1, one decimal.
std::string format_bytes(uint64_t bytes);

}  // namespace tg
