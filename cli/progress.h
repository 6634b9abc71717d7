#ifndef BOWDEN_CLI_PROGRESS_H_
#define BOWDEN_CLI_PROGRESS_H_

#include <cstdint>
#include <ostream>

#include "absl/time/time.h"

namespace bowden::cli {

// One line of progress for a long transfer (e.g. `bowden audit --all >
// export.jsonl`), redrawn in place with a carriage return and wiped at the
// end, so it never reaches a file or a pipe. Thread-compatible.
class Progress {
 public:
  // Shown only when stderr is a terminal and stdout is not: on a terminal
  // the rows themselves show the progress, and the line would interleave
  // with them.
  static bool Wanted();

  // `shown` false: every call does nothing. `out` is where the line goes
  // (stderr); `what` names the units, e.g. "rows".
  Progress(bool shown, std::ostream& out, const char* what);
  ~Progress() { Done(); }

  // Redraws the line when `interval` passed since the last draw (the first
  // call draws).
  void Update(int64_t count, uint64_t bytes,
              absl::Duration interval = absl::Milliseconds(100));
  // Wipes the line; later calls do nothing.
  void Done();

 private:
  bool shown_;
  std::ostream& out_;
  const char* what_;
  bool drawn_ = false;
  absl::Time last_draw_ = absl::InfinitePast();
};

}  // namespace bowden::cli

#endif  // BOWDEN_CLI_PROGRESS_H_
