#include "core/kernels/blas_kernels.h"

#include <cblas.h>
#include <cpuid.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace kat {
namespace {

constexpr const char* kBlasThreadsVar = "OPENBLAS_NUM_THREADS";
constexpr const char* kChoiceVar = "KAT_BLAS_CHOICE";
constexpr const char* kProbeVar = "KAT_BLAS_PROBE";
constexpr int kProbeWrong = 10;     // exit code of a check whose products differ from the reference
constexpr int kProbeMismatch = 11;  // OpenBLAS did not load the family asked for

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string loaded_family() {
  const char* name = openblas_get_corename();
  return name != nullptr ? trim(name) : std::string();
}

std::string library_config() {
  const char* config = openblas_get_config();
  return config != nullptr ? trim(config) : std::string("OpenBLAS");
}

// ---- the CPU ----

struct Cpu {
  std::string vendor;  // "GenuineIntel", "AuthenticAMD", ...
  std::string model;   // the brand string
  bool avx = false, avx2_fma = false, avx512 = false, avx512_bf16 = false;
};

Cpu this_cpu() {
  Cpu cpu;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0, &a, &b, &c, &d) != 0) {
    char vendor[13] = {};
    std::memcpy(vendor, &b, 4);
    std::memcpy(vendor + 4, &d, 4);
    std::memcpy(vendor + 8, &c, 4);
    cpu.vendor = vendor;
  }
  if (__get_cpuid(0x80000000U, &a, &b, &c, &d) != 0 && a >= 0x80000004U) {
    char brand[49] = {};
    for (unsigned leaf = 0; leaf < 3; ++leaf) {
      __get_cpuid(0x80000002U + leaf, &a, &b, &c, &d);
      std::memcpy(brand + 16 * leaf, &a, 4);
      std::memcpy(brand + 16 * leaf + 4, &b, 4);
      std::memcpy(brand + 16 * leaf + 8, &c, 4);
      std::memcpy(brand + 16 * leaf + 12, &d, 4);
    }
    cpu.model = trim(brand);
  }
  // __builtin_cpu_supports also checks that the operating system saves the registers.
  __builtin_cpu_init();
  cpu.avx = __builtin_cpu_supports("avx") != 0;
  cpu.avx2_fma = __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
  cpu.avx512 = __builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("avx512bw") != 0 &&
               __builtin_cpu_supports("avx512vl") != 0 && __builtin_cpu_supports("avx512dq") != 0 &&
               __builtin_cpu_supports("avx512cd") != 0;
  // AVX512_BF16: CPUID leaf 7, sub-leaf 1, EAX bit 5.
  if (cpu.avx512 && __get_cpuid_count(7, 1, &a, &b, &c, &d) != 0) cpu.avx512_bf16 = ((a >> 5) & 1U) != 0;
  return cpu;
}

struct Candidate {
  std::string family;
  std::string why;  // the features that allow it
};

std::vector<Candidate> candidates(const Cpu& cpu) {
  std::vector<Candidate> out;
  const bool amd = cpu.vendor == "AuthenticAMD";
  if (cpu.avx512 && !amd) {
    if (cpu.avx512_bf16) out.push_back({"Cooperlake", "AVX-512 with AVX512_BF16"});
    out.push_back({"SkylakeX", "AVX-512"});
  }
  if (cpu.avx2_fma) {
    out.push_back({"Haswell", amd && cpu.avx512 ? "AVX2 and FMA (AVX-512 kernels skipped on AMD)" : "AVX2 and FMA"});
  }
  if (cpu.avx) out.push_back({"Sandybridge", "AVX"});
  return out;
}

// The families kat knows to be no better than those it ranks: a loaded family outside this list (one
// a newer OpenBLAS has for this very CPU) is left alone.
bool ranked_or_older(const std::string& family) {
  static const char* const kKnown[] = {
      "Katmai",      "Coppermine", "Northwood",   "Prescott",     "Banias",    "Core2",     "Penryn",    "Dunnington",
      "Nehalem",     "Atom",       "Opteron",     "Opteron_SSE3", "Barcelona", "Bobcat",    "Bulldozer", "Piledriver",
      "Steamroller", "Excavator",  "Sandybridge", "Haswell",      "SkylakeX",  "Cooperlake"};
  return std::any_of(std::begin(kKnown), std::end(kKnown), [&](const char* k) { return lower(k) == lower(family); });
}

