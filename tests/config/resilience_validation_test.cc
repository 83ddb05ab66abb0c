// One test per validation rule of the resilience settings: retry policies,
// health checks, outlier detection, circuit breakers, retry budgets, the
// panic threshold and PROXY protocol. As in validation_test.cc, each config
// has exactly one mistake and the whole message is pinned.
#include <string>

#include <gtest/gtest.h>

#include "src/config/loader.h"

namespace pier::config {
namespace {

std::string errorOf(const std::string& yaml) {
  auto result = loadString(yaml, "t.yaml");
  if (result.ok()) return "<loaded without error>";
  return result.error();
}

// A listener whose one route carries `retry_policy` (from line 7 on).
std::string routeRetry(const std::string& policy) {
  return R"(clusters: [{ name: app, endpoints: [127.0.0.1:18081] }]
listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        cluster: app
        retry_policy: )" +
         policy + "\n";
}

// A cluster whose `health_check` is given (on line 4).
std::string healthCheck(const std::string& check) {
  return "clusters:\n  - name: app\n    endpoints: [127.0.0.1:18081]\n    health_check: " + check + "\n";
}

// A cluster with one more field (on line 4).
std::string clusterWith(const std::string& line) {
  return "clusters:\n  - name: app\n    endpoints: [127.0.0.1:18081]\n    " + line + "\n";
}

// --- retry_policy ---

TEST(RetryPolicyValidationTest, FullPolicyLoads) {
  EXPECT_EQ(errorOf(routeRetry("{ retry_on: [connect-failure, reset, 5xx, gateway-error, "
                               "retriable-status-codes], num_retries: 2, retriable_status_codes: [409], "
                               "per_try_timeout: 2s, max_buffered_body_bytes: 0 }")),
            "<loaded without error>");
}

TEST(RetryPolicyValidationTest, UnknownConditionGetsDidYouMean) {
  EXPECT_EQ(errorOf(routeRetry("{ retry_on: [connect_failure] }")),
            "t.yaml:8:36: listeners[0].routes[0].retry_policy.retry_on[0]: must be one of connect-failure, "
            "reset, 5xx, gateway-error, retriable-status-codes; got \"connect_failure\" (did you mean "
            "\"connect-failure\"?)");
}

TEST(RetryPolicyValidationTest, RetryOnMayNotBeEmpty) {
  EXPECT_EQ(errorOf(routeRetry("{ retry_on: [] }")),
            "t.yaml:8:35: listeners[0].routes[0].retry_policy.retry_on: must not be empty; to turn retries "
            "off, set num_retries: 0");
}

TEST(RetryPolicyValidationTest, ConditionListedTwice) {
  EXPECT_EQ(errorOf(routeRetry("{ retry_on: [reset, 5xx, reset] }")),
            "t.yaml:8:48: listeners[0].routes[0].retry_policy.retry_on[2]: \"reset\" is listed twice");
}

TEST(RetryPolicyValidationTest, NumRetriesAtMostTen) {
  EXPECT_EQ(errorOf(routeRetry("{ num_retries: 11 }")),
            "t.yaml:8:38: listeners[0].routes[0].retry_policy.num_retries: must be between 0 and 10, got 11");
}

TEST(RetryPolicyValidationTest, StatusCodesRequiredWithRetriableStatusCodes) {
  EXPECT_EQ(errorOf(routeRetry("{ retry_on: [retriable-status-codes] }")),
            "t.yaml:8:23: listeners[0].routes[0].retry_policy.retriable_status_codes: required when "
            "retry_on lists retriable-status-codes");
}

TEST(RetryPolicyValidationTest, StatusCodesNeedTheirCondition) {
  EXPECT_EQ(errorOf(routeRetry("{ retry_on: [5xx], retriable_status_codes: [409] }")),
            "t.yaml:8:66: listeners[0].routes[0].retry_policy.retriable_status_codes: only applies when "
            "retry_on lists retriable-status-codes");
}

TEST(RetryPolicyValidationTest, DefaultConditionsHaveNoStatusCodes) {
  // Without retry_on the conditions are connect-failure and reset.
  EXPECT_EQ(errorOf(routeRetry("{ retriable_status_codes: [409] }")),
            "t.yaml:8:49: listeners[0].routes[0].retry_policy.retriable_status_codes: only applies when "
            "retry_on lists retriable-status-codes");
}

TEST(RetryPolicyValidationTest, StatusCodesMayNotBeEmpty) {
  EXPECT_EQ(errorOf(routeRetry("{ retry_on: [retriable-status-codes], retriable_status_codes: [] }")),
            "t.yaml:8:85: listeners[0].routes[0].retry_policy.retriable_status_codes: must not be empty");
}

TEST(RetryPolicyValidationTest, StatusCodeOutOfRange) {
  EXPECT_EQ(errorOf(routeRetry("{ retry_on: [retriable-status-codes], retriable_status_codes: [409, 600] }")),
            "t.yaml:8:91: listeners[0].routes[0].retry_policy.retriable_status_codes[1]: must be between "
            "100 and 599, got 600");
}

TEST(RetryPolicyValidationTest, StatusCodeListedTwice) {
  EXPECT_EQ(errorOf(routeRetry("{ retry_on: [retriable-status-codes], retriable_status_codes: [409, 409] }")),
            "t.yaml:8:91: listeners[0].routes[0].retry_policy.retriable_status_codes[1]: status 409 is "
            "listed twice");
}

TEST(RetryPolicyValidationTest, PerTryTimeoutMustBePositive) {
  EXPECT_EQ(errorOf(routeRetry("{ per_try_timeout: 0s }")),
            "t.yaml:8:42: listeners[0].routes[0].retry_policy.per_try_timeout: must be greater than 0");
}

TEST(RetryPolicyValidationTest, BufferedBodyAtMostOneGibibyte) {
  EXPECT_EQ(errorOf(routeRetry("{ max_buffered_body_bytes: 1073741825 }")),
            "t.yaml:8:50: listeners[0].routes[0].retry_policy.max_buffered_body_bytes: must be between 0 "
            "and 1073741824, got 1073741825");
}

TEST(RetryPolicyValidationTest, OnlyRoutesThatForwardRetry) {
  std::string yaml = R"(listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - match: { prefix: / }
        direct_response: { status: 200 }
        retry_policy: { num_retries: 1 }
)";
  EXPECT_EQ(errorOf(yaml),
            "t.yaml:7:23: listeners[0].routes[0].retry_policy: only applies to routes that forward to a "
            "cluster, not with \"direct_response\"");
}

