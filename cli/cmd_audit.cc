// bowden audit / bowden audit verify: read and check the relay's audit log.

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/relay_session.h"
#include "google/protobuf/util/json_util.h"
#include "proto/tunnel.grpc.pb.h"
#include "terminal/terminal_text.h"
#include "transport/relay_channel.h"

namespace bowden::cli {

using terminal::EscapeForTerminal;
using terminal::EscapeJsonForTerminal;
namespace {

constexpr absl::Duration kFollowInterval = absl::Seconds(1);
// Rows asked for per call; the relay caps a page at this many as well.
constexpr int kPageRows = 1000;

// One row per line. Every field is escaped: the text comes from requests
// anyone with a tunnel can make.
std::string Line(const bowden::v1::AuditEvent& e) {
  std::vector<std::string> fields;
  // Sorted, so the same event always prints the same way.
  std::map<std::string, std::string> sorted(e.fields().begin(),
                                            e.fields().end());
  for (const auto& [k, v] : sorted) {
    fields.push_back(
        absl::StrCat(EscapeForTerminal(k), "=", EscapeForTerminal(v)));
  }
  std::string detail = EscapeForTerminal(e.detail());
  return absl::StrFormat(
      "%6d %s %-14s %-28s %-12s %-7s %s%s%s", e.seq(),
      absl::FormatTime("%Y-%m-%d %H:%M:%S",
                       absl::FromUnixMicros(e.time_unix_micros()),
                       absl::UTCTimeZone()),
      EscapeForTerminal(e.kind()), EscapeForTerminal(e.actor()),
      e.printer().empty() ? "-" : EscapeForTerminal(e.printer()),
      EscapeForTerminal(e.outcome()), detail,
      detail.empty() || fields.empty() ? "" : " ", absl::StrJoin(fields, " "));
}

void Print(const bowden::v1::AuditEvent& event, bool json) {
  if (!json) {
    std::cout << Line(event) << "\n";
    return;
  }
  std::string text;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(event, &text, print);
  std::cout << EscapeJsonForTerminal(text) << "\n";
}

// Waits up to `timeout` for one of `signals` (blocked by the caller); true
// when one came.
bool StopSignalWithin(const sigset_t& signals, absl::Duration timeout) {
  timespec wait = absl::ToTimespec(timeout);
  return sigtimedwait(&signals, nullptr, &wait) > 0;
}

}  // namespace

// Newest first unless --oldest-first; --limit rows, or every row with --all,
// fetched a page at a time so no answer outgrows gRPC's message limit.
// --follow then prints new rows as they come, like `tail -f`.
int RunAudit(const CliOptions& options, const std::vector<std::string>& args) {
  if (!args.empty()) {
    return UsageError(absl::StrCat("audit takes no arguments, got '", args[0],
                                   "' (did you mean `audit verify`?)"));
  }
  if (options.limit <= 0 && !options.all) {
    return UsageError(
        absl::StrCat("--limit ", options.limit,
                     " shows nothing: give 1 or more, or --all for every row"));
  }
  // --follow ends with Ctrl-C as `open` does: exit 0. The stop signals are
  // blocked before gRPC starts its threads, which inherit the mask, so only
  // the sigtimedwait below takes them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (options.follow) pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = bowden::v1::AdminService::NewStub(*channel);
  bowden::v1::AuditQuery query;
  query.set_printer(options.printer_filter);
  query.set_user(options.user_filter);
  if (options.since > absl::ZeroDuration()) {
    query.set_since_unix_micros(
        absl::ToUnixMicros(absl::Now() - options.since));
  }
  const bool newest_first = !options.oldest_first;
  query.set_newest_first(newest_first);
  auto fetch = [&](bowden::v1::QueryAuditResponse* response) -> grpc::Status {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    return stub->QueryAudit(&context, query, response);
  };
  int64_t remaining = options.all ? -1 : options.limit;
  int64_t newest_seq = 0;
  std::vector<bowden::v1::AuditEvent> held;  // --follow: printed in time order
  bool more = false;
  // An export (`--all > file`) can take a while: say how far it got.
  Progress progress(!options.follow && Progress::Wanted(), std::cerr, "rows");
  int64_t fetched_rows = 0;
  uint64_t fetched_bytes = 0;
  while (remaining != 0) {
    query.set_limit(remaining < 0 ? kPageRows
                                  : static_cast<int>(std::min<int64_t>(
                                        remaining, kPageRows)));
    bowden::v1::QueryAuditResponse response;
    grpc::Status status = fetch(&response);
    if (!status.ok()) {
      return Fail(absl::UnavailableError(
          transport::DescribeCallError(status, options.relay)));
    }
    for (auto& event : *response.mutable_events()) {
      newest_seq = std::max(newest_seq, event.seq());
      if (newest_first) {
        query.set_before_seq(event.seq());
      } else {
        query.set_after_seq(event.seq());
      }
      if (options.follow) {
        held.push_back(std::move(event));
      } else {
        Print(event, options.json);
      }
    }
    std::cout << std::flush;
    fetched_rows += response.events_size();
    fetched_bytes += response.ByteSizeLong();
    progress.Update(fetched_rows, fetched_bytes);
    if (remaining > 0) remaining -= response.events_size();
    more = response.more();
    if (!more || response.events_size() == 0) break;
  }
  progress.Done();
  if (more && !options.all && !options.follow) {
    std::cerr << "(the " << (newest_first ? "newest " : "oldest ")
              << options.limit << " rows; more match: --limit N or --all)"
              << std::endl;
  }
  if (!options.follow) return 0;
  if (newest_first) std::reverse(held.begin(), held.end());
  for (const auto& event : held) Print(event, options.json);
  std::cout << std::flush;
  query.set_newest_first(false);
  query.set_before_seq(0);
  query.set_after_seq(newest_seq);
  query.set_limit(kPageRows);
  while (true) {
    bowden::v1::QueryAuditResponse response;
    grpc::Status status = fetch(&response);
    if (!status.ok()) {
      return Fail(absl::UnavailableError(
          transport::DescribeCallError(status, options.relay)));
    }
    for (const auto& event : response.events()) {
      Print(event, options.json);
      query.set_after_seq(event.seq());
    }
    std::cout << std::flush;
    // Following polls; Ctrl-C ends it.
    if (StopSignalWithin(stop_signals, response.more() ? absl::ZeroDuration()
                                                       : kFollowInterval)) {
      return 0;
    }
  }
}

int RunAuditVerify(const CliOptions& options,
                   const std::vector<std::string>& args) {
  if (!args.empty()) {
    return UsageError(
        absl::StrCat("audit verify takes no arguments, got '", args[0], "'"));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = bowden::v1::AdminService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(120));
  bowden::v1::VerifyAuditRequest request;
  request.set_expected_head(options.head);
  bowden::v1::VerifyAuditResponse response;
  grpc::Status status = stub->VerifyAudit(&context, request, &response);
  if (!status.ok()) {
    return Fail(absl::UnavailableError(
        transport::DescribeCallError(status, options.relay)));
  }
  if (response.ok()) {
    std::cout << "The audit log is intact: " << response.segments()
              << " sealed segments (" << response.pruned_segments()
              << " pruned by retention), " << response.rows_checked()
              << " rows verified. Head: " << response.head()
              << "\nKeep the head somewhere else; "
                 "`bowden audit verify --head HEAD` later "
                 "proves nothing up to it was removed."
              << std::endl;
    return 0;
  }
  std::cout << "The audit log is BROKEN at row " << response.broken_seq()
            << (response.broken_segment() > 0
                    ? absl::StrCat(", segment ", response.broken_segment())
                    : std::string())
            << " (" << response.problem() << "): " << response.detail() << "\n"
            << "Rows before it verify; the last good head is "
            << response.head() << "." << std::endl;
  return 3;
}

}  // namespace bowden::cli
