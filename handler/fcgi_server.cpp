// fcgi_server.cpp -- libfcgi request loop: read params and body, decide, store in Redis, reply.
#include "handler/fcgi_server.hpp"

#include <fcgiapp.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <random>
#include <stdexcept>

#include "core/decide.hpp"
#include "core/routes.hpp"
#include "handler/web.hpp"
#include "core/event_type.hpp"
#include "core/health.hpp"
#include "core/metrics.hpp"
#include "io/log.hpp"
#include "io/redis_connection.hpp"

namespace boardhook::handler {

namespace {

constexpr int listen_backlog = 1024;

std::string_view param(FCGX_Request& request, const char* name) {
  const char* value = FCGX_GetParam(name, request.envp);
  return value == nullptr ? std::string_view{} : std::string_view(value);
}

std::optional<std::size_t> parse_length(std::string_view text) {
  std::size_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool is_sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Without nginx's $request_id (a misconfigured server block) each request still gets one.
std::string make_request_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (std::size_t i = 0; i < id.size(); i += 16) {
    std::uint64_t bits = random();
    for (std::size_t k = 0; k < 16; ++k, bits >>= 4) id[i + k] = hex[bits & 15];
  }
  return id;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

// Reads the whole body from the FastCGI stream. Keeps at most `keep_limit` bytes in
// `body` and counts the rest without storing it, so an oversized body costs no memory;
// the stream is always read to its end so a kept connection stays in step.
std::size_t read_body(FCGX_Stream* in, std::size_t keep_limit, std::string& body) {
  char chunk[16 * 1024];  // libfcgi hands over its 8 KiB record buffer at most; more only costs stack RSS
  std::size_t total = 0;
  for (;;) {
    const int got = FCGX_GetStr(chunk, sizeof chunk, in);
    if (got <= 0) break;
    const auto n = static_cast<std::size_t>(got);
    total += n;
    if (body.size() < keep_limit) body.append(chunk, std::min(n, keep_limit - body.size()));
  }
  return total;
}

void write_response(FCGX_Stream* out, const core::Response& response) {
  std::string head;
  head.reserve(256);
  head += "Status: " + std::to_string(response.status) + " " + reason_phrase(response.status) + "\r\n";
  head += "Content-Type: " + response.content_type + "\r\n";
  head += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  head += "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n";
  for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
  head += "\r\n";
  FCGX_PutStr(head.data(), static_cast<int>(head.size()), out);
  FCGX_PutStr(response.body.data(), static_cast<int>(response.body.size()), out);
}

std::int64_t now_unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t elapsed_microseconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - since).count();
}

// Everything one request needs besides the request itself.
struct Context {
  const core::Config& config;
  handler::EventStore& store;
  handler::MetricsRegistry& metrics;
  io::Spool* spool;
  io::RedisConnection& redis;
  io::RedisConnection& view_redis;  // the web view's and /metrics/queues' reads: a 1 s timeout
  std::string& body;
};

core::Response answer_health(Context& context) {
  core::HealthFacts facts;
  std::string error;
  facts.redis_ok = context.redis.ping(error);
  facts.redis_detail = facts.redis_ok ? "ok" : error;
  facts.spool_configured = context.spool != nullptr;
  if (context.spool != nullptr) {
    facts.spool_ok = context.spool->check_writable(error);
    facts.spool_detail = facts.spool_ok ? "ok" : error;
  }
  return core::health_response(facts);
}

core::Response answer_metrics(Context& context) {
  core::MetricsSnapshot snapshot = context.metrics.snapshot();
  if (context.spool != nullptr) {
    const io::SpoolStatus status = io::Spool::scan_status(context.spool->directory());
    core::SpoolGauge gauge;
    gauge.records = status.records;
    gauge.bytes = status.bytes;
    if (status.oldest_written_at_ms) gauge.oldest_age_seconds = static_cast<double>(now_unix_ms() - *status.oldest_written_at_ms) / 1000.0;
    snapshot.spool = gauge;
  }
  return {200, "text/plain; version=0.0.4; charset=utf-8", {}, core::render_metrics(snapshot)};
}

// The request as the core sees it. The body is read whole (the stream must end where the next
// request begins); of an oversized one only the part kept for inspection is held.
core::Request read_request(FCGX_Request& fcgi_request, Context& context, std::string& generated_id) {
  core::Request request;
  request.received_at_ms = now_unix_ms();
  request.method = param(fcgi_request, "REQUEST_METHOD");
  request.query = param(fcgi_request, "QUERY_STRING");
  request.request_id = param(fcgi_request, "REQUEST_ID");
  if (!is_sane_request_id(request.request_id)) request.request_id = generated_id = make_request_id();
  const auto declared = parse_length(param(fcgi_request, "CONTENT_LENGTH"));
  const bool is_oversized = declared && *declared > context.config.max_body_bytes;
  // +3 bytes, so that a character cut at the edge can be recognised as such.
  const std::size_t keep_limit = is_oversized ? core::max_kept_body_bytes + 3 : context.config.max_body_bytes + 1;
  context.body.clear();
  if (!is_oversized && declared) context.body.reserve(*declared);
  const std::size_t observed = read_body(fcgi_request.in, keep_limit, context.body);
  request.body = context.body;
  request.body_bytes = std::max(observed, declared.value_or(0));
  return request;
}

// Carries out the decision's writes; on failure the decision becomes a 503.
void store_events(core::Decision& decision, const core::Request& request, Context& context,
                  handler::RedisBatcher::Announcement& announcement) {
  std::string error;
  const auto started = std::chrono::steady_clock::now();
  const handler::StoreOutcome outcome = context.store.store_events(*decision.store, request.received_at_ms, error, announcement);
  const std::uint64_t events = decision.store->envelopes.size();
  switch (outcome) {
    case handler::StoreOutcome::in_redis:
      context.metrics.record_redis_write(static_cast<std::uint64_t>(elapsed_microseconds(started)));
      context.metrics.record_stored(decision.store->event_type, events);
      break;
    case handler::StoreOutcome::spooled:
      context.metrics.record_stored(decision.store->event_type, events);
      context.metrics.record_spooled(events);
      decision.log_message += "; spooled to disk, Redis unavailable";
      break;
    case handler::StoreOutcome::spooled_behind_backlog:
      context.metrics.record_stored(decision.store->event_type, events);
      context.metrics.record_spooled(events);
      decision.log_message += "; spooled to disk behind the events still draining from it";
      break;
    case handler::StoreOutcome::unreplicated_spooled:
      context.metrics.record_redis_write(static_cast<std::uint64_t>(elapsed_microseconds(started)));
      context.metrics.record_stored(decision.store->event_type, events);
      context.metrics.record_spooled(events);
      context.metrics.record_unreplicated(events);
      decision.log_message += "; too few replicas confirmed it, so spooled to disk too";
      break;
    case handler::StoreOutcome::failed:
      decision.response = core::storage_unavailable_response();
      decision.log_level = core::LogLevel::error;
      decision.log_message = "events not stored: \"" + error + "\"; answered 503 for " + std::to_string(events) +
                             " event(s) of type " + core::printable_event_type(decision.store->event_type) + " (request " +
                             std::string(request.request_id) + ")";
      break;
  }
  if (outcome == handler::StoreOutcome::spooled || outcome == handler::StoreOutcome::failed) {
    if (!error.empty()) context.metrics.record_redis_failure();
  }
}

// The probes and the web view: what operators ask, not the webhook.
core::Response answer_operator(FCGX_Request& fcgi_request, core::Route route, const core::Request& request, Context& context) {
  if (const auto refusal = core::refuse_probe_method(route, request.method)) return *refusal;
  handler::WebContext web{context.config, context.view_redis, context.spool,
                          [&context] { return answer_health(context).body; }};
  switch (route) {
    case core::Route::healthz: return answer_health(context);
    case core::Route::metrics: return answer_metrics(context);
    case core::Route::queue_metrics: return handler::serve_queue_metrics(web);
    default: break;
  }
  // DOCUMENT_URI below the prefix nginx names (the location's path is the operator's choice).
  std::string_view path = param(fcgi_request, "DOCUMENT_URI");
  const std::string_view prefix = param(fcgi_request, "BOARDHOOK_WEB_PREFIX");
  path = path.starts_with(prefix) ? path.substr(prefix.size()) : std::string_view("(outside the view)");
  const core::WebRequest web_request{request.method, path, request.query, param(fcgi_request, "HTTP_COOKIE"),
                                     param(fcgi_request, "HTTP_X_CSRF_TOKEN"), request.body};
  return handler::serve_web(web_request, web);
}

void handle(FCGX_Request& fcgi_request, Context& context) {
  const core::Route route = core::route_of(param(fcgi_request, "BOARDHOOK_ROUTE"));
  const std::string_view method = param(fcgi_request, "REQUEST_METHOD");
  // A webhook POST will most likely write: a Redis batch about to go may wait for it.
  handler::RedisBatcher::Announcement announcement;
  if (route == core::Route::webhook && method == "POST") announcement = context.store.announce_write();
  std::string generated_id;
  const core::Request request = read_request(fcgi_request, context, generated_id);

  if (core::is_probe(route) || route == core::Route::web) {
    write_response(fcgi_request.out, answer_operator(fcgi_request, route, request, context));
    return;
  }
  core::Decision decision = core::decide(request, context.config);
  if (decision.store) store_events(decision, request, context, announcement);
  announcement.end();
  if (!decision.refusal.empty()) context.metrics.record_refusal(decision.refusal);
  if (decision.reject) context.store.keep_rejected(context.redis, *decision.reject, request.received_at_ms, request.request_id);
  io::log_at(decision.log_level, decision.log_message);
  context.metrics.record_request(request.method, decision.response.status);
  write_response(fcgi_request.out, decision.response);
}

}  // namespace

