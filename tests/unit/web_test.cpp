// web_test.cpp -- the web view's routes, its CSRF check, its JSON, and /metrics/queues.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "core/dead_letter.hpp"
#include "core/metrics.hpp"
#include "core/rejected_record.hpp"
#include "core/web.hpp"

using namespace boardhook::core;
namespace json = boost::json;

namespace {

const std::string token(64, 'a');

WebRequest request(std::string_view method, std::string_view path, std::string_view cookie = {}, std::string_view csrf = {}) {
  return {method, path, "", cookie, csrf, ""};
}

}  // namespace

TEST_CASE("the view's paths name its pages, its files and its API; anything else is a 404") {
  CHECK(web_route("") == WebRoute::page);
  CHECK(web_route("app.js") == WebRoute::asset);
  CHECK(web_route("api/overview") == WebRoute::overview);
  CHECK(web_route("api/requeue") == WebRoute::requeue);
  CHECK(web_route("../etc/passwd") == WebRoute::not_found);
  CHECK(refuse_web(WebRoute::not_found, request("GET", "x"), true)->status == 404);
  const auto wrong = refuse_web(WebRoute::overview, request("POST", "api/overview"), true);
  REQUIRE(wrong);
  CHECK(wrong->status == 405);
  CHECK_FALSE(refuse_web(WebRoute::overview, request("GET", "api/overview"), false));
}

TEST_CASE("an action needs actions on and the header repeating the page's CSRF cookie") {
  const std::string cookie = "other=1; boardhook_csrf=" + token;
  CHECK(refuse_web(WebRoute::requeue, request("POST", "api/requeue", cookie, token), false)->body.find("actions_disabled") !=
        std::string::npos);
  CHECK_FALSE(refuse_web(WebRoute::requeue, request("POST", "api/requeue", cookie, token), true));
  for (const auto& [cookie_header, header] : std::vector<std::pair<std::string, std::string>>{
           {cookie, ""}, {cookie, std::string(64, 'b')}, {"", token}, {"", ""}, {"boardhook_csrf=short", "short"}}) {
    INFO(cookie_header << " / " << header);
    const auto refusal = refuse_web(WebRoute::purge_dead, request("POST", "api/purge-dead", cookie_header, header), true);
    REQUIRE(refusal);
    CHECK(refusal->status == 403);
    CHECK_THAT(refusal->body, Catch::Contains("csrf_failed"));
  }
  CHECK(csrf_cookie("boardhook_csrf=" + token + "; x=y") == token);
  CHECK(csrf_set_cookie(token).find("SameSite=Strict") != std::string::npos);
}

TEST_CASE("an action's arguments come from its JSON body") {
  std::string error;
  CHECK(action_arguments(WebRoute::requeue, R"({"type":"a b","id":"e1"})", error)->event_id == "e1");
  CHECK_FALSE(action_arguments(WebRoute::requeue, R"({"id":"e1"})", error));
  CHECK_FALSE(action_arguments(WebRoute::replay_rejected, R"({"type":"t"})", error));
  CHECK(action_arguments(WebRoute::replay_rejected, R"({"request_id":"r"})", error)->request_id == "r");
  CHECK_FALSE(action_arguments(WebRoute::purge_dead, "not json", error));
  CHECK(limit_of("limit=20", 50) == 20);
  CHECK(limit_of("limit=100000", 50) == 500);
  CHECK(limit_of("limit=x", 50) == 50);
  CHECK(limit_of("", 50) == 50);
}

TEST_CASE("dead letters and refused requests are listed with what the page shows, bodies left out") {
  JobFailure failure;
  failure.exit_code = 3;
  failure.error = "exit code 3";
  failure.stderr_tail = "<script>alert(1)</script>";
  const std::string dead = make_dead_record(R"({"id":"e1","ticket_id":7})", failure, 2, "w:0", 1709210096789);
  const json::value listed = json::parse(dead_letters_json("t", {dead, "junk"}));
  const json::array& rows = listed.at("dead").as_array();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].at("stderr_tail").as_string() == "<script>alert(1)</script>");
  CHECK(rows[0].at("exit_code").as_int64() == 3);
  CHECK(rows[0].at("envelope").at("ticket_id").as_int64() == 7);
  CHECK(rows[0].at("http_status").is_null());

  JobFailure refused;
  refused.http_status = 410;
  refused.error = "HTTP 410";
  const std::string gone = make_dead_record(R"({"id":"e2","ticket_id":8})", refused, 1, "w:1", 1709210096789);
  CHECK(json::parse(dead_letters_json("t", {gone})).at("dead").as_array()[0].at("http_status").as_int64() == 410);

  const std::string kept = make_rejected_record(1709210096789, "r1", 403, "invalid_endpoint_key", "d", 5, "hello");
  const json::value rejected = json::parse(rejected_json({kept}));
  const json::object& row = rejected.at("rejected").as_array()[0].as_object();
  CHECK(row.at("replayable").as_bool() == false);
  CHECK_FALSE(row.contains("body"));
}

TEST_CASE("/metrics/queues renders each type's depth, ages, totals and serving workers") {
  QueueStats stats;
  TypeStats row;
  row.type = "a\"b";
  row.queued = 4;
  row.oldest_age_ms = 1500;
  row.totals = {{Counter::done, 9}};
  stats.types.push_back(row);
  WorkerStats worker;
  worker.alive = true;
  worker.record = WorkerRecord{"h", 1, 1, "", {"a\"b"}, {}};
  stats.workers.push_back(worker);
  stats.rejected = 2;
  const std::string text = render_queue_metrics(&stats);
  CHECK_THAT(text, Catch::Contains("boardhook_queue_redis_up 1\n"));
  CHECK_THAT(text, Catch::Contains("boardhook_queue_depth{type=\"a\\\"b\"} 4\n"));
  CHECK_THAT(text, Catch::Contains("boardhook_queue_oldest_age_seconds{type=\"a\\\"b\"} 1.5\n"));
  CHECK_THAT(text, Catch::Contains("boardhook_events_done_total{type=\"a\\\"b\"} 9\n"));
  CHECK_THAT(text, Catch::Contains("boardhook_workers_serving{type=\"a\\\"b\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("boardhook_rejected_kept 2\n"));
  CHECK(render_queue_metrics(nullptr) ==
        "# HELP boardhook_queue_redis_up 1 when the queues could be read from Redis for this scrape.\n"
        "# TYPE boardhook_queue_redis_up gauge\nboardhook_queue_redis_up 0\n");
}
