#include "devices/event.h"

#include <condition_variable>
#include <mutex>

namespace tg {

struct Event::State {
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  bool done = false;
  absl::Status status;
};

Event::Event() : state_(std::make_shared<State>()) { state_->done = true; }

Event Event::done(absl::Status status) {
  Event event;
  event.state_->status = std::move(status);
  return event;
}

std::pair<Event, EventCompleter> Event::pending() {
  auto state = std::make_shared<State>();
  return {Event(state), EventCompleter(state)};
}

absl::Status Event::wait() const {
  std::unique_lock lock(state_->mu);
  state_->cv.wait(lock, [&] { return state_->done; });
  return state_->status;
}

absl::Status Event::wait_for(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mu);
  if (!state_->cv.wait_for(lock, timeout, [&] { return state_->done; })) {
    return absl::DeadlineExceededError("event not complete after " +
                                       std::to_string(timeout.count()) + " ms");
  }
  return state_->status;
}

bool Event::ready() const {
  std::lock_guard lock(state_->mu);
  return state_->done;
}

void EventCompleter::complete(absl::Status status) {
  {
    std::lock_guard lock(state_->mu);
    if (state_->done) return;
    state_->done = true;
    state_->status = std::move(status);
  }
  state_->cv.notify_all();
}

}  // namespace tg