int open_listener(const std::string& listen, int inherited_fd) {
  if (listen.empty()) {
    int accepting = 0;
    socklen_t length = sizeof accepting;
    if (getsockopt(inherited_fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) != 0 || accepting == 0) {
      throw std::runtime_error("BOARDHOOK_LISTEN is unset and fd " + std::to_string(inherited_fd) +
                               " is not a listening socket; set BOARDHOOK_LISTEN=unix:/path or host:port, "
                               "or start the handler from a systemd socket unit");
    }
    fcntl(inherited_fd, F_SETFD, FD_CLOEXEC);
    return inherited_fd;
  }
  std::string address = listen;
  if (listen.starts_with("unix:")) {
    address = listen.substr(5);
    struct stat info {};
    // A socket left by a previous run would make bind fail; anything else is not ours to remove.
    if (lstat(address.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) unlink(address.c_str());
  }
  const int fd = FCGX_OpenSocket(address.c_str(), listen_backlog);
  if (fd < 0) throw std::runtime_error("BOARDHOOK_LISTEN=\"" + listen + "\": cannot listen: " + std::strerror(errno));
  if (listen.starts_with("unix:")) chmod(address.c_str(), 0660);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

Server::Server(std::shared_ptr<const core::Config> config, int listen_fd, handler::EventStore& store,
               handler::MetricsRegistry& metrics, io::Spool* spool)
    : config_(std::move(config)), listen_fd_(listen_fd), store_(store), metrics_(metrics), spool_(spool) {
  // Threads wait for new connections in epoll_wait() rather than in accept(), so that a stop can
  // wake them without touching the shared socket; accept() then must not block.
  fcntl(listen_fd_, F_SETFL, fcntl(listen_fd_, F_GETFL) | O_NONBLOCK);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

Server::~Server() {
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.detach();
  }
}

void Server::start() {
  const int count = config_.load()->threads;
  for (int i = 0; i < count; ++i) slots_.push_back(std::make_unique<Slot>());
  running_threads_ = count;
  for (auto& slot : slots_) threads_.emplace_back([this, &slot = *slot] { serve(slot); });
}

void Server::stop_accepting() {
  stopping_ = true;
  // The eventfd stays readable, so every thread in epoll_wait() wakes now or at its next wait.
  // FCGX_ShutdownPending() is not used: it makes libfcgi's reads return end-of-file, which
  // would cut off the body of a request that is being served.
  const std::uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof one) < 0) spdlog::error("waking the FastCGI threads failed: \"{}\"", std::strerror(errno));
  // A thread waiting for the next request on a kept connection is woken by closing that
  // connection; nginx drops a closed idle connection from its pool and opens a new one
  // (to another handler) for its next request.
  for (auto& slot : slots_) {
    const int fd = slot->idle_fd.exchange(-1);
    if (fd >= 0) shutdown(fd, SHUT_RDWR);
  }
}

