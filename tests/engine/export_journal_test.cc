// ExportJournal: partitions committed in any order, through memory, the journal or spilled result files,
// land in partition order exactly once; recovery keeps only verified bytes.
#include "engine/export_journal.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <thread>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/codec.h"
#include "temp_dir.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

class ExportJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "results");
  }

  ExportJournal::Options Opts(size_t n, Codec codec = Codec::kNone, uint64_t buffer_cap = 16, uint64_t pending_cap = 32) {
    ExportJournal::Options o;
    std::string ext = CodecExtension(codec);
    o.export_path = (dir_ / ("out.jsonl" + ext)).string();
    o.journal_path = o.export_path + ".job.partial";
    o.recipe_hash = "r1";
    for (size_t p = 0; p < n; ++p) o.result_paths.push_back((dir_ / "results" / fmt::format("partition_{}.jsonl{}", p, ext)).string());
    o.n_ops = 1;
    o.codec = codec;
    o.buffer_cap = buffer_cap;
    o.pending_cap = pending_cap;
    return o;
  }
  // Partition p's records: sizes chosen so that some fit the 16-byte buffer, some spill, one is empty.
  static std::string Data(size_t p) {
    static const size_t lines[] = {1, 0, 3, 1, 6, 2, 1, 4};
    std::string s;
    for (size_t i = 0; i < lines[p % 8]; ++i) s += fmt::format("{{\"p\":{},\"i\":{}}}\n", p, i);
    return s;
  }
  static std::string All(const std::vector<size_t>& parts) {
    std::string s;
    for (size_t p : parts) s += Data(p);
    return s;
  }
  static void Commit(ExportJournal& j, size_t p) {
    auto sink = j.Open(p);
    std::string d = Data(p);
    // Two writes: a partition can become the head between them.
    sink->Write(std::string_view(d).substr(0, d.size() / 2));
    sink->Write(std::string_view(d).substr(d.size() / 2));
    Counters c;
    c.rows = static_cast<uint64_t>(std::count(d.begin(), d.end(), '\n'));
    c.ops.resize(1);
    sink->Commit(c, "result_commit");
  }
  // As the engine runs a partition: a commit that throws is that partition's failed attempt, retried once.
  static bool CommitWithRetry(ExportJournal& j, size_t p) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        Commit(j, p);
        return true;
      } catch (const Error&) {
      }
    }
    j.MarkFailed(p);
    return false;
  }
  static std::string Slurp(const std::string& path) {
    Env* env = Env::Default();
    auto src = OpenWholeFile(env, path);
    std::string out, buf(1 << 16, '\0');
    while (size_t n = src->Read(buf.data(), buf.size())) out.append(buf.data(), n);
    return out;
  }
  Env* env_ = Env::Default();
  testing::TempDir tmp_{"sluice-journal"};
  fs::path dir_{tmp_.path()};
};

TEST_F(ExportJournalTest, CommitsInAnyOrderLandInPartitionOrder) {
  for (Codec codec : {Codec::kNone, Codec::kZstd, Codec::kGzip}) {
    SCOPED_TRACE(CodecExtension(codec));
    auto o = Opts(8, codec);
    ExportJournal j(env_, o);
    EXPECT_EQ(j.Recover().prefix_partitions, 0u);
    for (size_t p : {5, 3, 7, 1, 0, 2, 6, 4}) Commit(j, p);
    EXPECT_EQ(j.Finish({0, 1, 2, 3, 4, 5, 6, 7}), o.export_path);
    EXPECT_EQ(Slurp(o.export_path), All({0, 1, 2, 3, 4, 5, 6, 7}));
    EXPECT_FALSE(fs::exists(o.journal_path));
    for (size_t p = 0; p < 8; ++p) {
      Manifest m;
      std::string why;
      ASSERT_EQ(ReadManifest(env_, o.result_paths[p], "r1", 1, &m, &why), ManifestState::kValid) << p;
      EXPECT_TRUE(m.export_offset.has_value()) << p;
      EXPECT_FALSE(fs::exists(o.result_paths[p])) << "a spilled result file stays behind: " << p;
    }
  }
}

