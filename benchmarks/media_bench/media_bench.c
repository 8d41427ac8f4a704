/*
 * media_bench - N concurrent voicemail calls against the media front (the
 * test host of tests/media, started here on loopback). Each call: INVITE,
 * greeting (1 s) + beep played by the front, the caller streams 20 ms PCMU
 * frames for the whole call, BYE, message stored.
 *
 *   media_bench [--calls 100,250,500] [--hold 10] [--host PATH]
 *               [--rt-priority N]   (the front's media thread at SCHED_RR N)
 *
 * For each step N: ramp N calls up, measure over --hold seconds of steady
 * state, hang up. Prints name=value lines for the last step, and over all
 * steps the largest N with 0 % loss (media_max_calls_zero_loss) and with
 * 0 % loss and send-jitter p99 <= 2 ms (media_max_calls_zero_loss_jitter_2ms).
 * Loss counts both directions: frames the front
 * sent that the callers did not get (sequence gaps) and frames the callers
 * sent that the front did not count. Jitter is the front's own lateness
 * against each frame's 20 ms schedule (its stats histogram, 0.1 ms bins).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY  "bench-key"
#define MAXC 2000

typedef struct ucall {
    int fd;
    uint16_t lport, rport;
    int state; /* 0 idle, 1 inviting, 2 up, 3 bye sent, 4 done, 5 failed */
    char totag[64];
    uint16_t txseq;
    uint32_t ts;
    int64_t next_tx, invite_at;
    uint64_t tx, rx, rx_first_seq_set;
    uint16_t rx_first, rx_last;
    uint32_t rx_span; /* highest seq offset seen + 1 */
} ucall;

static ucall calls[MAXC];
static int sipfd;
static uint16_t host_port;
static FILE *host_in, *host_out;
static pid_t host_pid;
static char rt_prio[16] = "0";

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void token(char *out, size_t len)
{
    char payload[256];
    unsigned char mac[32];
    unsigned int ml = 0;
    size_t n, o = 0;

    n = (size_t)snprintf(payload, sizeof(payload),
                         "bench|+4930999000|Bench|UNKNOWN|h-bench|en|%lld",
                         (long long)time(NULL) + 3600);
    HMAC(EVP_sha256(), KEY, (int)strlen(KEY), (unsigned char *)payload, n, mac,
         &ml);
    o += (size_t)snprintf(out + o, len - o, "vm.");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, len - o, "%02x",
                              (unsigned char)payload[i]);
    o += (size_t)snprintf(out + o, len - o, ".");
    for (unsigned i = 0; i < ml; i++)
        o += (size_t)snprintf(out + o, len - o, "%02x", mac[i]);
}