TEST(RetryPolicyValidationTest, ClusterRetryPolicyIsChecked) {
  EXPECT_EQ(errorOf(clusterWith("retry_policy: { num_retry: 3 }")),
            "t.yaml:4:21: clusters[0].retry_policy.num_retry: unknown field; did you mean \"num_retries\"?");
}

// --- health_check ---

TEST(HealthCheckValidationTest, FullHttpCheckLoads) {
  EXPECT_EQ(
      errorOf(healthCheck("{ type: http, interval: 1s, timeout: 500ms, jitter: 100ms, healthy_threshold: 2, "
                          "unhealthy_threshold: 3, path: \"/healthz?full=1\", host: app.internal, "
                          "expected_statuses: [200, \"200-299\", 300-399] }")),
      "<loaded without error>");
}

TEST(HealthCheckValidationTest, TypeMustBeHttpOrTcp) {
  EXPECT_EQ(errorOf(healthCheck("{ type: grpc }")),
            "t.yaml:4:27: clusters[0].health_check.type: must be one of http, tcp; got \"grpc\"");
}

TEST(HealthCheckValidationTest, IntervalMustBePositive) {
  EXPECT_EQ(errorOf(healthCheck("{ interval: 0 }")),
            "t.yaml:4:31: clusters[0].health_check.interval: must be greater than 0");
}

TEST(HealthCheckValidationTest, TimeoutMustBePositive) {
  EXPECT_EQ(errorOf(healthCheck("{ timeout: 0ms }")),
            "t.yaml:4:30: clusters[0].health_check.timeout: must be greater than 0");
}