// ---- the check, run in a child process ----

// C = op(A) op(B) for row-major A (m x k or k x m) and B, in double, against OpenBLAS's result.
template <typename T>
bool product_matches(int m, int n, int k, bool ta, bool tb, std::uint32_t& seed) {
  auto next = [&seed]() {
    seed = seed * 1664525U + 1013904223U;
    return static_cast<T>(static_cast<double>(seed >> 8) / 16777216.0 - 0.5);
  };
  std::vector<T> a(static_cast<std::size_t>(m) * k), b(static_cast<std::size_t>(k) * n);
  std::vector<T> c(static_cast<std::size_t>(m) * n, T(1));
  for (T& x : a) x = next();
  for (T& x : b) x = next();
  const int lda = ta ? m : k, ldb = tb ? k : n;
  const T alpha = T(0.75), beta = T(0.5);
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a.data(),
                lda, b.data(), ldb, beta, c.data(), n);
  } else {
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a.data(),
                lda, b.data(), ldb, beta, c.data(), n);
  }
  const double tolerance = (std::is_same_v<T, float> ? 1e-5 : 1e-12) * std::sqrt(static_cast<double>(k)) + 1e-6;
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double ref = 0.0;
      for (int p = 0; p < k; ++p) {
        const double av = ta ? a[static_cast<std::size_t>(p) * m + i] : a[static_cast<std::size_t>(i) * k + p];
        const double bv = tb ? b[static_cast<std::size_t>(j) * k + p] : b[static_cast<std::size_t>(p) * n + j];
        ref += av * bv;
      }
      ref = alpha * ref + beta * 1.0;
      if (!(std::abs(c[static_cast<std::size_t>(i) * n + j] - ref) <= tolerance)) return false;
    }
  }
  return true;
}

[[noreturn]] void run_probe(const char* family) {
  if (lower(loaded_family()) != lower(family)) std::_Exit(kProbeMismatch);
  openblas_set_num_threads(1);
  std::uint32_t seed = 12345;
  // Shapes that reach the edge kernels (sizes not multiples of the register blocks) and the
  // blocked paths (larger than one cache block), every transpose, matrix-vector products too.
  const int shapes[][3] = {{1, 1, 1},    {1, 37, 19},    {23, 1, 41},     {7, 13, 5},
                           {64, 64, 64}, {129, 67, 250}, {300, 257, 129}, {17, 520, 33}};
  for (const auto& s : shapes) {
    for (int t = 0; t < 4; ++t) {
      if (!product_matches<float>(s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, seed)) std::_Exit(kProbeWrong);
    }
    if (!product_matches<double>(s[0], s[1], s[2], false, true, seed)) std::_Exit(kProbeWrong);
  }
  std::_Exit(0);
}

// ---- the verdict cache ----

std::string cache_path() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::string base;
  if (xdg != nullptr && xdg[0] == '/') {
    base = xdg;
  } else if (home != nullptr && home[0] == '/') {
    base = std::string(home) + "/.cache";
  } else {
    return {};
  }
  return base + "/kat/openblas-kernels.tsv";
}

std::string cache_key(const Cpu& cpu, const std::string& family) {
  // The build's description without the name of the family loaded now.
  std::istringstream words(library_config());
  std::string build, word;
  while (words >> word) {
    if (lower(word) != lower(loaded_family())) build += (build.empty() ? "" : " ") + word;
  }
  std::string key = cpu.vendor + "|" + cpu.model + "|" + build + "|" + family;
  std::replace(key.begin(), key.end(), '\t', ' ');
  std::replace(key.begin(), key.end(), '\n', ' ');
  return key;
}

// "ok", "wrong" or "" (not known).
std::string cached_verdict(const std::string& key) {
  const std::string path = cache_path();
  if (path.empty()) return {};
  std::ifstream in(path);
  std::string line, verdict;
  while (std::getline(in, line)) {
    const auto tab = line.rfind('\t');
    if (tab != std::string::npos && line.compare(0, tab, key) == 0 && tab == key.size()) verdict = line.substr(tab + 1);
  }
  return verdict == "ok" || verdict == "wrong" ? verdict : std::string();
}

