/* threads_bench: how many threads the core adds for N credentials, each with a token
 * fetch under way, plus one HTTP job (an ephemeral-token request, say).
 *
 * A server thread on the loopback accepts the connections and never answers, so every
 * fetch stays in flight while /proc/self/task is counted. Usage: threads_bench [N]
 * (default 10). Prints the threads the core added (the server thread not counted), then
 * frees everything and prints the time that took and the threads left. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rt_auth.h"
#include "rt_http.h"

static int srv_fd;
static volatile int accepted;

static void *srv_main(void *ud)
{
    (void)ud;
    for (;;) {
        int c = accept(srv_fd, NULL, NULL);
        if (c < 0)
            break;
        __atomic_add_fetch(&accepted, 1, __ATOMIC_SEQ_CST);   /* held open, never read */
    }
    return NULL;
}

static int threads_now(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static double mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10, base, during, i;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    struct rt_auth **auths;
    struct rt_http_job *job;
    struct rt_error err = { RT_OK, "" };
    char host[64], url[96], *tok = NULL;
    pthread_t srv;
    double t0;

    if (n < 1 || n > 1000 || !(auths = calloc((size_t)n, sizeof *auths)))
        return 2;
    srv_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(srv_fd, 1024) != 0 ||
        getsockname(srv_fd, (struct sockaddr *)&a, &len) != 0 ||
        pthread_create(&srv, NULL, srv_main, NULL) != 0)
        return 2;
    snprintf(host, sizeof host, "127.0.0.1:%d", ntohs(a.sin_port));
    snprintf(url, sizeof url, "http://%s/v1alpha/auth_tokens", host);
    base = threads_now();
    for (i = 0; i < n; i++) {
        struct rt_auth_options o = { .kind = RT_AUTH_METADATA, .metadata_host = host, .timeout = 60 };
        auths[i] = rt_auth_new(&o, &err);
        if (!auths[i] || rt_auth_token(auths[i], 60, &tok, NULL, &err) != 0)
            return 3;
    }
    struct rt_http_request r = { .method = "POST", .url = url, .body = "{}", .body_len = 2, .timeout = 60 };
    job = rt_http_start(&r, &err);
    if (!job)
        return 3;
    for (i = 0; i < 1000 && accepted < n + 1; i++)
        usleep(10000);
    during = threads_now();
    printf("%d credentials fetching + 1 HTTP job in flight: %d threads added (%d connections held)\n",
           n, during - base, accepted);
    t0 = mono();
    for (i = 0; i < n; i++)
        rt_auth_free(auths[i]);
    rt_http_job_free(job);
    printf("freed in %.3f s; threads added left: %d\n", mono() - t0, threads_now() - base);
    shutdown(srv_fd, SHUT_RDWR);
    pthread_join(srv, NULL);
    free(auths);
    return 0;
}