TEST_F(ExportJournalTest, RecoveryCutsUncommittedTail) {
  auto o = Opts(6);
  {
    ExportJournal j(env_, o);
    j.Recover();
    for (size_t p : {0, 1, 3, 4}) Commit(j, p);  // 3 waits in memory (lost with the process), 4 spills to a file
    EXPECT_TRUE(fs::exists(o.result_paths[4]));
  }
  std::ofstream(o.journal_path, std::ios::app) << "{\"torn\":";
  ExportJournal j(env_, o);
  auto r = j.Recover();
  EXPECT_EQ(r.prefix_partitions, 2u);
  EXPECT_EQ(r.result_files, 1u);
  EXPECT_EQ(r.prefix_bytes, All({0, 1}).size());
  EXPECT_EQ(fs::file_size(o.journal_path), r.prefix_bytes);
  EXPECT_TRUE(j.Committed(1).has_value());
  EXPECT_FALSE(j.Committed(3).has_value());
  EXPECT_TRUE(j.Committed(4).has_value());
  for (size_t p : {5, 3, 2}) Commit(j, p);
  j.Finish({0, 1, 2, 3, 4, 5});
  EXPECT_EQ(Slurp(o.export_path), All({0, 1, 2, 3, 4, 5}));
}

TEST_F(ExportJournalTest, ConcurrentWritersKeepOrder) {
  const size_t n = 64;
  auto o = Opts(n, Codec::kNone, 40, 80);
  ExportJournal j(env_, o);
  j.Recover();
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t p; (p = next.fetch_add(1)) < n;) Commit(j, p);
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  std::vector<size_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  j.Finish(all);
  EXPECT_EQ(Slurp(o.export_path), All(all));
}

TEST_F(ExportJournalTest, CorruptBytesEndThePrefix) {
  auto o = Opts(4);
  {
    ExportJournal j(env_, o);
    j.Recover();
    for (size_t p : {0, 1, 2}) Commit(j, p);
  }
  // Partition 1 is empty (Data(1) == ""), so flip a byte inside partition 2.
  std::string s = Slurp(o.journal_path);
  s[Data(0).size() + 3] ^= 0x20;
  WriteFileAtomic(env_, o.journal_path, s);
  ExportJournal j(env_, o);
  auto r = j.Recover();
  EXPECT_EQ(r.prefix_partitions, 2u);
  ASSERT_EQ(r.discarded.size(), 1u);
  EXPECT_NE(r.discarded[0].find("partition 2"), std::string::npos) << r.discarded[0];
  for (size_t p : {2, 3}) Commit(j, p);
  j.Finish({0, 1, 2, 3});
  EXPECT_EQ(Slurp(o.export_path), All({0, 1, 2, 3}));
}

TEST_F(ExportJournalTest, FinishedExportIsRecognisedAndRepaired) {
  auto o = Opts(5);
  {
    ExportJournal j(env_, o);
    j.Recover();
    for (size_t p = 0; p < 5; ++p) Commit(j, p);
    j.Finish({0, 1, 2, 3, 4});
  }
  {
    ExportJournal j(env_, o);
    auto r = j.Recover();
    EXPECT_TRUE(r.export_complete);
    EXPECT_EQ(r.prefix_partitions, 5u);
    EXPECT_FALSE(fs::exists(o.journal_path));
    j.Finish({0, 1, 2, 3, 4});
    EXPECT_EQ(Slurp(o.export_path), All({0, 1, 2, 3, 4}));
  }
  // Someone cut the export short: the verified prefix is copied back, the rest recomputed.
  fs::resize_file(o.export_path, All({0, 1, 2, 3}).size() + 2);
  ExportJournal j(env_, o);
  auto r = j.Recover();
  EXPECT_FALSE(r.export_complete);
  EXPECT_EQ(r.prefix_partitions, 4u);
  EXPECT_EQ(Slurp(o.export_path).size(), All({0, 1, 2, 3}).size() + 2) << "the old export stays until the new one replaces it";
  Commit(j, 4);
  j.Finish({0, 1, 2, 3, 4});
  EXPECT_EQ(Slurp(o.export_path), All({0, 1, 2, 3, 4}));
}

TEST_F(ExportJournalTest, FailedPartitionStopsTheJournalAndLaterOnesBecomeFiles) {
  auto o = Opts(5, Codec::kNone, 1 << 20, 1 << 20);  // room enough to wait in memory
  {
    ExportJournal j(env_, o);
    j.Recover();
    Commit(j, 0);
    Commit(j, 3);  // waits in memory
    j.MarkFailed(2);
    EXPECT_TRUE(fs::exists(o.result_paths[3])) << "waiting partitions past a failure are made durable";
    Commit(j, 1);
    Commit(j, 4);
    j.Finish({0, 1, 3, 4});  // an allow_partial export
    EXPECT_EQ(Slurp(o.export_path), All({0, 1, 3, 4}));
  }
  // The resume computes partition 2; 0 and 1 come back from the partial export, 3 and 4 from their files.
  ExportJournal j(env_, o);
  auto r = j.Recover();
  EXPECT_EQ(r.prefix_partitions, 2u);
  EXPECT_EQ(r.result_files, 2u);
  EXPECT_FALSE(j.Committed(2).has_value());
  EXPECT_TRUE(j.Committed(4).has_value());
  Commit(j, 2);
  j.Finish({0, 1, 2, 3, 4});
  EXPECT_EQ(Slurp(o.export_path), All({0, 1, 2, 3, 4}));
}

