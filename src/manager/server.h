// `sluice server`: the job manager daemon. Binds the HTTP API (docs/api.md) on --listen (default
// 127.0.0.1:19001), runs a Manager over --data-dir, and serves until SIGTERM or SIGINT; stopping the daemon
// leaves running jobs running (the next start re-adopts them). A bind address other than loopback needs
// --token-file; with a token every request must carry `Authorization: Bearer <token>` (401 otherwise), on any
// address, except that GET requests for the dashboard page and the SSE streams may carry it as ?token=
// (browsers cannot set headers on those). Request bodies are limited to 1 MiB. No endpoint deserializes
// code: a job is argv strings.
#pragma once

#include <map>
#include <string>

#include "io/env.h"
#include "manager/sse.h"

namespace sluice::manager {

struct ServerOptions {
  std::string listen = "127.0.0.1:19001";  // host:port; port 0 picks a free one (printed on stdout)
  std::string data_dir;                    // default: $XDG_STATE_HOME/sluice or ~/.local/state/sluice
  std::string token_file;
  double cpus = 0;         // 0: the CPUs this process may use
  std::string memory;      // "": physical memory
  std::map<std::string, double> resources;  // custom named resources, NAME=AMOUNT
  // HTTP workers: started as connections need them (each holds one for its life), at most this many.
  int threads = 512;
  StreamLimits streams;    // open SSE streams (log followers, event subscribers) are capped below `threads`
};

// Runs until a signal stops it; returns the process exit code. Throws Error for bad options (kUsage),
// an unusable data directory (kOutput) or one another daemon holds (kState).
int RunServer(Env* env, const ServerOptions& opt);

// Whether `host` (from --listen) is a loopback address: 127.0.0.0/8, ::1 or localhost.
bool IsLoopbackHost(const std::string& host);

}  // namespace sluice::manager
