/*
 * recorder.c — HVSPEC_TRACE: every hv_* call as a step of an hvspec trace (recorder.h).
 *
 * One lock guards the file and the tables (handle names, host buffers, runs in flight). A step is built
 * in a per-thread buffer while the call runs and written when it returns. A run that is still in flight
 * when another thread writes a step (a kick from another thread, say) is written first as an async step
 * with a label, and its result later as the matching `await` step, so that the trace keeps the order in
 * which things happened (hv_vcpu_run is the one call traces can write that way).
 *
 * Builds on Linux and, for the interposer, on macOS: the platform calls (reading the program name,
 * copying host memory that may be unmapped) are behind HVSPEC_MACOS.
 */
#define _GNU_SOURCE 1
#include "recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* The sanitizer build (scripts/sanitize.sh at the repository root) preloads the ASan runtime into every
 * process with LeakSanitizer's own exit check off, since compilers and shells leak by design; a process
 * that loads this library asks for the check itself. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
__attribute__((constructor)) static void hvspec_leak_check_at_exit(void) { atexit(__lsan_do_leak_check); }
#endif

/* HVSPEC_SYNTAX_MACOS: the macOS paths compiled syntax-only on Linux (scripts/syntax-check-macos.sh). */
#if defined(__APPLE__) || defined(HVSPEC_SYNTAX_MACOS)
#define HVSPEC_MACOS 1
#include <mach/mach.h>
#include <mach/mach_vm.h>
#endif

/* ---- logical threads -------------------------------------------------------------------------------- */

static _Atomic uint32_t g_next_thread;
static __thread int64_t t_thread = -1;

uint32_t hvspec_thread_id(void) {
  if (t_thread < 0) t_thread = atomic_fetch_add(&g_next_thread, 1);
  return (uint32_t)t_thread;
}

/* ---- growable text ---------------------------------------------------------------------------------- */

typedef struct {
  char *p;
  size_t len, cap;
  bool failed;
} text_t;

static void t_reserve(text_t *t, size_t more) {
  if (t->failed || t->len + more + 1 <= t->cap) return;
  size_t cap = t->cap ? t->cap : 256;
  while (t->len + more + 1 > cap) cap *= 2;
  char *p = realloc(t->p, cap);
  if (p == NULL) {
    t->failed = true;
    return;
  }
  t->p = p;
  t->cap = cap;
}

static void t_put(text_t *t, const char *s, size_t n) {
  t_reserve(t, n);
  if (t->failed) return;
  memcpy(t->p + t->len, s, n);
  t->len += n;
  t->p[t->len] = '\0';
}

