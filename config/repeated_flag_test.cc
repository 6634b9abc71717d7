#include "config/repeated_flag.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bowden::config {
namespace {

TEST(TakeRepeatedFlagTest, CollectsBothFormsAndKeepsTheRest) {
  std::vector<std::string> storage = {
      "prog", "--target", "octoprint=127.0.0.1:5000", "--relay=x:1",
      "--target=webcam=127.0.0.1:8080", "--", "--target", "positional"};
  std::vector<char*> args;
  for (auto& s : storage) args.push_back(s.data());
  std::vector<std::string> values = TakeRepeatedFlag(&args, "target");
  EXPECT_EQ(values, (std::vector<std::string>{"octoprint=127.0.0.1:5000",
                                              "webcam=127.0.0.1:8080"}));
  std::vector<std::string> rest(args.begin(), args.end());
  EXPECT_EQ(rest, (std::vector<std::string>{"prog", "--relay=x:1", "--",
                                            "--target", "positional"}));
}

TEST(TakeRepeatedFlagTest, DoesNotMatchLongerNames) {
  std::vector<std::string> storage = {"prog", "--targets=x", "--target"};
  std::vector<char*> args;
  for (auto& s : storage) args.push_back(s.data());
  EXPECT_TRUE(TakeRepeatedFlag(&args, "target").empty());
  EXPECT_EQ(args.size(), 3u);  // a trailing --target without value stays
}

TEST(DashedFlagNamesTest, RewritesNamesOnly) {
  std::vector<std::string> storage = {"prog", "--state-dir=/a-b", "--no-browser",
                                      "open", "prusa-01", "-x", "--", "--keep-me"};
  std::vector<char*> args;
  for (auto& s : storage) args.push_back(s.data());
  DashedFlagNamesToUnderscores(&args);
  std::vector<std::string> out(args.begin(), args.end());
  EXPECT_EQ(out, (std::vector<std::string>{"prog", "--state_dir=/a-b", "--no_browser",
                                           "open", "prusa-01", "-x", "--",
                                           "--keep-me"}));
}

}  // namespace
}  // namespace bowden::config