void remember_verdict(const std::string& key, const std::string& verdict) {
  const std::string path = cache_path();
  if (path.empty()) return;
  // mkdir -p of the two levels kat may need; a cache that cannot be written only costs a re-check.
  const std::string dir = path.substr(0, path.rfind('/'));
  ::mkdir(dir.substr(0, dir.rfind('/')).c_str(), 0700);
  ::mkdir(dir.c_str(), 0700);
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  const std::string line = key + "\t" + verdict + "\n";  // one append: whole lines even from parallel starts
  [[maybe_unused]] const ssize_t written = ::write(fd, line.data(), line.size());
  ::close(fd);
}

// How long a check may take: KAT_BLAS_CHECK_SECONDS, else 20 (it takes about 0.2 s).
double check_seconds() {
  const char* v = std::getenv("KAT_BLAS_CHECK_SECONDS");
  if (v == nullptr || *v == '\0') return 20.0;
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  return end != nullptr && *end == '\0' && s >= 0.0 && s <= 3600.0 ? s : 20.0;
}

// Runs this program as a checking child with OPENBLAS_CORETYPE=family: "ok", "wrong" (its products
// differ, the family is not provided, or the check crashed: a verdict to keep), or "" when the check
// could not tell (it could not start, or hung on a busy machine: not cached, checked again next time).
std::string probe_in_child(const std::string& family, std::string& detail) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    if (kv.rfind("OPENBLAS_CORETYPE=", 0) == 0 || kv.rfind("OPENBLAS_NUM_THREADS=", 0) == 0 ||
        kv.rfind(std::string(kProbeVar) + "=", 0) == 0) {
      continue;
    }
    env_strings.push_back(kv);
  }
  env_strings.push_back("OPENBLAS_CORETYPE=" + family);
  env_strings.push_back("OPENBLAS_NUM_THREADS=1");
  env_strings.push_back(std::string(kProbeVar) + "=" + family);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string self = "/proc/self/exe";
  std::vector<char*> argv = {self.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    detail = fmt::format("the check could not start ({})", std::strerror(rc));
    return "";
  }
  int status = 0;
  const double limit = check_seconds();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit);
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      detail = "the check's process was lost";
      return "";
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      detail = fmt::format("the check did not finish in {} s", limit);
      return "";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (WIFSIGNALED(status)) {
    detail = fmt::format("the check crashed (signal {})", WTERMSIG(status));
    return "wrong";
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 0) return "ok";
  if (code == kProbeWrong) detail = "its products differ from the reference";
  if (code == kProbeMismatch) detail = "this OpenBLAS does not provide it";
  if (code == kProbeWrong || code == kProbeMismatch) return "wrong";
  detail = fmt::format("the check failed (exit code {})", code);
  return "";
}

BlasKernels& state() {
  static BlasKernels k;
  return k;
}

}  // namespace