TEST(HealthCheckValidationTest, TimeoutNoLongerThanInterval) {
  EXPECT_EQ(errorOf(healthCheck("{ interval: 1s, timeout: 2s }")),
            "t.yaml:4:44: clusters[0].health_check.timeout: must not be longer than interval (1s)");
}

TEST(HealthCheckValidationTest, IntervalShorterThanDefaultTimeout) {
  EXPECT_EQ(errorOf(healthCheck("{ interval: 500ms }")),
            "t.yaml:4:31: clusters[0].health_check.interval: is shorter than the default timeout (1s); set "
            "a timeout no longer than the interval");
}

TEST(HealthCheckValidationTest, HealthyThresholdAtLeastOne) {
  EXPECT_EQ(errorOf(healthCheck("{ healthy_threshold: 0 }")),
            "t.yaml:4:40: clusters[0].health_check.healthy_threshold: must be between 1 and 1000, got 0");
}

TEST(HealthCheckValidationTest, UnhealthyThresholdAtLeastOne) {
  EXPECT_EQ(errorOf(healthCheck("{ unhealthy_threshold: 0 }")),
            "t.yaml:4:42: clusters[0].health_check.unhealthy_threshold: must be between 1 and 1000, got 0");
}

TEST(HealthCheckValidationTest, JitterMayNotBeNegative) {
  EXPECT_EQ(errorOf(healthCheck("{ jitter: -1s }")),
            "t.yaml:4:29: clusters[0].health_check.jitter: must not be negative, got \"-1s\"");
}

TEST(HealthCheckValidationTest, PathMustStartWithSlash) {
  EXPECT_EQ(errorOf(healthCheck("{ path: healthz }")),
            "t.yaml:4:27: clusters[0].health_check.path: must start with '/', got \"healthz\"");
}

TEST(HealthCheckValidationTest, PathMayNotHoldSpaces) {
  EXPECT_EQ(errorOf(healthCheck("{ path: \"/health z\" }")),
            "t.yaml:4:27: clusters[0].health_check.path: must not contain '#', whitespace or control "
            "characters");
}

TEST(HealthCheckValidationTest, HostMustBeAHostName) {
  EXPECT_EQ(errorOf(healthCheck("{ host: app/internal }")),
            "t.yaml:4:27: clusters[0].health_check.host: invalid host \"app/internal\"");
}

TEST(HealthCheckValidationTest, HttpFieldsAreRejectedOnTcpChecks) {
  EXPECT_EQ(errorOf(healthCheck("{ type: tcp, path: /healthz }")),
            "t.yaml:4:38: clusters[0].health_check.path: only applies to http health checks; this one has "
            "type: tcp");
}

TEST(HealthCheckValidationTest, TcpFieldsAreRejectedOnHttpChecks) {
  EXPECT_EQ(errorOf(healthCheck("{ expect: PONG }")),
            "t.yaml:4:29: clusters[0].health_check.expect: only applies to tcp health checks; this one has "
            "type: http (the default)");
}

TEST(HealthCheckValidationTest, ExpectedStatusOutOfRange) {
  EXPECT_EQ(errorOf(healthCheck("{ expected_statuses: [200, 600] }")),
            "t.yaml:4:46: clusters[0].health_check.expected_statuses[1]: status codes must be between 100 "
            "and 599, got 600");
}

TEST(HealthCheckValidationTest, ExpectedStatusRangeOutOfRange) {
  EXPECT_EQ(errorOf(healthCheck("{ expected_statuses: [\"200-600\"] }")),
            "t.yaml:4:41: clusters[0].health_check.expected_statuses[0]: status codes must be between 100 "
            "and 599, got 200-600");
}

TEST(HealthCheckValidationTest, ExpectedStatusRangeMustAscend) {
  EXPECT_EQ(errorOf(healthCheck("{ expected_statuses: [299-200] }")),
            "t.yaml:4:41: clusters[0].health_check.expected_statuses[0]: range 299-200 is empty: its first "
            "code is larger than its last");
}

