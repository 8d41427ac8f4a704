/* tspsctl_print.c - replies as tables (people) or JSON (scripts). */
#include "tspsctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int ctl_exit_code(int code)
{
    switch (code) {
    case TSPS__CODE__OK:
        return EX_OK_;
    case TSPS__CODE__DENIED:
    case TSPS__CODE__UNAUTHENTICATED:
        return EX_REFUSED;
    case TSPS__CODE__NOT_FOUND:
        return EX_NOTFOUND;
    case TSPS__CODE__VERSION:
        return EX_CONN;
    default:
        return EX_OTHER;
    }
}

static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void json_msg(const ProtobufCMessage *m);

static void json_value(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        /* The engine's decision JSON is embedded as an object. */
        if (strcmp(f->name, "json") == 0 && **(char *const *)p == '{')
            fputs(*(char *const *)p, stdout);
        else
            json_str(*(char *const *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        fputs(*(const protobuf_c_boolean *)p ? "true" : "false", stdout);
        break;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        printf("%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        printf("%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        printf("%" PRId64, *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        printf("%" PRIu64, *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
            f->descriptor, *(const int *)p);
        if (ev != NULL)
            json_str(ev->name);
        else
            printf("%d", *(const int *)p);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        json_msg(*(ProtobufCMessage *const *)p);
        break;
    default:
        fputs("null", stdout);
    }
}

static void json_msg(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    int first = 1;

    putchar('{');
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        const void *p = base + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            if (n == 0)
                continue;
            printf("%s\"%s\":[", first ? "" : ",", f->name);
            first = 0;
            size_t sz = f->type == PROTOBUF_C_TYPE_STRING ||
                                f->type == PROTOBUF_C_TYPE_MESSAGE
                            ? sizeof(void *)
                        : f->type == PROTOBUF_C_TYPE_INT64 ||
                                f->type == PROTOBUF_C_TYPE_UINT64
                            ? 8
                            : 4;
            const char *arr = *(const char *const *)p;
            for (size_t k = 0; k < n; k++) {
                if (k)
                    putchar(',');
                json_value(f, arr + k * sz);
            }
            putchar(']');
            continue;
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
            *(ProtobufCMessage *const *)p == NULL)
            continue;
        if (f->type == PROTOBUF_C_TYPE_STRING &&
            (*(char *const *)p == NULL || **(char *const *)p == '\0'))
            continue;
        printf("%s\"%s\":", first ? "" : ",", f->name);
        first = 0;
        json_value(f, p);
    }
    putchar('}');
}

void ctl_print_json(const Tsps__Response *r)
{
    json_msg(&r->base);
    putchar('\n');
}

static const char *when(int64_t t, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t == 0)
        return "-";
    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm);
    return buf;
}

static const char *dash(const char *s)
{
    return s != NULL && *s ? s : "-";
}

static void print_decision(const Tsps__Decision *d, int full)
{
    char b1[32];
    if (d->call_id != 0)
        printf("call      %" PRIu64 "\n", d->call_id);
    printf("user      %s\n", dash(d->user));
    printf("caller    %s%s%s%s (%s)\n", dash(d->caller),
           d->caller_name[0] ? " \"" : "", d->caller_name,
           d->caller_name[0] ? "\"" : "", d->caller_kind);
    printf("code      %s\nstatus    %s\nmethod    %s\n", dash(d->code),
           d->status, d->method);
    for (size_t i = 0; i < d->n_targets; i++)
        printf("target    %s%s%s%s\n", d->targets[i]->uri,
               d->targets[i]->label[0] ? " [" : "", d->targets[i]->label,
               d->targets[i]->label[0] ? "]" : "");
    if (d->outcome[0])
        printf("outcome   %s\n", d->outcome);
    if (d->start != 0)
        printf("start     %s\n", when(d->start, b1, sizeof(b1)));
    if (d->actor[0])
        printf("by        %s\n", d->actor);
    if (full && d->explain[0])
        printf("trace\n%s%s", d->explain,
               d->explain[strlen(d->explain) - 1] == '\n' ? "" : "\n");
}

