/* symbols_app.c: the stripped test binary of test_symbols.sh: its main thread
 * blocks in nanosleep under a chain of static functions, which a stripped
 * binary names only through its separate debug info. Prints its pid. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long rounds;

/* noinline and work after each call: every function keeps its frame */
static __attribute__((noinline)) void app_wait_deep(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	rounds++;
}

static __attribute__((noinline)) void app_middle(void)
{
	app_wait_deep();
	rounds++;
}

static __attribute__((noinline)) void app_outer(void)
{
	for (;;) {
		app_middle();
		rounds++;
	}
}

int main(void)
{
	printf("%d\n", (int)getpid());
	fflush(stdout);
	app_outer();
	return 0;
}
