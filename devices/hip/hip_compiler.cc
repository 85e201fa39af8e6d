#include "devices/hip/hip_compiler.h"

#include <memory>

#include <absl/strings/str_cat.h>
#include <hip/hiprtc.h>

namespace tg {
namespace {

struct ProgramDeleter {
  void operator()(hiprtcProgram* p) const {
    hiprtcDestroyProgram(p);
    delete p;
  }
};

absl::Status rtc_status(hiprtcResult result, const std::string& what) {
  if (result == HIPRTC_SUCCESS) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("hip backend: hiprtc ", what, ": ", hiprtcGetErrorString(result)));
}

}  // namespace

absl::StatusOr<std::string> compile_hip_source(const std::string& source,
                                               const std::string& arch) {
  if (arch.empty()) return absl::InvalidArgumentError("hip backend: no gfx target to compile for");
  auto program = std::unique_ptr<hiprtcProgram, ProgramDeleter>(new hiprtcProgram{});
  hiprtcResult r = hiprtcCreateProgram(program.get(), source.c_str(), "tg_kernel.hip", 0,
                                       nullptr, nullptr);
  if (r != HIPRTC_SUCCESS) {
    delete program.release();
    return rtc_status(r, "create program");
  }
  const std::string arch_flag = absl::StrCat("--offload-arch=", arch);
  const char* options[] = {arch_flag.c_str(), "-O3", "-std=c++17"};
  r = hiprtcCompileProgram(*program, 3, options);
  if (r != HIPRTC_SUCCESS) {
    size_t log_size = 0;
    std::string log;
    if (hiprtcGetProgramLogSize(*program, &log_size) == HIPRTC_SUCCESS && log_size > 0) {
      log.resize(log_size);
      hiprtcGetProgramLog(*program, log.data());
    }
    return absl::InternalError(absl::StrCat("hip backend: compiling a kernel for ", arch,
                                            " failed: ", hiprtcGetErrorString(r), "\n", log,
                                            "\nsource:\n", source));
  }
  size_t size = 0;
  if (auto s = rtc_status(hiprtcGetCodeSize(*program, &size), "code size"); !s.ok()) return s;
  std::string code(size, '\0');
  if (auto s = rtc_status(hiprtcGetCode(*program, code.data()), "get code"); !s.ok()) return s;
  return code;
}

}  // namespace tg