static void t_str(text_t *t, const char *s) { t_put(t, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void t_fmt(text_t *t, const char *fmt, ...) {
  char buf[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof buf) {
    t_put(t, buf, (size_t)n);
    return;
  }
  t_reserve(t, (size_t)n);
  if (t->failed) return;
  va_start(ap, fmt);
  vsnprintf(t->p + t->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

static void t_json_string(text_t *t, const char *s) {
  t_str(t, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char esc[3] = {'\\', (char)c, 0};
      t_str(t, esc);
    } else if (c < 0x20) {
      t_fmt(t, "\\u%04x", c);
    } else {
      t_put(t, (const char *)&c, 1);
    }
  }
  t_str(t, "\"");
}

/* Numbers as the repository's traces write them: small ones plain, others as hex strings. */
static void t_number(text_t *t, uint64_t v) {
  if (v < 0x1000)
    t_fmt(t, "%llu", (unsigned long long)v);
  else
    t_fmt(t, "\"0x%llx\"", (unsigned long long)v);
}

/* ---- the trace file and its tables ---------------------------------------------------------------- */

typedef struct {
  int kind;
  uint64_t value;
  char name[24];
} handle_name_t;

typedef struct {
  uintptr_t base;
  size_t size;
  char name[24];
  uint8_t *shadow; /* the contents as the trace last wrote them (NULL: too large to follow) */
} buffer_t;

typedef struct {
  uint32_t thread;
  uint64_t label; /* 0 until the start is written as an async step */
  struct hvspec_rec *rec;
} inflight_t;

typedef struct {
  uint64_t vcpu;
  const void *exit;
} exit_pointer_t;

static struct {
  pthread_once_t once;
  pthread_mutex_t mu;
  int fd;
  off_t end; /* where the closing brackets start */
  uint64_t steps;
  bool enabled;
  handle_name_t *names;
  size_t n_names, cap_names;
  uint64_t counters[3];
  buffer_t *buffers;
  size_t n_buffers, cap_buffers;
  /* Buffers ever named (memN): a freed buffer's name is never given to another. */
  size_t buffer_names;
  inflight_t *inflight;
  size_t n_inflight, cap_inflight;
  uint64_t labels;
  exit_pointer_t *exits;
  size_t n_exits, cap_exits;
  size_t page;
} g = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

struct hvspec_rec {
  bool busy;
  unsigned flags;
  const char *call;
  uint32_t thread;
  text_t args;   /* "name": value, ... */
  text_t expect; /* "key": value, ... */
  text_t bind;   /* the name, when the call binds one */
  int list_items;
  int n_args;
};

static __thread struct hvspec_rec t_rec;
static __thread bool t_rec_owned;

/* A thread's buffers are reused by each of its calls and freed when the thread ends, so that a VMM that
 * starts and ends vCPU threads does not leak three buffers per thread (LeakSanitizer found it). */
static pthread_key_t g_rec_key;
static void free_thread_rec(void *p) {
  struct hvspec_rec *r = p;
  free(r->args.p);
  free(r->expect.p);
  free(r->bind.p);
  memset(r, 0, sizeof *r);
}

static const char TRAILER[] = "\n  ]\n}\n";
static const char *const KIND_PREFIX[] = {"cpu", "asid", "cfg"};

#define GROW(arr, n, cap)                                               \
  do {                                                                  \
    if ((n) == (cap)) {                                                 \
      size_t c_ = (cap) ? (cap) * 2 : 16;                               \
      void *p_ = realloc((arr), c_ * sizeof(*(arr)));                   \
      if (p_ == NULL) break;                                            \
      (arr) = p_;                                                       \
      (cap) = c_;                                                       \
    }                                                                   \
  } while (0)

static void write_all(const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = pwrite(g.fd, s, n, g.end);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      g.enabled = false; /* a full disk must not take the VMM down; the trace stops here */
      return;
    }
    s += w;
    n -= (size_t)w;
    g.end += w;
  }
}

/* Appends one step and rewrites the closing brackets after it. Called with g.mu held. */
static void append_step(const char *json, size_t len) {
  if (!g.enabled) return;
  if (g.steps++ > 0) write_all(",\n    ", 6);
  else write_all("\n    ", 5);
  write_all(json, len);
  if (!g.enabled) return;
  off_t at = g.end;
  ssize_t w = pwrite(g.fd, TRAILER, sizeof TRAILER - 1, at);
  (void)w;
}

static void program_name(char *out, size_t n) {
  out[0] = '\0';
#ifdef HVSPEC_MACOS
  snprintf(out, n, "%s", getprogname());
#else
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t r = read(fd, out, n - 1);
    close(fd);
    out[r > 0 ? r : 0] = '\0';
  }
#endif
  if (out[0] == '\0') snprintf(out, n, "a VMM");
}

static void disable_in_child(void) {
  /* A forked child shares the file with its parent: it records nothing. */
  g.enabled = false;
  g.fd = -1;
}

