#include "policy/policy.h"

#include <fnmatch.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/spiffe_id.h"

namespace bowden::policy {
namespace {

bool GlobMatches(const std::string& glob, absl::string_view name) {
  return fnmatch(glob.c_str(), std::string(name).c_str(), 0) == 0;
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Role> ParseRole(absl::string_view name) {
  if (name == "viewer") return Role::kViewer;
  if (name == "operator" || name.empty()) return Role::kOperator;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

absl::StatusOr<Policy> Policy::FromProto(const bowden::v1::Policy& proto) {
  Policy policy;
  for (const bowden::v1::Group& group : proto.group()) {
    if (!identity::IsValidName(group.name())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "policy group '", group.name(), "': the name must be 1-63 of [a-z0-9._-]"));
    }
    for (const std::string& member : group.members()) {
      if (!identity::IsValidName(member)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "policy group '", group.name(), "': member '", member,
            "' is not a valid user name"));
      }
    }
    if (!policy.groups_
             .emplace(group.name(), std::vector<std::string>(group.members().begin(),
                                                             group.members().end()))
             .second) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy group '", group.name(), "' is defined twice"));
    }
  }
  for (const std::string& admin : proto.admins()) {
    if (!identity::IsValidName(admin)) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy admins: '", admin, "' is not a valid user name"));
    }
    policy.admins_.push_back(admin);
  }
  for (int i = 0; i < proto.grant_size(); ++i) {
    const bowden::v1::Grant& grant = proto.grant(i);
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "policy grant #", i + 1, " (", grant.group().empty() ? "user '" : "group '",
          grant.group().empty() ? grant.user() : grant.group(), "'): ", why));
    };
    if (!grant.user().empty() && !grant.group().empty()) {
      return bad("name a user or a group, not both");
    }
    if (!grant.group().empty()) {
      if (!policy.groups_.contains(grant.group())) {
        return bad("the group is not defined; add group { name: ... members: ... }");
      }
    } else if (grant.user() != "*" && !identity::IsValidName(grant.user())) {
      return bad("user must be a user name or \"*\"");
    }
    if (grant.printers().empty()) {
      return bad("list at least one printer glob, e.g. printers: \"prusa-*\"");
    }
    for (const std::string& glob : grant.printers()) {
      if (glob.empty()) return bad("a printer glob is empty");
    }
    for (const std::string& target : grant.targets()) {
      if (!identity::IsValidName(target)) {
        return bad(absl::StrCat("target '", target, "' is not a valid name"));
      }
    }
    std::optional<Role> role = ParseRole(grant.role());
    if (!role.has_value()) {
      return bad(absl::StrCat("role '", grant.role(),
                              "' is not one of viewer, operator, admin"));
    }
    policy.grants_.push_back(CompiledGrant{grant, *role});
  }
  return policy;
}

absl::StatusOr<bowden::v1::Grant> Policy::ParseAllowFlag(absl::string_view text) {
  size_t eq = text.find('=');
  if (eq == absl::string_view::npos || eq == 0 || eq + 1 == text.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--allow '", text, "' is not USER=PRINTER_GLOB, e.g. alice=prusa-*"));
  }
  bowden::v1::Grant grant;
  grant.set_user(std::string(text.substr(0, eq)));
  grant.add_printers(std::string(text.substr(eq + 1)));
  bowden::v1::Policy check;
  *check.add_grant() = grant;
  absl::StatusOr<Policy> valid = FromProto(check);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--allow '", text, "': ", valid.status().message()));
  }
  return grant;
}

bool Policy::Covers(const bowden::v1::Grant& grant, absl::string_view user,
                    absl::string_view printer) const {
  if (!grant.group().empty()) {
    auto it = groups_.find(grant.group());
    if (it == groups_.end() ||
        std::find(it->second.begin(), it->second.end(), user) == it->second.end()) {
      return false;
    }
  } else if (grant.user() != "*" && grant.user() != user) {
    return false;
  }
  for (const std::string& glob : grant.printers()) {
    if (GlobMatches(glob, printer)) return true;
  }
  return false;
}

bool Policy::MayReachPrinter(absl::string_view user,
                             absl::string_view printer) const {
  for (const auto& compiled : grants_) {
    if (Covers(compiled.grant, user, printer)) return true;
  }
  return false;
}

std::optional<Role> Policy::RoleFor(absl::string_view user, absl::string_view printer,
                                    absl::string_view target) const {
  std::optional<Role> best;
  for (const auto& compiled : grants_) {
    if (!Covers(compiled.grant, user, printer)) continue;
    const auto& targets = compiled.grant.targets();
    if (!targets.empty() &&
        std::find(targets.begin(), targets.end(), target) == targets.end()) {
      continue;
    }
    if (!best.has_value() || compiled.role > *best) best = compiled.role;
  }
  return best;
}

}  // namespace bowden::policy
