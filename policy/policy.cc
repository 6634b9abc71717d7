#include "policy/policy.h"

#include <fnmatch.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/spiffe_id.h"

namespace bowden::policy {
namespace {

bool GlobMatches(const std::string& glob, absl::string_view name) {
  return fnmatch(glob.c_str(), std::string(name).c_str(), 0) == 0;
}

}  // namespace

absl::StatusOr<Policy> Policy::FromProto(const bowden::v1::Policy& proto) {
  std::vector<bowden::v1::Grant> grants;
  for (int i = 0; i < proto.grant_size(); ++i) {
    const bowden::v1::Grant& grant = proto.grant(i);
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "policy grant #", i + 1, " (user '", grant.user(), "'): ", why));
    };
    if (grant.user() != "*" && !identity::IsValidName(grant.user())) {
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
    grants.push_back(grant);
  }
  return Policy(std::move(grants));
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
                    absl::string_view printer) {
  if (grant.user() != "*" && grant.user() != user) return false;
  for (const std::string& glob : grant.printers()) {
    if (GlobMatches(glob, printer)) return true;
  }
  return false;
}

bool Policy::MayReachPrinter(absl::string_view user,
                             absl::string_view printer) const {
  for (const auto& grant : grants_) {
    if (Covers(grant, user, printer)) return true;
  }
  return false;
}

bool Policy::MayReachTarget(absl::string_view user, absl::string_view printer,
                            absl::string_view target) const {
  for (const auto& grant : grants_) {
    if (!Covers(grant, user, printer)) continue;
    if (grant.targets().empty()) return true;
    for (const std::string& t : grant.targets()) {
      if (t == target) return true;
    }
  }
  return false;
}

}  // namespace bowden::policy