static void sip_send(const char *msg)
{
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons(host_port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    (void)sendto(sipfd, msg, strlen(msg), 0, (struct sockaddr *)&to,
                 sizeof(to));
}

static uint16_t sip_lport(void)
{
    struct sockaddr_in a;
    socklen_t l = sizeof(a);
    getsockname(sipfd, (struct sockaddr *)&a, &l);
    return ntohs(a.sin_port);
}

static void send_invite(int i, const char *tok)
{
    char sdp[256], msg[2048];
    uint16_t sp = sip_lport();

    snprintf(sdp, sizeof(sdp),
             "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
             "t=0 0\r\nm=audio %u RTP/AVP 0 101\r\na=rtpmap:101 "
             "telephone-event/8000\r\n",
             calls[i].lport);
    snprintf(
        msg, sizeof(msg),
        "INVITE sip:%s@127.0.0.1:%u SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-mb%d\r\n"
        "From: <sip:bench@127.0.0.1:%u>;tag=mb%d\r\nTo: <sip:vm@127.0.0.1>\r\n"
        "Call-ID: mb-%d@bench\r\nCSeq: 1 INVITE\r\nContact: "
        "<sip:bench@127.0.0.1:%u>\r\n"
        "Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: "
        "%zu\r\n\r\n%s",
        tok, host_port, sp, i, sp, i, i, sp, strlen(sdp), sdp);
    sip_send(msg);
}

static void send_indialog(int i, const char *method, int cseq)
{
    char msg[1024];
    uint16_t sp = sip_lport();

    snprintf(msg, sizeof(msg),
             "%s sip:vm@127.0.0.1:%u SIP/2.0\r\n"
             "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-mb%s%d\r\n"
             "From: <sip:bench@127.0.0.1:%u>;tag=mb%d\r\nTo: "
             "<sip:vm@127.0.0.1>;tag=%s\r\n"
             "Call-ID: mb-%d@bench\r\nCSeq: %d %s\r\nMax-Forwards: "
             "70\r\nContent-Length: 0\r\n\r\n",
             method, host_port, sp, method, i, sp, i, calls[i].totag, i, cseq,
             method);
    sip_send(msg);
}

static void sip_poll(void)
{
    char buf[4096];

    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(sipfd, buf, sizeof(buf) - 1, 0,
                             (struct sockaddr *)&from, &fl);
        char *p;
        int i = -1, code = 0;
        if (n <= 0)
            return;
        buf[n] = '\0';
        p = strstr(buf, "Call-ID: mb-");
        if (p != NULL)
            i = atoi(p + 12);
        if (i < 0 || i >= MAXC)
            continue;
        if (strncmp(buf, "SIP/2.0 ", 8) == 0)
            code = atoi(buf + 8);
        if (strncmp(buf, "BYE ", 4) ==
            0) { /* the front hung up: a failure here */
            char r[1024], *v = strstr(buf, "Via:"),
                          *e = v ? strstr(v, "\r\n") : NULL;
            if (v && e) {
                snprintf(r, sizeof(r),
                         "SIP/2.0 200 OK\r\n%.*s\r\nFrom: x\r\nTo: "
                         "y\r\nCall-ID: mb-%d@bench\r\n"
                         "CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
                         (int)(e - v), v, i);
                sip_send(r);
            }
            calls[i].state = 5;
            continue;
        }
        if (code == 200 && strstr(buf, "INVITE") != NULL &&
            calls[i].state == 1) {
            char *t = strstr(buf, "\r\nTo:"),
                 *tag = t ? strstr(t, "tag=") : NULL;
            char *m = strstr(buf, "m=audio ");
            if (tag == NULL || m == NULL)
                continue;
            sscanf(tag + 4, "%63[^;\r\n]", calls[i].totag);
            calls[i].rport = (uint16_t)atoi(m + 8);
            calls[i].state = 2;
            calls[i].next_tx = now_ns();
            send_indialog(i, "ACK", 1);
        } else if (code == 200 && strstr(buf, " BYE") != NULL) {
            calls[i].state = 4;
        } else if (code >= 300 && calls[i].state == 1) {
            calls[i].state = 5;
        }
    }
}

static void rtp_io(int n, int64_t now)
{
    uint8_t pkt[172], buf[2048];
    struct sockaddr_in to = {.sin_family = AF_INET};

    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    for (int i = 0; i < n; i++) {
        ucall *c = &calls[i];
        if (c->state == 2) {
            while (c->next_tx <= now) {
                pkt[0] = 0x80;
                pkt[1] = 0;
                pkt[2] = (uint8_t)(c->txseq >> 8);
                pkt[3] = (uint8_t)c->txseq;
                memcpy(pkt + 4, &c->ts, 4);
                memset(pkt + 8, 0x42, 4);
                for (int k = 0; k < 160; k++) /* a loud-ish tone in PCMU */
                    pkt[12 + k] = (uint8_t)(0x10 + (k % 16) * 8);
                c->txseq++;
                c->ts += 160;
                to.sin_port = htons(c->rport);
                if (sendto(c->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to,
                           sizeof(to)) > 0)
                    c->tx++;
                c->next_tx += 20000000LL;
            }
        }
        for (;;) {
            ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
            uint16_t seq;
            if (r < 12)
                break;
            seq = (uint16_t)((buf[2] << 8) | buf[3]);
            if (!c->rx_first_seq_set) {
                c->rx_first_seq_set = 1;
                c->rx_first = seq;
            }
            if ((uint16_t)(seq - c->rx_first) + 1u > c->rx_span)
                c->rx_span = (uint16_t)(seq - c->rx_first) + 1u;
            c->rx++;
        }
    }
}

typedef struct hstats {
    unsigned long long sent, received, stored, late[200];
} hstats;

/* The host's stdout is read by a thread of its own: a voicemail.new event
 * per stored message must never fill the pipe and stall the host's
 * storage threads (that made the store look like 5 messages/s). */
static pthread_t reader;
static pthread_mutex_t rd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rd_cond = PTHREAD_COND_INITIALIZER;
static hstats rd_stats;
static int rd_have, rd_eof;

