// The CLI verbs over the job manager's HTTP API (docs/manager.md): thin clients that build a request, send
// it to `sluice server` and print the answer. src/cli/main.cc only parses their flags into these structs.
//
// Exit codes: 0 success; 2 bad arguments or a request the server refused (its message is printed);
// 3 the server cannot be reached; 7 no such job. `sluice wait` mirrors the job instead: 0 COMPLETED; the
// exit code of a FAILED job's last attempt, 128 + signal if a signal killed it, 124 for a timeout, 1 when
// lost; 9 CANCELLED; 10 REJECTED; and 8 if --timeout expired first.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/env.h"

namespace sluice::manager {

struct ClientOptions {
  std::string server;      // host:port or http://host:port; "": $SLUICE_SERVER, else 127.0.0.1:19001
  std::string token_file;  // "": $SLUICE_TOKEN_FILE, else no token
};

struct SubmitOptions {
  std::vector<std::string> argv;
  bool shell = false;             // argv joined by spaces runs under /bin/sh -c
  std::string name, cwd;
  double cpus = 1;
  std::string memory;             // "16GiB"
  std::vector<std::string> after;  // "ok:ID", "any:ID", "notok:ID", "start:ID", "ID" (afterok)
  std::vector<std::string> resources;  // NAME=AMOUNT
  int retries = 0;                // extra attempts
  std::string backoff;            // "INITIAL[,xMULT[,MAX]]", e.g. "10s,x2,10m"
  std::string timeout;            // run timeout, "2h"
  int priority = 0;
  std::vector<std::string> env;   // KEY=VALUE
  int gpus = 0;                   // whole GPUs, assigned by UUID
  std::string gpu_memory;         // "20GiB": free memory each of its GPUs must have
  std::string queue_timeout;      // "1h": CANCELLED if still pending after this long
  std::string recipe, job_dir;    // a pipeline job (sluice recipe) instead of argv; relative paths from the cwd
};

int SubmitCommand(Env* env, const ClientOptions& c, const SubmitOptions& s);
int StatusCommand(Env* env, const ClientOptions& c, int64_t id, bool json);
int ListCommand(Env* env, const ClientOptions& c, const std::string& state, bool json);
// `follow`: stream the log as it grows (SSE) until the attempt ends; with `attempt` 0 the follower moves on
// to the next attempt while the job retries, so it ends when the job does. A dropped connection resumes where
// it stopped.
int LogsCommand(Env* env, const ClientOptions& c, int64_t id, int attempt, bool stderr_stream, int64_t tail, bool follow);
int CancelCommand(Env* env, const ClientOptions& c, int64_t id);
// `verb` is retry, hold or release (POST /v1/jobs/{id}/<verb>).
int JobActionCommand(Env* env, const ClientOptions& c, int64_t id, const std::string& verb);
// Waits on the job's state events (SSE), not by polling.
int WaitCommand(Env* env, const ClientOptions& c, int64_t id, double timeout_seconds);
// `sluice health`: the daemon serves (/healthz), is ready (/readyz), and what it has allocated. Exit 0 when
// ready, 1 when serving but not ready, 3 when unreachable.
int HealthCommand(Env* env, const ClientOptions& c, bool json);
// `sluice stats`: counts by state, submit rates, queue-wait and run-time percentiles, GPU-hours; over the
// last `window_seconds` (0: the whole history).
int StatsCommand(Env* env, const ClientOptions& c, double window_seconds, bool json);

// "NAME=VALUE" split at the first '='; throws Error(kUsage) naming `flag` if there is none or NAME is empty.
std::pair<std::string, std::string> SplitAssignment(const std::string& kv, const char* flag);
// --resource NAME=AMOUNT (AMOUNT a non-negative number), for submit and server alike.
std::pair<std::string, double> ParseResourceFlag(const std::string& kv);

// The job JSON that `POST /v1/jobs` receives for these options (exposed for tests). Throws Error(kUsage).
std::string SubmitBody(const SubmitOptions& s);

}  // namespace sluice::manager
