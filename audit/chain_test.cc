#include "audit/chain.h"

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace bowden::audit {
namespace {

RowContent FirstRow(const std::string& fields) {
  RowContent row;
  row.seq = 1;
  row.time_unix_micros = 1700000000000000;
  row.kind = "auth";
  row.actor = "alice";
  row.printer = "prusa-01";
  row.outcome = "ok";
  row.fields = fields;
  return row;
}

// Golden vectors computed independently (Python hashlib and struct) from the
// format in chain.h and README.md: a change here breaks every saved anchor.
TEST(ChainTest, CanonicalBytesAndHashMatchTheSpecification) {
  std::string fields = EncodeFields({{"role", "operator"}});
  RowContent row = FirstRow(fields);
  EXPECT_EQ(absl::BytesToHexString(CanonicalBytes(row)),
            "424f5744454e2d41554449542d310000000000000001"
            "00060a24181e4000"
            "0000000461757468"
            "00000005616c696365"
            "0000000870727573612d3031"
            "00000000"
            "00000000"
            "000000026f6b"
            "00000000"
            "0000001400000004726f6c65000000086f70657261746f72");
  std::string h1 = ChainHash(GenesisHash(), row);
  EXPECT_EQ(absl::BytesToHexString(h1),
            "fe3dd113244a141a0059f63e74b01fa34073b84abd026288ebf10a5b142a6963");

  RowContent second;
  second.seq = 2;
  second.time_unix_micros = 1700000000000001;
  second.kind = "session.open";
  second.actor = "alice";
  second.printer = "prusa-01";
  second.target = "octoprint";
  second.session_id = "s1";
  second.outcome = "ok";
  EXPECT_EQ(absl::BytesToHexString(ChainHash(h1, second)),
            "08c56b942920dde47bd808fa0659764db5723bee0bccb8ff1315f8641639a3ec");
}

TEST(ChainTest, LengthPrefixesKeepColumnBoundaries) {
  RowContent a = FirstRow("");
  RowContent b = FirstRow("");
  a.actor = "al";
  a.printer = "iceprusa-01";
  b.actor = "alice";
  b.printer = "prusa-01";
  EXPECT_NE(ChainHash(GenesisHash(), a), ChainHash(GenesisHash(), b));
}

TEST(ChainTest, SeqAndPrevHashAreCommitted) {
  RowContent row = FirstRow("");
  std::string h = ChainHash(GenesisHash(), row);
  row.seq = 2;
  EXPECT_NE(ChainHash(GenesisHash(), row), h);
  row.seq = 1;
  EXPECT_NE(ChainHash(std::string(kHashSize, '\x01'), row), h);
}

TEST(ChainTest, FieldsRoundTripSortedByKey) {
  const std::string nul("x\0y", 3);
  std::string blob = EncodeFields({{"z", ""}, {"a", "1"}, {"m", nul}});
  EXPECT_EQ(absl::BytesToHexString(blob.substr(0, 9)), "000000016100000001");
  absl::StatusOr<std::map<std::string, std::string>> back = DecodeFields(blob);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, (std::map<std::string, std::string>{
                       {"a", "1"}, {"m", nul}, {"z", ""}}));
  EXPECT_TRUE(EncodeFields({}).empty());
}

TEST(ChainTest, TruncatedFieldsAreDataLoss) {
  std::string blob = EncodeFields({{"key", "value"}});
  for (size_t cut = 1; cut < blob.size(); ++cut) {
    EXPECT_EQ(DecodeFields(blob.substr(0, cut)).status().code(),
              absl::StatusCode::kDataLoss)
        << cut;
  }
}

TEST(ChainTest, AnchorsRoundTrip) {
  std::string hash(kHashSize, '\xab');
  std::string text = FormatAnchor(42, hash);
  std::string hex;
  for (size_t i = 0; i < kHashSize; ++i) hex += "ab";
  EXPECT_EQ(text, "42:" + hex);
  absl::StatusOr<Anchor> anchor = ParseAnchor(text);
  ASSERT_TRUE(anchor.ok()) << anchor.status();
  EXPECT_EQ(anchor->seq, 42);
  EXPECT_EQ(anchor->hash, hash);
}

TEST(ChainTest, BadAnchorsAreRefusedWithTheText) {
  for (const char* bad :
       {"", "42", "42:abc", "x:" /* no hex */,
        "-1:0000000000000000000000000000000000000000000000000000000000000000",
        "1:zz00000000000000000000000000000000000000000000000000000000000000"}) {
    absl::StatusOr<Anchor> anchor = ParseAnchor(bad);
    EXPECT_EQ(anchor.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_NE(anchor.status().message().find(std::string("'") + bad + "'"),
              std::string::npos)
        << anchor.status();
  }
}

}  // namespace
}  // namespace bowden::audit