static void open_trace(void) {
  const char *path = getenv("HVSPEC_TRACE");
  if (path == NULL || path[0] == '\0') return;
  if (pthread_key_create(&g_rec_key, free_thread_rec) != 0) return; /* not recording, rather than leaking */
  char file[4096];
  /* %p in the name is the process id, so that several VMMs can record side by side. */
  size_t o = 0;
  for (const char *s = path; *s && o + 24 < sizeof file; s++) {
    if (s[0] == '%' && s[1] == 'p') {
      o += (size_t)snprintf(file + o, sizeof file - o, "%ld", (long)getpid());
      s++;
    } else {
      file[o++] = *s;
    }
  }
  file[o] = '\0';
  g.fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (g.fd < 0) {
    fprintf(stderr, "hvspec: HVSPEC_TRACE=%s: %s; not recording\n", file, strerror(errno));
    return;
  }
  long page = sysconf(_SC_PAGESIZE);
  g.page = page > 0 ? (size_t)page : 4096;
  char prog[256];
  program_name(prog, sizeof prog);
  text_t h = {0};
  t_str(&h, "{\n  \"format\": \"hvspec-trace/1\",\n  \"arch\": ");
  t_json_string(&h, hvspec_rec_arch);
  t_str(&h, ",\n  \"title\": ");
  char title[400];
  snprintf(title, sizeof title, "%s: its hv_* calls as recorded by %s", prog, hvspec_rec_library);
  t_json_string(&h, title);
  t_str(&h, ",\n  \"description\": ");
  char desc[600];
  snprintf(desc, sizeof desc,
           "Recorded with HVSPEC_TRACE by %s (process %ld). Threads are numbered in the order of their first "
           "hv_* call. expect holds what each call returned; host_alloc/host_write steps hold the host "
           "memory the mappings use and the VMM's writes to it before each run.",
           hvspec_rec_library, (long)getpid());
  t_json_string(&h, desc);
  t_str(&h, ",\n  \"steps\": [");
  g.enabled = !h.failed;
  g.end = 0;
  if (g.enabled) write_all(h.p, h.len);
  free(h.p);
  if (g.enabled) {
    ssize_t w = pwrite(g.fd, TRAILER, sizeof TRAILER - 1, g.end);
    (void)w;
  }
  pthread_atfork(NULL, NULL, disable_in_child);
}

/* ---- handle names -------------------------------------------------------------------------------- */

static const char *name_of(int kind, uint64_t v) {
  for (size_t i = g.n_names; i-- > 0;)
    if (g.names[i].kind == kind && g.names[i].value == v) return g.names[i].name;
  return NULL;
}

static const char *bind_name(int kind, uint64_t v) {
  for (size_t i = 0; i < g.n_names; i++)
    if (g.names[i].kind == kind && g.names[i].value == v) {
      /* The handle is handed out again: the new object gets a new name; the old one is gone. */
      g.names[i] = g.names[--g.n_names];
      break;
    }
  GROW(g.names, g.n_names, g.cap_names);
  if (g.n_names == g.cap_names) return NULL;
  handle_name_t *h = &g.names[g.n_names++];
  h->kind = kind;
  h->value = v;
  snprintf(h->name, sizeof h->name, "%s%llu", KIND_PREFIX[kind], (unsigned long long)g.counters[kind]++);
  return h->name;
}

/* ---- host memory ---------------------------------------------------------------------------------- */

/* Copies host memory the VMM named, failing (not faulting) where it is not mapped. */
static bool safe_copy(void *dst, uintptr_t src, size_t len) {
#ifdef HVSPEC_MACOS
  mach_vm_size_t got = 0;
  return mach_vm_read_overwrite(mach_task_self(), (mach_vm_address_t)src, len, (mach_vm_address_t)(uintptr_t)dst,
                                &got) == KERN_SUCCESS &&
         got == len;
#else
  while (len > 0) {
    struct iovec local = {dst, len}, remote = {(void *)src, len};
    ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (n <= 0) return false;
    dst = (uint8_t *)dst + n;
    src += (size_t)n;
    len -= (size_t)n;
  }
  return true;
#endif
}

static void hex_bytes(text_t *t, const uint8_t *b, size_t n) {
  static const char digits[] = "0123456789abcdef";
  t_reserve(t, 2 * n);
  if (t->failed) return;
  for (size_t i = 0; i < n; i++) {
    t->p[t->len++] = digits[b[i] >> 4];
    t->p[t->len++] = digits[b[i] & 15];
  }
  t->p[t->len] = '\0';
}

/* host_write steps for bytes [from, to) of a buffer, at most 4 KiB each. Called with g.mu held. */
static void write_bytes(const buffer_t *b, size_t from, size_t to, const uint8_t *bytes) {
  while (from < to) {
    size_t n = to - from > 4096 ? 4096 : to - from;
    text_t s = {0};
    t_str(&s, "{\"call\": \"host_write\", \"args\": {\"mem\": ");
    t_json_string(&s, b->name);
    t_str(&s, ", \"offset\": ");
    t_number(&s, from);
    t_str(&s, ", \"bytes\": \"");
    hex_bytes(&s, bytes + from, n);
    t_str(&s, "\"}}");
    if (!s.failed) append_step(s.p, s.len);
    free(s.p);
    from += n;
  }
}

