#include "devices/event.h"

#include <thread>

#include <gtest/gtest.h>

namespace tg {
namespace {

using std::chrono::milliseconds;

TEST(Event, DefaultIsCompleteAndOk) {
  Event e;
  EXPECT_TRUE(e.ready());
  EXPECT_TRUE(e.wait().ok());
}

TEST(Event, DoneCarriesItsStatus) {
  Event e = Event::done(absl::InternalError("boom"));
  EXPECT_TRUE(e.ready());
  EXPECT_EQ(e.wait().message(), "boom");
}

TEST(Event, PendingTimesOutThenCompletesOnce) {
  auto [event, completer] = Event::pending();
  EXPECT_FALSE(event.ready());
  EXPECT_EQ(event.wait_for(milliseconds(1)).code(), absl::StatusCode::kDeadlineExceeded);
  Event copy = event;
  std::thread t([c = completer]() mutable { c.complete(absl::UnavailableError("first")); });
  EXPECT_EQ(copy.wait_for(milliseconds(10000)).message(), "first");
  t.join();
  completer.complete(absl::OkStatus());  // Ignored: already complete.
  EXPECT_EQ(event.wait().message(), "first");
}

}  // namespace
}  // namespace tg
