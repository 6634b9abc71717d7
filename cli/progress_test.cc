#include "cli/progress.h"

#include <sstream>

#include "gtest/gtest.h"

namespace bowden::cli {
namespace {

TEST(ProgressTest, DrawsOneLineInPlaceAndWipesIt) {
  std::ostringstream out;
  {
    Progress progress(/*shown=*/true, out, "rows");
    progress.Update(10, 2048, absl::ZeroDuration());
    progress.Update(20, 4096, absl::ZeroDuration());
    progress.Update(30, 6144, absl::Hours(1));  // too soon: not drawn
  }
  EXPECT_EQ(out.str(), "\r\x1b[K10 rows, 2.0 KiB\r\x1b[K20 rows, 4.0 KiB\r\x1b[K");
}

TEST(ProgressTest, HiddenPrintsNothing) {
  std::ostringstream out;
  Progress progress(/*shown=*/false, out, "rows");
  progress.Update(10, 2048, absl::ZeroDuration());
  progress.Done();
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace bowden::cli
