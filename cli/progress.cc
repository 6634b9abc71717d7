#include "cli/progress.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/output_format.h"

namespace bowden::cli {

bool Progress::Wanted() {
  return isatty(STDERR_FILENO) == 1 && isatty(STDOUT_FILENO) != 1;
}

Progress::Progress(bool shown, std::ostream& out, const char* what)
    : shown_(shown), out_(out), what_(what) {}

void Progress::Update(int64_t count, uint64_t bytes, absl::Duration interval) {
  if (!shown_) return;
  absl::Time now = absl::Now();
  if (now - last_draw_ < interval) return;
  last_draw_ = now;
  // \r to the start of the line, \x1b[K wipes what a longer line left.
  out_ << "\r\x1b[K" << count << " " << what_ << ", " << HumanBytes(bytes)
       << std::flush;
  drawn_ = true;
}

void Progress::Done() {
  if (shown_ && drawn_) out_ << "\r\x1b[K" << std::flush;
  shown_ = false;
}

}  // namespace bowden::cli