namespace {

// The family (steps 1-4 of blas_kernels.h); may not return (the restart with the chosen family).
void choose_family(char** argv) {
  BlasKernels& k = state();
  k.family = loaded_family();
  k.library = library_config();
  const char* set = std::getenv("OPENBLAS_CORETYPE");
  const char* choice = std::getenv(kChoiceVar);
  const std::string choice_s = choice != nullptr ? choice : "";
  if (set != nullptr && *set != '\0') {
    // Our own restart carries "family<TAB>reason"; anything else was set by the user.
    const auto tab = choice_s.find('\t');
    if (tab != std::string::npos && lower(choice_s.substr(0, tab)) == lower(set)) {
      k.origin = "chosen";
      k.reason = choice_s.substr(tab + 1);
    } else {
      k.origin = "environment";
      k.reason = fmt::format("OPENBLAS_CORETYPE={} is set in the environment", set);
    }
    return;
  }
  k.origin = "openblas";
  if (choice_s == "off") {
    k.reason = "OpenBLAS's own choice (KAT_BLAS_CHOICE=off)";
    return;
  }
  k.reason = "OpenBLAS's own choice";
  if (!ranked_or_older(k.family)) {
    k.reason = "OpenBLAS's own choice for this CPU (a family newer than those kat ranks)";
    return;
  }
  const Cpu cpu = this_cpu();
  std::string rejected;
  for (const Candidate& c : candidates(cpu)) {
    if (lower(c.family) == lower(k.family)) {
      // A faster family rejected on the way still says so.
      k.reason = fmt::format("OpenBLAS's own choice, the fastest for this CPU ({}){}", c.why, rejected);
      return;
    }
    const std::string key = cache_key(cpu, c.family);
    std::string verdict = cached_verdict(key);
    std::string detail = "its products differed from the reference when checked before";
    bool checked_now = false;
    if (verdict.empty()) {
      verdict = probe_in_child(c.family, detail);
      checked_now = true;
      if (!verdict.empty()) remember_verdict(key, verdict);
    }
    if (verdict == "ok") {
      std::string reason = fmt::format("chosen for this CPU ({}){}; its products checked against a reference{}", c.why,
                                       rejected, checked_now ? "" : " (cached)");
      const std::string value = c.family + "\t" + reason;
      if (::setenv("OPENBLAS_CORETYPE", c.family.c_str(), 1) != 0 || ::setenv(kChoiceVar, value.c_str(), 1) != 0) {
        k.reason = "OpenBLAS's own choice (the environment could not be set)";
        return;
      }
      const bool threads_set = std::getenv(kBlasThreadsVar) == nullptr && ::setenv(kBlasThreadsVar, "1", 0) == 0;
      ::execv("/proc/self/exe", argv);
      if (threads_set) ::unsetenv(kBlasThreadsVar);
      // Still here: the restart failed; stay on what is loaded and say so.
      const int err = errno;
      ::unsetenv("OPENBLAS_CORETYPE");
      ::unsetenv(kChoiceVar);
      k.reason = fmt::format("OpenBLAS's own choice ({} would suit this CPU, but kat could not restart: {})", c.family,
                             std::strerror(err));
      return;
    }
    rejected += fmt::format("; {} rejected: {}", c.family, detail);
  }
  if (!rejected.empty()) k.reason += rejected;
}

}  // namespace

void choose_blas_kernels(int argc, char** argv) {
  (void)argc;
  if (const char* probe = std::getenv(kProbeVar); probe != nullptr && *probe != '\0') run_probe(probe);
  choose_family(argv);
  // Step 5: OpenBLAS started without OPENBLAS_NUM_THREADS creates a server thread per core, which
  // kat never uses (it holds OpenBLAS at one thread and splits products itself) but which wakes and
  // spins in sched_yield for a while whenever the thread count is set, on the core kat's second
  // thread needs. One restart with OPENBLAS_NUM_THREADS=1 keeps it from being made.
  const char* choice = std::getenv(kChoiceVar);
  if (std::getenv(kBlasThreadsVar) != nullptr || (choice != nullptr && std::string(choice) == "off")) return;
  if (::setenv(kBlasThreadsVar, "1", 0) != 0) return;
  ::execv("/proc/self/exe", argv);
  ::unsetenv(kBlasThreadsVar);  // still here: the restart failed; OpenBLAS keeps its threads
}

std::string describe_blas_threads() {
  const char* set = std::getenv(kBlasThreadsVar);
  if (set == nullptr) {
    return "OpenBLAS's own threads: started (OPENBLAS_NUM_THREADS is not set), unused: kat splits products itself";
  }
  if (std::string(set) == "1") {
    return "OpenBLAS's own threads: none (OPENBLAS_NUM_THREADS=1); kat splits products over its threads itself";
  }
  return fmt::format(
      "OpenBLAS's own threads: OPENBLAS_NUM_THREADS={} is set in the environment; they are unused: kat "
      "splits products over its threads itself",
      set);
}

bool cpu_has_avx512_bf16() {
  static const bool has = this_cpu().avx512_bf16;
  return has;
}

BlasKernels blas_kernels() {
  BlasKernels k = state();
  if (k.family.empty()) {
    k.family = loaded_family();
    k.library = library_config();
    k.origin = std::getenv("OPENBLAS_CORETYPE") != nullptr ? "environment" : "openblas";
    k.reason = "not chosen by kat (choose_blas_kernels was not called)";
  }
  return k;
}

std::string describe_blas_kernels() {
  const BlasKernels k = blas_kernels();
  std::string version = k.library;
  // "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." -> "OpenBLAS 0.3.21"
  std::istringstream words(k.library);
  std::string first, second;
  if (words >> first >> second) version = first + " " + second;
  return fmt::format("{}, {} kernels: {}", version, k.family, k.reason);
}

}  // namespace kat
