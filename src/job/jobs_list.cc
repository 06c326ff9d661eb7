#include "job/jobs_list.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "core/error.h"
#include "core/json_writer.h"

namespace sluice {
namespace {

bool LooksLikeJobDir(Env* env, const std::string& dir) {
  for (const char* f : {"/job.lock", "/events.jsonl", "/job_summary.json", "/metadata/dataset_mapping.json"})
    if (env->FileExists(dir + f)) return true;
  for (const auto& name : env->ListDir(dir))
    if (name.starts_with("events_") && name.ends_with(".jsonl")) return true;
  return false;
}

JobListing FromSnapshot(const Snapshot& s) {
  JobListing j;
  j.job_id = s.job_id;
  j.job_dir = s.job_dir;
  j.status = JobStatusName(s.status);
  j.executor_type = s.executor_type;
  j.progress_percentage = s.overall_percentage;
  j.total_partitions = s.total_partitions;
  j.completed_partitions = s.completed_partitions;
  j.failed_partitions = s.failed_partitions;
  j.start_time = s.start_time;
  j.end_time = s.end_time;
  j.duration_seconds = s.duration_seconds;
  return j;
}

}  // namespace

std::vector<JobListing> ListJobs(Env* env, const std::string& work_dir, bool running_only, std::vector<std::string>* warnings) {
  std::string root = work_dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (!env->FileExists(root)) Fail(ErrorKind::kInput, "work directory '{}' does not exist", work_dir);
  std::vector<std::string> dirs;
  if (LooksLikeJobDir(env, root)) dirs.push_back(root);
  for (const auto& name : env->ListDir(root)) {
    std::string d = root + "/" + name;
    if (LooksLikeJobDir(env, d)) dirs.push_back(d);
  }
  SnapshotOptions opt;
  opt.inspect_storage = false;
  std::vector<JobListing> jobs;
  for (const auto& d : dirs) {
    try {
      Snapshot s = TakeSnapshot(env, d, opt);
      if (running_only && s.status != JobStatus::kRunning) continue;
      jobs.push_back(FromSnapshot(s));
    } catch (const Error& e) {
      if (warnings) warnings->push_back(fmt::format("{}: not listed: {}", d, e.what()));
    }
  }
  std::sort(jobs.begin(), jobs.end(), [](const JobListing& a, const JobListing& b) {
    if (a.start_time.has_value() != b.start_time.has_value()) return a.start_time.has_value();
    if (a.start_time && *a.start_time != *b.start_time) return *a.start_time > *b.start_time;
    return a.job_id < b.job_id;
  });
  return jobs;
}

std::string JobsToJson(const std::vector<JobListing>& jobs) {
  JsonWriter w;
  w.BeginArray();
  for (const auto& j : jobs) {
    w.BeginObject().Field("job_id", j.job_id).Field("job_dir", j.job_dir).Field("status", j.status);
    w.Key("executor_type");
    if (j.executor_type.empty()) w.Null();
    else w.String(j.executor_type);
    w.Field("progress_percentage", j.progress_percentage).Field("total_partitions", j.total_partitions);
    w.Field("completed_partitions", j.completed_partitions).Field("failed_partitions", j.failed_partitions);
    auto opt = [&](const char* key, const std::optional<double>& v) {
      w.Key(key);
      if (v) w.Double(*v);
      else w.Null();
    };
    opt("start_time", j.start_time);
    opt("end_time", j.end_time);
    opt("duration_seconds", j.duration_seconds);
    w.EndObject();
  }
  w.EndArray();
  return w.Take() + "\n";
}

std::string JobsToText(const std::vector<JobListing>& jobs) {
  std::vector<std::array<std::string, 6>> rows;
  rows.push_back({"JOB_ID", "STATUS", "PROGRESS", "PARTITIONS", "STARTED", "DURATION"});
  for (const auto& j : jobs) {
    std::string parts = fmt::format("{}/{}", j.completed_partitions, j.total_partitions);
    if (j.failed_partitions > 0) parts += fmt::format(" ({} failed)", j.failed_partitions);
    rows.push_back({j.job_id, j.status, fmt::format("{:.1f}%", j.progress_percentage), parts,
                    j.start_time ? FormatTime(*j.start_time) : "-", j.duration_seconds ? FormatDuration(*j.duration_seconds) : "-"});
  }
  std::array<size_t, 6> width{};
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line.append(width[c] - r[c].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace sluice
