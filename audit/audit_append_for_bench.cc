// `audit_append_for_bench DB EVENTS BATCH`: what appending costs on the log
// at DB (e.g. filled by audit_fill_for_test first): appends EVENTS
// session.open events like the relay's (a random session id each, so the
// session indexes take them at random places) in transactions of BATCH,
// as the relay's audit writer does, and reports events per second and the
// process's CPU per event.

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/audit_log.h"

namespace {

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 || atoll(argv[2]) <= 0 || atoll(argv[3]) <= 0) {
    fprintf(stderr, "usage: %s DB EVENTS BATCH\n", argv[0]);
    return 2;
  }
  const long long events = atoll(argv[2]);
  const long long batch_size = atoll(argv[3]);
  auto log = bowden::audit::AuditLog::Open(argv[1]);
  if (!log.ok()) {
    fprintf(stderr, "%s\n", log.status().ToString().c_str());
    return 1;
  }
  std::mt19937_64 random(42);
  const double cpu_start = CpuSeconds();
  const absl::Time start = absl::Now();
  for (long long done = 0; done < events;) {
    std::vector<bowden::v1::AuditEvent> batch;
    for (long long i = 0; i < batch_size && done < events; ++i, ++done) {
      bowden::v1::AuditEvent& event = batch.emplace_back();
      event.set_kind("session.open");
      event.set_actor("spiffe://farm.example/user/alice");
      event.set_outcome("ok");
      event.set_printer(absl::StrCat("prusa-", done % 20));
      event.set_target("octoprint");
      event.set_session_id(absl::StrFormat("%016x%08x", random(),
                                           static_cast<uint32_t>(random())));
      (*event.mutable_fields())["role"] = "operator";
      (*event.mutable_fields())["peer"] = "ipv4:127.0.0.1:50000";
    }
    auto appended = (*log)->AppendBatch(batch);
    if (!appended.ok()) {
      fprintf(stderr, "%s\n", appended.status().ToString().c_str());
      return 1;
    }
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  printf("%lld events in batches of %lld: %.0f events/s, %.1f CPU-us per event\n",
         events, batch_size, events / seconds,
         (CpuSeconds() - cpu_start) * 1e6 / events);
  return 0;
}
