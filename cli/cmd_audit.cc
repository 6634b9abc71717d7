// bowden audit / bowden audit verify: read and check the relay's audit log.

#include <chrono>
#include <map>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/relay_session.h"
#include "google/protobuf/util/json_util.h"
#include "proto/tunnel.grpc.pb.h"
#include "transport/relay_channel.h"

namespace bowden::cli {
namespace {

constexpr absl::Duration kFollowInterval = absl::Seconds(1);

std::string Line(const bowden::v1::AuditEvent& e) {
  std::vector<std::string> fields;
  // Sorted, so the same event always prints the same way.
  std::map<std::string, std::string> sorted(e.fields().begin(), e.fields().end());
  for (const auto& [k, v] : sorted) fields.push_back(absl::StrCat(k, "=", v));
  return absl::StrFormat(
      "%6d %s %-14s %-28s %-12s %-7s %s%s%s", e.seq(),
      absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMicros(e.time_unix_micros()),
                       absl::UTCTimeZone()),
      e.kind(), e.actor(), e.printer().empty() ? "-" : e.printer(), e.outcome(),
      e.detail(), e.detail().empty() || fields.empty() ? "" : " ",
      absl::StrJoin(fields, " "));
}

}  // namespace

int RunAudit(const CliOptions& options, const std::vector<std::string>& args) {
  if (!args.empty()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "audit takes no arguments, got '", args[0], "' (did you mean `audit verify`?)")));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = bowden::v1::AdminService::NewStub(*channel);
  bowden::v1::AuditQuery query;
  query.set_printer(options.printer_filter);
  query.set_user(options.user_filter);
  if (options.since > absl::ZeroDuration()) {
    query.set_since_unix_micros(absl::ToUnixMicros(absl::Now() - options.since));
  }
  query.set_limit(10000);
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    bowden::v1::QueryAuditResponse response;
    grpc::Status status = stub->QueryAudit(&context, query, &response);
    if (!status.ok()) {
      return Fail(absl::UnavailableError(transport::DescribeCallError(status, options.relay)));
    }
    for (const auto& event : response.events()) {
      if (options.json) {
        std::string json;
        google::protobuf::util::JsonPrintOptions print;
        print.preserve_proto_field_names = true;
        (void)google::protobuf::util::MessageToJsonString(event, &json, print);
        std::cout << json << "\n";
      } else {
        std::cout << Line(event) << "\n";
      }
      query.set_after_seq(event.seq());
    }
    std::cout << std::flush;
    if (!options.follow) return 0;
    // Following polls; Ctrl-C ends it.
    if (response.events_size() < query.limit()) absl::SleepFor(kFollowInterval);
  }
}

int RunAuditVerify(const CliOptions& options, const std::vector<std::string>& args) {
  if (!args.empty()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("audit verify takes no arguments, got '", args[0], "'")));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = bowden::v1::AdminService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  bowden::v1::VerifyAuditRequest request;
  request.set_expected_head(options.head);
  bowden::v1::VerifyAuditResponse response;
  grpc::Status status = stub->VerifyAudit(&context, request, &response);
  if (!status.ok()) {
    return Fail(absl::UnavailableError(transport::DescribeCallError(status, options.relay)));
  }
  if (response.ok()) {
    std::cout << "The audit log is intact: " << response.rows_checked()
              << " rows verified. Head: " << response.head()
              << "\nKeep the head somewhere else; `bowden audit verify --head HEAD` later "
                 "proves nothing up to it was removed."
              << std::endl;
    return 0;
  }
  std::cout << "The audit log is BROKEN at row " << response.broken_seq() << " ("
            << response.problem() << "): " << response.detail() << "\n"
            << "Rows before it verify; the last good head is " << response.head() << "."
            << std::endl;
  return 3;
}

}  // namespace bowden::cli
