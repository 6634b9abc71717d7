// Fuzz target: the relay's check of a TLS client's certificate chain. The
// input is a leaf and a chain in DER (a 2-byte big-endian leaf length, the
// leaf, then the chain), wrapped as PEM as gRPC hands them over. Whatever the
// peer sends, the verdict is consistent and every string it carries (the
// reason, names, serial, date), which goes into the relay's log and audit
// rows, is printable ASCII.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "identity/client_chain.h"

namespace {

std::string Pem(const std::string& der) {
  return absl::StrCat("-----BEGIN CERTIFICATE-----\n", absl::Base64Escape(der),
                      "\n-----END CERTIFICATE-----\n");
}

bool Printable(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

void Check(bool ok, const std::string& what) {
  if (ok) return;
  std::cerr << "client_chain_fuzz: " << absl::CHexEscape(what) << "\n";
  std::abort();
}

// The trust bundle: a CA certificate made once with the openssl tool (its key
// was thrown away); corpus/client_chain/farm_leaf is a leaf it signed, valid
// until 2126, so the accepting path is fuzzed too.
constexpr char kCaPem[] = R"(-----BEGIN CERTIFICATE-----
MIIBizCCATGgAwIBAgIUEYkbnjjhLB8NoTJ05YgtjLDavoMwCgYIKoZIzj0EAwIw
EjEQMA4GA1UEAwwHRnV6eiBDQTAgFw0yNjEyMDYyMjMzMDlaGA8yMTI2MTExMjIy
MzMwOVowEjEQMA4GA1UEAwwHRnV6eiBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABFHyuQ6pUZ76ExSnsLQ7rul57RvfXk7QBVhm/BglYkJGA59TjbM2W5fh3mbj
gyMJtP1xGeS1CiRdm5Ij9+4pDeqjYzBhMB0GA1UdDgQWBBSo3v1GGkcoGuJRq1Kn
cl1/ofCP+TAfBgNVHSMEGDAWgBSo3v1GGkcoGuJRq1Kncl1/ofCP+TAPBgNVHRMB
Af8EBTADAQH/MA4GA1UdDwEB/wQEAwICBDAKBggqhkjOPQQDAgNIADBFAiEA9wrN
EN35CWLLOr+bNslylXhwX2StxsV7lWQNy3tUmOwCIBIO070c02yAGraLuCem2n69
/qNvvSet5M9218h5vQOv
-----END CERTIFICATE-----
)";

bowden::identity::ClientChainChecker& Checker() {
  static bowden::identity::ClientChainChecker* checker = [] {
    const std::string path =
        absl::StrCat("/tmp/client_chain_fuzz_", getpid(), ".crt");
    std::ofstream(path) << kCaPem;
    auto created = bowden::identity::ClientChainChecker::Create(path);
    Check(created.ok(), "cannot create the checker");
    return created->release();
  }();
  return *checker;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t leaf_size = std::min<size_t>((data[0] << 8) | data[1], size - 2);
  const std::string leaf(reinterpret_cast<const char*>(data + 2), leaf_size);
  const std::string chain(reinterpret_cast<const char*>(data + 2 + leaf_size),
                          size - 2 - leaf_size);
  bowden::identity::ChainVerdict verdict =
      Checker().Check(Pem(leaf), Pem(chain));
  Check(verdict.status.ok() == verdict.code.empty(),
        "status and code disagree");
  Check(verdict.status.ok() || !verdict.status.message().empty(),
        "refused without a reason");
  for (const std::string& text :
       {std::string(verdict.status.message()), verdict.code,
        verdict.leaf.subject, verdict.leaf.issuer, verdict.leaf.serial_hex,
        verdict.leaf.not_after}) {
    Check(Printable(text), text);
    Check(text.size() <= 1024, text);
  }
  return 0;
}
