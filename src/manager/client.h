// The CLI verbs over the job manager's HTTP API (docs/manager.md): thin clients that build a request, send
// it to `sluice server` and print the answer. src/cli/main.cc only parses their flags into these structs.
//
// Exit codes: 0 success; 2 bad arguments or a request the server refused (its message is printed; a
// REJECTED submit too);
// 3 the server cannot be reached; 7 no such job. `sluice wait` mirrors the job instead: 0 COMPLETED; the
// exit code of a FAILED job's last attempt, 128 + signal if a signal killed it, 124 for a timeout, 1 when
// lost; 9 CANCELLED; 10 REJECTED; and 8 if --timeout expired first.
#pragma once

#include <cstdint>
#include <optional>
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
  std::optional<double> cpus;     // none: the server's default (1; a pipeline job: its recipe's np)
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
  std::string kill_grace;         // "30s": between SIGTERM and SIGKILL on cancel and timeout ("" = the server's 10 s)
  std::string recipe, job_dir;    // a pipeline job (sluice recipe) instead of argv; relative paths from the cwd
  std::string array;              // "0-15%4": an array job, one task per index (docs/manager.md "Array jobs")
};

// The server's answer to a submit. `id` is the job's id, or an array's id (its first task's); `task_ids` are
// the ids of an array's tasks in index order (empty for a single job). `state` is PENDING or REJECTED (an
// array is rejected whole), with the reason of a rejection.
struct SubmitReply {
  int64_t id = 0;
  std::string state, reason;
  std::vector<int64_t> task_ids;
};

// The server a client with these options talks to: c.server, else $SLUICE_SERVER, else 127.0.0.1:19001.
std::string ServerAddress(Env* env, const ClientOptions& c);

// Sends the submit and returns the answer without printing anything. Throws Error(kUsage) for options the
// client or the server refuses (HTTP 400, or another 4xx such as a missing token: the server's message),
// Error(kInput) when the server cannot be reached (exit 3), Error(kInternal) for a server fault (5xx).
SubmitReply SubmitJob(Env* env, const ClientOptions& c, const SubmitOptions& s);
// GET /v1/jobs/{ref}: the JSON text of a job, or of a whole array (`ref` "ID" or "ID_K"); nullopt when the
// server knows no such job (404). Throws as SubmitJob does for every other failure.
std::optional<std::string> FetchJobJson(Env* env, const ClientOptions& c, const std::string& ref);

// Prints the id (and, on stderr, an array's task count and ids); `json`: the server's answer instead.
int SubmitCommand(Env* env, const ClientOptions& c, const SubmitOptions& s, bool json = false);
// Verbs that name a job take a reference: "ID", or "ID_K" for the task with index K of array ID; a plain
// ID that is an array's id means the whole array (status: its summary and tasks; cancel, hold, release,
// retry: every task the action applies to; wait: until every task has ended; logs refuses it).
int StatusCommand(Env* env, const ClientOptions& c, const std::string& ref, bool json);
int ListCommand(Env* env, const ClientOptions& c, const std::string& state, bool json);
// `follow`: stream the log as it grows (SSE) until the attempt ends; with `attempt` 0 the follower moves on
// to the next attempt while the job retries, so it ends when the job does. A dropped connection resumes where
// it stopped.
int LogsCommand(Env* env, const ClientOptions& c, const std::string& ref, int attempt, bool stderr_stream, int64_t tail, bool follow);
int CancelCommand(Env* env, const ClientOptions& c, const std::string& ref);
// `verb` is retry, hold or release (POST /v1/jobs/{ref}/<verb>).
int JobActionCommand(Env* env, const ClientOptions& c, const std::string& ref, const std::string& verb);
// Waits on the job's state events (SSE), not by polling. An array ends when all its tasks have: exit 0 if
// all COMPLETED, else the code of its first task (by index) that did not complete, by the rules above.
int WaitCommand(Env* env, const ClientOptions& c, const std::string& ref, double timeout_seconds);
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
