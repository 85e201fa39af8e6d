// CLI11 checks for the flags every tgrack program shares, so a value that makes no sense is
// refused at start (CLI11 prints "--flag: why", the program exits 2) instead of being run with.
//   host_port(kServe)   HOST:PORT to listen on; port 0 picks a free port.
//   host_port(kConnect) HOST:PORT to connect to; the port must be 1..65535.
//   byte_size(min, max) a size as parse_bytes reads it ("512M"), at least `min` bytes and
//                       at most `max`.
//   parse(app, ...)     CLI11_PARSE with the usage-error exit status 2 (CLI11's own are 1xx).
//   add_version(app, name, version)  --version printing "NAME VERSION", exit 0.
// Every tgrack program exits kExitOk (0) when it did its work, kExitFailed (1) when the work
// failed, kExitUsage (2) when the command line makes no sense.
//   duration(zero)      a duration ("500ms", "30s", "2m") up to 24 h, positive unless `zero`
//                       is kZeroAllowed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <absl/strings/numbers.h>
#include <absl/time/time.h>

#include "devices/units.h"

namespace tg::flags {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

enum class PortUse { kServe, kConnect };
inline constexpr PortUse kServe = PortUse::kServe;
inline constexpr PortUse kConnect = PortUse::kConnect;

inline CLI::Validator host_port(PortUse use) {
  return CLI::Validator(
      [use](std::string& text) -> std::string {
        const int lowest = use == kServe ? 0 : 1;
        const size_t colon = text.rfind(':');
        int port = -1;
        if (colon == std::string::npos || colon == 0 ||
            !absl::SimpleAtoi(text.substr(colon + 1), &port) || port < lowest || port > 65535) {
          return "'" + text + "' is not HOST:PORT with a port from " + std::to_string(lowest) +
                 " to 65535";
        }
        return "";
      },
      "HOST:PORT");
}

inline CLI::Validator byte_size(uint64_t min, uint64_t max = UINT64_MAX) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        auto bytes = parse_bytes(text);
        if (!bytes.ok()) return std::string(bytes.status().message());
        if (*bytes < min) {
          return "'" + text + "' is " + format_bytes(*bytes) + ", less than the minimum of " +
                 format_bytes(min) + " (sizes take a unit: 512K, 64M, 2G)";
        }
        if (*bytes > max) {
          return "'" + text + "' is " + format_bytes(*bytes) + ", more than the maximum of " +
                 format_bytes(max);
        }
        return "";
      },
      "SIZE");
}

enum class Zero { kAllowed, kRefused };
inline constexpr Zero kZeroAllowed = Zero::kAllowed;
inline constexpr Zero kPositive = Zero::kRefused;

inline CLI::Validator duration(Zero zero) {
  return CLI::Validator(
      [zero](std::string& text) -> std::string {
        absl::Duration d;
        if (!absl::ParseDuration(text, &d)) {
          return "'" + text + "' is not a duration (e.g. 500ms, 30s, 2m)";
        }
        if (d < absl::ZeroDuration() || (zero == kPositive && d == absl::ZeroDuration())) {
          return "'" + text + "' is not " + (zero == kPositive ? "positive" : "zero or more");
        }
        if (d > absl::Hours(24)) return "'" + text + "' is longer than 24h";
        return "";
      },
      "DURATION");
}

inline void add_version(CLI::App& app, const std::string& name, const std::string& version) {
  app.set_version_flag("--version", name + " " + version, "Print the program's name and version");
}

// Parses the command line: nullopt when the program should go on; otherwise the status to
// exit with, after CLI11 printed the help (0) or the error naming the flag (2).
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
}

}  // namespace tg::flags
