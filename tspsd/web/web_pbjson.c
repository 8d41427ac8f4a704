/*
 * web_pbjson.c - control-protocol messages <-> JSON through protobuf-c's
 * descriptors (the proto3 JSON mapping, field names as in tsps.proto), so
 * the web API reaches the very handlers tspsctl does.
 */
#include "web_internal.h"

#include <stdio.h>
#include <string.h>

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    }
    return 0;
}

static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_integer((json_int_t) * (const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return json_real(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            f->descriptor, *(const int *)p);
        return v != NULL ? json_string(v->name) : json_integer(*(const int *)p);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return json_string(s != NULL ? s : "");
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        return m != NULL ? web_pb_to_json(m) : json_null();
    }
    case PROTOBUF_C_TYPE_BYTES:
        return json_null();
    }
    return json_null();
}

json_t *web_pb_to_json(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    json_t *o = json_object();

    for (unsigned i = 0; i < d->n_fields && o != NULL; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *p = base + f->offset;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
                   f->type != PROTOBUF_C_TYPE_MESSAGE &&
                   f->type != PROTOBUF_C_TYPE_STRING &&
                   !*(const protobuf_c_boolean *)(base +
                                                  f->quantifier_offset)) {
            continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(char *const *)p;
            size_t es = elem_size(f->type);
            json_t *a = json_array();
            for (size_t k = 0; k < n && a != NULL; k++)
                json_array_append_new(a, value_json(f, arr + k * es));
            json_object_set_new(o, f->name, a);
            continue;
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
            *(ProtobufCMessage *const *)p == NULL)
            continue;
        json_object_set_new(o, f->name, value_json(f, p));
    }
    return o;
}

static int set_value(tspsd_arena *a, const ProtobufCFieldDescriptor *f,
                     const json_t *v, void *p, char *err, size_t errlen)
{
    json_int_t iv = 0;
    int is_int = json_is_integer(v);

    if (is_int)
        iv = json_integer_value(v);
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (!is_int || iv < INT32_MIN || iv > INT32_MAX)
            goto bad;
        *(int32_t *)p = (int32_t)iv;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (!is_int || iv < 0 || iv > (json_int_t)UINT32_MAX)
            goto bad;
        *(uint32_t *)p = (uint32_t)iv;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (!is_int)
            goto bad;
        *(int64_t *)p = (int64_t)iv;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (json_is_string(v)) {
            char *end;
            const char *s = json_string_value(v);
            unsigned long long u = strtoull(s, &end, 10);
            if (*s == '\0' || *end != '\0' || *s == '-')
                goto bad;
            *(uint64_t *)p = u;
            return 0;
        }
        if (!is_int || iv < 0)
            goto bad;
        *(uint64_t *)p = (uint64_t)iv;
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
        if (!json_is_number(v))
            goto bad;
        *(float *)p = (float)json_number_value(v);
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (!json_is_number(v))
            goto bad;
        *(double *)p = json_number_value(v);
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            goto bad;
        *(protobuf_c_boolean *)p = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev = NULL;
        if (json_is_string(v))
            ev = protobuf_c_enum_descriptor_get_value_by_name(
                f->descriptor, json_string_value(v));
        else if (is_int)
            ev = protobuf_c_enum_descriptor_get_value(f->descriptor, (int)iv);
        if (ev == NULL)
            goto bad;
        *(int *)p = ev->value;
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v))
            goto bad;
        char *s = tspsd_arena_strdup(a, json_string_value(v));
        if (s == NULL)
            goto oom;
        *(char **)p = s;
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *md = f->descriptor;
        ProtobufCMessage *m;
        if (json_is_null(v))
            return 0;
        if (!json_is_object(v))
            goto bad;
        m = tspsd_arena_alloc(a, md->sizeof_message);
        if (m == NULL)
            goto oom;
        md->message_init(m);
        if (web_pb_from_json(a, v, m, err, errlen) != 0)
            return -1;
        *(ProtobufCMessage **)p = m;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES:
        break;
    }
bad:
    snprintf(err, errlen, "field %s: wrong type", f->name);
    return -1;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int web_pb_from_json(tspsd_arena *a, const json_t *j, ProtobufCMessage *m,
                     char *err, size_t errlen)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    char *base = (char *)m;
    const char *key;
    json_t *v;

    if (!json_is_object(j)) {
        snprintf(err, errlen, "%s: expected an object", d->short_name);
        return -1;
    }
    json_object_foreach((json_t *)j, key, v)
    {
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(d, key);
        if (f == NULL) {
            snprintf(err, errlen, "%s: unknown field %.60s", d->short_name,
                     key);
            return -1;
        }
        void *p = base + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n, es = elem_size(f->type);
            char *arr;
            if (!json_is_array(v)) {
                snprintf(err, errlen, "field %s: expected an array", f->name);
                return -1;
            }
            n = json_array_size(v);
            if (n > 10000) {
                snprintf(err, errlen, "field %s: too many items", f->name);
                return -1;
            }
            arr = n ? tspsd_arena_alloc(a, n * es) : NULL;
            if (n && arr == NULL) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            for (size_t k = 0; k < n; k++)
                if (set_value(a, f, json_array_get(v, k), arr + k * es, err,
                              errlen) != 0)
                    return -1;
            *(char **)p = arr;
            *(size_t *)(base + f->quantifier_offset) = n;
            continue;
        }
        if (set_value(a, f, v, p, err, errlen) != 0)
            return -1;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            *(uint32_t *)(base + f->quantifier_offset) = f->id;
        else if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
                 f->type != PROTOBUF_C_TYPE_MESSAGE &&
                 f->type != PROTOBUF_C_TYPE_STRING)
            *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
    }
    return 0;
}
