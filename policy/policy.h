#ifndef BOWDEN_POLICY_POLICY_H_
#define BOWDEN_POLICY_POLICY_H_

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/config.pb.h"

namespace bowden::policy {

// What a session may do on a printer, in increasing order of power. The
// agent enforces the role on each HTTP request.
enum class Role { kViewer = 1, kOperator = 2, kAdmin = 3 };

absl::string_view RoleName(Role role);
std::optional<Role> ParseRole(absl::string_view name);

// Who may reach which printer and target, with which role. Deny by default:
// a request is allowed only when some grant names the user (directly, through
// a group, or with "*"), has a printer glob matching the printer id, and
// lists the target (or lists no targets). The highest matching role wins.
//
// Immutable after construction, so thread-safe; the relay swaps whole
// Policy objects to reload.
class Policy {
 public:
  // The empty policy: denies everything.
  Policy() = default;

  // Validates every grant and group; errors name the grant or group and what
  // to fix.
  static absl::StatusOr<Policy> FromProto(const bowden::v1::Policy& proto);

  // Parses "USER=PRINTER_GLOB" (the relay's --allow flag) into a grant on
  // every target with the default role.
  static absl::StatusOr<bowden::v1::Grant> ParseAllowFlag(absl::string_view text);

  // True when `user` may reach some target of `printer`.
  bool MayReachPrinter(absl::string_view user, absl::string_view printer) const;
  // The role `user` has on `target` of `printer`, or nullopt when denied.
  std::optional<Role> RoleFor(absl::string_view user, absl::string_view printer,
                              absl::string_view target) const;
  bool MayReachTarget(absl::string_view user, absl::string_view printer,
                      absl::string_view target) const {
    return RoleFor(user, printer, target).has_value();
  }

  // True when `user` administers the relay (Policy.admins).
  bool IsRelayAdmin(absl::string_view user) const {
    return std::find(admins_.begin(), admins_.end(), user) != admins_.end();
  }

  size_t grant_count() const { return grants_.size(); }

 private:
  struct CompiledGrant {
    bowden::v1::Grant grant;
    Role role;
  };
  bool Covers(const bowden::v1::Grant& grant, absl::string_view user,
              absl::string_view printer) const;

  std::vector<CompiledGrant> grants_;
  std::vector<std::string> admins_;
  // group name -> members
  absl::flat_hash_map<std::string, std::vector<std::string>> groups_;
};

}  // namespace bowden::policy

#endif  // BOWDEN_POLICY_POLICY_H_
