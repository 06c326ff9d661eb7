#include "io/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/atomic_file.h"

extern char** environ;

namespace sluice {
namespace {

// ---- What runs in the forked wrapper: async-signal-safe calls only (the owner may have other threads). ----

size_t FormatUint(char* buf, uint64_t v) {  // decimal, no terminator; returns length
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  return n;
}

}  // namespace

size_t StatusTempName(const char* path, int64_t pid, char* out, size_t cap) {
  return FormatTemporaryName(path, pid, 0, out, cap);
}

namespace {

void WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Writes the status file as AtomicFile writes a file: to "<path>.tmp-<pid>-0", this process's temporary in
// AtomicFile's naming (so RemoveAbandonedTemporaries and ReadStatusFile recognise one a killed wrapper left),
// then fsync, rename, fsync of the directory.
void WriteStatus(const char* path, const char* dir, const char* word, int value, bool with_value) {
  char tmp_path[PATH_MAX + kTemporaryNameExtra];
  if (StatusTempName(path, ::getpid(), tmp_path, sizeof tmp_path) == 0) return;
  char buf[64];
  size_t n = 0;
  for (const char* w = word; *w; ++w) buf[n++] = *w;
  if (with_value) {
    buf[n++] = ' ';
    n += FormatUint(buf + n, static_cast<unsigned>(value));
  }
  buf[n++] = '\n';
  int fd = ::open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  WriteAll(fd, buf, n);
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp_path, path) != 0) return;  // left for the owner to remove (ReadStatusFile)
  int dfd = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  ::fsync(dfd);
  ::close(dfd);
}

void CloseFrom(int first) {
  if (::syscall(SYS_close_range, first, ~0U, 0) == 0) return;
  for (int fd = first; fd < 65536; ++fd) ::close(fd);  // kernels before 5.9
}

void DefaultSignals() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) ::sigaction(s, &sa, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

struct Prepared {  // everything the wrapper needs, built before fork
  std::vector<std::string> argv_s, env_s;
  std::vector<char*> argv, envp;
  std::string exe, cwd, status_path, status_dir;
  int out = -1, err = -1, devnull = -1;
};

[[noreturn]] void WrapperMain(const Prepared& p, int go_read) {
  ::setsid();
  // Fixed descriptors: 0-2 for the command, 3 the go pipe; everything else the owner had open (a
  // listening socket, the database, other attempts' files) is closed so this process holds none of it.
  ::dup2(p.devnull, 0);
  ::dup2(p.out, 1);
  ::dup2(p.err, 2);
  ::dup2(go_read, 3);
  CloseFrom(4);
  struct sigaction ign;
  std::memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  DefaultSignals();
  ::sigaction(SIGTERM, &ign, nullptr);
  ::sigaction(SIGINT, &ign, nullptr);
  ::sigaction(SIGHUP, &ign, nullptr);
  ::sigaction(SIGPIPE, &ign, nullptr);
  char go = 0;
  ssize_t r;
  do r = ::read(3, &go, 1);
  while (r < 0 && errno == EINTR);
  ::close(3);
  if (r != 1) {  // the owner died before recording us: run nothing
    WriteStatus(p.status_path.c_str(), p.status_dir.c_str(), "notstarted", 0, false);
    ::_exit(0);
  }
  pid_t c = ::fork();
  if (c == 0) {
    DefaultSignals();
    if (!p.cwd.empty() && ::chdir(p.cwd.c_str()) != 0) {
      const char msg[] = "sluice: cannot enter the job's working directory\n";
      WriteAll(2, msg, sizeof msg - 1);
      ::_exit(127);
    }
    ::execve(p.exe.c_str(), p.argv.data(), p.envp.data());
    const char* e = std::strerror(errno);  // glibc's is safe for a valid errno in practice
    const char pre[] = "sluice: cannot execute ";
    WriteAll(2, pre, sizeof pre - 1);
    WriteAll(2, p.argv[0], std::strlen(p.argv[0]));
    WriteAll(2, ": ", 2);
    WriteAll(2, e, std::strlen(e));
    WriteAll(2, "\n", 1);
    ::_exit(127);
  }
  if (c < 0) {
    WriteStatus(p.status_path.c_str(), p.status_dir.c_str(), "exit", 126, true);
    ::_exit(126);
  }
  int st = 0;
  while (::waitpid(c, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(st)) {
    WriteStatus(p.status_path.c_str(), p.status_dir.c_str(), "signal", WTERMSIG(st), true);
    ::_exit(128 + WTERMSIG(st));
  }
  WriteStatus(p.status_path.c_str(), p.status_dir.c_str(), "exit", WEXITSTATUS(st), true);
  ::_exit(WEXITSTATUS(st));
}

// argv[0] as execve needs it: a path as given, a bare name looked up in PATH (the job's, else ours).
std::string ResolveExecutable(const std::string& name, const std::map<std::string, std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  auto it = env.find("PATH");
  const char* path = it != env.end() ? it->second.c_str() : std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::stringstream ss(dirs);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    std::string cand = (dir.empty() ? "." : dir) + "/" + name;
    struct stat sb;
    if (::stat(cand.c_str(), &sb) == 0 && S_ISREG(sb.st_mode) && ::access(cand.c_str(), X_OK) == 0) return cand;
  }
  return name;  // execve fails with ENOENT and the wrapper reports it on the attempt's stderr
}

int OpenLog(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) Fail(ErrorKind::kOutput, "cannot open {}: {}", path, std::strerror(errno));
  return fd;
}
}  // namespace