static void calls_table(const Tsps__Response *r)
{
    char b[32];
    printf("%-8s %-21s %-10s %-17s %-18s %-9s %s\n", "CALL", "START", "USER",
           "CALLER", "NAME", "CODE", "METHOD / OUTCOME");
    for (size_t i = 0; i < r->n_calls; i++) {
        const Tsps__Decision *d = r->calls[i];
        char id[96];
        /* In a cluster a call is (node, id): ids are per node. */
        snprintf(id, sizeof(id), "%" PRIu64 "%s%s", d->call_id,
                 d->node[0] ? "@" : "", d->node);
        printf("%-8s %-21s %-10s %-17s %-18.18s %-9s %s / %s\n", id,
               when(d->start, b, sizeof(b)), dash(d->user), dash(d->caller),
               dash(d->caller_name), dash(d->code), d->method,
               dash(d->outcome));
    }
    if (r->n_calls == 0)
        printf("(no calls)\n");
    else if (r->calls[r->n_calls - 1]->node[0] != '\0') {
        /* the cursor of the next page across nodes (start, node, id) */
        const Tsps__Decision *d = r->calls[r->n_calls - 1];
        printf("older: --before %" PRIu64 "@%s@%" PRId64 "\n", d->call_id,
               d->node, d->start);
    }
    if (r->message[0] != '\0')
        fprintf(stderr, "note: %s\n", r->message);
}

void ctl_print_table(const Tsps__Response *r, const char *cmd)
{
    char b1[32], b2[32];
    if (strcmp(cmd, "route") == 0 || strcmp(cmd, "explain") == 0 ||
        strcmp(cmd, "act") == 0) {
        for (size_t i = 0; i < r->n_calls; i++)
            print_decision(r->calls[i], 1);
    } else if (strcmp(cmd, "history") == 0 || strcmp(cmd, "calls") == 0) {
        calls_table(r);
    } else if (r->n_users > 0) {
        for (size_t i = 0; i < r->n_users; i++) {
            const Tsps__User *u = r->users[i];
            printf("%-12s %-20s %-3s %-20s", u->id, dash(u->display_name),
                   u->region, u->tz);
            for (size_t k = 0; k < u->n_numbers; k++)
                printf(" %s", u->numbers[k]);
            printf("\n");
            if (strcmp(cmd, "user.show") == 0)
                printf("  hours %s\n  voicemail %s\n  attendant %s\n",
                       dash(u->hours), dash(u->voicemail_uri),
                       dash(u->attendant_uri));
        }
    } else if (strcmp(cmd, "code.list") == 0) {
        printf("%-12s %-10s %s\n", "CODE", "STATUS", "METHOD");
        for (size_t i = 0; i < r->n_rules; i++)
            printf("%-12s %-10s %s\n", r->rules[i]->code, r->rules[i]->status,
                   r->rules[i]->method);
    } else if (r->status != NULL) {
        printf("%s is %s (%s)%s%s%s%s\n", r->status->user, r->status->status,
               r->status->source, r->status->detail[0] ? ": " : "",
               r->status->detail, r->status->until ? " until " : "",
               r->status->until ? when(r->status->until, b1, sizeof(b1)) : "");
    } else if (strcmp(cmd, "contact.list") == 0) {
        printf("%-24s %-24s %-9s %-9s %s\n", "UID", "NAME", "CODE", "FROM",
               "NUMBERS");
        for (size_t i = 0; i < r->n_contacts; i++) {
            const Tsps__Contact *k = r->contacts[i];
            printf("%-24.24s %-24.24s %-9s %-9s", k->uid, dash(k->name),
                   dash(k->code), k->code_source);
            for (size_t n = 0; n < k->n_numbers; n++)
                printf(" %s", k->numbers[n]);
            printf("\n");
        }
    } else if (strcmp(cmd, "source.list") == 0) {
        printf("%-10s %-8s %-8s %-9s %-21s %s\n", "NAME", "USER", "STATE",
               "CONTACTS", "LAST OK", "URI / ERROR");
        for (size_t i = 0; i < r->n_sources; i++) {
            const Tsps__Source *s = r->sources[i];
            printf("%-10s %-8s %-8s %-9" PRIu64 " %-21s %s%s%s\n", s->name,
                   s->user, s->state, s->contacts,
                   when(s->last_ok, b1, sizeof(b1)), s->uri,
                   s->last_error[0] ? " / " : "", s->last_error);
        }
    } else if (strcmp(cmd, "delegations") == 0) {
        printf("%-12s %-12s %-7s %-4s %-14s %s\n", "USER", "ATTENDANT",
               "MONITOR", "ACT", "CODES", "WINDOW");
        for (size_t i = 0; i < r->n_delegations; i++) {
            const Tsps__Delegation *d = r->delegations[i];
            char codes[128] = "";
            for (size_t k = 0; k < d->n_codes; k++) {
                size_t u = strlen(codes);
                snprintf(codes + u, sizeof(codes) - u, "%s%s", k ? "," : "",
                         d->codes[k]);
            }
            printf("%-12s %-12s %-7s %-4s %-14s %s .. %s\n", d->user,
                   d->attendant, d->monitor ? "yes" : "no",
                   d->act ? "yes" : "no", codes[0] ? codes : "all",
                   when(d->not_before, b1, sizeof(b1)),
                   when(d->not_after, b2, sizeof(b2)));
        }
    } else if (strcmp(cmd, "related") == 0) {
        if (r->related_status[0] != '\0')
            printf("(%s)\n", r->related_status);
        if (r->n_related == 0)
            printf("%s\n", r->message[0] ? r->message : "no related items");
        for (size_t i = 0; i < r->n_related; i++) {
            const Tsps__RelatedItem *it = r->related[i];
            printf("%-8s %s  %s\n         %s%s%s\n", it->kind,
                   when(it->date, b1, sizeof(b1)), it->title, it->from,
                   it->from[0] ? "  " : "", it->url);
        }
    } else if (strcmp(cmd, "voicemail.list") == 0) {
        printf("%s\n", r->message[0] ? r->message : "no messages");
        if (r->n_voicemail > 0)
            printf("%-20s %-4s %-20s %-16s %-12s %8s\n", "ID", "NEW", "TIME",
                   "CALLER", "CODE", "SECONDS");
        for (size_t i = 0; i < r->n_voicemail; i++) {
            const Tsps__VoicemailMessage *m = r->voicemail[i];
            printf("%-20s %-4s %-20s %-16s %-12s %8.1f\n", m->id,
                   m->heard ? "" : "new", when(m->time, b1, sizeof(b1)),
                   m->contact_name[0] ? m->contact_name : dash(m->caller),
                   dash(m->code), m->duration_ms / 1000.0);
        }
    } else if (strcmp(cmd, "ivr") == 0) {
        size_t n = strlen(r->ivr);
        fputs(r->ivr, stdout);
        if (n > 0 && r->ivr[n - 1] != '\n')
            putchar('\n');
    } else if (r->token[0] != '\0') {
        printf("%s\n", r->token);
    } else {
        printf("ok%s%s\n", r->message[0] ? ": " : "", r->message);
    }
}

