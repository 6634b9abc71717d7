#include "enroll/enroll_client.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace bowden::enroll {
namespace {

std::string Encode(const bowden::v1::JoinToken& token) {
  std::string encoded;
  absl::WebSafeBase64Escape(token.SerializeAsString(), &encoded);
  return absl::StrCat("bwj1_", encoded);
}

bowden::v1::JoinToken Sample(const std::string& kind) {
  bowden::v1::JoinToken token;
  token.set_enroll_address("relay.farm.example:7444");
  token.set_relay_address("relay.farm.example:7443");
  token.set_ca_sha256(std::string(64, 'a'));
  token.set_secret(std::string(32, '\x5a'));
  token.set_kind(kind);
  return token;
}

TEST(DecodeTokenTest, AWholeTokenDecodes) {
  for (const char* kind : {"agent", "user"}) {
    absl::StatusOr<bowden::v1::JoinToken> token =
        DecodeToken(absl::StrCat("  ", Encode(Sample(kind)), "\n"));
    ASSERT_TRUE(token.ok()) << token.status();
    EXPECT_EQ(token->kind(), kind);
    EXPECT_EQ(token->secret(), std::string(32, '\x5a'));
  }
}

// Wherever a paste cuts a token, it is reported as incomplete, never as
// something else (not a token, a foreign CA, an unknown token).
TEST(DecodeTokenTest, EveryTruncationIsCalledIncomplete) {
  for (const char* kind : {"agent", "user"}) {
    const std::string whole = Encode(Sample(kind));
    for (size_t length = 5; length < whole.size(); ++length) {
      absl::StatusOr<bowden::v1::JoinToken> token = DecodeToken(whole.substr(0, length));
      ASSERT_FALSE(token.ok()) << length;
      EXPECT_EQ(token.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_TRUE(absl::StartsWith(token.status().message(),
                                   "the token is incomplete: copy all of it"))
          << length << ": " << token.status().message();
    }
  }
}

TEST(DecodeTokenTest, AnythingElseIsNotAToken) {
  for (const char* text : {"", "bwj", "hello", "bwj1_garbage!", "bwj2_AAAA", "bwj1_a b"}) {
    absl::StatusOr<bowden::v1::JoinToken> token = DecodeToken(text);
    ASSERT_FALSE(token.ok()) << text;
    EXPECT_TRUE(absl::StrContains(token.status().message(), "not a Bowden join token"))
        << text << ": " << token.status().message();
  }
  // Every part is required, the kind too.
  EXPECT_FALSE(DecodeToken(Encode(Sample(""))).ok());
  EXPECT_FALSE(DecodeToken(Encode(Sample("relay"))).ok());
}

}  // namespace
}  // namespace bowden::enroll
