/*
 * client.c — libhvspec-model's connection to the model server (client.h).
 *
 * The server is `node <dist/server/main.js>` (Node cannot be embedded in an arbitrary VMM), started on
 * the first hv_* call by a keeper thread of the library. Only this process can reach it: the channel is
 * a socketpair inherited as fd 3 (used for the handshake and to pass memory objects) and a memfd
 * mailbox passed over it — no socket path, no port, nothing in the file system. The server dies with the
 * VMM: PR_SET_PDEATHSIG(SIGKILL) from the keeper thread (which lives as long as the process, so the
 * signal fires at process death, not at the death of whichever thread made the first call), and the
 * server also exits when the socket reports the hang-up. Shared memory is memfds only, which the kernel
 * frees when the last mapping and descriptor go: a killed VMM leaves no process, socket or memory.
 *
 * A call: the thread writes its request into its mailbox slot, sets the slot's state (release) and rings
 * the doorbell futex; it then spins briefly and sleeps on the slot's state futex until the server
 * replies. The server does the mirror image. See HVSPEC_MODEL_SPIN in the README for the spin budget.
 */
#define _GNU_SOURCE 1
#include "model/client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include HVSPEC_CALLS_HEADER

#ifndef HVSPEC_DEFAULT_NODE
#define HVSPEC_DEFAULT_NODE "node"
#endif
#ifndef HVSPEC_DEFAULT_SERVER
#define HVSPEC_DEFAULT_SERVER ""
#endif

extern char **environ;

/* Guest memory objects are sized in 16 KiB units, the arm64 page size the model uses. */
#define SHARE_UNIT ((uint64_t)16384)

typedef struct {
  uintptr_t base;
  size_t size;
  ino_t ino;
  uint64_t buffer;
} region_t;

static struct {
  pthread_once_t once;
  int ready; /* 1 running, -1 could not start */
  int sock;
  int mailbox_fd;
  uint8_t *mb;
  pid_t pid;
  bool pid_known;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  _Atomic int dead;
  _Atomic int dead_reported;
  pthread_mutex_t share_mu;
  region_t *regions;
  size_t n_regions, cap_regions;
  uint64_t spin_ns;
  bool overlap_reported;
  bool forked;
  _Atomic int forked_reported;
} m = {.once = PTHREAD_ONCE_INIT,
       .sock = -1,
       .mailbox_fd = -1,
       .mu = PTHREAD_MUTEX_INITIALIZER,
       .cv = PTHREAD_COND_INITIALIZER,
       .share_mu = PTHREAD_MUTEX_INITIALIZER};

static _Atomic uint32_t *word(uint8_t *base, uint32_t offset) { return (_Atomic uint32_t *)(void *)(base + offset); }

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *timeout) {
  /* FUTEX_WAIT / FUTEX_WAKE on a shared (not FUTEX_PRIVATE) word: the server process maps it too. */
  return syscall(SYS_futex, (uint32_t *)addr, op, val, timeout, NULL, 0);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void report(const char *fmt, const char *detail) {
  fprintf(stderr, "hvspec: libhvspec-model (%s): ", HVSPEC_ARCH_NAME);
  fprintf(stderr, fmt, detail);
  fputc('\n', stderr);
}

/* ---- starting the server ------------------------------------------------------------------------- */

typedef struct {
  const char *node;
  const char *server;
  int child_sock;
  pid_t parent;
} spawn_t;

static void *keeper(void *arg) {
  spawn_t *s = arg;
  /* Signals for the VMM go to the VMM's threads, never to this one. */
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, NULL);
  const char *node = s->node, *server = s->server;
  int child_sock = s->child_sock;
  pid_t parent = s->parent;
  pid_t pid = fork();
  if (pid == 0) {
    /* The child: only async-signal-safe calls until execve. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    if (child_sock != 3) {
      if (dup2(child_sock, 3) < 0) _exit(1);
    } else {
      fcntl(3, F_SETFD, 0);
    }
    /* Nothing of the VMM's but stdio and the channel reaches the server. */
    if (syscall(SYS_close_range, 4u, ~0u, 0u) != 0)
      for (int fd = 4; fd < 65536; fd++) close(fd);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    char *argv[] = {(char *)node, (char *)"--no-warnings", (char *)server, NULL};
    execve(node, argv, environ);
    if (strchr(node, '/') == NULL) execvpe(node, argv, environ);
    _exit(127);
  }
  pthread_mutex_lock(&m.mu);
  m.pid = pid;
  m.pid_known = true;
  pthread_cond_broadcast(&m.cv);
  pthread_mutex_unlock(&m.mu);
  if (pid > 0) {
    /* Reap the server when it ends; until then this thread keeps PR_SET_PDEATHSIG armed. */
    int status;
    pid_t w;
    do w = waitpid(pid, &status, 0);
    while (w < 0 && errno == EINTR);
    /* If the VMM reaped it first (waitpid failed), this thread must still live: the death signal is
     * tied to it, and whether the server still runs is seen on the socket. */
    if (w < 0)
      for (;;) pause();
    atomic_store(&m.dead, 1);
  }
  return NULL;
}

