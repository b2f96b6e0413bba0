/*
** unit_support.h — what every domain unit test shares: the per-test allocator fixture (setup
** gives each test a working fake_mem allocator and notes the blocks alive; teardown puts the
** allocator back and asserts that nothing leaked) and assert_str, an exact comparison of two
** strings either of which may be NULL. Header-only: each test program gets its own copy.
*/
#ifndef ES_UNIT_SUPPORT_H
#define ES_UNIT_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "fake_mem.h"

/* fake_mem_live() when the current test began (set by unit_setup). */
static long live_at_start;

/* cmocka setup: no allocation fails, and the blocks alive now are the ones to come back to. */
static inline int unit_setup(void **state) {
  (void)state;
  fake_mem_fail_after(-1);
  live_at_start = fake_mem_live();
  return 0;
}

/* cmocka teardown: no allocation fails any more, and every block the test allocated was freed. */
static inline int unit_teardown(void **state) {
  (void)state;
  fake_mem_fail_after(-1);
  assert_int_equal(fake_mem_live(), live_at_start);
  return 0;
}

/* got must be exactly want (both NULL counts as equal; one NULL does not). */
static inline void assert_str(const char *got, const char *want) {
  if (!got && !want) return;
  if (!got || !want || strcmp(got, want) != 0)
    fail_msg("got      <%s>\nexpected <%s>", got ? got : "(NULL)", want ? want : "(NULL)");
}

#endif