TEST_F(ExportJournalTest, AbandonedAttemptIsCutOff) {
  auto o = Opts(2);
  ExportJournal j(env_, o);
  j.Recover();
  {
    auto sink = j.Open(0);
    sink->Write("{\"half\":1}\n");  // partition 0 is the head: straight into the journal (queued)
  }  // destroyed without Commit, a failed attempt: its bytes are written out, then cut off
  EXPECT_EQ(fs::file_size(o.journal_path), 0u);
  Commit(j, 0);
  Commit(j, 1);
  j.Finish({0, 1});
  EXPECT_EQ(Slurp(o.export_path), All({0, 1}));
}

// A full disk for the journal only (RLIMIT_FSIZE or ENOSPC stand-in): an append that would take it past
// `limit` bytes fails and writes nothing. Result files and manifests are not limited.
class FullJournalEnv : public EnvWrapper {
 public:
  explicit FullJournalEnv(Env* base) : EnvWrapper(base) {}
  uint64_t limit = UINT64_MAX;
  int failures = 0;
  std::unique_ptr<WritableFile> NewUncachedWritableFile(const std::string& path) override {
    auto f = EnvWrapper::NewUncachedWritableFile(path);  // creates it
    return std::make_unique<File>(*this, path, std::move(f), FileSize(path));
  }

 private:
  class File : public WritableFile {
   public:
    File(FullJournalEnv& env, std::string path, std::unique_ptr<WritableFile> f, uint64_t size)
        : env_(env), path_(std::move(path)), f_(std::move(f)), size_(size) {}
    void Append(std::string_view d) override {
      if (size_ + d.size() > env_.limit) {
        ++env_.failures;
        Fail(ErrorKind::kOutput, "cannot write '{}': File too large", path_);
      }
      f_->Append(d);
      size_ += d.size();
    }
    void Sync() override { f_->Sync(); }
    void Close() override { f_->Close(); }
    void Truncate(uint64_t size) override {
      f_->Truncate(size);
      size_ = size;
    }

   private:
    FullJournalEnv& env_;
    std::string path_;
    std::unique_ptr<WritableFile> f_;
    uint64_t size_;
  };
};


// Partition 0's commit appends partition 2, which waited in memory (or in its result file), after it. That
// append failing is partition 2's, not 0's: 0 stays committed, 2 keeps its bytes and is appended again
// later. The journal then holds exactly the partitions its manifests say, and an export is never
// published without one of them.
TEST_F(ExportJournalTest, FailedAppendOfAWaitingPartitionLosesNothing) {
  for (uint64_t buffer_cap : {uint64_t{1} << 20, uint64_t{8}}) {  // waits in memory; spills to a result file
    for (bool room_later : {false, true}) {
      SCOPED_TRACE(fmt::format("buffer_cap {} room_later {}", buffer_cap, room_later));
      fs::remove_all(dir_);
      fs::create_directories(dir_ / "results");
      FullJournalEnv env(env_);
      auto o = Opts(4, Codec::kNone, buffer_cap, 1 << 20);
      env.limit = Data(0).size() + Data(2).size() - 1;  // 0 fits, 2 after it does not
      {
        ExportJournal j(&env, o);
        j.Recover();
        std::vector<size_t> done;
        for (size_t p : {2, 1, 0}) {
          if (CommitWithRetry(j, p)) done.push_back(p);
        }
        EXPECT_GE(env.failures, 1) << "the limit was never hit: the test tests nothing";
        EXPECT_EQ(done.size(), 3u) << "every partition's own commit succeeded";
        if (room_later) env.limit = UINT64_MAX;
        if (CommitWithRetry(j, 3)) done.push_back(3);
        std::sort(done.begin(), done.end());
        std::string published;
        try {
          published = j.Finish(done);
        } catch (const Error& e) {
          EXPECT_FALSE(room_later) << e.what();
          EXPECT_NE(std::string(e.what()).find(o.journal_path), std::string::npos) << e.what();
          EXPECT_NE(std::string(e.what()).find("File too large"), std::string::npos) << e.what();
          EXPECT_NE(std::string(e.what()).find("partition 2"), std::string::npos) << e.what();
        }
        EXPECT_EQ(fs::exists(o.export_path), room_later);
        if (room_later) {
          EXPECT_EQ(published, o.export_path);
          EXPECT_EQ(Slurp(o.export_path), All({0, 1, 2, 3})) << "a published export is whole";
        }
      }
      // The rerun, with room: what the journal holds is verified, the rest is computed again.
      env.limit = UINT64_MAX;
      ExportJournal j(&env, o);
      auto r = j.Recover();
      EXPECT_EQ(r.export_complete, room_later);
      if (!room_later) {
        EXPECT_EQ(r.prefix_partitions, 2u) << "0 and 1 (empty) were committed before the failure";
      }
      for (size_t p = 0; p < 4; ++p)
        if (!j.Committed(p)) Commit(j, p);
      j.Finish({0, 1, 2, 3});
      EXPECT_EQ(Slurp(o.export_path), All({0, 1, 2, 3}));
    }
  }
}

