#include "manager/store.h"

#include <sqlite3.h>

#include "core/error.h"

namespace sluice::manager {
namespace {
constexpr int kSchemaVersion = 4;

// synchronous=FULL: in WAL mode NORMAL only syncs at checkpoints, so a power cut could roll back a
// committed submit that a client was already told about, or a RUNNING record whose process then ran again.
// FULL syncs the WAL at every commit; the cost is one fdatasync per transition (docs/manager.md).
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  spec TEXT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  priority INTEGER NOT NULL,
  submitted_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  not_before REAL NOT NULL DEFAULT 0,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  exit_code INTEGER,
  signal INTEGER,
  held INTEGER NOT NULL DEFAULT 0,
  queued_at REAL NOT NULL DEFAULT 0,
  retry_base INTEGER NOT NULL DEFAULT 0,
  array_id INTEGER NOT NULL DEFAULT 0,
  array_index INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, id);
CREATE TABLE IF NOT EXISTS attempts(
  job_id INTEGER NOT NULL REFERENCES jobs(id),
  n INTEGER NOT NULL,
  state TEXT NOT NULL,
  pid INTEGER NOT NULL DEFAULT 0,
  start_ticks INTEGER NOT NULL DEFAULT 0,
  boot_id TEXT NOT NULL DEFAULT '',
  started_at REAL NOT NULL,
  ended_at REAL NOT NULL DEFAULT 0,
  outcome TEXT NOT NULL DEFAULT '',
  exit_code INTEGER,
  signal INTEGER,
  kill_reason TEXT NOT NULL DEFAULT '',
  kill_sent_at REAL NOT NULL DEFAULT 0,
  gpus TEXT NOT NULL DEFAULT '',
  cpus TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(job_id, n));
CREATE TABLE IF NOT EXISTS deps(
  job_id INTEGER NOT NULL REFERENCES jobs(id),
  dep_id INTEGER NOT NULL REFERENCES jobs(id),
  condition TEXT NOT NULL,
  PRIMARY KEY(job_id, dep_id, condition));
CREATE INDEX IF NOT EXISTS deps_dep ON deps(dep_id);
CREATE TABLE IF NOT EXISTS events(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ts REAL NOT NULL,
  job_id INTEGER NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_job ON events(job_id, seq);
)sql";

// Columns added after schema version 1 (an older database gets the ones it lacks, with their defaults).
constexpr const char* kAddedColumns[][3] = {
    {"jobs", "held", "INTEGER NOT NULL DEFAULT 0"},
    {"jobs", "queued_at", "REAL NOT NULL DEFAULT 0"},
    {"jobs", "retry_base", "INTEGER NOT NULL DEFAULT 0"},
    {"attempts", "gpus", "TEXT NOT NULL DEFAULT ''"},
    {"attempts", "cpus", "TEXT NOT NULL DEFAULT ''"},
    {"jobs", "array_id", "INTEGER NOT NULL DEFAULT 0"},
    {"jobs", "array_index", "INTEGER NOT NULL DEFAULT 0"},
};
// Indexes on added columns: created after the columns exist (an older database gets them at open).
constexpr const char* kAddedIndexes = "CREATE INDEX IF NOT EXISTS jobs_array ON jobs(array_id, array_index) WHERE array_id > 0;";

std::string JoinComma(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  for (size_t from = 0; from < s.size();) {
    size_t comma = s.find(',', from);
    if (comma == std::string::npos) comma = s.size();
    out.push_back(s.substr(from, comma - from));
    from = comma + 1;
  }
  return out;
}

std::optional<int> OptInt(sqlite3_stmt* s, int col) {
  if (sqlite3_column_type(s, col) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int(s, col);
}

std::string Text(sqlite3_stmt* s, int col) {
  const unsigned char* t = sqlite3_column_text(s, col);
  return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s, col)) : std::string();
}
}  // namespace