TEST(HealthCheckValidationTest, ExpectedStatusMustBeACodeOrRange) {
  EXPECT_EQ(errorOf(healthCheck("{ expected_statuses: [2xx] }")),
            "t.yaml:4:41: clusters[0].health_check.expected_statuses[0]: expected a status code such as 200 "
            "or a range such as \"200-299\", got \"2xx\"");
}

TEST(HealthCheckValidationTest, ExpectedStatusesMayNotBeEmpty) {
  EXPECT_EQ(errorOf(healthCheck("{ expected_statuses: [] }")),
            "t.yaml:4:40: clusters[0].health_check.expected_statuses: must not be empty");
}

// --- outlier_detection ---

TEST(OutlierDetectionValidationTest, MaxEjectionTimeAtLeastBase) {
  EXPECT_EQ(errorOf(clusterWith("outlier_detection: { base_ejection_time: 30s, max_ejection_time: 10s }")),
            "t.yaml:4:70: clusters[0].outlier_detection.max_ejection_time: must be at least "
            "base_ejection_time (30s), got \"10s\"");
}

TEST(OutlierDetectionValidationTest, BaseEjectionTimeWithinDefaultMax) {
  EXPECT_EQ(errorOf(clusterWith("outlier_detection: { base_ejection_time: 10m }")),
            "t.yaml:4:46: clusters[0].outlier_detection.base_ejection_time: must not be longer than "
            "max_ejection_time (5m, the default); raise max_ejection_time too");
}

TEST(OutlierDetectionValidationTest, BaseEjectionTimeMustBePositive) {
  EXPECT_EQ(errorOf(clusterWith("outlier_detection: { base_ejection_time: 0s }")),
            "t.yaml:4:46: clusters[0].outlier_detection.base_ejection_time: must be greater than 0");
}

TEST(OutlierDetectionValidationTest, MaxEjectionPercentAtMost100) {
  EXPECT_EQ(errorOf(clusterWith("outlier_detection: { max_ejection_percent: 101 }")),
            "t.yaml:4:48: clusters[0].outlier_detection.max_ejection_percent: must be between 0 and 100, "
            "got 101");
}

TEST(OutlierDetectionValidationTest, EnabledIsABoolean) {
  EXPECT_EQ(errorOf(clusterWith("outlier_detection: { enabled: off }")),
            "t.yaml:4:35: clusters[0].outlier_detection.enabled: expected true or false, got \"off\"");
}

// --- circuit_breakers, retry_budget, panic threshold, PROXY protocol ---

TEST(ClusterLimitsValidationTest, CircuitBreakerFieldsAreKnown) {
  EXPECT_EQ(errorOf(clusterWith("circuit_breakers: { max_connection: 10 }")),
            "t.yaml:4:25: clusters[0].circuit_breakers.max_connection: unknown field; did you mean "
            "\"max_connections\"?");
}

TEST(ClusterLimitsValidationTest, CircuitBreakerLimitsAreIntegers) {
  EXPECT_EQ(errorOf(clusterWith("circuit_breakers: { max_requests: lots }")),
            "t.yaml:4:39: clusters[0].circuit_breakers.max_requests: expected an integer, got \"lots\"");
}

TEST(ClusterLimitsValidationTest, BudgetPercentAtMost100) {
  EXPECT_EQ(errorOf(clusterWith("retry_budget: { budget_percent: 150 }")),
            "t.yaml:4:37: clusters[0].retry_budget.budget_percent: must be between 0 and 100, got 150");
}

TEST(ClusterLimitsValidationTest, PanicThresholdAtMost100) {
  EXPECT_EQ(errorOf(clusterWith("panic_threshold_percent: 101")),
            "t.yaml:4:30: clusters[0].panic_threshold_percent: must be between 0 and 100, got 101");
}

TEST(ClusterLimitsValidationTest, SendProxyProtocolGetsDidYouMean) {
  EXPECT_EQ(errorOf(clusterWith("send_proxy_protocol: 2")),
            "t.yaml:4:26: clusters[0].send_proxy_protocol: must be one of none, v1, v2; got \"2\" (did you "
            "mean \"v2\"?)");
}

}  // namespace
}  // namespace pier::config