bool Server::wait_until_stopped(std::chrono::milliseconds grace) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (running_threads_.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  return true;
}

// Each thread waits for a new connection in its own epoll set, the listening socket in it with
// EPOLLEXCLUSIVE: a new connection wakes one waiting thread, not all of them. (With poll() every
// idle thread woke for each connection nginx opened, and with many threads and nginx opening
// connections beyond its keepalive pool that herd took the CPU.) The eventfd, not exclusive,
// wakes them all for the stop.
int Server::open_waiter() const {
  const int waiter = epoll_create1(EPOLL_CLOEXEC);
  epoll_event listen_event{EPOLLIN | EPOLLEXCLUSIVE, {.fd = listen_fd_}};
  epoll_event wake_event{EPOLLIN, {.fd = wake_fd_}};
  if (waiter < 0 || epoll_ctl(waiter, EPOLL_CTL_ADD, listen_fd_, &listen_event) != 0 ||
      epoll_ctl(waiter, EPOLL_CTL_ADD, wake_fd_, &wake_event) != 0) {
    // Out of descriptors at start-up: a process short of threads would look healthy while
    // serving less; ending it lets the supervisor (or systemd) start a whole one.
    spdlog::critical("cannot wait for FastCGI connections: epoll: \"{}\"", std::strerror(errno));
    spdlog::default_logger()->flush();
    std::abort();
  }
  return waiter;
}

