#include "tunnel/completion_thread.h"

namespace bowden::tunnel {

CompletionThread::CompletionThread() : thread_([this] { Run(); }) {}

CompletionThread::~CompletionThread() {
  cq_.Shutdown();
  thread_.join();
}

void CompletionThread::Run() {
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) {
    static_cast<CompletionTag*>(tag)->Run(ok);
  }
}

}  // namespace bowden::tunnel
