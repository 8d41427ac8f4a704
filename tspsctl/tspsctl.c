/*
 * tspsctl - the command line of tsps: operators, users and attendants talk
 * to tspsd over its TLS control protocol.
 */
#include "tspsctl.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "NAME\n"
    "    tspsctl - control tspsd: users, codes, contacts, calls, sources\n"
    "\n"
    "SYNOPSIS\n"
    "    tspsctl [--host H] [--port N] [--ca FILE] [--cert FILE --key FILE]\n"
    "            [--token T] [--data DIR] [--json] [--timeout S] COMMAND ...\n"
    "\n"
    "CONNECTION\n"
    "    Flags win over the environment: TSPS_HOST, TSPS_PORT, TSPS_CA,\n"
    "    TSPS_CERT + TSPS_KEY (client certificate: its CN is the identity)\n"
    "    or TSPS_TOKEN (a token issued by an admin), TSPS_DATA. Without\n"
    "    them, the embedded default's data folder (./data) gives host, port\n"
    "    and CA (client.conf) and the admin certificate (tls/admin.pem).\n"
    "\n"
    "COMMANDS\n"
    "    whoami                              identity and role\n"
    "    route --from N --to N [--at TIME] [--name NAME] [--live]\n"
    "                                        route a call (dry run) and print\n"
    "                                        the decision and its trace;\n"
    "                                        --live (admin) offers it as a\n"
    "                                        real call (history, pending)\n"
    "    explain CALL                        trace of a past call\n"
    "    history USER [--limit N] [--since TIME] [--until TIME]\n"
    "            [--caller NUMBER] [--missed | --outcome WORD,...]\n"
    "            [--contact UID] [--code CODE] [--text TEXT] [--before ID]\n"
    "            [--local]\n"
    "                                        the user's calls, newest first;\n"
    "                                        filters over the whole history;\n"
    "                                        --before: the page after call ID\n"
    "                                        (cluster: ID@NODE@START, as the\n"
    "                                        page's last line says); in a\n"
    "                                        cluster every node of the user's\n"
    "                                        shard is asked (--local: this\n"
    "                                        node only)\n"
    "                                        (outcome words: held, missed,\n"
    "                                        answered, rang, forwarded,\n"
    "                                        voicemail, attendant, ivr,\n"
    "                                        rejected, failed, routed)\n"
    "    calls [USER]                        live (pending) calls\n"
    "    act CALL ACTION                     act on a pending call: forward\n"
    "                                        NUMBER | voicemail | attendant |\n"
    "                                        take DEVICE | reject\n"
    "    watch [USER]                        stream call and sync events\n"
    "    user add ID [--name N] [--region CC] [--tz ZONE] [--hours H]\n"
    "             [--number N]... [--voicemail URI] [--attendant URI]\n"
    "    user show ID | user list | user delete ID\n"
    "    user login-link ID | user web-password ID [PASSWORD]  (web UI)\n"
    "    number add USER NUMBER | number remove USER NUMBER\n"
    "    code set USER CODE METHOD... [--status S]\n"
    "                                        e.g. code set ann VIP ring then\n"
    "                                        voicemail --status meeting\n"
    "    code delete USER CODE [--status S] | code list USER\n"
    "    status set USER STATUS [--until TIME] [--note TEXT]\n"
    "    status get USER [--at TIME]\n"
    "    cluster status [--metrics URL] [--etcd URL] [--prefix P]\n"
    "                                        this node in its cluster (etcd\n"
    "                                        reachable, revision, queued\n"
    "                                        writes), then every node from\n"
    "                                        etcd: shard, alive or lease\n"
    "                                        expired, revision, lag, drain\n"
    "    cluster kamailio-map --sets SHARD=ID,... [--out FILE]\n"
    "                [--kamailio URL]        Kamailio's number -> dispatcher\n"
    "                                        set table, from etcd's shard map\n"
    "    cluster move-user USER SHARD [--sets SHARD=ID,... --kamailio URL]\n"
    "                [--timeout S]           hand a user over to another\n"
    "                                        shard without a lost call\n"
    "    cluster drain [--undo]              (admin) OPTIONS get 503: new\n"
    "                                        calls go to the shard's other\n"
    "                                        node; calls here finish\n"
    "    contact list USER [QUERY] [--limit N]\n"
    "    contact code USER UID CODE          set a contact's code (written\n"
    "                                        back to its source)\n"
    "    contact add USER --number N [--name NAME] [--email E] [--code C]\n"
    "                [--source S]            add a contact to the user's\n"
    "                                        address book (default: the\n"
    "                                        first source that can add)\n"
    "    source add NAME URI --user U [--interval S (0 = on demand)]\n"
    "                          [--option K=V]...\n"
    "    source remove NAME | source list | source sync [NAME]\n"
    "    delegate USER ATTENDANT [--monitor] [--act] [--related]\n"
    "             [--codes A,B]             --related: e-mails and documents\n"
    "             [--from TIME] [--until TIME] [--remove]\n"
    "    delegations [USER]\n"
    "    token issue IDENTITY [--role admin|user|attendant]\n"
    "    token revoke IDENTITY               every token of IDENTITY\n"
    "    device add USER USERNAME --password P [--label L]\n"
    "    device remove USER USERNAME\n"
    "    related --user U --caller N|EMAIL|UID [--since TIME] [--until TIME]\n"
    "    related --call ID                   the caller's e-mails, documents\n"
    "    voicemail list [--user U]           the mailbox, newest first\n"
    "    voicemail play ID --out FILE.wav [--user U] [--chunk BYTES]\n"
    "                                        write a message's WAV (fetched\n"
    "                                        in pieces of at most 512 KiB)\n"
    "    voicemail heard ID | voicemail delete ID [--user U]\n"
    "                                        (a delegation with --related\n"
    "                                        opens another user's mailbox)\n"
    "    ivr get USER                        the user's IVR menus (text form)\n"
    "    ivr put USER FILE|-                 check and store menus from FILE\n"
    "                                        (- = standard input)\n"
    "    ivr remove USER\n"
    "\n"
    "    TIME is epoch seconds, 2026-11-25T14:00:00Z, +30m, +2h or now.\n"
    "\n"
    "OUTPUT\n"
    "    Tables for people; --json prints one JSON object per reply (and\n"
    "    per event with watch) for scripts.\n"
    "\n"
    "EXIT STATUS\n"
    "    0  success\n"
    "    1  usage error\n"
    "    2  refused: not authenticated or not allowed\n"
    "    3  not found\n"
    "    4  connection, TLS or protocol version problem\n"
    "    5  any other error (invalid argument, server error)\n";

