/*
 * addon.c — the model server's native side (a small Node-API addon): what JavaScript cannot do with a
 * C VMM's channel. It receives descriptors over the socketpair (SCM_RIGHTS), maps memory objects as
 * external ArrayBuffers (the mailbox, the VMM's guest memory: shared, never copied), waits on and wakes
 * the mailbox futexes, and exits the server the moment the VMM's end of the socket goes away.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mailbox.h"

/* The sanitizer build (scripts/sanitize.sh at the repository root) preloads the ASan runtime into every
 * process with LeakSanitizer's own exit check off, since compilers and shells leak by design; a process
 * that loads this library asks for the check itself. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
__attribute__((constructor)) static void hvspec_leak_check_at_exit(void) { atexit(__lsan_do_leak_check); }
#endif

#define CHECK(env, call)                                   \
  do {                                                     \
    if ((call) != napi_ok) {                               \
      napi_throw_error((env), NULL, "hvspec addon: " #call); \
      return NULL;                                         \
    }                                                      \
  } while (0)

static _Atomic uint32_t *word(uint8_t *base, uint32_t offset) { return (_Atomic uint32_t *)(void *)(base + offset); }

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *timeout) {
  return syscall(SYS_futex, (uint32_t *)addr, op, val, timeout, NULL, 0);
}

static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "hvspec addon: missing arguments");
    return false;
  }
  return true;
}

static bool get_i64(napi_env env, napi_value v, int64_t *out, const char *name) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a number", name);
    napi_throw_type_error(env, NULL, msg);
    return false;
  }
  return true;
}

/* A call whose first argument is a descriptor: its `want` arguments, and the descriptor as a number. */
static bool get_fd_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, int64_t *fd) {
  return get_args(env, info, want, argv) && get_i64(env, argv[0], fd, "fd");
}

/* A call whose only argument is a descriptor. */
static bool get_fd_arg(napi_env env, napi_callback_info info, int64_t *fd) {
  napi_value argv[1];
  return get_fd_args(env, info, 1, argv, fd);
}

/* A system call restarted for as long as a signal interrupts it; its result. */
#define RETRY_EINTR(call)                   \
  ({                                        \
    ssize_t r_;                             \
    do r_ = (call);                         \
    while (r_ < 0 && errno == EINTR);       \
    r_;                                     \
  })

static uint8_t *mailbox_of(napi_env env, napi_value v) {
  void *data = NULL;
  size_t len = 0;
  if (napi_get_arraybuffer_info(env, v, &data, &len) != napi_ok || len < HVSPEC_MB_BYTES) {
    napi_throw_type_error(env, NULL, "mailbox must be the mapped mailbox ArrayBuffer");
    return NULL;
  }
  return data;
}

/* recvFd(fd) -> { message, fd } : the next message on the socket and the descriptor it carries (-1). */
static napi_value RecvFd(napi_env env, napi_callback_info info) {
  int64_t fd;
  if (!get_fd_arg(env, info, &fd)) return NULL;
  char buf[256];
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {buf, sizeof buf - 1};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t n = RETRY_EINTR(recvmsg((int)fd, &mh, MSG_CMSG_CLOEXEC));
  if (n <= 0) {
    napi_throw_error(env, NULL, n == 0 ? "the VMM closed the channel" : strerror(errno));
    return NULL;
  }
  buf[n] = '\0';
  int got = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(&got, CMSG_DATA(c), sizeof got);
  napi_value result, message, fdv;
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_create_string_utf8(env, buf, (size_t)n, &message));
  CHECK(env, napi_create_int32(env, got, &fdv));
  CHECK(env, napi_set_named_property(env, result, "message", message));
  CHECK(env, napi_set_named_property(env, result, "fd", fdv));
  return result;
}

/* send(fd, text): one message on the socket. */
static napi_value Send(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd;
  if (!get_fd_args(env, info, 2, argv, &fd)) return NULL;
  char buf[1024];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[1], buf, sizeof buf, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "text must be a string");
    return NULL;
  }
  ssize_t n = RETRY_EINTR(send((int)fd, buf, len, MSG_NOSIGNAL));
  if (n < 0) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  return NULL;
}

static void unmap(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

/* map(fd, size) -> ArrayBuffer over the memory object (MAP_SHARED); the descriptor is closed. */
static napi_value Map(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd, size;
  if (!get_fd_args(env, info, 2, argv, &fd) || !get_i64(env, argv[1], &size, "size")) return NULL;
  if (size <= 0) {
    napi_throw_range_error(env, NULL, "size must be positive");
    return NULL;
  }
  void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
  int err = errno;
  close((int)fd);
  if (p == MAP_FAILED) {
    napi_throw_error(env, NULL, strerror(err));
    return NULL;
  }
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, (size_t)size, unmap, (void *)(uintptr_t)size, &ab) != napi_ok) {
    munmap(p, (size_t)size);
    napi_throw_error(env, NULL, "external ArrayBuffers are not available in this Node");
    return NULL;
  }
  return ab;
}