void ctl_print_event(const Tsps__Response *r, int json)
{
    const Tsps__Event *e = r->event;
    char b[32];
    if (r->n_voicemail == 1) {
        /* voicemail.new / voicemail.changed: the message and the counts */
        const Tsps__VoicemailMessage *m = r->voicemail[0];
        if (json) {
            ctl_print_json(r);
            return;
        }
        printf("%s %-17s user=%s id=%s change=%s code=%s new=%u old=%u\n",
               when(e->at, b, sizeof(b)), e->kind, e->user, m->id,
               dash(m->change), dash(m->code), m->new_count, m->old_count);
        return;
    }
    if (json) {
        json_msg(&e->base);
        putchar('\n');
        return;
    }
    if (e->decision != NULL) {
        const Tsps__Decision *d = e->decision;
        printf("%s %-13s call=%" PRIu64 " user=%s caller=%s code=%s "
               "method=\"%s\" outcome=%s\n",
               when(e->at, b, sizeof(b)), e->kind, e->call_id, d->user,
               dash(d->caller), dash(d->code), d->method, dash(e->outcome));
    } else if (e->source != NULL) {
        printf("%s %-13s source=%s user=%s state=%s contacts=%" PRIu64 "%s%s\n",
               when(e->at, b, sizeof(b)), e->kind, e->source->name,
               e->source->user, e->source->state, e->source->contacts,
               e->source->last_error[0] ? " error=" : "",
               e->source->last_error);
    }
}