/* Writes the differences between `now` and the buffer's shadow, and takes `now` as the new shadow. */
static void write_changes(buffer_t *b, const uint8_t *now) {
  size_t i = 0;
  while (i < b->size) {
    if (b->shadow[i] == now[i]) {
      i++;
      continue;
    }
    size_t start = i, last = i;
    /* A change run ends after 32 equal bytes, so that nearby changes share a step. */
    for (size_t j = i + 1; j < b->size && j <= last + 32; j++)
      if (b->shadow[j] != now[j]) last = j;
    write_bytes(b, start, last + 1, now);
    i = last + 1;
  }
  memcpy(b->shadow, now, b->size);
}

/* Buffers larger than this are mapped in the trace but their contents are not followed. */
#define MAX_FOLLOWED ((size_t)256 << 20)

static buffer_t *buffer_for(uintptr_t uva, uint64_t extent) {
  uintptr_t end = uva + (extent ? extent : 1);
  for (size_t i = g.n_buffers; i-- > 0;) {
    buffer_t *b = &g.buffers[i];
    if (uva >= b->base && end <= b->base + b->size && end > uva) return b;
  }
  GROW(g.buffers, g.n_buffers, g.cap_buffers);
  if (g.n_buffers == g.cap_buffers) return NULL;
  uintptr_t base = uva & ~(uintptr_t)(g.page - 1);
  uintptr_t top = (end + g.page - 1) & ~(uintptr_t)(g.page - 1);
  if (top <= base) return NULL; /* wraps: the call fails; no buffer to name */
  buffer_t *b = &g.buffers[g.n_buffers++];
  b->base = base;
  b->size = top - base;
  snprintf(b->name, sizeof b->name, "mem%zu", g.buffer_names++);
  text_t s = {0};
  t_str(&s, "{\"call\": \"host_alloc\", \"args\": {\"name\": ");
  t_json_string(&s, b->name);
  t_str(&s, ", \"size\": ");
  t_number(&s, b->size);
  t_str(&s, "}}");
  if (!s.failed) append_step(s.p, s.len);
  free(s.p);
  b->shadow = b->size <= MAX_FOLLOWED ? calloc(1, b->size) : NULL;
  if (b->shadow != NULL) {
    uint8_t *now = malloc(b->size);
    if (now != NULL && safe_copy(now, b->base, b->size)) write_changes(b, now);
    free(now);
  }
  return b;
}

/* Before a run: the VMM's writes since the last run, as host_write steps. After it: the new shadow. */
static void sync_buffers(bool write) {
  for (size_t i = 0; i < g.n_buffers; i++) {
    buffer_t *b = &g.buffers[i];
    if (b->shadow == NULL) continue;
    uint8_t *now = malloc(b->size);
    if (now != NULL && safe_copy(now, b->base, b->size)) {
      if (write) write_changes(b, now);
      else memcpy(b->shadow, now, b->size);
    }
    free(now);
  }
}

/* ---- runs in flight ------------------------------------------------------------------------------- */

static void step_text(text_t *s, const struct hvspec_rec *r, bool start_of_async, uint64_t label) {
  t_str(s, "{");
  if (r->thread != 0) t_fmt(s, "\"thread\": %u, ", r->thread);
  t_str(s, "\"call\": ");
  t_json_string(s, r->call);
  t_str(s, ", \"args\": {");
  if (r->args.len) t_put(s, r->args.p, r->args.len);
  t_str(s, "}");
  if (start_of_async) {
    t_fmt(s, ", \"async\": true, \"label\": \"run%llu\"", (unsigned long long)label);
  } else {
    if (r->expect.len) {
      t_str(s, ", \"expect\": {");
      t_put(s, r->expect.p, r->expect.len);
      t_str(s, "}");
    }
    if (r->bind.len) {
      t_str(s, ", \"bind\": ");
      t_json_string(s, r->bind.p);
    }
  }
  t_str(s, "}");
}

/* Writes the start of every run in flight as an async step. Called with g.mu held, before any step. */
static void flush_inflight(const struct hvspec_rec *except) {
  for (size_t i = 0; i < g.n_inflight; i++) {
    inflight_t *f = &g.inflight[i];
    if (f->label != 0 || f->rec == except) continue;
    f->label = ++g.labels;
    text_t s = {0};
    step_text(&s, f->rec, true, f->label);
    if (!s.failed) append_step(s.p, s.len);
    free(s.p);
  }
}

/* ---- the API ------------------------------------------------------------------------------------- */

