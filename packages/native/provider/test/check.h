// check.h — the provider tests' assertions: count checks and failures, print each failure with the
// test's name, never stop at the first.
#ifndef HVSPEC_PROVIDER_TEST_CHECK_H
#define HVSPEC_PROVIDER_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include <vector>

namespace check {

inline int g_failures = 0;
inline int g_checks = 0;
inline const char *g_test = "";

// Where a helper that makes many checks was called (and the case it checks): set by a Caller for the
// helper's duration, so that a failure inside it names the line of the test, not only the helper's.
struct Site {
  const char *file;
  int line;
  const char *what;
};
inline Site g_caller{nullptr, 0, nullptr};

struct Caller {
  Site saved;
  Caller(const char *file, int line, const char *what = nullptr) : saved(g_caller) { g_caller = {file, line, what}; }
  ~Caller() { g_caller = saved; }
  Caller(const Caller &) = delete;
  Caller &operator=(const Caller &) = delete;
};

inline void print_caller() {
  if (!g_caller.file) return;
  fprintf(stderr, "  (checked for %s:%d%s%s)\n", g_caller.file, g_caller.line, g_caller.what ? ": " : "",
          g_caller.what ? g_caller.what : "");
}

struct Test {
  const char *name;
  void (*fn)();
};

// The tests of this program in the order they are defined (TEST_CASE registers each).
inline std::vector<Test> &registry() {
  static std::vector<Test> tests;
  return tests;
}

struct Registration {
  Registration(const char *name, void (*fn)()) { registry().push_back({name, fn}); }
};

// Runs every registered test, or only the one named by argv[1]; returns the process exit code.
inline int run_tests(int argc, char **argv) {
  for (const Test &t : registry()) {
    if (argc > 1 && strcmp(argv[1], t.name) != 0) continue;
    g_test = t.name;
    int before = g_failures;
    printf("%s\n", t.name);
    t.fn();
    printf("  %s\n", g_failures == before ? "ok" : "FAILED");
  }
  printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}

}  // namespace check

// Defines the test `name` (function test_<name>) and registers it to run under that name.
#define TEST_CASE(name)                                                         \
  void test_##name();                                                           \
  const check::Registration test_##name##_registration(#name, test_##name);     \
  void test_##name()

#define CHECK_EQ(actual, expected)                                                                   \
  do {                                                                                               \
    ++check::g_checks;                                                                               \
    unsigned long long a_ = static_cast<unsigned long long>(actual);                                 \
    unsigned long long e_ = static_cast<unsigned long long>(expected);                               \
    if (a_ != e_) {                                                                                  \
      ++check::g_failures;                                                                           \
      fprintf(stderr, "FAIL [%s] %s:%d: %s = 0x%llx, expected %s = 0x%llx\n", check::g_test,         \
              __FILE__, __LINE__, #actual, a_, #expected, e_);                                       \
      check::print_caller();                                                                         \
    }                                                                                                \
  } while (0)

#define CHECK(cond)                                                                                  \
  do {                                                                                               \
    ++check::g_checks;                                                                               \
    if (!(cond)) {                                                                                   \
      ++check::g_failures;                                                                           \
      fprintf(stderr, "FAIL [%s] %s:%d: %s\n", check::g_test, __FILE__, __LINE__, #cond);            \
      check::print_caller();                                                                         \
    }                                                                                                \
  } while (0)

// Calls `helper_call`, a helper that makes checks, with this line named in each of its failures.
#define CHECKED_FOR_CALLER(helper_call)          \
  do {                                           \
    check::Caller caller_(__FILE__, __LINE__);   \
    helper_call;                                 \
  } while (0)

#endif  // HVSPEC_PROVIDER_TEST_CHECK_H