static uint32_t rr;

static int scan(uint8_t *mb) {
  uint32_t active = atomic_load(word(mb, HVSPEC_MB_H_ACTIVE));
  if (active > HVSPEC_MB_SLOTS) active = HVSPEC_MB_SLOTS;
  for (uint32_t k = 0; k < active; k++) {
    uint32_t i = (rr + k) % active;
    uint8_t *slot = mb + HVSPEC_MB_HEADER_BYTES + (size_t)i * HVSPEC_MB_SLOT_BYTES;
    uint32_t expected = HVSPEC_SLOT_REQUEST;
    if (atomic_compare_exchange_strong(word(slot, HVSPEC_MB_S_STATE), &expected, HVSPEC_SLOT_TAKEN)) {
      rr = i + 1;
      return (int)i;
    }
  }
  return -1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * next(mailbox, timeoutMs, spinUs) -> the slot of a pending request, or -1 when none came within the
 * timeout (0: only look). Spins for spinUs first, then sleeps on the doorbell.
 */
static napi_value Next(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t timeout_ms, spin_us;
  if (!get_args(env, info, 3, argv)) return NULL;
  uint8_t *mb = mailbox_of(env, argv[0]);
  if (mb == NULL || !get_i64(env, argv[1], &timeout_ms, "timeoutMs") || !get_i64(env, argv[2], &spin_us, "spinUs"))
    return NULL;
  int found = scan(mb);
  if (found < 0 && timeout_ms > 0) {
    uint64_t until = now_ns() + (uint64_t)spin_us * 1000ull;
    unsigned k = 0;
    while (spin_us > 0 && (found = scan(mb)) < 0) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
      if ((++k & 15) == 0 && now_ns() > until) break;
    }
    if (found < 0) {
      _Atomic uint32_t *doorbell = word(mb, HVSPEC_MB_H_DOORBELL);
      _Atomic uint32_t *sleeping = word(mb, HVSPEC_MB_H_SERVER_SLEEPING);
      uint32_t seq = atomic_load(doorbell);
      atomic_store(sleeping, 1);
      found = scan(mb);
      if (found < 0) {
        struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000};
        futex(doorbell, FUTEX_WAIT, seq, &ts);
        found = scan(mb);
      }
      atomic_store(sleeping, 0);
    }
  }
  napi_value v;
  CHECK(env, napi_create_int32(env, found, &v));
  return v;
}

/* reply(mailbox, slot): the answer written into the slot is complete; wake its thread. */
static napi_value Reply(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t i;
  if (!get_args(env, info, 2, argv)) return NULL;
  uint8_t *mb = mailbox_of(env, argv[0]);
  if (mb == NULL || !get_i64(env, argv[1], &i, "slot")) return NULL;
  if (i < 0 || i >= HVSPEC_MB_SLOTS) {
    napi_throw_range_error(env, NULL, "slot out of range");
    return NULL;
  }
  uint8_t *slot = mb + HVSPEC_MB_HEADER_BYTES + (size_t)i * HVSPEC_MB_SLOT_BYTES;
  _Atomic uint32_t *state = word(slot, HVSPEC_MB_S_STATE);
  atomic_store(state, HVSPEC_SLOT_REPLY);
  if (atomic_load(word(slot, HVSPEC_MB_S_CLIENT_WAITING))) futex(state, FUTEX_WAKE, INT_MAX, NULL);
  return NULL;
}

static void *watcher(void *arg) {
  int fd = (int)(intptr_t)arg;
  struct pollfd p = {fd, POLLRDHUP, 0};
  for (;;) {
    int r = poll(&p, 1, -1);
    if (r > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))) _exit(0);
    if (r < 0 && errno != EINTR) _exit(0);
  }
  return NULL;
}

/* watch(fd): the server process exits as soon as the VMM's end of the channel is closed. */
static napi_value Watch(napi_env env, napi_callback_info info) {
  int64_t fd;
  if (!get_fd_arg(env, info, &fd)) return NULL;
  pthread_t th;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int err = pthread_create(&th, &attr, watcher, (void *)(intptr_t)fd);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    napi_throw_error(env, NULL, strerror(err));
    return NULL;
  }
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"recvFd", NULL, RecvFd, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, Send, NULL, NULL, NULL, napi_default, NULL},
      {"map", NULL, Map, NULL, NULL, NULL, napi_default, NULL},
      {"next", NULL, Next, NULL, NULL, NULL, napi_default, NULL},
      {"reply", NULL, Reply, NULL, NULL, NULL, napi_default, NULL},
      {"watch", NULL, Watch, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
