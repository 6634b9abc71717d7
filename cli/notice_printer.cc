#include "cli/notice_printer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "terminal/terminal_text.h"

namespace bowden::cli {

using terminal::EscapeForTerminal;

std::string DescribeNotice(const std::string& printer,
                           const bowden::v1::Notice& notice) {
  const bool malformed = notice.verdict() == "bad-request";
  return absl::StrCat("printer ", EscapeForTerminal(printer),
                      malformed ? " could not read " : " refused ",
                      EscapeForTerminal(notice.method()), " ",
                      EscapeForTerminal(notice.path()), " (",
                      EscapeForTerminal(notice.role()),
                      "): ", EscapeForTerminal(notice.reason()), " [",
                      EscapeForTerminal(notice.rule()), "]");
}

NoticePrinter::NoticePrinter(std::string printer, std::ostream* out, int burst,
                             absl::Duration interval)
    : printer_(std::move(printer)),
      out_(out),
      burst_(burst),
      interval_(interval),
      tokens_(burst) {}

void NoticePrinter::Refill(absl::Time now) {
  if (refilled_ == absl::InfinitePast()) {
    refilled_ = now;
    return;
  }
  const int64_t earned = (now - refilled_) / interval_;
  if (earned <= 0) return;
  tokens_ = static_cast<int>(std::min<int64_t>(burst_, tokens_ + earned));
  refilled_ += earned * interval_;
}

bool NoticePrinter::Print(
    const google::protobuf::RepeatedPtrField<bowden::v1::Notice>& notices,
    absl::Time now) {
  absl::MutexLock lock(&mu_);
  Refill(now);
  for (const bowden::v1::Notice& notice : notices) {
    if (counted_ == 0 && tokens_ > 0) {
      --tokens_;
      *out_ << "bowden: " << DescribeNotice(printer_, notice) << "\n";
    } else {
      // Out of tokens, or a summary pending: counted, so the lines stay in
      // order (no single line after a summary that counts earlier ones).
      Count(1, now);
      latest_ = absl::StrCat(EscapeForTerminal(notice.method()), " ",
                             EscapeForTerminal(notice.path()), " [",
                             EscapeForTerminal(notice.rule()), "]");
    }
    // The refusals after it that the agent counted instead of sending (its
    // outbox was full) join ours.
    if (notice.dropped_after() > 0) Count(notice.dropped_after(), now);
  }
  MaybeSummarise(now);
  out_->flush();
  return counted_ > 0;
}

bool NoticePrinter::Tick(absl::Time now) {
  absl::MutexLock lock(&mu_);
  Refill(now);
  MaybeSummarise(now);
  out_->flush();
  return counted_ > 0;
}

void NoticePrinter::Count(uint64_t n, absl::Time now) {
  // The summary gathers for one interval.
  if (counted_ == 0) summary_due_ = now + interval_;
  counted_ += n;
}

void NoticePrinter::MaybeSummarise(absl::Time now) {
  if (counted_ == 0 || now < summary_due_) return;
  *out_ << "bowden: printer " << EscapeForTerminal(printer_) << " refused "
        << counted_ << " more request" << (counted_ == 1 ? "" : "s")
        << (latest_.empty() ? "" : absl::StrCat(" (latest: ", latest_, ")"))
        << "; `bowden audit` lists every one\n";
  counted_ = 0;
  latest_.clear();
}

}  // namespace bowden::cli
