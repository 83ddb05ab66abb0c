// The store's slot memory must stay reachable until exit, or LeakSanitizer
// fails every ASan binary that registers a metric.
#include <cstdlib>

#include <gtest/gtest.h>

#include "src/stats/metrics.h"

namespace pier::stats {
namespace {

TEST(StoreLeakTest, ProcessExitsCleanlyUnderLeakSanitizer) {
  EXPECT_EXIT(
      {
        Store::instance().counter("t_leak_check_total", {}, "help").add();
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace pier::stats