ProcessIdentity PosixProcesses::Spawn(const LaunchRequest& req, int* go_fd) {
  Prepared p;
  p.argv_s = req.argv;
  for (auto& a : p.argv_s) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : req.env) env[k] = v;
  for (const auto& [k, v] : env) p.env_s.push_back(k + "=" + v);
  for (auto& e : p.env_s) p.envp.push_back(e.data());
  p.envp.push_back(nullptr);
  p.exe = ResolveExecutable(req.argv.at(0), req.env);
  p.cwd = req.cwd;
  p.status_path = req.status_path;
  p.status_dir = std::filesystem::path(req.status_path).parent_path().string();
  if (p.status_dir.empty()) p.status_dir = ".";
  p.out = OpenLog(req.stdout_path);
  p.err = OpenLog(req.stderr_path);
  p.devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ::close(p.out), ::close(p.err), ::close(p.devnull);
    Fail(ErrorKind::kOutput, "pipe: {}", std::strerror(errno));
  }
  pid_t pid = ::fork();
  if (pid == 0) WrapperMain(p, fds[0]);
  int fork_errno = errno;
  ::close(fds[0]);
  ::close(p.out), ::close(p.err), ::close(p.devnull);
  if (pid < 0) {
    ::close(fds[1]);
    Fail(ErrorKind::kOutput, "fork: {}", std::strerror(fork_errno));
  }
  *go_fd = fds[1];
  ProcessIdentity id;
  id.pid = pid;
  id.boot_id = env_->BootId();
  if (auto info = env_->GetProcessInfo(pid)) id.start_ticks = info->start_ticks;
  return id;
}

void PosixProcesses::Release(int go_fd) {
  char go = 'g';
  WriteAll(go_fd, &go, 1);
  ::close(go_fd);
}

bool PosixProcesses::Alive(const ProcessIdentity& id) {
  if (id.pid <= 0 || id.boot_id != env_->BootId()) return false;
  auto info = env_->GetProcessInfo(id.pid);
  return info && info->start_ticks == id.start_ticks && info->state != 'Z';
}

std::optional<ExitStatus> PosixProcesses::Reap(int64_t pid) {
  int st = 0;
  pid_t r = ::waitpid(static_cast<pid_t>(pid), &st, WNOHANG);
  if (r != pid) return std::nullopt;
  if (WIFSIGNALED(st)) return ExitStatus{ExitStatus::kSignaled, WTERMSIG(st)};
  return ExitStatus{ExitStatus::kExited, WEXITSTATUS(st)};
}

bool PosixProcesses::SignalGroup(const ProcessIdentity& id, int sig) {
  // The wrapper is the group leader and outlives its command; while it exists (running or a zombie) with
  // the recorded start time the group id cannot belong to anyone else.
  if (id.pid <= 0 || id.boot_id != env_->BootId()) return false;
  auto info = env_->GetProcessInfo(id.pid);
  if (!info || info->start_ticks != id.start_ticks) return false;
  return ::kill(-static_cast<pid_t>(id.pid), sig) == 0;
}

std::string SelfExecutablePath() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("/proc/self/exe") : exe.string();
}

std::optional<ExitStatus> ReadStatusFile(const std::string& path, int64_t wrapper_pid) {
  if (wrapper_pid > 0) {
    std::string tmp(path.size() + kTemporaryNameExtra, '\0');
    tmp.resize(StatusTempName(path.c_str(), wrapper_pid, tmp.data(), tmp.size()));
    if (!tmp.empty()) ::unlink(tmp.c_str());  // a wrapper killed while writing the file left it
    // Wrappers of sluice before AtomicFile's naming wrote through "<status>.tmp", which nothing else removes;
    // one for this status file is that (ended) wrapper's.
    ::unlink((path + ".tmp").c_str());
  }
  std::ifstream in(path);
  std::string word;
  int value = 0;
  if (!(in >> word)) return std::nullopt;
  if (word == "notstarted") return ExitStatus{ExitStatus::kNotStarted, 0};
  if (!(in >> value)) return std::nullopt;
  if (word == "exit") return ExitStatus{ExitStatus::kExited, value};
  if (word == "signal") return ExitStatus{ExitStatus::kSignaled, value};
  return std::nullopt;
}

}  // namespace sluice
