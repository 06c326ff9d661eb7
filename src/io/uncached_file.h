// OpenUncachedWritableFile: the POSIX Env's NewUncachedWritableFile (io/env.h), for a large file written once,
// front to back: the export journal.
//
// Contract: appends to `path` (created if missing, opened for reading too) and writes around the page cache
// with O_DIRECT where the file system allows, else through an ordinary buffered descriptor (EINVAL at open,
// or at a transfer: a device with blocks larger than 4 KiB), with the same results. Append copies the bytes
// into an aligned buffer and returns; whole buffers are written by one background thread, in order, so the
// caller never waits for the disk unless all buffers are in flight. Sync, Truncate and Close wait for them,
// write the last partial block zero-padded, cut the file back to its true length and (Sync) fdatasync:
// after each, the file holds exactly the bytes appended. A crash in between can leave up to one block of
// zeros after the bytes written; the export journal's recovery cuts off every byte no manifest accounts
// for. A write error is raised (kOutput, naming the file) by the next call, and nothing appended after it
// is written, until a Truncate to an offset at or before the failed transfer discards it. The destructor writes what is staged, dropping errors (nothing unsynced is recorded as
// durable). Not thread-safe: one writer at a time, as for every WritableFile.
#pragma once

#include <memory>
#include <string>

#include "io/env.h"

namespace sluice {

// `allow_direct` false: the buffered descriptor from the start (what a file system without direct I/O gets;
// tests run every case both ways).
std::unique_ptr<WritableFile> OpenUncachedWritableFile(const std::string& path, bool allow_direct = true);

}  // namespace sluice
