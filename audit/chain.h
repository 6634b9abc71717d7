#ifndef BOWDEN_AUDIT_CHAIN_H_
#define BOWDEN_AUDIT_CHAIN_H_

// The audit log's hash chain, independent of SQLite: the canonical bytes of a
// row and how each row's hash commits to the previous one. This format is a
// compatibility promise (saved anchors and third-party verifiers depend on
// it); audit/README.md specifies it and chain_test.cc pins it with a golden
// vector. Changing it needs a new tag and a migration.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bowden::audit {

inline constexpr size_t kHashSize = 32;  // SHA-256

// Prefix of every row's canonical bytes, so these hashes can never be
// confused with hashes of some other structure.
inline constexpr absl::string_view kCanonicalTag = "BOWDEN-AUDIT-1";

// The prev_hash of row 1: 32 zero bytes.
std::string GenesisHash();

// One row's hashed content, as stored (views into column data). `fields` is
// the stored fields blob (EncodeFields), hashed as bytes so that verifying
// never depends on decoding it.
struct RowContent {
  int64_t seq = 0;
  int64_t time_unix_micros = 0;
  absl::string_view kind;
  absl::string_view actor;
  absl::string_view printer;
  absl::string_view target;
  absl::string_view session_id;
  absl::string_view outcome;
  absl::string_view detail;
  absl::string_view fields;
};

// kCanonicalTag || be64(seq) || be64(time) || for kind, actor, printer,
// target, session_id, outcome, detail, fields in that order:
// be32(length) || bytes. Length prefixes make the encoding injective.
std::string CanonicalBytes(const RowContent& row);

// SHA-256(prev_hash || CanonicalBytes(row)), 32 raw bytes.
std::string ChainHash(absl::string_view prev_hash, const RowContent& row);

// SHA-256(first || second), 32 raw bytes.
std::string Sha256Of(absl::string_view first, absl::string_view second);
// Appends `value` as 8 big-endian bytes (two's complement).
void AppendBe64(int64_t value, std::string* out);

// Fields blob: for each (key, value) in ascending byte order of key:
// be32(len key) || key || be32(len value) || value. Empty map, empty blob.
// A std::map gives the order; callers copy a protobuf Map into one.
std::string EncodeFields(const std::map<std::string, std::string>& fields);
// DataLossError if a length runs past the end.
absl::StatusOr<std::map<std::string, std::string>> DecodeFields(
    absl::string_view blob);

// An anchor names one row of one chain: "SEQ:HEX" with HEX the row's hash
// in lowercase hex, e.g. "42:9f86d0...". "0:000...0" is the empty log.
std::string FormatAnchor(int64_t seq, absl::string_view hash);
struct Anchor {
  int64_t seq = 0;
  std::string hash;  // raw, kHashSize bytes
};
// InvalidArgumentError quoting `text` if it is not SEQ:HEX.
absl::StatusOr<Anchor> ParseAnchor(absl::string_view text);

}  // namespace bowden::audit

#endif  // BOWDEN_AUDIT_CHAIN_H_
