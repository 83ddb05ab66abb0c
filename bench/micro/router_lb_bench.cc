// Micro-benchmarks for the request path's routing and endpoint choice: the
// cost a request pays between parsing and connecting upstream.
// Links pier_router and pier_upstream; run with --benchmark_filter=... to pick.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "src/router/router.h"
#include "src/upstream/load_balancer.h"

namespace {

using pier::config::LbPolicy;
using pier::upstream::Host;
using pier::upstream::LoadBalancer;
using pier::upstream::PickContext;

std::vector<Host> makeHosts(int n, bool weighted) {
  std::vector<Host> hosts(n);
  for (int i = 0; i < n; ++i) {
    hosts[i].address = {"10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256), 8080, false};
    hosts[i].weight = weighted ? 1 + i % 5 : 1;
  }
  return hosts;
}

// Picks without a hash key (round robin, least request, random, and the
// hashing policies' fallback).
void pickLoop(benchmark::State& state, LbPolicy policy, bool weighted) {
  auto hosts = makeHosts(static_cast<int>(state.range(0)), weighted);
  // Some unhealthy hosts so that the skipping paths are part of the cost.
  for (size_t i = 0; i < hosts.size(); i += 10) hosts[i].healthy = false;
  auto lb = pier::upstream::makeLoadBalancer(policy, hosts, 1);
  uint32_t active = 0;
  for (auto _ : state) {
    int pick = lb->pick(PickContext{});
    benchmark::DoNotOptimize(pick);
    // Perturb load so least_request has something to compare.
    hosts[pick].active_requests = ++active & 7;
  }
}

void hashedPickLoop(benchmark::State& state, LbPolicy policy) {
  auto hosts = makeHosts(static_cast<int>(state.range(0)), true);
  for (size_t i = 0; i < hosts.size(); i += 10) hosts[i].healthy = false;
  auto lb = pier::upstream::makeLoadBalancer(policy, hosts, 1);
  PickContext context;
  context.has_hash = true;
  uint64_t key = 0;
  for (auto _ : state) {
    context.hash = (++key) * 0x9e3779b97f4a7c15ULL;
    benchmark::DoNotOptimize(lb->pick(context));
  }
}

void BM_RoundRobinEqual(benchmark::State& state) { pickLoop(state, LbPolicy::kRoundRobin, false); }
void BM_RoundRobinWeighted(benchmark::State& state) { pickLoop(state, LbPolicy::kRoundRobin, true); }
void BM_LeastRequest(benchmark::State& state) { pickLoop(state, LbPolicy::kLeastRequest, true); }
void BM_Random(benchmark::State& state) { pickLoop(state, LbPolicy::kRandom, true); }
void BM_RingHash(benchmark::State& state) { hashedPickLoop(state, LbPolicy::kRingHash); }
void BM_Maglev(benchmark::State& state) { hashedPickLoop(state, LbPolicy::kMaglev); }
BENCHMARK(BM_RoundRobinEqual)->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK(BM_RoundRobinWeighted)->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK(BM_LeastRequest)->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK(BM_Random)->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK(BM_RingHash)->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK(BM_Maglev)->Arg(3)->Arg(100)->Arg(1000);

void BM_BuildMaglev(benchmark::State& state) {
  auto hosts = makeHosts(static_cast<int>(state.range(0)), true);
  for (auto _ : state)
    benchmark::DoNotOptimize(pier::upstream::makeLoadBalancer(LbPolicy::kMaglev, hosts, 1));
}
void BM_BuildRingHash(benchmark::State& state) {
  auto hosts = makeHosts(static_cast<int>(state.range(0)), true);
  for (auto _ : state)
    benchmark::DoNotOptimize(pier::upstream::makeLoadBalancer(LbPolicy::kRingHash, hosts, 1));
}
BENCHMARK(BM_BuildMaglev)->Arg(10)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BuildRingHash)->Arg(10)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_HashKey(benchmark::State& state) {
  std::string key(static_cast<size_t>(state.range(0)), 'k');
  for (auto _ : state) {
    benchmark::DoNotOptimize(key.data());
    benchmark::DoNotOptimize(pier::upstream::hashKey(key));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_HashKey)->Arg(8)->Arg(15)->Arg(40)->Arg(256);

// --- router ------------------------------------------------------------------

// `vhosts` hosts "svc<i>.example.com" (plus one wildcard and "*"), each with
// `routes` prefix routes; the request matches the last route of the last
// exact host, the worst case for a linear route scan.
pier::config::Listener makeListener(int vhosts, int routes, bool with_headers) {
  pier::config::Listener listener;
  listener.name = "bench";
  for (int v = 0; v < vhosts; ++v) {
    pier::config::VirtualHost vhost;
    vhost.name = "v" + std::to_string(v);
    vhost.domains = {"svc" + std::to_string(v) + ".example.com"};
    for (int r = 0; r < routes; ++r) {
      pier::config::Route route;
      route.match.path = "/api/v" + std::to_string(r) + "/";
      if (with_headers) {
        route.match.headers.push_back(
            {"x-tenant", {pier::config::StringMatch::Kind::kRegex, "t[0-9]+"}, false});
      }
      route.cluster = "c";
      vhost.routes.push_back(route);
    }
    listener.virtual_hosts.push_back(vhost);
  }
  pier::config::VirtualHost wildcard;
  wildcard.domains = {"*.internal.example.com"};
  wildcard.routes.resize(1);
  listener.virtual_hosts.push_back(wildcard);
  return listener;
}

void routeLoop(benchmark::State& state, bool with_headers) {
  const int vhosts = static_cast<int>(state.range(0));
  const int routes = static_cast<int>(state.range(1));
  auto router = std::move(pier::router::Router::build(makeListener(vhosts, routes, with_headers))).value();
  std::string host = "SVC" + std::to_string(vhosts - 1) + ".example.com:8080";
  std::string path = "/api/v" + std::to_string(routes - 1) + "/items/42";
  std::vector<pier::http::Header> headers = {{"accept", "*/*"}, {"x-tenant", "t17"}};
  pier::router::RouteRequest request{host, "GET", path, "", headers};
  for (auto _ : state) benchmark::DoNotOptimize(router->route(request));
}

void BM_RouteByPrefix(benchmark::State& state) { routeLoop(state, false); }
void BM_RouteByPrefixAndHeaderRegex(benchmark::State& state) { routeLoop(state, true); }
BENCHMARK(BM_RouteByPrefix)->Args({1, 1})->Args({100, 10})->Args({1000, 50});
BENCHMARK(BM_RouteByPrefixAndHeaderRegex)->Args({1, 1})->Args({100, 10});

void BM_RouteWildcardHost(benchmark::State& state) {
  auto router = std::move(pier::router::Router::build(makeListener(100, 1, false))).value();
  pier::router::RouteRequest request{"api.internal.example.com", "GET", "/", "", {}};
  for (auto _ : state) benchmark::DoNotOptimize(router->route(request));
}
BENCHMARK(BM_RouteWildcardHost);

}  // namespace

BENCHMARK_MAIN();
