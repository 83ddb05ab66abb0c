// The sharded metrics store: registration, per-thread shards, and the
// Prometheus text rendering. The store is a process-wide singleton, so every
// test uses metric names of its own.
#include "src/stats/metrics.h"

#include <atomic>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pier::stats {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Store& store() { return Store::instance(); }

// A metric name no earlier test (or earlier --gtest_repeat round) registered:
// the store lives as long as the process.
std::string fresh(std::string_view base) {
  static std::atomic<int> generation{0};
  return std::string(base) + "_g" + std::to_string(generation++);
}

// The value printed for one exact series ("name{labels}") in a scrape, or "" if absent.
std::string scraped(const std::string& series) {
  std::istringstream in(store().renderPrometheus());
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return line.substr(series.size() + 1);
    }
  }
  return "";
}

TEST(CounterTest, AddsUp) {
  const std::string counter_adds_total = fresh("t_counter_adds_total");
  Counter c = store().counter(counter_adds_total, {}, "help");
  ASSERT_TRUE(c.valid());
  c.add();
  c.add(5);
  EXPECT_EQ(store().value(counter_adds_total, {}), 6);
}

TEST(CounterTest, DefaultHandleIsInvalidAndIgnoresAdds) {
  Counter c;
  EXPECT_FALSE(c.valid());
  c.add(3);  // must not touch any series
  SUCCEED();
}

TEST(CounterTest, SameNameAndLabelsIsTheSameSeries) {
  const std::string same_series_total = fresh("t_same_series_total");
  Labels l{{"cluster", "a"}};
  Counter first = store().counter(same_series_total, l, "help");
  Counter second = store().counter(same_series_total, l, "help");
  first.add(2);
  second.add(3);
  EXPECT_EQ(store().value(same_series_total, l), 5);
  EXPECT_EQ(scraped(same_series_total + "{cluster=\"a\"}"), "5");
}

TEST(CounterTest, DifferentLabelsAreDifferentSeries) {
  const std::string by_label_total = fresh("t_by_label_total");
  Counter a = store().counter(by_label_total, {{"k", "a"}}, "help");
  Counter b = store().counter(by_label_total, {{"k", "b"}}, "help");
  a.add(1);
  b.add(10);
  EXPECT_EQ(store().value(by_label_total, {{"k", "a"}}), 1);
  EXPECT_EQ(store().value(by_label_total, {{"k", "b"}}), 10);
  EXPECT_EQ(scraped(by_label_total + "{k=\"a\"}"), "1");
  EXPECT_EQ(scraped(by_label_total + "{k=\"b\"}"), "10");
}

TEST(CounterTest, UnknownSeriesReadsZero) {
  const std::string known_total = fresh("t_known_total");
  store().counter(known_total, {{"k", "v"}}, "help").add();
  EXPECT_EQ(store().value("t_never_registered_total", {}), 0);
  EXPECT_EQ(store().value(known_total, {{"k", "other"}}), 0);
}

TEST(CounterTest, ThreadsOnDifferentShardsSumCorrectly) {
  const std::string sharded_total = fresh("t_sharded_total");
  Counter c = store().counter(sharded_total, {{"k", "v"}}, "help");
  constexpr int kThreads = 4;
  constexpr int kAdds = 50'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([c, t] {
      setThreadShard(static_cast<size_t>(t + 1));
      for (int i = 0; i < kAdds; ++i) {
        c.add();
      }
    });
  }
  c.add(7);  // the control thread's shard 0
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(store().value(sharded_total, {{"k", "v"}}), kThreads * kAdds + 7);
  EXPECT_EQ(scraped(sharded_total + "{k=\"v\"}"), std::to_string(kThreads * kAdds + 7));
}

