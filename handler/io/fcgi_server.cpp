// fcgi_server.cpp -- libfcgi request loop: read params and body, decide, store in Redis, reply.
#include "io/fcgi_server.hpp"

#include <fcgiapp.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <random>
#include <stdexcept>

#include "core/decide.hpp"
#include "io/log.hpp"
#include "io/redis_connection.hpp"

namespace boardhook::fcgi {

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
  char chunk[64 * 1024];
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

void handle(FCGX_Request& fcgi_request, const core::Config& config, io::EventStore& store, redis::Connection& redis,
            std::string& body) {
  core::Request request;
  request.received_at_ms = now_unix_ms();
  request.method = param(fcgi_request, "REQUEST_METHOD");
  request.query = param(fcgi_request, "QUERY_STRING");
  std::string generated_id;
  request.request_id = param(fcgi_request, "REQUEST_ID");
  if (!is_sane_request_id(request.request_id)) request.request_id = generated_id = make_request_id();

  const auto declared = parse_length(param(fcgi_request, "CONTENT_LENGTH"));
  const bool is_oversized = declared && *declared > config.max_body_bytes;
  // Of an oversized body only the part that is kept for inspection is held (+3 bytes so a
  // character cut at the edge can be recognised as such).
  const std::size_t keep_limit = is_oversized ? core::max_kept_body_bytes + 3 : config.max_body_bytes + 1;
  body.clear();
  if (!is_oversized && declared) body.reserve(*declared);
  const std::size_t observed = read_body(fcgi_request.in, keep_limit, body);
  request.body = body;
  request.body_bytes = std::max(observed, declared.value_or(0));

  core::Decision decision = core::decide(request, config);

  if (decision.store) {
    std::string error;
    switch (store.store_events(redis, *decision.store, request.received_at_ms, error)) {
      case io::StoreOutcome::in_redis: break;
      case io::StoreOutcome::spooled: decision.log_message += "; spooled to disk, Redis unavailable"; break;
      case io::StoreOutcome::failed:
        decision.response = core::storage_unavailable_response();
        decision.log_level = core::LogLevel::error;
        decision.log_message = "events not stored: \"" + error + "\"; answered 503 for " +
                               std::to_string(decision.store->envelopes.size()) + " event(s) of type " +
                               decision.store->event_type + " (request " + std::string(request.request_id) + ")";
        break;
    }
  }
  if (decision.reject) store.keep_rejected(redis, *decision.reject, request.received_at_ms, request.request_id);
  io::log_at(decision.log_level, decision.log_message);
  write_response(fcgi_request.out, decision.response);
}

}  // namespace

int open_listener(const std::string& listen) {
  if (listen.empty()) {
    int accepting = 0;
    socklen_t length = sizeof accepting;
    if (getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) != 0 || accepting == 0) {
      throw std::runtime_error("BOARDHOOK_LISTEN is unset and fd 0 is not a listening socket; "
                               "set BOARDHOOK_LISTEN=unix:/path or host:port");
    }
    return 0;
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

Server::Server(const core::Config& config, int listen_fd, io::EventStore& store)
    : config_(config), listen_fd_(listen_fd), store_(store) {}

Server::~Server() {
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.detach();
  }
}

void Server::start() {
  threads_.reserve(static_cast<std::size_t>(config_.threads));
  for (int i = 0; i < config_.threads; ++i) threads_.emplace_back([this] { serve(); });
}

void Server::stop_accepting() {
  stopping_ = true;
  // shutdown() wakes every thread blocked in accept() on this socket. FCGX_ShutdownPending()
  // is not used: it makes libfcgi's reads return end-of-file, which would cut off the body
  // of a request that is being served.
  shutdown(listen_fd_, SHUT_RDWR);
}

bool Server::wait_until_idle(std::chrono::milliseconds grace) const {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (in_flight_.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void Server::serve() {
  FCGX_Request request;
  FCGX_InitRequest(&request, listen_fd_, 0);
  redis::Connection redis(config_.redis, config_.redis_timeout_ms);
  std::string body;
  for (;;) {
    const int status = FCGX_Accept_r(&request);
    if (status < 0) {
      if (stopping_) break;
      spdlog::error("FastCGI accept failed: \"{}\"; retrying in 100 ms", std::strerror(-status));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    ++in_flight_;
    handle(request, config_, store_, redis, body);
    FCGX_Finish_r(&request);
    --in_flight_;
    // A large body's buffer is not kept between requests.
    if (body.capacity() > 1024 * 1024) std::string().swap(body);
  }
  FCGX_Free(&request, 1);
}

}  // namespace boardhook::fcgi