// The stats side file rides on the journal: the same partitions, in the same order, recovered together.
TEST_F(ExportJournalTest, SideFileFollowsTheExport) {
  auto side_data = [](size_t p) {
    std::string d = Data(p), s;
    for (size_t i = 0, n = static_cast<size_t>(std::count(d.begin(), d.end(), '\n')); i < n; ++i)
      s += fmt::format("{{\"__dj__stats__\":{{\"p\":{}}}}}\n", p);
    return s;
  };
  auto commit = [&](ExportJournal& j, size_t p, bool side_rows) {
    auto sink = j.Open(p);
    std::string d = Data(p), sd = side_data(p);
    sink->Write(std::string_view(d).substr(0, d.size() / 2));
    sink->WriteSide(sd);
    sink->Write(std::string_view(d).substr(d.size() / 2));
    Counters c;
    c.rows = static_cast<uint64_t>(std::count(d.begin(), d.end(), '\n'));
    c.side_rows = side_rows ? c.rows : 0;
    c.ops.resize(1);
    sink->Commit(c, "result_commit");
  };
  auto side_all = [&](const std::vector<size_t>& parts) {
    std::string s;
    for (size_t p : parts) s += side_data(p);
    return s;
  };
  for (bool always : {true, false}) {
    SCOPED_TRACE(always);
    auto o = Opts(6);
    o.side_path = StatsSidePath(o.export_path);
    o.side_journal_path = always ? o.side_path + ".job.partial" : (dir_ / "results" / "side.jsonl").string();
    o.side_always = always;
    EXPECT_EQ(o.side_path, (dir_ / "out_stats.jsonl").string());
    {
      ExportJournal j(env_, o);
      j.Recover();
      for (size_t p : {4, 0, 2, 1}) commit(j, p, true);  // 2 waits or spills (with its side part), 4 too
    }
    // A torn side journal: the partitions whose side bytes are gone leave the prefix with them.
    uint64_t keep = side_all({0, 1}).size() + 3;
    fs::resize_file(o.side_journal_path, keep);
    {
      ExportJournal j(env_, o);
      auto r = j.Recover();
      EXPECT_EQ(r.prefix_partitions, 2u);
      EXPECT_EQ(fs::file_size(o.journal_path), All({0, 1}).size()) << "the export is cut back with its side file";
      for (size_t p : {5, 3, 2}) commit(j, p, true);
      if (!j.Committed(4)) commit(j, 4, true);
      j.Finish({0, 1, 2, 3, 4, 5});
      EXPECT_EQ(j.side_file(), o.side_path);
    }
    EXPECT_EQ(Slurp(o.export_path), All({0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(Slurp(o.side_path), side_all({0, 1, 2, 3, 4, 5}));
    EXPECT_FALSE(fs::exists(o.journal_path));
    EXPECT_EQ(fs::exists(o.side_journal_path), !always) << "kept in the job directory when copied out";
    ExportJournal j(env_, o);
    EXPECT_TRUE(j.Recover().export_complete);
    EXPECT_EQ(j.side_file(), o.side_path);
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "results");
  }
  // No op adds a column and no record has one: nothing is published, and a rerun still finds it complete.
  auto o = Opts(3);
  o.side_path = StatsSidePath(o.export_path);
  o.side_journal_path = (dir_ / "results" / "side.jsonl").string();
  {
    ExportJournal j(env_, o);
    j.Recover();
    for (size_t p : {2, 1, 0}) commit(j, p, false);
    j.Finish({0, 1, 2});
    EXPECT_EQ(j.side_file(), "");
  }
  EXPECT_FALSE(fs::exists(o.side_path));
  ExportJournal j(env_, o);
  EXPECT_TRUE(j.Recover().export_complete);
}

}  // namespace
}  // namespace sluice
