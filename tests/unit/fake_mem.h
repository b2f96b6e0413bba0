/* fake_mem.h — the unit tests' allocator: counts live blocks and can fail the Nth allocation. */
#ifndef ES_FAKE_MEM_H
#define ES_FAKE_MEM_H
#include <stddef.h>

void fake_mem_fail_after(long n); /* the allocation after n more succeed fails; -1 = never */
long fake_mem_live(void);         /* blocks allocated and not yet freed */
long fake_mem_count(void);        /* allocations made so far */
#endif