// A cell taken on each worker adds to that worker's shard, alongside plain
// adds; a cell of an invalid counter ignores adds.
TEST(CounterTest, CellsOfThisThreadAddToItsShard) {
  const std::string cells_total = fresh("t_cells_total");
  Counter c = store().counter(cells_total, {}, "help");
  constexpr int kThreads = 3;
  constexpr int kAdds = 10'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([c, t] {
      setThreadShard(static_cast<size_t>(t + 1));
      const CounterCell cell = c.cellOfThisThread();
      for (int i = 0; i < kAdds; ++i) {
        cell.add();
        c.add(2);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(store().value(cells_total, {}), kThreads * kAdds * 3);
  Counter invalid;
  invalid.cellOfThisThread().add(5);  // must not touch any series
  EXPECT_EQ(store().value(cells_total, {}), kThreads * kAdds * 3);
}

TEST(CounterTest, ShardNumbersBeyondTheLastShareTheLastShard) {
  const std::string clamped_shard_total = fresh("t_clamped_shard_total");
  Counter c = store().counter(clamped_shard_total, {}, "help");
  std::thread t([c] {
    setThreadShard(100'000);
    c.add(4);
  });
  t.join();
  EXPECT_EQ(store().value(clamped_shard_total, {}), 4);
}

TEST(CounterTest, SeriesRegisteredAfterUpdatesBeganStillWork) {
  const std::string early_total = fresh("t_early_total");
  const std::string many_total = fresh("t_many_total");
  // Registration may allocate a new chunk of slots while other series are in use.
  Counter early = store().counter(early_total, {}, "help");
  early.add();
  std::vector<Counter> many;
  for (int i = 0; i < 2000; ++i) {
    many.push_back(store().counter(many_total, {{"i", std::to_string(i)}}, "help"));
  }
  for (size_t i = 0; i < many.size(); ++i) {
    many[i].add(static_cast<int64_t>(i));
  }
  early.add();
  EXPECT_EQ(store().value(early_total, {}), 2);
  EXPECT_EQ(store().value(many_total, {{"i", "0"}}), 0);
  EXPECT_EQ(store().value(many_total, {{"i", "1999"}}), 1999);
  EXPECT_EQ(store().value(many_total, {{"i", "1024"}}), 1024);
}

TEST(GaugeTest, GoesUpAndDown) {
  const std::string gauge_active = fresh("t_gauge_active");
  Gauge g = store().gauge(gauge_active, {}, "help");
  g.add(3);
  g.add(-1);
  EXPECT_EQ(store().value(gauge_active, {}), 2);
  g.add(-5);
  EXPECT_EQ(scraped(gauge_active), "-3");
}

TEST(GaugeTest, DecrementOnAnotherShardStillNets) {
  const std::string gauge_cross_shard = fresh("t_gauge_cross_shard");
  Gauge g = store().gauge(gauge_cross_shard, {}, "help");
  g.add(1);
  std::thread t([g] {
    setThreadShard(3);
    g.add(-1);
  });
  t.join();
  EXPECT_EQ(store().value(gauge_cross_shard, {}), 0);
}

TEST(RenderTest, CounterHasHelpTypeAndSample) {
  const std::string render_counter_total = fresh("t_render_counter_total");
  store().counter(render_counter_total, {{"listener", "web"}}, "Requests seen.").add(3);
  std::string text = store().renderPrometheus();
  EXPECT_THAT(text,
              HasSubstr("# HELP " + render_counter_total + " Requests seen.\n# TYPE " + render_counter_total +
                        " counter\n" + render_counter_total + "{listener=\"web\"} 3\n"));
}

TEST(RenderTest, GaugeIsTypedGauge) {
  const std::string render_gauge = fresh("t_render_gauge");
  store().gauge(render_gauge, {}, "In flight.").add(1);
  EXPECT_THAT(store().renderPrometheus(),
              HasSubstr("# TYPE " + render_gauge + " gauge\n" + render_gauge + " 1\n"));
}

TEST(RenderTest, SeriesWithoutLabelsHasNoBraces) {
  const std::string render_plain_total = fresh("t_render_plain_total");
  store().counter(render_plain_total, {}, "help").add(9);
  std::string text = store().renderPrometheus();
  EXPECT_THAT(text, HasSubstr("\n" + render_plain_total + " 9\n"));
  EXPECT_THAT(text, Not(HasSubstr(render_plain_total + "{")));
}

TEST(RenderTest, SeveralLabelsKeepTheirOrder) {
  const std::string render_two_labels_total = fresh("t_render_two_labels_total");
  store().counter(render_two_labels_total, {{"b", "2"}, {"a", "1"}}, "help").add();
  EXPECT_EQ(scraped(render_two_labels_total + "{b=\"2\",a=\"1\"}"), "1");
}

TEST(RenderTest, LabelValuesAreEscaped) {
  const std::string render_escaped_total = fresh("t_render_escaped_total");
  Labels l{{"path", "a\\b\"c\nd"}};
  store().counter(render_escaped_total, l, "help").add(2);
  EXPECT_EQ(scraped(render_escaped_total + R"({path="a\\b\"c\nd"})"), "2");
  // The raw newline must not reach the output: it would end the sample line.
  EXPECT_THAT(store().renderPrometheus(), Not(HasSubstr("c\nd")));
  // Lookups use the label values as given, not escaped.
  EXPECT_EQ(store().value(render_escaped_total, l), 2);
}

TEST(RenderTest, EscapingKeepsSeriesApart) {
  const std::string render_distinct_total = fresh("t_render_distinct_total");
  // Without escaping these two would render to the same label text.
  store().counter(render_distinct_total, {{"v", "x\",y=\"z"}}, "help").add(1);
  store().counter(render_distinct_total, {{"v", "x"}, {"y", "z"}}, "help").add(5);
  EXPECT_EQ(store().value(render_distinct_total, {{"v", "x\",y=\"z"}}), 1);
  EXPECT_EQ(store().value(render_distinct_total, {{"v", "x"}, {"y", "z"}}), 5);
}

// --- histograms --------------------------------------------------------------

struct Bucket {
  std::string le;
  int64_t count;
};

// The bucket lines of one histogram series in scrape order.
std::vector<Bucket> buckets(const std::string& name, const std::string& labels_prefix) {
  std::vector<Bucket> out;
  std::istringstream in(store().renderPrometheus());
  std::string line;
  std::string start = name + "_bucket{" + labels_prefix + "le=\"";
  while (std::getline(in, line)) {
    if (line.compare(0, start.size(), start) != 0) continue;
    size_t close = line.find('"', start.size());
    size_t space = line.rfind(' ');
    out.push_back({line.substr(start.size(), close - start.size()), std::stoll(line.substr(space + 1))});
  }
  return out;
}

TEST(HistogramTest, DefaultHandleIsInvalidAndIgnoresObservations) {
  Histogram h;
  EXPECT_FALSE(h.valid());
  h.observeNanos(1000);
  SUCCEED();
}

TEST(HistogramTest, BucketsAreCumulativeAndInfEqualsCount) {
  const std::string hist_cumulative_seconds = fresh("t_hist_cumulative_seconds");
  Histogram h = store().histogram(hist_cumulative_seconds, {}, "help");
  ASSERT_TRUE(h.valid());
  h.observeNanos(300'000);         // 0.3 ms
  h.observeNanos(500'000);         // exactly 0.5 ms: le is inclusive
  h.observeNanos(3'000'000);       // 3 ms
  h.observeNanos(20'000'000'000);  // 20 s: only +Inf
  auto b = buckets(hist_cumulative_seconds, "");
  ASSERT_EQ(b.size(), 15u);
  EXPECT_EQ(b.front().le, "0.0005");
  EXPECT_EQ(b.front().count, 2);
  EXPECT_EQ(b[1].le, "0.001");
  EXPECT_EQ(b[1].count, 2);
  EXPECT_EQ(b[2].le, "0.0025");
  EXPECT_EQ(b[2].count, 2);
  EXPECT_EQ(b[3].le, "0.005");
  EXPECT_EQ(b[3].count, 3);
  EXPECT_EQ(b[13].le, "10");
  EXPECT_EQ(b[13].count, 3);
  EXPECT_EQ(b.back().le, "+Inf");
  EXPECT_EQ(b.back().count, 4);
  for (size_t i = 1; i < b.size(); ++i) {
    EXPECT_LE(b[i - 1].count, b[i].count) << b[i].le;
  }
  EXPECT_EQ(scraped(hist_cumulative_seconds + "_count"), "4");
  EXPECT_EQ(store().value(hist_cumulative_seconds, {}), 4);
}

TEST(HistogramTest, SumIsInSeconds) {
  const std::string hist_sum_seconds = fresh("t_hist_sum_seconds");
  Histogram h = store().histogram(hist_sum_seconds, {}, "help");
  h.observeNanos(1'500'000'000);  // 1.5 s
  h.observeNanos(250'000'000);    // 0.25 s
  std::string sum = scraped(hist_sum_seconds + "_sum");
  ASSERT_FALSE(sum.empty());
  EXPECT_DOUBLE_EQ(std::strtod(sum.c_str(), nullptr), 1.75);
}

TEST(HistogramTest, BucketBoundariesAreInclusive) {
  const std::string hist_bounds_seconds = fresh("t_hist_bounds_seconds");
  Histogram h = store().histogram(hist_bounds_seconds, {}, "help");
  h.observeNanos(1'000'000);  // exactly 1 ms
  h.observeNanos(1'000'001);  // just over
  auto b = buckets(hist_bounds_seconds, "");
  ASSERT_GE(b.size(), 3u);
  EXPECT_EQ(b[0].count, 0);  // le=0.0005
  EXPECT_EQ(b[1].le, "0.001");
  EXPECT_EQ(b[1].count, 1);
  EXPECT_EQ(b[2].count, 2);  // le=0.0025
}

TEST(HistogramTest, LabelsComeBeforeLe) {
  const std::string hist_labelled_seconds = fresh("t_hist_labelled_seconds");
  Labels l{{"route", "r\"1"}};
  Histogram h = store().histogram(hist_labelled_seconds, l, "Request time.");
  h.observeNanos(2'000'000);
  std::string text = store().renderPrometheus();
  EXPECT_THAT(text, HasSubstr("# TYPE " + hist_labelled_seconds + " histogram\n"));
  EXPECT_THAT(text, HasSubstr(hist_labelled_seconds + "_bucket{route=\"r\\\"1\",le=\"+Inf\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(hist_labelled_seconds + "_count{route=\"r\\\"1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(hist_labelled_seconds + "_sum{route=\"r\\\"1\"} 0.002\n"));
  auto b = buckets(hist_labelled_seconds, "route=\"r\\\"1\",");
  EXPECT_EQ(b.size(), 15u);
}

TEST(HistogramTest, ObservationsFromSeveralShardsSum) {
  const std::string hist_sharded_seconds = fresh("t_hist_sharded_seconds");
  Histogram h = store().histogram(hist_sharded_seconds, {}, "help");
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([h, t] {
      setThreadShard(static_cast<size_t>(10 + t));
      for (int i = 0; i < 1000; ++i) {
        h.observeNanos(1'000'000);  // 1 ms each
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(store().value(hist_sharded_seconds, {}), 3000);
  EXPECT_DOUBLE_EQ(std::strtod(scraped(hist_sharded_seconds + "_sum").c_str(), nullptr), 3.0);
  auto b = buckets(hist_sharded_seconds, "");
  ASSERT_EQ(b.size(), 15u);
  EXPECT_EQ(b[0].count, 0);
  EXPECT_EQ(b[1].count, 3000);
  EXPECT_EQ(b.back().count, 3000);
}

// --- StatusCounters ----------------------------------------------------------

Labels withStatus(Labels l, int status) {
  l.emplace_back("status", std::to_string(status));
  return l;
}

TEST(StatusCountersTest, NothingIsRegisteredBeforeTheFirstStatus) {
  const std::string status_lazy_total = fresh("t_status_lazy_total");
  StatusCounters sc(status_lazy_total, {{"listener", "web"}}, "help");
  EXPECT_THAT(store().renderPrometheus(), Not(HasSubstr(status_lazy_total)));
}

TEST(StatusCountersTest, CountsEachStatusSeparately) {
  const std::string status_split_total = fresh("t_status_split_total");
  Labels l{{"listener", "web"}};
  StatusCounters sc(status_split_total, l, "help");
  sc.add(200);
  sc.add(200);
  sc.add(503);
  EXPECT_EQ(store().value(status_split_total, withStatus(l, 200)), 2);
  EXPECT_EQ(store().value(status_split_total, withStatus(l, 503)), 1);
  EXPECT_EQ(scraped(status_split_total + "{listener=\"web\",status=\"200\"}"), "2");
  EXPECT_EQ(scraped(status_split_total + "{listener=\"web\",status=\"503\"}"), "1");
}

TEST(StatusCountersTest, StatusesThatNeverHappenedAreNotRendered) {
  const std::string status_absent_total = fresh("t_status_absent_total");
  StatusCounters sc(status_absent_total, {}, "help");
  sc.add(404);
  std::string text = store().renderPrometheus();
  EXPECT_THAT(text, HasSubstr(status_absent_total + "{status=\"404\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr(status_absent_total + "{status=\"200\"}")));
  EXPECT_THAT(text, Not(HasSubstr(status_absent_total + "{status=\"500\"}")));
}

TEST(StatusCountersTest, TwoInstancesWithTheSameLabelsShareSeries) {
  const std::string status_shared_total = fresh("t_status_shared_total");
  StatusCounters a(status_shared_total, {{"route", "r"}}, "help");
  StatusCounters b(status_shared_total, {{"route", "r"}}, "help");
  a.add(201);
  b.add(201);
  EXPECT_EQ(store().value(status_shared_total, {{"route", "r"}, {"status", "201"}}), 2);
}

TEST(StatusCountersTest, MovedInstanceKeepsCountingTheSameSeries) {
  const std::string status_moved_total = fresh("t_status_moved_total");
  StatusCounters a(status_moved_total, {}, "help");
  a.add(200);
  StatusCounters b(std::move(a));
  b.add(200);
  b.add(302);
  EXPECT_EQ(store().value(status_moved_total, {{"status", "200"}}), 2);
  EXPECT_EQ(store().value(status_moved_total, {{"status", "302"}}), 1);
}

TEST(StatusCountersTest, ThreadsOnDifferentShardsSumCorrectly) {
  const std::string status_threads_total = fresh("t_status_threads_total");
  StatusCounters sc(status_threads_total, {}, "help");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&sc, t] {
      setThreadShard(static_cast<size_t>(20 + t));
      for (int i = 0; i < 10'000; ++i) {
        sc.add(i % 2 == 0 ? 200 : 500);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(store().value(status_threads_total, {{"status", "200"}}), 20'000);
  EXPECT_EQ(store().value(status_threads_total, {{"status", "500"}}), 20'000);
}

TEST(StatusCountersTest, LowestAndHighestStandardStatusesAreDistinct) {
  const std::string status_edges_total = fresh("t_status_edges_total");
  StatusCounters sc(status_edges_total, {}, "help");
  sc.add(100);
  sc.add(599);
  EXPECT_EQ(store().value(status_edges_total, {{"status", "100"}}), 1);
  EXPECT_EQ(store().value(status_edges_total, {{"status", "599"}}), 1);
}

// Upstreams may answer 600..999 (the parser accepts any three digits):
// those count under one status="other" series, never under another status.
TEST(StatusCountersTest, OutOfRangeStatusesAreNotMergedUnderOneLabel) {
  const std::string status_out_of_range_total = fresh("t_status_out_of_range_total");
  StatusCounters sc(status_out_of_range_total, {}, "help");
  sc.add(650);
  sc.add(750);
  sc.add(100);
  EXPECT_EQ(store().value(status_out_of_range_total, {{"status", "other"}}), 2);
  EXPECT_EQ(store().value(status_out_of_range_total, {{"status", "100"}}), 1);
}

}  // namespace
}  // namespace pier::stats
