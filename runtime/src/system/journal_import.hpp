// What a cycle (enter, DETACHED, return) logged, into the journal (or
// syslog) after return: `offroot import-log`.
//
// The carrier is the kernel's ring buffer, not the log in RAM: every line
// the enter and return workers log goes to /dev/kmsg as well (base/log.hpp),
// offroot-init and the watcher write there only, and so does the kernel;
// each record has a sequence number, which journald itself keeps its place
// by (/run/systemd/journal/kernel-seqnum, "the next record I expect").
// journald reads the buffer while it runs, so the records it missed are
// exactly those from its place when enter killed it to the hand-over:
//   enter  marks the cycle's first record and the one where DETACHED begins;
//   enter  also keeps journald's place once it has stopped it;
//   return marks its first record, and at the fresh /run gives journald a
//          place at the hand-over (journald then reads from there on, and
//          never the boot's records a second time);
//   import sends the records in between to the journal's socket, once.
// On sysvinit no journald reads the buffer; rsyslog's imklog reads the
// kernel's records from /proc/kmsg from where it stopped, and drops those
// of other facilities: the import sends offroot's own (not the kernel's) of
// the whole cycle to /dev/log, at the end of return.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace offroot {

inline constexpr const char* kCycleRecord = "/var/lib/offroot/journal-import";
inline constexpr const char* kJournalSocket = "/run/systemd/journal/socket";
inline constexpr const char* kSyslogSocket = "/dev/log";
// journald's place in the ring buffer: a native uint64, the next sequence
// number it will read (systemd's journald-kmsg.c, since v38).
inline constexpr const char* kJournaldKernelSeqnum = "/systemd/journal/kernel-seqnum";  // under /run

struct KmsgRecord {
    int priority = 6;     // facility * 8 + level, as /dev/kmsg prints it
    uint64_t seq = 0;
    uint64_t usec = 0;    // since boot (the kernel's clock, CLOCK_MONOTONIC-like)
    std::string text;     // unescaped; may hold newlines
};

// /dev/kmsg as read(2) returns it, one record after another:
// "PRI,SEQ,USEC,FLAGS[,...];TEXT\n", then " KEY=VALUE\n" continuation lines.
Result<std::vector<KmsgRecord>> parse_kmsg(std::string_view stream);
// Every record still in the buffer, without waiting for new ones.
Result<std::vector<KmsgRecord>> read_kmsg(const std::string& path = "/dev/kmsg");
// The sequence number the next record will get.
Result<uint64_t> next_kmsg_seq(const std::string& path = "/dev/kmsg");

enum class LogSink { journal, syslog };

// The cycle's marks, kept in the emergency environment's RAM.
struct CycleRecord {
    uint64_t enter = 0;     // enter's first record
    uint64_t detached = 0;  // DETACHED begins (0: enter did not get there)
    uint64_t returned = 0;  // return's first record (0: no return yet)
    uint64_t from = 0;      // the first record no log daemon has
    uint64_t to = 0;        // the first one the log daemon reads itself (0: the hand-over is not done)
    uint64_t imported = 0;  // the import got this far (the next record it would send)
    LogSink sink = LogSink::journal;
    uint64_t journald = 0;  // journald's place when enter had stopped it (0: none known)
};
std::string serialize(const CycleRecord& record);
Result<CycleRecord> parse_cycle_record(std::string_view text);
// Written to a temporary name and renamed over: a reader never sees half.
Status write_cycle_record(const std::string& path, const CycleRecord& record);

// "enter", "detached" or "return", by the record's sequence number.
std::string phase_of(const CycleRecord& cycle, uint64_t seq);

// The identifier a record's writer gave it ("offroot: ..." -> "offroot",
// the rest of the text), "kernel" for the kernel's own.
struct SyslogParts {
    std::string identifier;
    std::string message;
};
SyslogParts split_identifier(const KmsgRecord& record);

// The record as a datagram of journald's native protocol
// (systemd.journal-fields(7), "Native Journal Protocol"): the original
// time goes into the message (what `journalctl -b` shows) and into
// OFFROOT_TIME; `realtime_offset_usec` turns the kernel's clock into the
// wall clock.
std::string format_journal_entry(const KmsgRecord& record, const std::string& phase, int64_t realtime_offset_usec);
// The same as an RFC 3164 line for /dev/log, facility daemon, the original
// time in its header.
std::string format_syslog_line(const KmsgRecord& record, const std::string& phase, int64_t realtime_offset_usec);

// The marks enter and return leave (never fatal: a warning line when the
// record cannot be written, the cycle is then not imported).
void mark_cycle_enter();
void mark_cycle_detached();
void mark_cycle_return();
// Once enter has stopped journald, while the real root's /run (`real_run`)
// is still mounted: journald's place, which the fresh /run of return must
// not lose. Read there and then, because the environment's own /run is the
// boot's, and journald's file in it is as old as the first cycle.
void mark_cycle_journald_place(const std::string& real_run);
// At return's fresh /run (`new_run`, the root's): journald's place, moved on
// to the hand-over, and the range it will not read recorded for the import.
void mark_cycle_handover(const std::string& new_run, bool sysvinit);

struct ImportOptions {
    std::string record_path = kCycleRecord;
    std::string kmsg_path = "/dev/kmsg";
    std::string journal_socket = kJournalSocket;
    std::string syslog_socket = kSyslogSocket;
    // How long the import waits for the log daemon's socket to appear.
    int wait_seconds = 0;
    // The end of return on sysvinit: the range ends at the buffer's end now.
    bool close_range = false;
};
struct ImportReport {
    size_t sent = 0;
    std::string summary;  // one line for the admin
};
// Sends what the record says no log daemon has, marks it imported after
// each record. Nothing to do (no record, no finished return, all sent) is
// not an error.
Result<ImportReport> import_cycle_log(const ImportOptions& options);

}  // namespace offroot