static void *read_host(void *arg)
{
    char line[8192], *p;
    hstats h;

    (void)arg;
    memset(&h, 0, sizeof(h));
    while (fgets(line, sizeof(line), host_out) != NULL) {
        if (strncmp(line, "STATS ", 6) == 0) {
            p = strstr(line, "sent=");
            h.sent = p ? strtoull(p + 5, NULL, 10) : 0;
            p = strstr(line, "received=");
            h.received = p ? strtoull(p + 9, NULL, 10) : 0;
            p = strstr(line, "stored=");
            h.stored = p ? strtoull(p + 7, NULL, 10) : 0;
            p = strstr(line, "late=");
            for (int i = 0; p != NULL && i < 200; i++) {
                p += (i == 0) ? 5 : 1;
                h.late[i] = strtoull(p, &p, 10);
            }
        }
        if (strncmp(line, "END stats", 9) == 0) {
            pthread_mutex_lock(&rd_lock);
            rd_stats = h;
            rd_have = 1;
            pthread_cond_signal(&rd_cond);
            pthread_mutex_unlock(&rd_lock);
        }
    }
    pthread_mutex_lock(&rd_lock);
    rd_eof = 1;
    pthread_cond_signal(&rd_cond);
    pthread_mutex_unlock(&rd_lock);
    return NULL;
}

static int host_stats(hstats *h)
{
    int rc = -1;

    memset(h, 0, sizeof(*h));
    pthread_mutex_lock(&rd_lock);
    rd_have = 0;
    pthread_mutex_unlock(&rd_lock);
    fprintf(host_in, "stats\n");
    fflush(host_in);
    pthread_mutex_lock(&rd_lock);
    while (!rd_have && !rd_eof)
        pthread_cond_wait(&rd_cond, &rd_lock);
    if (rd_have) {
        *h = rd_stats;
        rc = 0;
    }
    pthread_mutex_unlock(&rd_lock);
    return rc;
}

static double cpu_ms(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fgets(buf, sizeof(buf), f) == NULL) {
        fclose(f);
        return 0;
    }
    fclose(f);
    p = strrchr(buf, ')');
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &ut, &st) != 2)
        return 0;
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static double loadavg(void)
{
    double l = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &l) != 1)
            l = 0;
        fclose(f);
    }
    return l;
}

