/* SPDX-License-Identifier: GPL-3.0-or-later
 * first-map CMD [ARGS…]: start CMD in a session of its own and print the milliseconds until the
 * first window is mapped on the X display ($DISPLAY), then end CMD (SIGTERM to its session) and
 * wait for it. scripts/bench.sh's `gnome` part: a launch to first frame. Exit 1 if CMD ends, or
 * 60 s pass, before a window is mapped. */
#include <X11/Xlib.h>
#include <signal.h>
#include <stdio.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double ms_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: first-map CMD [ARGS...]\n");
        return 2;
    }
    Display *d = XOpenDisplay(NULL);
    if (!d) {
        fprintf(stderr, "first-map: cannot open the display\n");
        return 2;
    }
    /* Top-level windows are children of the root: their MapNotify comes with this mask. */
    XSelectInput(d, DefaultRootWindow(d), SubstructureNotifyMask);
    XSync(d, False);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int status = 0, fd = ConnectionNumber(d);
    for (;;) {
        while (XPending(d)) {
            XEvent e;
            XNextEvent(d, &e);
            if (e.type == MapNotify) {
                printf("%.1f\n", ms_since(&t0));
                fflush(stdout);
                kill(-pid, SIGTERM);
                waitpid(pid, &status, 0);
                return 0;
            }
        }
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "first-map: %s ended before a window was mapped\n", argv[1]);
            return 1;
        }
        if (ms_since(&t0) > 60000) {
            fprintf(stderr, "first-map: no window within 60 s\n");
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            return 1;
        }
        fd_set r;
        FD_ZERO(&r);
        FD_SET(fd, &r);
        struct timeval tv = {0, 20000};
        select(fd + 1, &r, NULL, NULL, &tv);
    }
}