static void arg_name(hvspec_rec_t *r, const char *name) {
  if (r->n_args++) t_str(&r->args, ", ");
  t_json_string(&r->args, name);
  t_str(&r->args, ": ");
}

static void expect_key(hvspec_rec_t *r, const char *key) {
  if (r->expect.len) t_str(&r->expect, ", ");
  t_json_string(&r->expect, key);
  t_str(&r->expect, ": ");
}

hvspec_rec_t *hvspec_rec_begin(const char *call, unsigned flags) {
  pthread_once(&g.once, open_trace);
  if (!g.enabled) return NULL;
  hvspec_rec_t *r = &t_rec;
  if (r->busy) return NULL;
  if (!t_rec_owned) t_rec_owned = pthread_setspecific(g_rec_key, r) == 0;
  r->busy = true;
  r->flags = flags;
  r->call = call;
  r->thread = hvspec_thread_id();
  r->args.len = r->expect.len = r->bind.len = 0;
  r->args.failed = r->expect.failed = r->bind.failed = false;
  if (r->args.p) r->args.p[0] = '\0';
  r->n_args = 0;
  r->list_items = 0;
  return r;
}

static const char *vocab_name(const hvspec_vocab_t *vocab, uint64_t v) {
  if (vocab == NULL) return NULL;
  for (uint32_t i = 0; i < vocab->count; i++)
    if (vocab->names[i].value == v) return vocab->names[i].name;
  return NULL;
}

void hvspec_rec_int(hvspec_rec_t *r, const char *name, uint64_t v, const hvspec_vocab_t *vocab) {
  arg_name(r, name);
  const char *n = vocab_name(vocab, v);
  if (n) t_json_string(&r->args, n);
  else t_number(&r->args, v);
}

void hvspec_rec_flags(hvspec_rec_t *r, const char *name, uint64_t v, const hvspec_vocab_t *vocab) {
  arg_name(r, name);
  /* A list of single-bit names when every set bit has one; the number otherwise. */
  bool named = v != 0 && vocab != NULL;
  for (uint64_t bit = 1; named && bit != 0; bit <<= 1)
    if ((v & bit) && vocab_name(vocab, bit) == NULL) named = false;
  if (!named) {
    t_number(&r->args, v);
    return;
  }
  t_str(&r->args, "[");
  bool first = true;
  for (uint64_t bit = 1; bit != 0; bit <<= 1) {
    if (!(v & bit)) continue;
    if (!first) t_str(&r->args, ", ");
    first = false;
    t_json_string(&r->args, vocab_name(vocab, bit));
  }
  t_str(&r->args, "]");
}

void hvspec_rec_bool(hvspec_rec_t *r, const char *name, bool v) {
  arg_name(r, name);
  t_str(&r->args, v ? "true" : "false");
}

static void u128_text(text_t *t, const uint8_t *b) {
  int top = 15;
  while (top > 0 && b[top] == 0) top--;
  t_str(t, "\"0x");
  t_fmt(t, "%x", b[top]);
  for (int i = top - 1; i >= 0; i--) t_fmt(t, "%02x", b[i]);
  t_str(t, "\"");
}

void hvspec_rec_u128(hvspec_rec_t *r, const char *name, const void *bytes16) {
  arg_name(r, name);
  u128_text(&r->args, bytes16);
}

static void handle_text(text_t *t, int kind, uint64_t v) {
  pthread_mutex_lock(&g.mu);
  const char *n = name_of(kind, v);
  char ref[32];
  if (n) snprintf(ref, sizeof ref, "$%s", n);
  pthread_mutex_unlock(&g.mu);
  if (n) t_json_string(t, ref);
  else t_number(t, v);
}

void hvspec_rec_handle(hvspec_rec_t *r, const char *name, int kind, uint64_t v) {
  arg_name(r, name);
  handle_text(&r->args, kind, v);
}

void hvspec_rec_config(hvspec_rec_t *r, const char *name, const void *config) {
  arg_name(r, name);
  if (config == NULL) t_str(&r->args, "null");
  else handle_text(&r->args, HVSPEC_KIND_CONFIG, (uint64_t)(uintptr_t)config);
}

