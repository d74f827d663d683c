/*
 * nbench: the load generator of conformance-tests/l1/bench (a benchmark tool, not a test). Built statically
 * by the bench script, it runs inside the benchmark guest (block device and network sender) and in the L1
 * host (network receiver and sender), so both VMMs are measured by the same program.
 *
 *   nbench blk DEV MODE BS QD SECONDS [SPAN_MIB]
 *       MODE: read | write | randread | randwrite. O_DIRECT on DEV through Linux's native AIO (io_submit,
 *       io_getevents; raw system calls, no libaio), QD requests of BS bytes kept in flight for SECONDS
 *       (sequential modes wrap around at SPAN_MIB, default 256; random offsets are BS-aligned within it,
 *       from a fixed seed). Writes end with fdatasync (a FLUSH to the device), timed with them. Prints
 *       NBENCH blk mode=M bs=B qd=Q ops=N bytes=N seconds=S
 *   nbench udp-send IP PORT SIZE SECONDS   datagrams of SIZE bytes as fast as send() takes them
 *   nbench udp-recv PORT SECONDS           counts datagrams; prints NBENCH udp-recv packets=N bytes=N seconds=S
 *                                          (from the first datagram to the last, ending SECONDS after the first
 *                                          or after 3 s of silence)
 *   nbench tcp-send IP PORT MIB            connects (retrying for up to 600 s), sends MIB MiB, half-closes, waits for the peer's close;
 *                                          prints NBENCH tcp-send bytes=N seconds=S (connected to the peer's close)
 *   nbench tcp-recv PORT                   accepts one connection, reads to its end; prints
 *                                          NBENCH tcp-recv bytes=N seconds=S (accept to end)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "nbench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_random(void) { /* xorshift64 */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int blk(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: nbench blk DEV read|write|randread|randwrite BS QD SECONDS [SPAN_MIB]\n");
        return 2;
    }
    const char *dev = argv[2], *mode = argv[3];
    long bs = atol(argv[4]), qd = atol(argv[5]);
    double seconds = atof(argv[6]);
    long long span = (argc > 7 ? atoll(argv[7]) : 256) << 20;
    int write = strstr(mode, "write") != NULL, random = strncmp(mode, "rand", 4) == 0;
    if (bs <= 0 || bs % 512 || qd <= 0 || qd > 256 || span < bs) {
        fprintf(stderr, "nbench: bad BS, QD or SPAN\n");
        return 2;
    }
    int fd = open(dev, (write ? O_RDWR : O_RDONLY) | O_DIRECT);
    if (fd < 0) die(dev);
    aio_context_t ctx = 0;
    if (syscall(SYS_io_setup, qd, &ctx) < 0) die("io_setup");
    struct iocb *cbs = calloc(qd, sizeof *cbs);
    struct iocb **ptrs = calloc(qd, sizeof *ptrs);
    struct io_event *events = calloc(qd, sizeof *events);
    long long blocks = span / bs, seq = 0, ops = 0, inflight = 0;
    for (long i = 0; i < qd; i++) {
        void *buf;
        if (posix_memalign(&buf, 4096, bs)) die("posix_memalign");
        memset(buf, 0x5a + i, bs);
        cbs[i].aio_fildes = fd;
        cbs[i].aio_lio_opcode = write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
        cbs[i].aio_buf = (uint64_t)(uintptr_t)buf;
        cbs[i].aio_nbytes = bs;
        cbs[i].aio_data = i;
    }
    double t0 = now(), end = t0 + seconds;
    /* the first QD requests, then one new request for each one that completes, until the time is up */
    for (long i = 0; i < qd; i++) {
        cbs[i].aio_offset = (random ? (long long)(next_random() % blocks) : seq++ % blocks) * bs;
        ptrs[i] = &cbs[i];
    }
    if (syscall(SYS_io_submit, ctx, qd, ptrs) != qd) die("io_submit");
    inflight = qd;
    int stopping = 0;
    while (inflight > 0) {
        long n = syscall(SYS_io_getevents, ctx, 1, qd, events, NULL);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("io_getevents");
        }
        long again = 0;
        for (long k = 0; k < n; k++) {
            if (events[k].res != bs) {
                fprintf(stderr, "nbench: request of %ld bytes answered %lld\n", bs, (long long)events[k].res);
                return 1;
            }
            ops++;
            inflight--;
            if (!stopping && now() < end) {
                struct iocb *cb = &cbs[events[k].data];
                cb->aio_offset = (random ? (long long)(next_random() % blocks) : seq++ % blocks) * bs;
                ptrs[again++] = cb;
            } else {
                stopping = 1;
            }
        }
        if (again > 0) {
            if (syscall(SYS_io_submit, ctx, again, ptrs) != again) die("io_submit");
            inflight += again;
        }
    }
    if (write && fdatasync(fd) < 0) die("fdatasync");
    double t1 = now();
    printf("NBENCH blk mode=%s bs=%ld qd=%ld ops=%lld bytes=%lld seconds=%.3f\n", mode, bs, qd, ops, ops * bs, t1 - t0);
    return 0;
}