// A prepared statement with positional binds; Step() returns true while there is a row.
class Store::Stmt {
 public:
  Stmt(Store* store, const char* sql) : store_(store) {
    if (sqlite3_prepare_v2(store->db_, sql, -1, &s_, nullptr) != SQLITE_OK) store->Exec(nullptr);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt& Bind(int64_t v) { Check(sqlite3_bind_int64(s_, ++i_, v)); return *this; }
  Stmt& Bind(int v) { return Bind(static_cast<int64_t>(v)); }
  Stmt& Bind(double v) { Check(sqlite3_bind_double(s_, ++i_, v)); return *this; }
  Stmt& Bind(const std::string& v) { Check(sqlite3_bind_text(s_, ++i_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT)); return *this; }
  Stmt& Bind(std::optional<int> v) {
    if (v) return Bind(*v);
    Check(sqlite3_bind_null(s_, ++i_));
    return *this;
  }
  // Ready to run again with new binds (a statement prepared once for many rows).
  Stmt& Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    i_ = 0;
    return *this;
  }
  bool Step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) store_->Exec(nullptr);
    return false;
  }
  sqlite3_stmt* get() { return s_; }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK) store_->Exec(nullptr);
  }
  Store* store_;
  sqlite3_stmt* s_ = nullptr;
  int i_ = 0;
};

// An exception inside a nested Txn propagates through the outermost, which rolls everything back.
Store::Txn::Txn(Store* s) : s_(s) {
  if (s_->txn_depth_ == 0) s_->Exec("BEGIN IMMEDIATE");
  ++s_->txn_depth_;
}