void hvspec_rec_uva(hvspec_rec_t *r, const char *name, const void *uva, uint64_t extent) {
  arg_name(r, name);
  pthread_mutex_lock(&g.mu);
  flush_inflight(r);
  buffer_t *b = buffer_for((uintptr_t)uva, extent);
  char mem[24] = "";
  uint64_t offset = 0;
  if (b) {
    snprintf(mem, sizeof mem, "%s", b->name);
    offset = (uintptr_t)uva - b->base;
  }
  pthread_mutex_unlock(&g.mu);
  if (!b) {
    /* A range that wraps around the address space has no buffer: recorded as a raw number. */
    t_number(&r->args, (uint64_t)(uintptr_t)uva);
    return;
  }
  t_str(&r->args, "{\"mem\": ");
  t_json_string(&r->args, mem);
  t_str(&r->args, ", \"offset\": ");
  t_number(&r->args, offset);
  t_str(&r->args, "}");
}

void hvspec_rec_list_begin(hvspec_rec_t *r, const char *name) {
  arg_name(r, name);
  t_str(&r->args, "[");
  r->list_items = 0;
}

void hvspec_rec_list_handle(hvspec_rec_t *r, int kind, uint64_t v) {
  if (r->list_items++) t_str(&r->args, ", ");
  handle_text(&r->args, kind, v);
}

void hvspec_rec_list_end(hvspec_rec_t *r) { t_str(&r->args, "]"); }

void hvspec_rec_bytes(hvspec_rec_t *r, const char *name, const void *bytes, uint64_t len) {
  arg_name(r, name);
  t_str(&r->args, "\"");
  if (bytes != NULL) hex_bytes(&r->args, bytes, (size_t)len);
  t_str(&r->args, "\"");
}

void hvspec_rec_call(hvspec_rec_t *r) {
  if (!(r->flags & HVSPEC_REC_RUN)) return;
  pthread_mutex_lock(&g.mu);
  flush_inflight(r);
  sync_buffers(true);
  if (r->flags & HVSPEC_REC_ASYNC) {
    GROW(g.inflight, g.n_inflight, g.cap_inflight);
    if (g.n_inflight < g.cap_inflight) g.inflight[g.n_inflight++] = (inflight_t){r->thread, 0, r};
  }
  pthread_mutex_unlock(&g.mu);
}

void hvspec_rec_ret(hvspec_rec_t *r, uint32_t code) {
  expect_key(r, "ret");
  const char *n = hvspec_return_name(code);
  if (n) t_json_string(&r->expect, n);
  else t_fmt(&r->expect, "%u", code);
}

void hvspec_rec_value_int(hvspec_rec_t *r, uint64_t v) {
  expect_key(r, "value");
  t_number(&r->expect, v);
}

void hvspec_rec_value_bool(hvspec_rec_t *r, bool v) {
  expect_key(r, "value");
  t_str(&r->expect, v ? "true" : "false");
}

void hvspec_rec_value_u128(hvspec_rec_t *r, const void *bytes16) {
  expect_key(r, "value");
  u128_text(&r->expect, bytes16);
}

void hvspec_rec_bind_handle(hvspec_rec_t *r, int kind, uint64_t v) {
  pthread_mutex_lock(&g.mu);
  const char *n = bind_name(kind, v);
  if (n) t_str(&r->bind, n);
  pthread_mutex_unlock(&g.mu);
}

void hvspec_rec_bind_config(hvspec_rec_t *r, const void *config) {
  hvspec_rec_bind_handle(r, HVSPEC_KIND_CONFIG, (uint64_t)(uintptr_t)config);
}

void hvspec_rec_value_list(hvspec_rec_t *r, const uint64_t *values, uint32_t n) {
  expect_key(r, "value");
  t_str(&r->expect, "[");
  for (uint32_t i = 0; i < n; i++) {
    if (i) t_str(&r->expect, ", ");
    t_number(&r->expect, values[i]);
  }
  t_str(&r->expect, "]");
}

void hvspec_rec_value_record(hvspec_rec_t *r, const char *const *names, const uint64_t *values, uint32_t n) {
  expect_key(r, "value");
  t_str(&r->expect, "{");
  for (uint32_t i = 0; i < n; i++) {
    if (i) t_str(&r->expect, ", ");
    t_json_string(&r->expect, names[i]);
    t_str(&r->expect, ": ");
    t_number(&r->expect, values[i]);
  }
  t_str(&r->expect, "}");
}