static struct sockaddr_in address(const char *ip, const char *port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(port))};
    if (ip == NULL) {
        a.sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
        fprintf(stderr, "nbench: bad address %s\n", ip);
        exit(2);
    }
    return a;
}

static int udp_send(char **argv) {
    struct sockaddr_in a = address(argv[2], argv[3]);
    long size = atol(argv[4]);
    double seconds = atof(argv[5]);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) die("udp socket");
    char *buf = calloc(1, size);
    long long sent = 0, refused = 0;
    double t0 = now(), end = t0 + seconds;
    while (now() < end) {
        for (int i = 0; i < 64; i++) {
            if (send(s, buf, size, 0) == size) sent++;
            else refused++; /* ENOBUFS or ECONNREFUSED: the rate is what the receiver counts */
        }
    }
    printf("NBENCH udp-send packets=%lld refused=%lld seconds=%.3f\n", sent, refused, now() - t0);
    return 0;
}

static int udp_recv(char **argv) {
    struct sockaddr_in a = address(NULL, argv[2]);
    double seconds = atof(argv[3]);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    int big = 8 << 20;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) die("udp bind");
    char buf[65536];
    long long packets = 0, bytes = 0;
    double first = 0, last = 0;
    for (;;) {
        struct pollfd p = {.fd = s, .events = POLLIN};
        int wait = packets == 0 ? 600000 : 3000;
        if (poll(&p, 1, wait) <= 0) break;
        ssize_t n = recv(s, buf, sizeof buf, 0);
        if (n < 0) continue;
        last = now();
        if (packets == 0) first = last;
        packets++;
        bytes += n;
        if (last - first >= seconds) break;
    }
    printf("NBENCH udp-recv packets=%lld bytes=%lld seconds=%.3f\n", packets, bytes, last - first);
    return packets > 0 ? 0 : 1;
}

static int tcp_send(char **argv) {
    struct sockaddr_in a = address(argv[2], argv[3]);
    long long want = atoll(argv[4]) << 20, sent = 0;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    double t0 = now(), give_up = t0 + 600; /* the peer may come up minutes later (a guest booting) */
    while (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        if (now() > give_up) die("tcp connect");
        close(s);
        usleep(100000);
        s = socket(AF_INET, SOCK_STREAM, 0);
    }
    t0 = now(); /* connected: a connect that waited for the peer's address to come up is not counted */
    static char buf[1 << 20];
    while (sent < want) {
        ssize_t n = send(s, buf, want - sent < (long long)sizeof buf ? want - sent : (long long)sizeof buf, 0);
        if (n < 0) die("tcp send");
        sent += n;
    }
    shutdown(s, SHUT_WR);
    while (recv(s, buf, sizeof buf, 0) > 0) {
    }
    printf("NBENCH tcp-send bytes=%lld seconds=%.3f\n", sent, now() - t0);
    return 0;
}

static int tcp_recv(char **argv) {
    struct sockaddr_in a = address(NULL, argv[2]);
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0) die("tcp listen");
    int c = accept(s, NULL, NULL);
    if (c < 0) die("tcp accept");
    double t0 = now();
    static char buf[1 << 20];
    long long got = 0;
    ssize_t n;
    while ((n = recv(c, buf, sizeof buf, 0)) > 0) got += n;
    double t1 = now();
    close(c);
    printf("NBENCH tcp-recv bytes=%lld seconds=%.3f\n", got, t1 - t0);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 7 && strcmp(argv[1], "blk") == 0) return blk(argc, argv);
    if (argc == 6 && strcmp(argv[1], "udp-send") == 0) return udp_send(argv);
    if (argc == 4 && strcmp(argv[1], "udp-recv") == 0) return udp_recv(argv);
    if (argc == 5 && strcmp(argv[1], "tcp-send") == 0) return tcp_send(argv);
    if (argc == 3 && strcmp(argv[1], "tcp-recv") == 0) return tcp_recv(argv);
    fprintf(stderr, "usage: see the comment at the top of nbench.c\n");
    return 2;
}