Store::Txn::~Txn() {
  if (done_) return;
  if (--s_->txn_depth_ == 0) sqlite3_exec(s_->db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Store::Txn::Commit() {
  if (s_->txn_depth_ == 1) s_->Exec("COMMIT");  // throws: not done, the destructor rolls back
  --s_->txn_depth_;
  done_ = true;
}

Store::Store(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    Fail(ErrorKind::kOutput, "cannot open {}: {}", path, msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  Exec("PRAGMA journal_mode=WAL");
  Exec("PRAGMA synchronous=FULL");
  Exec("PRAGMA foreign_keys=ON");
  Exec(kSchema);
  Stmt get(this, "SELECT value FROM meta WHERE key='schema_version'");
  if (get.Step()) {
    int v = std::stoi(Text(get.get(), 0));
    if (v > kSchemaVersion) Fail(ErrorKind::kState, "{} has schema version {}, newer than this sluice ({})", path, v, kSchemaVersion);
    if (v < kSchemaVersion) {
      Txn t(this);
      for (const auto& [table, column, decl] : kAddedColumns) {
        Stmt has(this, fmt::format("SELECT 1 FROM pragma_table_info('{}') WHERE name='{}'", table, column).c_str());
        if (!has.Step()) Exec(fmt::format("ALTER TABLE {} ADD COLUMN {} {}", table, column, decl).c_str());
      }
      Stmt(this, "UPDATE meta SET value=? WHERE key='schema_version'").Bind(std::to_string(kSchemaVersion)).Step();
      t.Commit();
    }
  } else {
    Stmt put(this, "INSERT INTO meta(key, value) VALUES('schema_version', ?)");
    put.Bind(std::to_string(kSchemaVersion)).Step();
  }
  Exec(kAddedIndexes);
}

Store::~Store() { sqlite3_close(db_); }

void Store::Exec(const char* sql) {
  char* err = nullptr;
  if (sql && sqlite3_exec(db_, sql, nullptr, nullptr, &err) == SQLITE_OK) return;
  std::string msg = err ? err : sqlite3_errmsg(db_);
  sqlite3_free(err);
  Fail(ErrorKind::kOutput, "job database {}: {}", path_, msg);
}

constexpr const char* kInsertEvent = "INSERT INTO events(ts, job_id, state, reason) VALUES(?, ?, ?, ?)";

void Store::AddEvent(int64_t id, State state, const std::string& reason, double now) {
  Stmt(this, kInsertEvent).Bind(now).Bind(id).Bind(std::string(StateName(state))).Bind(reason).Step();
}

// One job (`indices` nullptr) or an array's tasks, inside the caller's transaction. The spec's JSON is
// built and the statements prepared once for all the rows.
std::vector<int64_t> Store::Insert(const JobSpec& spec, const std::vector<Dependency>& deps, const std::vector<int64_t>* indices, State state,
                                   const std::string& reason, double now) {
  const std::string spec_json = spec.ToJson(), state_name = StateName(state), submitted = StateName(State::kSubmitted);
  Stmt job(this,
           "INSERT INTO jobs(name, spec, state, reason, priority, submitted_at, updated_at, queued_at, array_id, array_index) "
           "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  Stmt dep(this, "INSERT OR IGNORE INTO deps(job_id, dep_id, condition) VALUES(?, ?, ?)");
  Stmt event(this, kInsertEvent);
  std::vector<int64_t> ids;
  for (int64_t index : indices ? *indices : std::vector<int64_t>{0}) {
    // The first task's id is the array's; nothing else writes inside this transaction, so the rest follow it.
    int64_t array_id = indices && !ids.empty() ? ids.front() : 0;
    job.Reset().Bind(spec.name).Bind(spec_json).Bind(state_name).Bind(reason).Bind(spec.priority).Bind(now).Bind(now).Bind(now)
        .Bind(array_id).Bind(index).Step();
    int64_t id = sqlite3_last_insert_rowid(db_);
    if (indices && ids.empty()) Stmt(this, "UPDATE jobs SET array_id=? WHERE id=?").Bind(id).Bind(id).Step();
    for (const auto& d : deps) dep.Reset().Bind(id).Bind(d.job).Bind(std::string(DepConditionName(d.condition))).Step();
    event.Reset().Bind(now).Bind(id).Bind(submitted).Bind(std::string()).Step();
    event.Reset().Bind(now).Bind(id).Bind(state_name).Bind(reason).Step();
    ids.push_back(id);
  }
  return ids;
}

int64_t Store::Submit(const JobSpec& spec, State state, const std::string& reason, double now, const std::vector<Dependency>& deps) {
  Txn t(this);
  int64_t id = Insert(spec, deps, nullptr, state, reason, now).front();
  t.Commit();
  return id;
}

std::vector<int64_t> Store::SubmitArray(const JobSpec& spec, const std::vector<int64_t>& indices, State state, const std::string& reason,
                                        double now, const std::vector<Dependency>& deps) {
  Txn t(this);
  std::vector<int64_t> ids = Insert(spec, deps, &indices, state, reason, now);
  t.Commit();
  return ids;
}

void Store::SetState(int64_t id, State state, const std::string& reason, double now) {
  Txn t(this);
  Stmt(this, "UPDATE jobs SET state=?, reason=?, updated_at=? WHERE id=?").Bind(std::string(StateName(state))).Bind(reason).Bind(now).Bind(id).Step();
  AddEvent(id, state, reason, now);
  t.Commit();
}

void Store::SetReason(int64_t id, const std::string& reason) {
  Stmt(this, "UPDATE jobs SET reason=? WHERE id=?").Bind(reason).Bind(id).Step();
}

void Store::SetCancelRequested(int64_t id) { Stmt(this, "UPDATE jobs SET cancel_requested=1 WHERE id=?").Bind(id).Step(); }

int Store::BeginAttempt(int64_t id, double now, const std::vector<std::string>& gpus, const std::vector<int>& cpus) {
  Txn t(this);
  Stmt(this, "UPDATE jobs SET state='RUNNING', reason='', attempts=attempts+1, updated_at=? WHERE id=?").Bind(now).Bind(id).Step();
  Stmt q(this, "SELECT attempts FROM jobs WHERE id=?");
  q.Bind(id).Step();
  int n = sqlite3_column_int(q.get(), 0);
  std::vector<std::string> cpu_names;
  for (int c : cpus) cpu_names.push_back(std::to_string(c));
  Stmt(this, "INSERT INTO attempts(job_id, n, state, started_at, gpus, cpus) VALUES(?, ?, 'LAUNCHING', ?, ?, ?)")
      .Bind(id).Bind(n).Bind(now).Bind(JoinComma(gpus)).Bind(JoinComma(cpu_names)).Step();
  AddEvent(id, State::kRunning, "attempt " + std::to_string(n), now);
  t.Commit();
  return n;
}

void Store::RecordLaunch(int64_t id, int n, int64_t pid, uint64_t start_ticks, const std::string& boot_id) {
  Stmt(this, "UPDATE attempts SET state='RUNNING', pid=?, start_ticks=?, boot_id=? WHERE job_id=? AND n=?")
      .Bind(pid).Bind(static_cast<int64_t>(start_ticks)).Bind(boot_id).Bind(id).Bind(n).Step();
}

void Store::DropAttempt(int64_t id, int n, const std::string& reason, double now) {
  Txn t(this);
  Stmt(this, "DELETE FROM attempts WHERE job_id=? AND n=?").Bind(id).Bind(n).Step();
  Stmt(this, "UPDATE jobs SET state='PENDING', reason=?, attempts=attempts-1, updated_at=? WHERE id=?").Bind(reason).Bind(now).Bind(id).Step();
  AddEvent(id, State::kPending, reason, now);
  t.Commit();
}

void Store::RecordKill(int64_t id, int n, const std::string& kill_reason, double now) {
  Stmt(this, "UPDATE attempts SET kill_reason=?, kill_sent_at=? WHERE job_id=? AND n=?").Bind(kill_reason).Bind(now).Bind(id).Bind(n).Step();
}

void Store::EndAttempt(int64_t id, int n, const std::string& outcome, std::optional<int> exit_code, std::optional<int> signal,
                       State job_state, const std::string& reason, double not_before, double now) {
  Txn t(this);
  Stmt(this, "UPDATE attempts SET state='ENDED', ended_at=?, outcome=?, exit_code=?, signal=? WHERE job_id=? AND n=?")
      .Bind(now).Bind(outcome).Bind(exit_code).Bind(signal).Bind(id).Bind(n).Step();
  Stmt(this, "UPDATE jobs SET state=?, reason=?, not_before=?, exit_code=?, signal=?, updated_at=?, "
            "queued_at=CASE WHEN ?='PENDING' THEN ? ELSE queued_at END WHERE id=?")
      .Bind(std::string(StateName(job_state))).Bind(reason).Bind(not_before).Bind(exit_code).Bind(signal).Bind(now)
      .Bind(std::string(StateName(job_state))).Bind(now).Bind(id).Step();
  AddEvent(id, job_state, reason, now);
  t.Commit();
}

void Store::SetHeld(int64_t id, bool held, const std::string& reason, double now) {
  Txn t(this);
  Stmt(this, "UPDATE jobs SET held=?, reason=?, updated_at=?, queued_at=CASE WHEN ? THEN queued_at ELSE ? END WHERE id=?")
      .Bind(held ? 1 : 0).Bind(reason).Bind(now).Bind(held ? 1 : 0).Bind(now).Bind(id).Step();
  AddEvent(id, State::kPending, reason, now);
  t.Commit();
}

void Store::Requeue(int64_t id, const std::string& reason, double now) {
  Txn t(this);
  Stmt(this, "UPDATE jobs SET state='PENDING', reason=?, held=0, not_before=0, cancel_requested=0, queued_at=?, "
             "retry_base=attempts, updated_at=? WHERE id=?")
      .Bind(reason).Bind(now).Bind(now).Bind(id).Step();
  AddEvent(id, State::kPending, reason, now);
  t.Commit();
}

namespace {
constexpr const char* kJobCols =
    "SELECT id, name, spec, state, reason, priority, submitted_at, updated_at, attempts, not_before, cancel_requested, exit_code, signal, "
    "held, queued_at, retry_base, array_id, array_index FROM jobs ";

JobRow ReadJob(sqlite3_stmt* s) {
  JobRow j;
  j.id = sqlite3_column_int64(s, 0);
  j.name = Text(s, 1);
  j.spec_json = Text(s, 2);
  j.state = ParseState(Text(s, 3)).value_or(State::kFailed);
  j.reason = Text(s, 4);
  j.priority = sqlite3_column_int(s, 5);
  j.submitted_at = sqlite3_column_double(s, 6);
  j.updated_at = sqlite3_column_double(s, 7);
  j.attempts = sqlite3_column_int(s, 8);
  j.not_before = sqlite3_column_double(s, 9);
  j.cancel_requested = sqlite3_column_int(s, 10) != 0;
  j.exit_code = OptInt(s, 11);
  j.signal = OptInt(s, 12);
  j.held = sqlite3_column_int(s, 13) != 0;
  j.queued_at = sqlite3_column_double(s, 14);
  j.retry_base = sqlite3_column_int(s, 15);
  j.array_id = sqlite3_column_int64(s, 16);
  j.array_index = sqlite3_column_int64(s, 17);
  return j;
}
}  // namespace

std::optional<JobRow> Store::GetJob(int64_t id) {
  Stmt q(this, (std::string(kJobCols) + "WHERE id=?").c_str());
  if (!q.Bind(id).Step()) return std::nullopt;
  return ReadJob(q.get());
}

std::vector<JobRow> Store::ListJobs(const JobFilter& f) {
  std::string sql = std::string(kJobCols) + "WHERE id > ?";
  if (f.state) sql += " AND state = ?";
  if (!f.name.empty()) sql += " AND name = ?";
  if (f.array_id > 0) sql += " AND array_id = ? AND array_id > 0";  // the second term lets SQLite use the partial index jobs_array
  sql += " ORDER BY id LIMIT ?";
  Stmt q(this, sql.c_str());
  q.Bind(f.after_id);
  if (f.state) q.Bind(std::string(StateName(*f.state)));
  if (!f.name.empty()) q.Bind(f.name);
  if (f.array_id > 0) q.Bind(f.array_id);
  q.Bind(f.limit);
  std::vector<JobRow> out;
  while (q.Step()) out.push_back(ReadJob(q.get()));
  return out;
}

std::vector<JobRow> Store::ActiveJobs() {
  Stmt q(this, (std::string(kJobCols) + "WHERE state IN ('SUBMITTED', 'PENDING', 'RUNNING') ORDER BY id").c_str());
  std::vector<JobRow> out;
  while (q.Step()) out.push_back(ReadJob(q.get()));
  return out;
}

std::vector<JobRow> Store::ArrayTasks(int64_t array_id) {
  Stmt q(this, (std::string(kJobCols) + "WHERE array_id=? AND array_id > 0 ORDER BY array_index").c_str());
  q.Bind(array_id);
  std::vector<JobRow> out;
  while (q.Step()) out.push_back(ReadJob(q.get()));
  return out;
}

std::vector<int64_t> Store::ArrayTaskIds(int64_t array_id) {
  Stmt q(this, "SELECT id FROM jobs WHERE array_id=? AND array_id > 0 ORDER BY array_index");
  q.Bind(array_id);
  std::vector<int64_t> out;
  while (q.Step()) out.push_back(sqlite3_column_int64(q.get(), 0));
  return out;
}

std::vector<std::pair<int64_t, std::string>> Store::PipelineJobDirs() {
  // One scan of the specs (SQLite's JSON functions), at the daemon's start only.
  Stmt q(this, "SELECT id, json_extract(spec, '$.pipeline.job_dir') AS d FROM jobs WHERE state != 'REJECTED' AND d IS NOT NULL ORDER BY id");
  std::vector<std::pair<int64_t, std::string>> out;
  while (q.Step()) out.emplace_back(sqlite3_column_int64(q.get(), 0), Text(q.get(), 1));
  return out;
}

std::optional<JobRow> Store::ArrayTask(int64_t array_id, int64_t index) {
  Stmt q(this, (std::string(kJobCols) + "WHERE array_id=? AND array_id > 0 AND array_index=?").c_str());
  if (!q.Bind(array_id).Bind(index).Step()) return std::nullopt;
  return ReadJob(q.get());
}

int64_t Store::ArraySize(int64_t array_id) {
  Stmt q(this, "SELECT COUNT(*) FROM jobs WHERE array_id=? AND array_id > 0");
  q.Bind(array_id).Step();
  return sqlite3_column_int64(q.get(), 0);
}

std::vector<AttemptRow> Store::Attempts(int64_t id) {
  Stmt q(this,
         "SELECT job_id, n, state, pid, start_ticks, boot_id, started_at, ended_at, outcome, exit_code, signal, kill_reason, kill_sent_at, gpus, cpus "
         "FROM attempts WHERE job_id=? ORDER BY n");
  q.Bind(id);
  std::vector<AttemptRow> out;
  while (q.Step()) {
    sqlite3_stmt* s = q.get();
    AttemptRow a;
    a.job_id = sqlite3_column_int64(s, 0);
    a.n = sqlite3_column_int(s, 1);
    a.state = Text(s, 2);
    a.pid = sqlite3_column_int64(s, 3);
    a.start_ticks = static_cast<uint64_t>(sqlite3_column_int64(s, 4));
    a.boot_id = Text(s, 5);
    a.started_at = sqlite3_column_double(s, 6);
    a.ended_at = sqlite3_column_double(s, 7);
    a.outcome = Text(s, 8);
    a.exit_code = OptInt(s, 9);
    a.signal = OptInt(s, 10);
    a.kill_reason = Text(s, 11);
    a.kill_sent_at = sqlite3_column_double(s, 12);
    a.gpus = SplitComma(Text(s, 13));
    for (const auto& c : SplitComma(Text(s, 14))) a.cpus.push_back(std::stoi(c));
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<Dependency> Store::Deps(int64_t id) {
  Stmt q(this, "SELECT dep_id, condition FROM deps WHERE job_id=? ORDER BY dep_id");
  q.Bind(id);
  std::vector<Dependency> out;
  while (q.Step()) out.push_back({sqlite3_column_int64(q.get(), 0), ParseDepCondition(Text(q.get(), 1)).value_or(DepCondition::kAfterOk)});
  return out;
}

std::vector<int64_t> Store::Dependents(int64_t id) {
  Stmt q(this, "SELECT DISTINCT job_id FROM deps WHERE dep_id=? ORDER BY job_id");
  q.Bind(id);
  std::vector<int64_t> out;
  while (q.Step()) out.push_back(sqlite3_column_int64(q.get(), 0));
  return out;
}

std::vector<Store::Event> Store::Events(int64_t after, int limit, int64_t job) {
  Stmt q(this, job > 0 ? "SELECT seq, ts, job_id, state, reason FROM events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?"
                       : "SELECT seq, ts, job_id, state, reason FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
  if (job > 0) q.Bind(job);
  q.Bind(after).Bind(limit);
  std::vector<Event> out;
  while (q.Step())
    out.push_back({sqlite3_column_int64(q.get(), 0), sqlite3_column_double(q.get(), 1), sqlite3_column_int64(q.get(), 2), Text(q.get(), 3), Text(q.get(), 4)});
  return out;
}

int64_t Store::LastEventSeq() {
  Stmt q(this, "SELECT COALESCE(MAX(seq), 0) FROM events");
  q.Step();
  return sqlite3_column_int64(q.get(), 0);
}

Store::Aggregates Store::Aggregate(double since, double now, const std::vector<double>& submit_windows, bool durations) {
  Aggregates a;
  Stmt states(this, "SELECT state, COUNT(*) FROM jobs GROUP BY state");
  while (states.Step()) a.jobs_by_state[Text(states.get(), 0)] = sqlite3_column_int64(states.get(), 1);
  Stmt attempts(this, "SELECT COUNT(*) FROM attempts");
  if (attempts.Step()) a.attempts_total = sqlite3_column_int64(attempts.get(), 0);
  for (double t : submit_windows) {
    Stmt q(this, "SELECT COUNT(*) FROM jobs WHERE submitted_at >= ?");
    q.Bind(t).Step();
    a.submitted_since.push_back(sqlite3_column_int64(q.get(), 0));
  }
  if (durations) {
    Stmt waits(this, "SELECT a.started_at - j.submitted_at FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE a.n = 1 AND a.started_at >= ?");
    waits.Bind(since);
    while (waits.Step()) a.queue_waits.push_back(sqlite3_column_double(waits.get(), 0));
    Stmt runs(this, "SELECT ended_at - started_at FROM attempts WHERE ended_at > 0 AND ended_at >= ?");
    runs.Bind(since);
    while (runs.Step()) a.run_times.push_back(sqlite3_column_double(runs.get(), 0));
  }
  // The GPU count is the stored spec's request (what admission granted).
  Stmt gpu(this,
           "SELECT SUM((CASE WHEN ended_at > 0 THEN ended_at ELSE ? END - MAX(started_at, ?)) * g) FROM "
           "(SELECT a.started_at, a.ended_at, COALESCE(json_extract(j.spec, '$.resources.gpus.count'), 0) AS g "
           " FROM attempts a JOIN jobs j ON j.id = a.job_id WHERE a.state != 'LAUNCHING' AND (a.ended_at = 0 OR a.ended_at >= ?)) "
           "WHERE g > 0");
  gpu.Bind(now).Bind(since).Bind(since);
  if (gpu.Step()) a.gpu_seconds = sqlite3_column_double(gpu.get(), 0);
  return a;
}

bool Store::Writable() {
  try {
    Txn t(this);
    Exec("UPDATE meta SET value=value WHERE key='schema_version'");
    t.Commit();
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace sluice::manager
