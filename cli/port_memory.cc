#include "cli/port_memory.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "certs/pem_files.h"
#include "config/textproto.h"
#include "google/protobuf/text_format.h"

namespace bowden::cli {
namespace {

constexpr uint16_t kFirstSuggested = 15000;
constexpr uint16_t kSuggestedRange = 1000;
constexpr int kNeighbours = 15;

constexpr char kHeader[] =
    "# Written by `bowden open`: the local port it used for each printer and\n"
    "# target, so OctoPrint's login (its cookies are named per port) and your\n"
    "# bookmarks survive a restart. Delete an entry to forget its port.\n";

bool Matches(const bowden::v1::OpenPorts::Entry& entry,
             const std::string& relay, const std::string& printer,
             const std::string& target) {
  return entry.relay() == relay && entry.printer() == printer &&
         entry.target() == target;
}

}  // namespace

std::string DefaultPortsPath() {
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state != nullptr && state[0] == '/')
    return absl::StrCat(state, "/bowden/ports");
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    return absl::StrCat(home, "/.local/state/bowden/ports");
  }
  return "";
}

uint16_t SuggestedPort(const std::string& printer, const std::string& target) {
  // FNV-1a: stable across builds and machines, unlike absl::Hash.
  uint32_t hash = 2166136261u;
  for (unsigned char c : absl::StrCat(printer, "/", target)) {
    hash = (hash ^ c) * 16777619u;
  }
  return static_cast<uint16_t>(kFirstSuggested + hash % kSuggestedRange);
}

std::vector<uint16_t> PortCandidates(std::optional<uint16_t> remembered,
                                     const std::string& printer,
                                     const std::string& target) {
  std::vector<uint16_t> candidates;
  if (remembered.has_value()) candidates.push_back(*remembered);
  const int first = SuggestedPort(printer, target) - kFirstSuggested;
  for (int i = 0; i <= kNeighbours; ++i) {
    const uint16_t port = kFirstSuggested + (first + i) % kSuggestedRange;
    if (port != remembered) candidates.push_back(port);
  }
  candidates.push_back(0);
  return candidates;
}

void PortMemory::Load(std::string* warning) {
  ports_.Clear();
  if (path_.empty() || !certs::PathExists(path_)) return;
  absl::Status loaded = config::LoadTextProto(path_, &ports_);
  if (!loaded.ok()) {
    ports_.Clear();
    *warning = absl::StrCat("ignoring the remembered ports (", loaded.message(),
                            "); choosing a fresh port, and rewriting the file");
  }
}

std::optional<uint16_t> PortMemory::Find(const std::string& relay,
                                         const std::string& printer,
                                         const std::string& target) const {
  for (const auto& entry : ports_.entry()) {
    if (Matches(entry, relay, printer, target) && entry.port() >= 1 &&
        entry.port() <= 65535) {
      return static_cast<uint16_t>(entry.port());
    }
  }
  return std::nullopt;
}

void PortMemory::Remember(const std::string& relay, const std::string& printer,
                          const std::string& target, uint16_t port) {
  auto* entries = ports_.mutable_entry();
  for (int i = entries->size() - 1; i >= 0; --i) {
    if (Matches(entries->Get(i), relay, printer, target))
      entries->DeleteSubrange(i, 1);
  }
  bowden::v1::OpenPorts::Entry* entry = ports_.add_entry();
  entry->set_relay(relay);
  entry->set_printer(printer);
  entry->set_target(target);
  entry->set_port(port);
}

absl::StatusOr<std::string> PortMemory::Directory() const {
  if (path_.empty()) {
    return absl::FailedPreconditionError(
        "neither XDG_STATE_HOME nor HOME is set");
  }
  const size_t slash = path_.rfind('/');
  std::string dir = slash == std::string::npos ? "."
                    : slash == 0               ? "/"
                                               : path_.substr(0, slash);
  absl::Status made = certs::MakePrivateDirectory(dir);
  if (!made.ok()) return made;
  return dir;
}

absl::StatusOr<certs::DirectoryLock> PortMemory::Lock() const {
  absl::StatusOr<std::string> dir = Directory();
  if (!dir.ok()) return dir.status();
  return certs::DirectoryLock::Acquire(*dir);
}

absl::Status PortMemory::Save() const {
  absl::StatusOr<std::string> dir = Directory();
  if (!dir.ok()) return dir.status();
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(ports_, &text)) {
    return absl::InternalError("cannot print the remembered ports");
  }
  absl::StatusOr<certs::StagedFile> staged =
      certs::StagedFile::Create(path_, absl::StrCat(kHeader, text), 0600);
  if (!staged.ok()) return staged.status();
  return staged->Commit(certs::Overwrite::kReplace);
}

}  // namespace bowden::cli
