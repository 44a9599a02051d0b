// metrics_test.cpp -- /metrics rendering (Prometheus text) and the /healthz answer.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "core/health.hpp"
#include "core/metrics.hpp"

using namespace boardhook::core;
using Catch::Matchers::Contains;

TEST_CASE("labels outside the fixed sets fall into 'other'") {
  CHECK(metric_methods[method_index("POST")] == "POST");
  CHECK(metric_methods[method_index("BREW")] == "other");
  CHECK(metric_statuses[status_index(413)] == 413);
  CHECK(metric_statuses[status_index(418)] == 0);
  CHECK(metric_refusals[refusal_index("invalid_json")] == "invalid_json");
  CHECK(metric_refusals[refusal_index("something_new")] == "other");
}

TEST_CASE("latencies land in the first bucket whose bound holds them") {
  CHECK(latency_bucket(0) == 0);
  CHECK(latency_bucket(500) == 0);           // 0.0005 s is inside the first bound
  CHECK(latency_bucket(501) == 1);
  CHECK(latency_bucket(2'500'000) == redis_latency_bounds.size() - 1);
  CHECK(latency_bucket(2'500'001) == redis_latency_bounds.size());  // +Inf
}

TEST_CASE("the rendered metrics hold every family with cumulative histogram buckets") {
  MetricsSnapshot s;
  s.process_start_time_seconds = 1795779714.5;
  s.processes = 2;
  s.requests[method_index("POST")][status_index(200)] = 7;
  s.requests[method_index("GET")][status_index(403)] = 1;
  s.events_stored = {{"ticket_status_change", 9}, {"we\"ird", 1}};
  s.events_spooled = 3;
  s.redis_write_buckets[0] = 4;
  s.redis_write_buckets[2] = 2;
  s.redis_write_microseconds = 1'500;
  s.refused[refusal_index("invalid_json")] = 5;
  s.redis_batches = 11;
  s.redis_batched_requests = 40;
  s.spool = SpoolGauge{2, 100, 1.5};
  const std::string text = render_metrics(s);
  CHECK_THAT(text, Contains("boardhook_requests_total{method=\"POST\",status=\"200\"} 7\n"));
  CHECK_THAT(text, Contains("boardhook_requests_total{method=\"GET\",status=\"403\"} 1\n"));
  CHECK_THAT(text, Contains("boardhook_events_stored_total{event_type=\"ticket_status_change\"} 9\n"));
  CHECK_THAT(text, Contains("boardhook_events_stored_total{event_type=\"we\\\"ird\"} 1\n"));
  CHECK_THAT(text, Contains("boardhook_events_spooled_total 3\n"));
  CHECK_THAT(text, Contains("boardhook_redis_write_seconds_bucket{le=\"0.0005\"} 4\n"));
  CHECK_THAT(text, Contains("boardhook_redis_write_seconds_bucket{le=\"0.001\"} 4\n"));
  CHECK_THAT(text, Contains("boardhook_redis_write_seconds_bucket{le=\"0.0025\"} 6\n"));
  CHECK_THAT(text, Contains("boardhook_redis_write_seconds_bucket{le=\"+Inf\"} 6\n"));
  CHECK_THAT(text, Contains("boardhook_redis_write_seconds_count 6\n"));
  CHECK_THAT(text, Contains("boardhook_redis_write_seconds_sum 0.0015"));
  CHECK_THAT(text, Contains("boardhook_rejected_total{reason=\"invalid_json\"} 5\n"));
  CHECK_THAT(text, Contains("boardhook_redis_batches_total 11\n"));
  CHECK_THAT(text, Contains("boardhook_redis_batched_requests_total 40\n"));
  CHECK_THAT(text, Contains("boardhook_spool_records 2\n"));
  CHECK_THAT(text, Contains("boardhook_handler_processes 2\n"));
  CHECK_THAT(text, Contains("process_start_time_seconds 1795779714.5\n"));
  CHECK_THAT(text, Contains("# TYPE boardhook_redis_write_seconds histogram\n"));
}

TEST_CASE("without a spool the spool gauges are left out") {
  CHECK_THAT(render_metrics({}), !Contains("boardhook_spool_records"));
}

TEST_CASE("healthz is 200 while Redis takes events, degraded on the spool, 503 with neither") {
  HealthFacts facts{true, "ok", true, true, "ok"};
  Response r = health_response(facts);
  CHECK(r.status == 200);
  CHECK(boost::json::parse(r.body).at("status") == "ok");

  facts.redis_ok = false;
  facts.redis_detail = "connect: Connection refused";
  r = health_response(facts);
  CHECK(r.status == 200);
  CHECK(boost::json::parse(r.body).at("status") == "degraded");
  CHECK(boost::json::parse(r.body).at("redis") == "connect: Connection refused");

  facts.spool_ok = false;
  facts.spool_detail = "the spool is full";
  r = health_response(facts);
  CHECK(r.status == 503);
  CHECK(boost::json::parse(r.body).at("spool") == "the spool is full");
  REQUIRE(r.headers.size() == 1);
  CHECK(r.headers[0].first == "Retry-After");

  facts.spool_configured = false;
  r = health_response(facts);
  CHECK(r.status == 503);
  CHECK(boost::json::parse(r.body).at("spool") == "off");
}
