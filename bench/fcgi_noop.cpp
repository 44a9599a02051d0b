// fcgi_noop.cpp -- boardhook-bench-fcgi-noop: answers every FastCGI request 200 at once, the ceiling of nginx -> FastCGI.
//
// The benchmark's reference for "the bare protocol": what boardhook-handler would cost if its
// job (parse, validate, hash, MULTI/EXEC) were free. It keeps the handler's threading model
// so that the difference between the two is the job and nothing else: N threads per process,
// each calling FCGX_Accept_r on the one shared listening socket without a lock (with kept
// connections a thread waits in FCGX_Accept_r on its own connection, so a lock would stall
// the others; Linux lets several threads accept() on one socket), the listening socket
// inherited on fd 0 as spawn-fcgi and boardhook-handler take it, and optionally several
// processes on that socket.
//
//     boardhook-bench-fcgi-noop [--threads N] [--processes N] [--listen unix:/path|host:port]
//
// It reads each request's body to the end, as the handler does, so a kept connection stays in
// step, then answers `200 {}`. SIGTERM ends it at once (there is nothing to save), and the
// children of --processes end with their parent.
#include <fcgiapp.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr char response[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 2\r\n"
    "Cache-Control: no-store\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "\r\n"
    "{}";

// One thread: accept on the shared socket (or wait on its kept connection), drain, answer.
void serve(int listen_fd) {
  FCGX_Request request;
  FCGX_InitRequest(&request, listen_fd, 0);
  char discard[16 * 1024];
  while (FCGX_Accept_r(&request) == 0) {
    while (FCGX_GetStr(discard, sizeof discard, request.in) > 0) {
    }
    FCGX_PutStr(response, static_cast<int>(sizeof response - 1), request.out);
    FCGX_Finish_r(&request);
  }
  std::fprintf(stderr, "boardhook-bench-fcgi-noop: FCGX_Accept_r failed; thread ends\n");
}

// Parses a count in 1..limit; exits with a usage message otherwise.
int parse_count(const char* option, const char* text, int limit) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || value < 1 || value > limit) {
    std::fprintf(stderr, "boardhook-bench-fcgi-noop: %s \"%s\": expected 1-%d\n", option, text, limit);
    std::exit(2);
  }
  return static_cast<int>(value);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 80;  // boardhook-handler's BOARDHOOK_THREADS default
  int processes = 1;
  std::string listen;
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (argument == "--threads" && i + 1 < argc) {
      threads = parse_count("--threads", argv[++i], 4096);
    } else if (argument == "--processes" && i + 1 < argc) {
      processes = parse_count("--processes", argv[++i], 256);
    } else if (argument == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else {
      std::fputs("usage: boardhook-bench-fcgi-noop [--threads N] [--processes N] [--listen unix:/path|host:port]\n"
                 "  without --listen, the listening socket is fd 0 (as spawn-fcgi passes it)\n",
                 stderr);
      return 2;
    }
  }
  if (FCGX_Init() != 0) {
    std::fprintf(stderr, "boardhook-bench-fcgi-noop: libfcgi initialisation failed\n");
    return 1;
  }
  // FCGX_Init installs a SIGTERM handler that only marks a shutdown as pending, which blocked
  // threads never notice: take the default action back, so SIGTERM ends the process.
  std::signal(SIGTERM, SIG_DFL);
  std::signal(SIGPIPE, SIG_IGN);  // nginx closing a connection must not kill the process
  int listen_fd = 0;
  if (!listen.empty()) {
    const std::string address = listen.starts_with("unix:") ? listen.substr(5) : listen;
    listen_fd = FCGX_OpenSocket(address.c_str(), 1024);  // boardhook-handler's backlog
    if (listen_fd < 0) {
      std::fprintf(stderr, "boardhook-bench-fcgi-noop: --listen \"%s\": %s\n", listen.c_str(), std::strerror(errno));
      return 1;
    }
  }

  // Prefork as `boardhook-handler --processes N` does; each child dies with the parent.
  const pid_t parent = getpid();
  bool is_child = false;
  for (int i = 1; i < processes && !is_child; ++i) {
    const pid_t pid = fork();
    if (pid < 0) {
      std::fprintf(stderr, "boardhook-bench-fcgi-noop: fork: %s\n", std::strerror(errno));
      return 1;
    }
    if (pid == 0) {
      is_child = true;
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) return 0;  // the parent died before prctl took effect
    }
  }

  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) pool.emplace_back(serve, listen_fd);
  for (std::thread& thread : pool) thread.join();
  return 1;
}
