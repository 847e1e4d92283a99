/*
 * ADS leak-snapshot shim, LD_PRELOADed next to liblsan.so.0 into an unmodified service.
 *
 * Why: a service that loops forever never reaches LeakSanitizer's at-exit report, and the
 * kernel's OOM SIGKILL leaves no report at all. This shim blocks SIGUSR2 in the process and
 * waits for it on a thread of its own (sigwait, so nothing runs in a signal handler); on each
 * SIGUSR2 it asks LeakSanitizer for a recoverable leak check and writes the report to
 * $ADS_LSAN_DIR/snapshot-<pid>-<n>.txt, then creates snapshot-<pid>-<n>.done so the reader
 * knows the report is complete. Comparing snapshots, the allocation site whose leaked bytes
 * grow is the leak; a one-off leak stays flat.
 *
 * Compiled at run time by ads.actions.lsan with: gcc -shared -fPIC -O2 -o shim.so lsan_shim.c
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern int __lsan_do_recoverable_leak_check(void);

static sigset_t ads_snapshot_signals;

static void ads_write_snapshot(const char *dir, unsigned n) {
    char report[4096], done[4096];
    pid_t pid = getpid();
    snprintf(report, sizeof report, "%s/snapshot-%d-%03u.txt", dir, (int)pid, n);
    snprintf(done, sizeof done, "%s/snapshot-%d-%03u.done", dir, (int)pid, n);
    int fd = open(report, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return;
    }
    /* LeakSanitizer writes its report to fd 2: point fd 2 at the snapshot file meanwhile. */
    int saved = dup(2);
    dup2(fd, 2);
    __lsan_do_recoverable_leak_check();
    if (saved >= 0) {
        dup2(saved, 2);
        close(saved);
    }
    close(fd);
    int marker = open(done, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (marker >= 0) {
        close(marker);
    }
}

static void *ads_snapshot_thread(void *unused) {
    (void)unused;
    const char *dir = getenv("ADS_LSAN_DIR");
    unsigned n = 0;
    for (;;) {
        int sig = 0;
        if (sigwait(&ads_snapshot_signals, &sig) != 0 || dir == NULL) {
            continue;
        }
        ads_write_snapshot(dir, ++n);
    }
    return NULL;
}

__attribute__((constructor)) static void ads_lsan_shim_init(void) {
    sigemptyset(&ads_snapshot_signals);
    sigaddset(&ads_snapshot_signals, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &ads_snapshot_signals, NULL);
    pthread_t thread;
    if (pthread_create(&thread, NULL, ads_snapshot_thread, NULL) == 0) {
        pthread_detach(thread);
    }
}
