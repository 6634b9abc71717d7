#include "audit/chain.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace bowden::audit {
namespace {

void AppendBigEndian(uint64_t value, int bytes, std::string* out) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

void AppendLengthPrefixed(absl::string_view bytes, std::string* out) {
  AppendBigEndian(bytes.size(), 4, out);
  out->append(bytes.data(), bytes.size());
}

// Reads be32(length) || bytes from the front of *in.
bool ReadLengthPrefixed(absl::string_view* in, absl::string_view* out) {
  if (in->size() < 4) return false;
  uint32_t length = 0;
  for (int i = 0; i < 4; ++i) {
    length = (length << 8) | static_cast<unsigned char>((*in)[i]);
  }
  in->remove_prefix(4);
  if (in->size() < length) return false;
  *out = in->substr(0, length);
  in->remove_prefix(length);
  return true;
}

struct DigestContextFree {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

}  // namespace

std::string GenesisHash() { return std::string(kHashSize, '\0'); }

std::string CanonicalBytes(const RowContent& row) {
  std::string out(kCanonicalTag);
  AppendBigEndian(static_cast<uint64_t>(row.seq), 8, &out);
  AppendBigEndian(static_cast<uint64_t>(row.time_unix_micros), 8, &out);
  for (absl::string_view column :
       {row.kind, row.actor, row.printer, row.target, row.session_id,
        row.outcome, row.detail, row.fields}) {
    AppendLengthPrefixed(column, &out);
  }
  return out;
}

std::string ChainHash(absl::string_view prev_hash, const RowContent& row) {
  return Sha256Of(prev_hash, CanonicalBytes(row));
}

std::string Sha256Of(absl::string_view first, absl::string_view second) {
  std::unique_ptr<EVP_MD_CTX, DigestContextFree> context(EVP_MD_CTX_new());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // These fail only on allocation failure or a broken libcrypto; an audit log
  // that cannot hash must not pretend to work.
  if (context == nullptr ||
      EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), first.data(), first.size()) != 1 ||
      EVP_DigestUpdate(context.get(), second.data(), second.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), digest, &length) != 1 ||
      length != kHashSize) {
    abort();
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

void AppendBe64(int64_t value, std::string* out) {
  AppendBigEndian(static_cast<uint64_t>(value), 8, out);
}

std::string EncodeFields(const std::map<std::string, std::string>& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    AppendLengthPrefixed(key, &out);
    AppendLengthPrefixed(value, &out);
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> DecodeFields(
    absl::string_view blob) {
  std::map<std::string, std::string> fields;
  while (!blob.empty()) {
    absl::string_view key;
    absl::string_view value;
    if (!ReadLengthPrefixed(&blob, &key) ||
        !ReadLengthPrefixed(&blob, &value)) {
      return absl::DataLossError("audit fields blob is truncated");
    }
    fields[std::string(key)] = std::string(value);
  }
  return fields;
}

std::string FormatAnchor(int64_t seq, absl::string_view hash) {
  return absl::StrCat(seq, ":", absl::BytesToHexString(hash));
}

absl::StatusOr<Anchor> ParseAnchor(absl::string_view text) {
  auto invalid = [&text] {
    return absl::InvalidArgumentError(absl::StrCat(
        "audit anchor '", text,
        "' is not SEQ:HEX (a sequence number, a colon and 64 hex digits)"));
  };
  size_t colon = text.find(':');
  if (colon == absl::string_view::npos) return invalid();
  Anchor anchor;
  absl::string_view hex = text.substr(colon + 1);
  if (!absl::SimpleAtoi(text.substr(0, colon), &anchor.seq) || anchor.seq < 0 ||
      hex.size() != 2 * kHashSize) {
    return invalid();
  }
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return invalid();
  }
  anchor.hash = absl::HexStringToBytes(hex);
  return anchor;
}

}  // namespace bowden::audit
