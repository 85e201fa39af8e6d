// Completion of work queued on a device: a GPU-style fence. The backend that queued the work
// holds the EventCompleter and calls complete() exactly once; any number of holders of copies
// of the Event may wait. Thread-safe.
#pragma once

#include <chrono>
#include <memory>

#include <absl/status/status.h>

namespace tg {

class EventCompleter;

class Event {
 public:
  // An event that is already complete with OK (work that needed no queueing).
  Event();
  // An already complete event carrying `status` (work refused before it was queued).
  static Event done(absl::Status status);
  // A pending event and the handle that completes it.
  static std::pair<Event, EventCompleter> pending();

  // Blocks until complete; returns the work's status.
  absl::Status wait() const;
  // As wait(), but gives up after `timeout` with DEADLINE_EXCEEDED (the work continues).
  absl::Status wait_for(std::chrono::milliseconds timeout) const;
  bool ready() const;

 private:
  struct State;
  explicit Event(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
  friend class EventCompleter;
};

class EventCompleter {
 public:
  // Marks the event complete with `status` and wakes all waiters. Later calls are ignored.
  void complete(absl::Status status = absl::OkStatus());

 private:
  explicit EventCompleter(std::shared_ptr<Event::State> state) : state_(std::move(state)) {}
  std::shared_ptr<Event::State> state_;
  friend class Event;
};

}  // namespace tg