void hvspec_rec_bind_memory(hvspec_rec_t *r, const void *base, uint64_t size) {
  pthread_mutex_lock(&g.mu);
  GROW(g.buffers, g.n_buffers, g.cap_buffers);
  if (g.n_buffers < g.cap_buffers && size > 0) {
    buffer_t *b = &g.buffers[g.n_buffers++];
    b->base = (uintptr_t)base;
    b->size = (size_t)size;
    snprintf(b->name, sizeof b->name, "mem%zu", g.buffer_names++);
    /* Fresh anonymous memory reads as zero: the shadow starts so, and later writes are diffed from it. */
    b->shadow = b->size <= MAX_FOLLOWED ? calloc(1, b->size) : NULL;
    t_str(&r->bind, b->name);
  }
  pthread_mutex_unlock(&g.mu);
}

void hvspec_rec_forget_memory(hvspec_rec_t *r, const void *base) {
  (void)r;
  pthread_mutex_lock(&g.mu);
  for (size_t i = g.n_buffers; i-- > 0;)
    if (g.buffers[i].base == (uintptr_t)base) {
      free(g.buffers[i].shadow);
      g.buffers[i] = g.buffers[--g.n_buffers];
      break;
    }
  pthread_mutex_unlock(&g.mu);
}

void hvspec_rec_exit_pointer(hvspec_rec_t *r, uint64_t vcpu, const void *exit) {
  (void)r;
  pthread_mutex_lock(&g.mu);
  size_t i = 0;
  while (i < g.n_exits && g.exits[i].vcpu != vcpu) i++;
  if (i == g.n_exits) {
    GROW(g.exits, g.n_exits, g.cap_exits);
    if (g.n_exits < g.cap_exits) g.n_exits++;
  }
  if (i < g.n_exits) g.exits[i] = (exit_pointer_t){vcpu, exit};
  pthread_mutex_unlock(&g.mu);
}

void hvspec_rec_exit(hvspec_rec_t *r, uint64_t vcpu) {
  const uint8_t *e = NULL;
  pthread_mutex_lock(&g.mu);
  for (size_t i = 0; i < g.n_exits; i++)
    if (g.exits[i].vcpu == vcpu) e = g.exits[i].exit;
  pthread_mutex_unlock(&g.mu);
  if (e == NULL) return;
  /* hv_vcpu_exit_t: reason (uint32) @0, syndrome @8, virtual_address @16, physical_address @24. */
  uint32_t reason;
  uint64_t syndrome, va, pa;
  memcpy(&reason, e, 4);
  memcpy(&syndrome, e + 8, 8);
  memcpy(&va, e + 16, 8);
  memcpy(&pa, e + 24, 8);
  expect_key(r, "exit");
  t_str(&r->expect, "{\"reason\": ");
  const char *n = vocab_name(hvspec_rec_exit_reason_vocab(), reason);
  if (n) t_json_string(&r->expect, n);
  else t_fmt(&r->expect, "%u", reason);
  t_fmt(&r->expect, ", \"syndrome\": \"0x%llx\", \"virtual_address\": \"0x%llx\", \"physical_address\": \"0x%llx\"}",
        (unsigned long long)syndrome, (unsigned long long)va, (unsigned long long)pa);
}

void hvspec_rec_end(hvspec_rec_t *r) {
  pthread_mutex_lock(&g.mu);
  uint64_t label = 0;
  bool inflight = false;
  for (size_t i = 0; i < g.n_inflight; i++)
    if (g.inflight[i].rec == r) {
      label = g.inflight[i].label;
      g.inflight[i] = g.inflight[--g.n_inflight];
      inflight = true;
      break;
    }
  (void)inflight;
  flush_inflight(r);
  text_t s = {0};
  if (label != 0) {
    t_fmt(&s, "{\"call\": \"await\", \"args\": {\"label\": \"run%llu\"}", (unsigned long long)label);
    if (r->expect.len) {
      t_str(&s, ", \"expect\": {");
      t_put(&s, r->expect.p, r->expect.len);
      t_str(&s, "}");
    }
    t_str(&s, "}");
  } else {
    step_text(&s, r, false, 0);
  }
  if (!s.failed && !r->args.failed && !r->expect.failed) append_step(s.p, s.len);
  free(s.p);
  /* What the guest itself wrote during the run is not the VMM's: the next diff starts from here. */
  if (r->flags & HVSPEC_REC_RUN) sync_buffers(false);
  pthread_mutex_unlock(&g.mu);
  r->busy = false;
}
