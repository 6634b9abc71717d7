#ifndef BOWDEN_CLI_NOTICE_PRINTER_H_
#define BOWDEN_CLI_NOTICE_PRINTER_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/repeated_field.h"
#include "proto/tunnel.pb.h"

namespace bowden::cli {

// Prints the agent's notices (Chunk.notices: refused requests) for the
// person running `bowden open`, one line each:
//
//   bowden: printer p1 refused POST /api/printer/command (viewer): REASON
//   [RULE]
//
// with every field escaped for the terminal (terminal_text.h): the path and
// reason come from whoever sent the request.
//
// Bounded, so a flood of refusals (a page polling a refused API, a script)
// cannot flood the terminal: a token bucket of `burst` lines, refilled at
// one line per `interval`; refusals beyond it are counted and summed up in
// one line an `interval` after the first of them (so one per `interval` at
// most):
//
//   bowden: printer p1 refused 180 more requests (latest: GET /x [rule]); ...
//
// The caller calls Tick() once `interval` after Print() returned true, so
// the last summary is not held back until the next refusal.
//
// Thread-safe.
class NoticePrinter {
 public:
  NoticePrinter(std::string printer, std::ostream* out, int burst = 20,
                absl::Duration interval = absl::Seconds(1));

  // Prints or counts `notices` at time `now`. Returns true if refusals wait
  // to be summed up: call Tick() `interval` later.
  bool Print(
      const google::protobuf::RepeatedPtrField<bowden::v1::Notice>& notices,
      absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  // Prints the summary if one is due; returns true if refusals still wait.
  bool Tick(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  absl::Duration interval() const { return interval_; }

 private:
  void Refill(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Count(uint64_t n, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeSummarise(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string printer_;
  std::ostream* const out_;
  const int burst_;
  const absl::Duration interval_;

  absl::Mutex mu_;
  int tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time refilled_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t counted_ ABSL_GUARDED_BY(mu_) = 0;  // not yet summed up
  std::string latest_ ABSL_GUARDED_BY(mu_);    // of the counted ones
  absl::Time summary_due_ ABSL_GUARDED_BY(mu_);
};

// The line for one notice, without the "bowden: " prefix and newline.
std::string DescribeNotice(const std::string& printer,
                           const bowden::v1::Notice& notice);

}  // namespace bowden::cli

#endif  // BOWDEN_CLI_NOTICE_PRINTER_H_
