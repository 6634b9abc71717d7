#ifndef BOWDEN_POLICY_POLICY_H_
#define BOWDEN_POLICY_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/config.pb.h"

namespace bowden::policy {

// Who may reach which printer and target. Deny by default: a request is
// allowed only when some grant names the user (or "*"), has a printer glob
// matching the printer id, and lists the target (or lists no targets).
//
// Immutable after construction, so thread-safe; the relay swaps whole
// Policy objects to reload.
class Policy {
 public:
  // The empty policy: denies everything.
  Policy() = default;

  // Validates every grant; errors name the grant's index and what to fix.
  static absl::StatusOr<Policy> FromProto(const bowden::v1::Policy& proto);

  // Parses "USER=PRINTER_GLOB" (the relay's --allow flag) into a grant on
  // every target.
  static absl::StatusOr<bowden::v1::Grant> ParseAllowFlag(absl::string_view text);

  // True when `user` may reach some target of `printer`.
  bool MayReachPrinter(absl::string_view user, absl::string_view printer) const;
  // True when `user` may reach `target` on `printer`.
  bool MayReachTarget(absl::string_view user, absl::string_view printer,
                      absl::string_view target) const;

  size_t grant_count() const { return grants_.size(); }

 private:
  explicit Policy(std::vector<bowden::v1::Grant> grants)
      : grants_(std::move(grants)) {}
  static bool Covers(const bowden::v1::Grant& grant, absl::string_view user,
                     absl::string_view printer);

  std::vector<bowden::v1::Grant> grants_;
};

}  // namespace bowden::policy

#endif  // BOWDEN_POLICY_POLICY_H_
