#include "signals.h"

#include <signal.h>
#include <string.h>

static int g_signal;

/* The first signal wins, also when two arrive on different threads at once
 * (a lock-free compare-and-swap is async-signal-safe). */
static void on_signal(int signo)
{
	int none = 0;
	__atomic_compare_exchange_n(&g_signal, &none, signo, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

void signals_ignore_pipe(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
}

void signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART; /* slow syscalls (write, fsync) resume, not fail with EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL); /* the terminal closed: same as SIGTERM */
	signals_ignore_pipe();
}

int signals_pending(void) { return __atomic_load_n(&g_signal, __ATOMIC_SEQ_CST); }