static bool send_fd(int fd, const char *msg) {
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct iovec iov = {(void *)msg, strlen(msg)};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do n = sendmsg(m.sock, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == (ssize_t)strlen(msg);
}

static void forked_child(void) {
  /* The server, the mailbox and the channel are the parent's; a child's calls must not use them. */
  m.forked = true;
}

static void start(void) {
  m.ready = -1;
  pthread_atfork(NULL, NULL, forked_child);
  const char *spin = getenv("HVSPEC_MODEL_SPIN");
  m.spin_ns = (spin && *spin ? strtoull(spin, NULL, 10) : 0) * 1000ull;
  const char *node = getenv("HVSPEC_NODE");
  if (node == NULL || *node == '\0') node = HVSPEC_DEFAULT_NODE;
  const char *server = getenv("HVSPEC_MODEL_SERVER");
  if (server == NULL || *server == '\0') server = HVSPEC_DEFAULT_SERVER;
  if (*server == '\0') {
    report("%s", "no model server script (set HVSPEC_MODEL_SERVER); hv_* calls return HV_UNSUPPORTED");
    return;
  }

  /* Named after the process, so that a leftover could be told apart from another VMM's (there is none:
   * memfds live only as long as a descriptor or mapping of a live process). */
  char name[64];
  snprintf(name, sizeof name, "hvspec-mailbox-%ld", (long)getpid());
  m.mailbox_fd = memfd_create(name, MFD_CLOEXEC);
  if (m.mailbox_fd < 0 || ftruncate(m.mailbox_fd, HVSPEC_MB_BYTES) != 0) {
    report("memfd_create: %s", strerror(errno));
    return;
  }
  m.mb = mmap(NULL, HVSPEC_MB_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, m.mailbox_fd, 0);
  if (m.mb == MAP_FAILED) {
    m.mb = NULL;
    report("mmap of the mailbox: %s", strerror(errno));
    return;
  }
  atomic_store(word(m.mb, HVSPEC_MB_H_MAGIC), HVSPEC_MB_MAGIC);
  atomic_store(word(m.mb, HVSPEC_MB_H_VERSION), HVSPEC_MB_VERSION);
  atomic_store(word(m.mb, HVSPEC_MB_H_SLOTS), HVSPEC_MB_SLOTS);
  atomic_store(word(m.mb, HVSPEC_MB_H_SLOT_BYTES), HVSPEC_MB_SLOT_BYTES);
  atomic_store(word(m.mb, HVSPEC_MB_H_SIGNATURE), HVSPEC_PROTOCOL_SIGNATURE);
  atomic_store(word(m.mb, HVSPEC_MB_H_ARCH), HVSPEC_ARCH_ID);

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    report("socketpair: %s", strerror(errno));
    return;
  }
  m.sock = sv[0];
  static spawn_t s;
  s = (spawn_t){node, server, sv[1], getpid()};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t th;
  int err = pthread_create(&th, &attr, keeper, &s);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    report("cannot start the keeper thread: %s", strerror(err));
    return;
  }
  pthread_mutex_lock(&m.mu);
  while (!m.pid_known) pthread_cond_wait(&m.cv, &m.mu);
  pthread_mutex_unlock(&m.mu);
  close(sv[1]);
  if (m.pid <= 0) {
    report("fork: %s", strerror(errno));
    return;
  }
  if (!send_fd(m.mailbox_fd, "HELLO")) {
    report("handshake: %s", strerror(errno));
    return;
  }
  /* The server loads Node and the model first: allow for a slow, loaded machine. */
  const char *wait_s = getenv("HVSPEC_MODEL_START_TIMEOUT");
  int timeout_ms = (wait_s && *wait_s ? atoi(wait_s) : 60) * 1000;
  struct pollfd p = {m.sock, POLLIN, 0};
  int r;
  do r = poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  char answer[512] = "";
  ssize_t n = r > 0 ? recv(m.sock, answer, sizeof answer - 1, 0) : -1;
  if (n <= 0) {
    char why[256];
    snprintf(why, sizeof why, "%s %s did not answer (%s)", node, server,
             r == 0 ? "timed out" : n == 0 ? "it exited" : strerror(errno));
    report("cannot start the model server: %s", why);
    return;
  }
  answer[n] = '\0';
  if (strcmp(answer, "OK") != 0) {
    report("the model server refused: %s", answer);
    return;
  }
  m.ready = 1;
}