// Waits until a new connection can be accepted; false when woken for anything else (the stop).
bool Server::wait_for_connection(int waiter) {
  epoll_event ready[2];
  const int count = epoll_wait(waiter, ready, 2, -1);
  if (count < 0 && errno != EINTR) {
    spdlog::error("epoll_wait for the FastCGI socket failed: \"{}\"; retrying in 100 ms", std::strerror(errno));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return false;
  }
  if (stopping_) return false;
  for (int i = 0; i < count; ++i) {
    if (ready[i].data.fd == listen_fd_) return true;
  }
  return false;
}

void Server::serve(Slot& slot) {
  FCGX_Request request;
  FCGX_InitRequest(&request, listen_fd_, 0);
  std::uint64_t config_seen = config_generation_.load();
  std::shared_ptr<const core::Config> config = config_.load();
  io::RedisConnection redis(config->redis, config->redis_timeout_ms);
  io::RedisConnection view_redis(config->redis, std::min(config->redis_timeout_ms, 1000), false);
  std::string body;
  const int waiter = open_waiter();
  while (!stopping_) {
    // Between requests on a kept connection libfcgi reads it; without one, wait for a new one.
    if (request.ipcFd >= 0) slot.idle_fd = request.ipcFd;
    else if (!wait_for_connection(waiter)) continue;
    const int status = FCGX_Accept_r(&request);
    slot.idle_fd.exchange(-1);
    if (status < 0) {
      // Another thread (or process) took the connection first: back to waiting.
      if (status == -EAGAIN || status == -EWOULDBLOCK || status == -EINTR || stopping_) continue;
      spdlog::error("FastCGI accept failed: \"{}\"; retrying in 100 ms", std::strerror(-status));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    ++in_flight_;
    if (const std::uint64_t generation = config_generation_.load(); generation != config_seen) {
      config_seen = generation;
      config = config_.load();
    }
    Context context{*config, store_, metrics_, spool_, redis, view_redis, body};
    handle(request, context);
    // While stopping, the connection is closed after this answer, so nginx sends no more on it.
    if (stopping_) request.keepConnection = 0;
    FCGX_Finish_r(&request);
    --in_flight_;
    // A large body's buffer is not kept between requests.
    if (body.capacity() > 1024 * 1024) std::string().swap(body);
  }
  FCGX_Free(&request, 1);
  close(waiter);
  --running_threads_;
}

}  // namespace boardhook::handler