static int start_host(const char *host, const char *dir)
{
    int in[2], out[2];
    char line[256], greet[512], cmd[2048];

    snprintf(greet, sizeof(greet), "%s/data/greetings/bench", dir);
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s && sox -n -r 8000 -c 1 %s/default.wav synth 1.0 sine "
             "600 vol 0.3",
             greet, greet);
    if (system(cmd) != 0)
        return -1;
    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    host_pid = fork();
    if (host_pid == 0) {
        char data[512];
        snprintf(data, sizeof(data), "%s/data", dir);
        dup2(in[0], 0);
        dup2(out[1], 1);
        {
            char logp[600];
            int lfd;
            snprintf(logp, sizeof(logp), "%s/host.log", dir);
            lfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (lfd >= 0)
                dup2(lfd, 2);
        }
        close(in[1]);
        close(out[0]);
        execl(host, host, "--data", data, "--key", KEY, "--port", "0", "--rtp",
              "30000-33999", "--silence-ms", "0", "--max-calls", "2000",
              "--quota", "0", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    host_in = fdopen(in[1], "w");
    host_out = fdopen(out[0], "r");
    if (fgets(line, sizeof(line), host_out) == NULL ||
        sscanf(line, "READY port=%hu", &host_port) != 1)
        return -1;
    rd_eof = 0;
    if (pthread_create(&reader, NULL, read_host, NULL) != 0)
        return -1;
    return 0;
}

static void stop_host(void)
{
    int st;
    fprintf(host_in, "quit\n");
    fflush(host_in);
    fclose(host_in);
    waitpid(host_pid, &st, 0);
    pthread_join(reader, NULL); /* EOF once the host is gone */
    fclose(host_out);
}

typedef struct result {
    int n, up;
    double loss_pct, p99_ms, cpu_ms_per_call_s, load_before, load_after;
    unsigned long long stored;
    double store_per_s; /* messages made durable per second after all
                           callers hung up at once */
} result;

static int run_step(const char *host, int n, int hold_s, result *res)
{
    char dir[] = "/tmp/media_bench.XXXXXX", tok[1024], cmd[600];
    hstats a, b;
    double c0, c1;
    int64_t t0, t_steady, t_end, deadline;
    uint64_t tx_total = 0, rx_total = 0, rx_expect = 0, late_total = 0, acc = 0;
    int up = 0, done;

    memset(res, 0, sizeof(*res));
    memset(calls, 0, sizeof(calls));
    res->n = n;
    res->load_before = loadavg();
    if (mkdtemp(dir) == NULL || start_host(host, dir) != 0) {
        fprintf(stderr, "media_bench: host did not start\n");
        return -1;
    }
    sipfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    {
        struct sockaddr_in a0 = {.sin_family = AF_INET};
        int sz = 4 << 20;
        inet_pton(AF_INET, "127.0.0.1", &a0.sin_addr);
        bind(sipfd, (struct sockaddr *)&a0, sizeof(a0));
        setsockopt(sipfd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    }
    for (int i = 0; i < n; i++) {
        struct sockaddr_in a0 = {.sin_family = AF_INET};
        socklen_t l = sizeof(a0);
        inet_pton(AF_INET, "127.0.0.1", &a0.sin_addr);
        calls[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        bind(calls[i].fd, (struct sockaddr *)&a0, sizeof(a0));
        getsockname(calls[i].fd, (struct sockaddr *)&a0, &l);
        calls[i].lport = ntohs(a0.sin_port);
        calls[i].txseq = (uint16_t)(i * 7);
    }
    token(tok, sizeof(tok));
    /* ramp: 200 calls per second */
    t0 = now_ns();
    deadline = t0 + (int64_t)(n / 200 + 20) * 1000000000LL;
    for (int started = 0; up < n && now_ns() < deadline;) {
        int64_t now = now_ns();
        while (started < n && now >= t0 + (int64_t)started * 5000000LL) {
            calls[started].state = 1;
            calls[started].invite_at = now;
            send_invite(started, tok);
            started++;
        }
        sip_poll();
        rtp_io(n, now);
        up = 0;
        for (int i = 0; i < n; i++)
            up += calls[i].state == 2;
        usleep(2000);
    }
    res->up = up;
    /* steady state: greeting + beep are over after ~1.5 s */
    for (int64_t w = now_ns() + 2000000000LL; now_ns() < w;) {
        sip_poll();
        rtp_io(n, now_ns());
        usleep(2000);
    }
    host_stats(&a);
    c0 = cpu_ms(host_pid);
    t_steady = now_ns();
    for (int i = 0; i < n; i++) { /* per-call counters restart here */
        calls[i].rx = 0;
        calls[i].rx_first_seq_set = 0;
        calls[i].rx_span = 0;
        calls[i].tx = 0;
    }
    while (now_ns() < t_steady + (int64_t)hold_s * 1000000000LL) {
        sip_poll();
        rtp_io(n, now_ns());
        usleep(2000);
    }
    t_end = now_ns();
    c1 = cpu_ms(host_pid);
    for (int i = 0; i < n; i++) {
        tx_total += calls[i].tx;
        rx_total += calls[i].rx;
        rx_expect += calls[i].rx_span;
    }
    /* frames in flight at the window edges are not loss: let them land */
    for (int64_t w = now_ns() + 200000000LL; now_ns() < w;) {
        sip_poll();
        usleep(2000);
    }
    host_stats(&b);
    res->load_after = loadavg();
    {
        /* the front's received count covers the window plus the tail we
         * stopped sending in, so compare against what we sent */
        double lost_up = (double)tx_total - (double)(b.received - a.received);
        double lost_down = (double)rx_expect - (double)rx_total;
        if (lost_up < 0)
            lost_up = 0;
        if (lost_down < 0)
            lost_down = 0;
        res->loss_pct =
            (tx_total + rx_expect) > 0
                ? 100.0 * (lost_up + lost_down) / (double)(tx_total + rx_expect)
                : 100.0;
    }
    for (int i = 0; i < 200; i++)
        late_total += b.late[i] - a.late[i];
    if (getenv("MEDIA_BENCH_HIST") !=
        NULL) /* lateness histogram, 0.1 ms bins */
        for (int i = 0; i < 200; i++)
            if (b.late[i] != a.late[i])
                fprintf(stderr, "late_bin_%.1f_ms=%llu\n", i / 10.0,
                        b.late[i] - a.late[i]);
    res->p99_ms = 20.0;
    for (int i = 0; i < 200; i++) {
        acc += b.late[i] - a.late[i];
        if (late_total > 0 && (double)acc >= 0.99 * (double)late_total) {
            res->p99_ms = (i + 1) / 10.0;
            break;
        }
    }
    res->cpu_ms_per_call_s =
        n > 0 ? (c1 - c0) / ((double)n * (double)(t_end - t_steady) / 1e9) : 0;
    /* hang up, wait for the messages to be stored */
    int64_t t_bye = now_ns();
    for (int i = 0; i < n; i++)
        if (calls[i].state == 2) {
            send_indialog(i, "BYE", 2);
            calls[i].state = 3;
        }
    deadline = now_ns() + 60000000000LL;
    int64_t retx_at = now_ns() + 500000000LL, retx_ivl = 500000000LL;
    do {
        sip_poll();
        if (now_ns() >= retx_at) { /* RFC 3261 timer E: a lost BYE again */
            for (int i = 0; i < n; i++)
                if (calls[i].state == 3)
                    send_indialog(i, "BYE", 2);
            retx_ivl =
                retx_ivl * 2 > 4000000000LL ? 4000000000LL : retx_ivl * 2;
            retx_at = now_ns() + retx_ivl;
        }
        done = 0;
        for (int i = 0; i < n; i++)
            done += calls[i].state >= 4 || calls[i].state == 0;
        usleep(5000);
    } while (done < n && now_ns() < deadline);
    int64_t t_stored = now_ns();
    host_stats(&b);
    res->stored = b.stored;
    res->store_per_s = t_stored > t_bye ? (double)(b.stored - a.stored) /
                                              ((t_stored - t_bye) / 1e9)
                                        : 0;
    for (int i = 0; i < n; i++)
        close(calls[i].fd);
    close(sipfd);
    stop_host();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "media_bench: could not remove %s\n", dir);
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = MEDIA_HOST_PATH, *steps = "100,250,500";
    int hold = 10, best = 0, best_target = 0;
    result r = {0};
    struct rlimit rl = {8192, 8192};
    char *list, *save = NULL;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--calls") == 0)
            steps = argv[i + 1];
        else if (strcmp(argv[i], "--hold") == 0)
            hold = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--host") == 0)
            host = argv[i + 1];
        else if (strcmp(argv[i], "--rt-priority") == 0)
            snprintf(rt_prio, sizeof(rt_prio), "%s", argv[i + 1]);
    }
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        fprintf(stderr, "media_bench: could not raise the fd limit\n");
    signal(SIGPIPE, SIG_IGN);
    list = strdup(steps);
    for (char *s = strtok_r(list, ",", &save); s != NULL;
         s = strtok_r(NULL, ",", &save)) {
        int n = atoi(s);
        if (n <= 0 || n > MAXC)
            continue;
        if (run_step(host, n, hold, &r) != 0)
            return 1;
        fprintf(stderr,
                "step calls=%d up=%d loss_pct=%.4f jitter_p99_ms=%.1f "
                "cpu_ms_per_call_s=%.3f "
                "stored=%llu store_per_s=%.1f load=%.2f/%.2f\n",
                n, r.up, r.loss_pct, r.p99_ms, r.cpu_ms_per_call_s, r.stored,
                r.store_per_s, r.load_before, r.load_after);
        if (r.up == n && r.loss_pct == 0.0 && n > best)
            best = n;
        if (r.up == n && r.loss_pct == 0.0 && r.p99_ms <= 2.0 &&
            n > best_target)
            best_target = n;
    }
    free(list);
    printf("media_concurrent_calls=%d\n", r.up);
    printf("media_loss_pct=%.4f\n", r.loss_pct);
    printf("media_send_jitter_p99_ms=%.1f\n", r.p99_ms);
    printf("media_cpu_ms_per_call_s=%.3f\n", r.cpu_ms_per_call_s);
    printf("media_max_calls_zero_loss=%d\n", best);
    printf("media_max_calls_zero_loss_jitter_2ms=%d\n", best_target);
    printf("media_messages_stored=%llu\n", r.stored);
    printf("media_store_msgs_per_s=%.1f\n", r.store_per_s);
    printf("load_avg_1m_before=%.2f\nload_avg_1m_after=%.2f\n", r.load_before,
           r.load_after);
    printf("cores=%ld\nrt_priority=%s\n", sysconf(_SC_NPROCESSORS_ONLN),
           rt_prio);
    return 0;
}