/* ---- calls -------------------------------------------------------------------------------------------- */

static bool server_gone(void) {
  if (atomic_load(&m.dead)) return true;
  struct pollfd p = {m.sock, POLLRDHUP, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void raise_active(uint32_t t) {
  _Atomic uint32_t *active = word(m.mb, HVSPEC_MB_H_ACTIVE);
  uint32_t cur = atomic_load(active);
  while (cur < t + 1 && !atomic_compare_exchange_weak(active, &cur, t + 1)) {
  }
}

static __thread uint64_t t_pending[HVSPEC_MAX_PENDING * 3];
static __thread uint32_t t_npending;

bool hvspec_model_defer(uint64_t vcpu, uint64_t what, uint64_t value) {
  if (t_npending == HVSPEC_MAX_PENDING) return false;
  uint64_t *p = &t_pending[t_npending++ * 3];
  p[0] = vcpu;
  p[1] = what;
  p[2] = value;
  return true;
}

int32_t hvspec_model_call(uint32_t call, const uint64_t *args, uint32_t nargs, uint64_t *out) {
  pthread_once(&m.once, start);
  if (m.ready != 1) return HV_UNSUPPORTED;
  if (m.forked) {
    if (!atomic_exchange(&m.forked_reported, 1))
      report("%s", "hv_* calls in a forked child are not supported (the model server belongs to the parent)");
    return HV_ERROR;
  }
  if (atomic_load(&m.dead)) return HV_ERROR;
  uint32_t t = hvspec_thread_id();
  if (t >= HVSPEC_MB_SLOTS) return HV_NO_RESOURCES;
  uint8_t *slot = m.mb + HVSPEC_MB_HEADER_BYTES + (size_t)t * HVSPEC_MB_SLOT_BYTES;
  raise_active(t);
  *word(slot, HVSPEC_MB_S_CALL) = call;
  *word(slot, HVSPEC_MB_S_THREAD) = t;
  *word(slot, HVSPEC_MB_S_NARGS) = nargs;
  memcpy(slot + HVSPEC_MB_S_ARGS, args, (size_t)nargs * 8);
  *word(slot, HVSPEC_MB_S_NPENDING) = t_npending;
  if (t_npending) memcpy(slot + HVSPEC_MB_S_PENDING, t_pending, (size_t)t_npending * 24);
  t_npending = 0;
  _Atomic uint32_t *state = word(slot, HVSPEC_MB_S_STATE);
  atomic_store(state, HVSPEC_SLOT_REQUEST);
  _Atomic uint32_t *doorbell = word(m.mb, HVSPEC_MB_H_DOORBELL);
  atomic_fetch_add(doorbell, 1);
  if (atomic_load(word(m.mb, HVSPEC_MB_H_SERVER_SLEEPING))) futex(doorbell, FUTEX_WAKE, 1, NULL);

  /* A short spin catches a quick answer without two context switches; then sleep. */
  if (atomic_load_explicit(state, memory_order_acquire) != HVSPEC_SLOT_REPLY && m.spin_ns) {
    uint64_t until = now_ns() + m.spin_ns;
    unsigned k = 0;
    while (atomic_load_explicit(state, memory_order_acquire) != HVSPEC_SLOT_REPLY) {
      cpu_relax();
      if ((++k & 63) == 0 && now_ns() > until) break;
    }
  }
  if (atomic_load_explicit(state, memory_order_acquire) != HVSPEC_SLOT_REPLY) {
    _Atomic uint32_t *waiting = word(slot, HVSPEC_MB_S_CLIENT_WAITING);
    atomic_store(waiting, 1);
    uint32_t now;
    while ((now = atomic_load(state)) != HVSPEC_SLOT_REPLY) {
      /* Request or taken: sleep until it changes. The timeout only bounds how long a dead server goes
       * unnoticed; a run may take any time. */
      struct timespec ts = {0, 200 * 1000 * 1000};
      if (futex(state, FUTEX_WAIT, now, &ts) != 0 && errno == ETIMEDOUT && server_gone()) {
        atomic_store(&m.dead, 1);
        break;
      }
    }
    atomic_store(waiting, 0);
    if (atomic_load(state) != HVSPEC_SLOT_REPLY) {
      if (!atomic_exchange(&m.dead_reported, 1)) report("%s", "the model server has died; hv_* calls fail");
      return HV_ERROR;
    }
  }
  int32_t ret = (int32_t)*word(slot, HVSPEC_MB_S_RET);
  memcpy(out, slot + HVSPEC_MB_S_OUT, HVSPEC_OUT_WORDS * 8);
  atomic_store_explicit(state, HVSPEC_SLOT_IDLE, memory_order_release);
  return ret;
}

/* ---- shared guest memory ------------------------------------------------------------------------------ */

/*
 * Whether [base, end) is still the region's memory object at the same offsets: the VMM may have unmapped
 * it and mapped something else at the same address since (seen in /proc/self/maps: start-end perms
 * offset dev inode path).
 */
static bool still_shared(const region_t *r, uintptr_t base, uintptr_t end) {
  FILE *f = fopen("/proc/self/maps", "re");
  if (f == NULL) return false;
  char line[512];
  uintptr_t covered = base;
  while (fgets(line, sizeof line, f) && covered < end) {
    unsigned long long s, e, off, ino;
    char perms[8], dev[16];
    if (sscanf(line, "%llx-%llx %7s %llx %15s %llu", &s, &e, perms, &off, dev, &ino) != 6) continue;
    if (e <= covered || s > covered) continue;
    if ((ino_t)ino != r->ino || off + (covered - s) != covered - r->base) break;
    covered = e;
  }
  fclose(f);
  return covered >= end;
}

/* Registers a shared range. Called with share_mu held. */
static int32_t add_region(uintptr_t base, size_t len, ino_t ino, uint64_t buffer) {
  if (m.n_regions == m.cap_regions) {
    size_t cap = m.cap_regions ? m.cap_regions * 2 : 16;
    region_t *p = realloc(m.regions, cap * sizeof *p);
    if (p == NULL) return HV_NO_RESOURCES;
    m.regions = p;
    m.cap_regions = cap;
  }
  m.regions[m.n_regions++] = (region_t){base, len, ino, buffer};
  return HV_SUCCESS;
}

int32_t hvspec_model_share_allocation(void *base, uint64_t size, uint64_t buffer) {
  pthread_once(&m.once, start);
  if (m.ready != 1) return HV_UNSUPPORTED;
  int32_t ret = HV_SUCCESS;
  char name[64];
  snprintf(name, sizeof name, "hvspec-allocated-%ld", (long)getpid());
  pthread_mutex_lock(&m.share_mu);
  int fd = memfd_create(name, MFD_CLOEXEC);
  struct stat st;
  if (fd < 0 || ftruncate(fd, (off_t)size) != 0 || fstat(fd, &st) != 0 ||
      mmap(base, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
    ret = HV_NO_RESOURCES;
    goto out;
  }
  if (!send_fd(fd, "SHARE")) {
    ret = HV_ERROR;
    goto out;
  }
  uint64_t args[2] = {size, buffer}, reply[HVSPEC_OUT_WORDS];
  ret = hvspec_model_call(HVSPEC_SERVICE_REBIND, args, 2, reply);
  if (ret == HV_SUCCESS) ret = add_region((uintptr_t)base, (size_t)size, st.st_ino, buffer);
out:
  if (fd >= 0) close(fd);
  pthread_mutex_unlock(&m.share_mu);
  return ret;
}

void hvspec_model_unshare(const void *base, uint64_t size) {
  uintptr_t a = (uintptr_t)base, e = a + size;
  pthread_mutex_lock(&m.share_mu);
  for (size_t i = m.n_regions; i-- > 0;)
    if (m.regions[i].base >= a && m.regions[i].base + m.regions[i].size <= e)
      m.regions[i] = m.regions[--m.n_regions];
  pthread_mutex_unlock(&m.share_mu);
}

int32_t hvspec_model_scratch(uint64_t size, void **p, uint64_t *buffer, uint64_t *offset) {
  /* One area per thread, grown as needed; an outgrown one stays shared (its pages stay mapped). */
  static __thread void *area;
  static __thread uint64_t area_size;
  uint64_t want = (size + SHARE_UNIT - 1) / SHARE_UNIT * SHARE_UNIT;
  if (want == 0) want = SHARE_UNIT;
  if (area == NULL || area_size < want) {
    void *a = mmap(NULL, (size_t)want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED) return HV_NO_RESOURCES;
    area = a;
    area_size = want;
  }
  *p = area;
  return hvspec_model_share(area, area_size, buffer, offset);
}

int32_t hvspec_model_share(const void *uva, uint64_t size, uint64_t *buffer, uint64_t *offset) {
  pthread_once(&m.once, start);
  if (m.ready != 1) return HV_UNSUPPORTED;
  const uintptr_t page = 4096;
  uintptr_t a = (uintptr_t)uva;
  uint64_t extent = size ? size : 1;
  if (a + extent < a) return HV_BAD_ARGUMENT; /* wraps: no such host range */
  uintptr_t base = a & ~(page - 1);
  uintptr_t end = (a + extent + page - 1) & ~(page - 1);
  if (end < base || end == 0) return HV_BAD_ARGUMENT;
  pthread_mutex_lock(&m.share_mu);
  for (size_t i = m.n_regions; i-- > 0;) {
    region_t *r = &m.regions[i];
    if (base >= r->base && end <= r->base + r->size && still_shared(r, base, end)) {
      *buffer = r->buffer;
      *offset = a - r->base;
      pthread_mutex_unlock(&m.share_mu);
      return HV_SUCCESS;
    }
  }
  for (size_t i = 0; i < m.n_regions && !m.overlap_reported; i++)
    if (base < m.regions[i].base + m.regions[i].size && m.regions[i].base < end) {
      m.overlap_reported = true;
      report("%s",
             "hv_vm_map: a host range overlaps part of an earlier one; the overlap is no longer shared with "
             "the earlier mapping's guest addresses");
    }
  int32_t ret = HV_SUCCESS;
  size_t len = end - base;
  uint64_t object = (len + SHARE_UNIT - 1) / SHARE_UNIT * SHARE_UNIT;
  char name[64];
  snprintf(name, sizeof name, "hvspec-guest-%ld", (long)getpid());
  int fd = memfd_create(name, MFD_CLOEXEC);
  struct stat st;
  if (fd < 0 || ftruncate(fd, (off_t)object) != 0 || fstat(fd, &st) != 0) {
    ret = HV_NO_RESOURCES;
    goto out;
  }
  /* The VMM's bytes first; pwrite fails (EFAULT) instead of faulting where the range is not mapped,
   * which the framework would refuse too ("host memory must be a single VM region", hvf-facts §1.2). */
  for (size_t done = 0; done < len;) {
    ssize_t n = pwrite(fd, (const void *)(base + done), len - done, (off_t)done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ret = HV_BAD_ARGUMENT;
      goto out;
    }
    done += (size_t)n;
  }
  /* Then the object in place of the VMM's pages, at the same address, so that its pointers stay valid. */
  if (mmap((void *)base, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
    ret = HV_NO_RESOURCES;
    goto out;
  }
  if (!send_fd(fd, "SHARE")) {
    ret = HV_ERROR;
    goto out;
  }
  uint64_t args[1] = {object}, reply[HVSPEC_OUT_WORDS];
  ret = hvspec_model_call(HVSPEC_SERVICE_SHARE, args, 1, reply);
  if (ret == HV_SUCCESS) ret = add_region(base, len, st.st_ino, reply[0]);
  if (ret == HV_SUCCESS) {
    *buffer = reply[0];
    *offset = a - base;
  }
out:
  if (fd >= 0) close(fd);
  pthread_mutex_unlock(&m.share_mu);
  return ret;
}