static const char *env_or(const char *flag, const char *env)
{
    if (flag != NULL)
        return flag;
    const char *v = getenv(env);
    return v != NULL && *v != '\0' ? v : NULL;
}

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* host/port/ca from DIR/client.conf (written by tspsd). */
static void read_client_conf(const char *dir, char *host, size_t hl, int *port,
                             char *ca, size_t cl)
{
    char path[1024], line[1200];
    snprintf(path, sizeof(path), "%s/client.conf", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "host=", 5) == 0)
            snprintf(host, hl, "%s", line + 5);
        else if (strncmp(line, "port=", 5) == 0)
            *port = atoi(line + 5);
        else if (strncmp(line, "ca=", 3) == 0) {
            /* Relative to where tspsd ran: resolve against DIR's parent
             * when it does not exist as given. */
            if (line[3] == '/' || file_exists(line + 3))
                snprintf(ca, cl, "%s", line + 3);
            else
                snprintf(ca, cl, "%s/tls/ca.pem", dir);
        }
    }
    fclose(f);
}

int ctl_connect(ctl_ctx *ctx)
{
    char err[300];
    int rc;

    if (ctx->cli != NULL)
        return EX_OK_;
    rc = tspsd_client_connect(&ctx->opts, &ctx->cli, err, sizeof(err));
    if (rc == 0)
        return EX_OK_;
    fprintf(stderr, "tspsctl: %s\n", err);
    if (rc == TSPSD_CLIENT_ECONN || rc == TSPSD_CLIENT_EPROTO)
        return EX_CONN;
    return ctl_exit_code(rc);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"ca", required_argument, NULL, 'a'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"token", required_argument, NULL, 't'},
        {"data", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *host = NULL, *port_s = NULL, *ca = NULL, *cert = NULL,
               *key = NULL, *token = NULL, *data = NULL;
    int json = 0, timeout_s = 10, ch;
    char dhost[256] = "", dca[1024] = "", dcert[1024] = "", dkey[1024] = "";
    int dport = 0;

    while ((ch = getopt_long(argc, argv, "+H:p:a:c:k:t:d:jT:h", opts, NULL)) !=
           -1) {
        switch (ch) {
        case 'H':
            host = optarg;
            break;
        case 'p':
            port_s = optarg;
            break;
        case 'a':
            ca = optarg;
            break;
        case 'c':
            cert = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 't':
            token = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'T':
            timeout_s = atoi(optarg);
            break;
        case 'h':
            fputs(usage, stdout);
            return EX_OK_;
        default:
            fputs("tspsctl: see tspsctl --help\n", stderr);
            return EX_USAGE_;
        }
    }
    if (optind >= argc || strcmp(argv[optind], "help") == 0) {
        fputs(usage, optind >= argc ? stderr : stdout);
        return optind >= argc ? EX_USAGE_ : EX_OK_;
    }
    host = env_or(host, "TSPS_HOST");
    port_s = env_or(port_s, "TSPS_PORT");
    ca = env_or(ca, "TSPS_CA");
    cert = env_or(cert, "TSPS_CERT");
    key = env_or(key, "TSPS_KEY");
    token = env_or(token, "TSPS_TOKEN");
    data = env_or(data, "TSPS_DATA");
    if (data == NULL)
        data = "data";
    /* cluster status reads the node's metrics and etcd: no control
     * connection */
    if (argc - optind >= 2 && strcmp(argv[optind], "cluster") == 0 &&
        strcmp(argv[optind + 1], "status") == 0) {
        const char *opt[3] = {NULL, NULL, NULL};
        static const char *const names[3] = {"--metrics", "--etcd", "--prefix"};
        for (int i = optind + 2; i < argc; i += 2) {
            int k = 0;
            while (k < 3 && strcmp(argv[i], names[k]) != 0)
                k++;
            if (k == 3 || i + 1 >= argc) {
                fputs("tspsctl: cluster status [--metrics URL] [--etcd URL] "
                      "[--prefix P]\n",
                      stderr);
                return EX_USAGE_;
            }
            opt[k] = argv[i + 1];
        }
        return tspsctl_cluster_status(data, opt[0], opt[1], opt[2]);
    }
    if (argc - optind >= 2 && strcmp(argv[optind], "cluster") == 0 &&
        strcmp(argv[optind + 1], "kamailio-map") == 0)
        return tspsctl_cluster_kamailio_map(data, argc - optind - 2,
                                            argv + optind + 2);
    if (argc - optind >= 2 && strcmp(argv[optind], "cluster") == 0 &&
        strcmp(argv[optind + 1], "move-user") == 0)
        return tspsctl_cluster_move_user(data, argc - optind - 2,
                                         argv + optind + 2);
    /* Fallback: the embedded default's data folder. */
    read_client_conf(data, dhost, sizeof(dhost), &dport, dca, sizeof(dca));
    if (host == NULL && dhost[0])
        host = dhost;
    if (ca == NULL) {
        if (!dca[0])
            snprintf(dca, sizeof(dca), "%s/tls/ca.pem", data);
        ca = dca;
    }
    if (cert == NULL && token == NULL) {
        snprintf(dcert, sizeof(dcert), "%s/tls/admin.pem", data);
        snprintf(dkey, sizeof(dkey), "%s/tls/admin.key", data);
        if (file_exists(dcert) && file_exists(dkey)) {
            cert = dcert;
            key = dkey;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    ctl_ctx ctx = {0};
    ctx.json = json;
    ctx.opts.host = host;
    ctx.opts.port = port_s != NULL ? atoi(port_s) : dport;
    ctx.opts.ca = ca;
    ctx.opts.cert = cert;
    ctx.opts.key = key;
    ctx.opts.token = token;
    ctx.opts.timeout_ms = timeout_s * 1000;
    int rc;
    rc = ctl_run(&ctx, argc - optind, argv + optind);
    tspsd_client_close(ctx.cli);
    return rc;
}
