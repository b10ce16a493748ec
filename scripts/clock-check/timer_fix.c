/*
 * Preloaded in front of libfaketime (Debian 0.9.10) for the clock check. libfaketime moves every
 * absolute timer deadline by the fake offset, on the monotonic clocks too although
 * FAKETIME_DONT_FAKE_MONOTONIC leaves those clocks real: the deadline lands before the epoch (EINVAL)
 * or years away, so libdispatch's timers, and with them every Swift `Task.sleep`, never fire. Here
 * timers on the real clocks go to the kernel unchanged; only CLOCK_REALTIME ones are left to
 * libfaketime.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define TRACKED 65536
/* The clock of each timerfd, plus one (0: not seen). */
static unsigned char timerfd_clock[TRACKED];

int timerfd_create(int clockid, int flags) {
    int fd = (int)syscall(SYS_timerfd_create, clockid, flags);
    if (fd >= 0 && fd < TRACKED) timerfd_clock[fd] = (unsigned char)(clockid + 1);
    return fd;
}

int timerfd_settime(int fd, int flags, const struct itimerspec *new_value, struct itimerspec *old_value) {
    if ((flags & TFD_TIMER_ABSTIME) && fd >= 0 && fd < TRACKED && timerfd_clock[fd] == CLOCK_REALTIME + 1) {
        int (*faked)(int, int, const struct itimerspec *, struct itimerspec *) = dlsym(RTLD_NEXT, "timerfd_settime");
        if (faked) return faked(fd, flags, new_value, old_value);
    }
    return (int)syscall(SYS_timerfd_settime, fd, flags, new_value, old_value);
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *request, struct timespec *remain) {
    if (clock == CLOCK_REALTIME) {
        int (*faked)(clockid_t, int, const struct timespec *, struct timespec *) = dlsym(RTLD_NEXT, "clock_nanosleep");
        if (faked) return faked(clock, flags, request, remain);
    }
    return syscall(SYS_clock_nanosleep, clock, flags, request, remain) == 0 ? 0 : errno;
}
