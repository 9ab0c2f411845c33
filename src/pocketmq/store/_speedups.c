/* pocketmq.store._speedups: the put fast path in C (optional; see put_path.py).
 *
 * PutPath.append does what put_path.PutPath.append does, step for step, and writes the same
 * bytes: the CommitLog record in place (4.x layout, IPv4 hosts), its ConsumeQueue unit, its
 * index entries (Java String.hashCode of "topic#key"), then the bookkeeping of the Python
 * objects it works on (positions, queue offsets, index header fields, dispatcher marks).
 * Anything out of the ordinary (rolling a ConsumeQueue or an index file, a replay) is handed to
 * the same Python methods the pure path calls. append() returns None, having written nothing,
 * when the message is not for the fast path; the store then takes its general path.
 *
 * Written for pocketmq; layouts in docs/formats.md and store/commit_log/record.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>
#include <limits.h>
#include <time.h>

/* ---- CRC-32 (the zlib / java.util.zip polynomial, reflected 0xEDB88320), slicing by 8 ---- */

static uint32_t crc_table[8][256];

static void
crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        crc_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = crc_table[0][n];
        for (int t = 1; t < 8; t++) {
            c = crc_table[0][c & 0xFF] ^ (c >> 8);
            crc_table[t][n] = c;
        }
    }
}

/* zlib.crc32, for long bodies: the system zlib is faster than the table below from about
 * 512 bytes on, and calling it through Python costs about 40 ns. */
static PyObject *zlib_crc32;
#define ZLIB_CRC_FROM 512

static uint32_t
crc32_of(const unsigned char *p, Py_ssize_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
                      (uint32_t)p[7] << 24;
        c = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^
            crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24] ^
            crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF] ^
            crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) {
        c = crc_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    }
    return c ^ 0xFFFFFFFFu;
}

/* ---- big-endian stores ---- */

static inline void
put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static inline void
put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static inline int32_t
get32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
                     (uint32_t)p[3]);
}

/* ---- Java String.hashCode over UTF-16 code units ---- */

static uint32_t
hash_update(uint32_t h, PyObject *text, Py_ssize_t start, Py_ssize_t end)
{
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t i;
    if (kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *s = (const Py_UCS1 *)data;
        for (i = start; i < end; i++) {
            h = h * 31u + s[i];
        }
    }
    else if (kind == PyUnicode_2BYTE_KIND) {
        const Py_UCS2 *s = (const Py_UCS2 *)data;
        for (i = start; i < end; i++) {
            h = h * 31u + s[i];
        }
    }
    else {
        const Py_UCS4 *s = (const Py_UCS4 *)data;
        for (i = start; i < end; i++) {
            Py_UCS4 c = s[i];
            if (c >= 0x10000) { /* a surrogate pair in Java */
                c -= 0x10000;
                h = h * 31u + (0xD800u + (c >> 10));
                h = h * 31u + (0xDC00u + (c & 0x3FF));
            }
            else {
                h = h * 31u + c;
            }
        }
    }
    return h;
}

/* IndexFile#indexKeyHashMethod: Math.abs(hashCode), Integer.MIN_VALUE -> 0. */
static int32_t
index_hash(uint32_t h)
{
    if (h == 0x80000000u) {
        return 0;
    }
    int32_t s = (int32_t)h;
    return s < 0 ? -s : s;
}

static PyObject *
java_string_hash(PyObject *module, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "java_string_hash() takes a str");
        return NULL;
    }
    return PyLong_FromLong((long)(int32_t)hash_update(0, text, 0, PyUnicode_GET_LENGTH(text)));
}

static PyObject *
crc32_py(PyObject *module, PyObject *data)
{
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    uint32_t c = crc32_of((const unsigned char *)view.buf, view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(c);
}

/* ---- attribute helpers ---- */

/* An attribute name with the slot offsets of the (at most two) types it was read from: objects
 * of the store's __slots__ classes are read and written at the slot directly, anything else
 * through the generic attribute protocol. */
typedef struct {
    PyObject *name;
    PyTypeObject *types[2];
    Py_ssize_t offsets[2]; /* -1: not a plain slot of that type */
} Attr;

static Attr a_properties, a_body, a_topic, a_born_host, a_sys_flag, a_queue_id, a_flag, a_born_timestamp, a_reconsume_times, a_prepared_transaction_offset, a_last, a_file_size, a_wrote_position, a_file_from_offset, a_mm, a_writable, a_queue_offsets, a_last_store_timestamp, a_queues, a_find_or_create, a_file_bytes, a_put, a_max_commit_log_end, a_files, a_index_count, a_entry_count, a_slot_count, a_hash_slot_count, a_begin_timestamp, a_end_timestamp, a_begin_phy_offset, a_end_phy_offset, a_flushed, a_entries_at, a_build_index, a_dispatched_end, a_listeners;
/* PutMessageResult slots (make_result) */
static Attr r_status, r_commit_log_offset, r_wrote_bytes, r_queue_offset, r_store_timestamp,
    r_message_count, r_store_host, r_record_offsets, r_remark;
static PyObject *k_tags, *k_keys, *k_uniq, *k_delay;

static int
intern_all(void)
{
#define I(var, text)                                     \
    if ((var = PyUnicode_InternFromString(text)) == NULL) \
        return -1;
    I(a_properties.name, "properties") I(a_body.name, "body") I(a_topic.name, "topic")
    I(a_born_host.name, "born_host") I(a_sys_flag.name, "sys_flag") I(a_queue_id.name, "queue_id")
    I(a_flag.name, "flag") I(a_born_timestamp.name, "born_timestamp")
    I(a_reconsume_times.name, "reconsume_times")
    I(a_prepared_transaction_offset.name, "prepared_transaction_offset") I(a_last.name, "_last")
    I(a_file_size.name, "file_size") I(a_wrote_position.name, "wrote_position")
    I(a_file_from_offset.name, "file_from_offset") I(a_mm.name, "mm") I(a_writable.name, "_writable")
    I(a_queue_offsets.name, "queue_offsets") I(a_last_store_timestamp.name, "last_store_timestamp")
    I(a_queues.name, "queues") I(a_find_or_create.name, "find_or_create") I(a_file_bytes.name, "file_bytes")
    I(a_put.name, "put") I(a_max_commit_log_end.name, "max_commit_log_end") I(a_files.name, "files")
    I(a_index_count.name, "index_count") I(a_entry_count.name, "entry_count")
    I(a_slot_count.name, "slot_count") I(a_hash_slot_count.name, "hash_slot_count")
    I(a_begin_timestamp.name, "begin_timestamp") I(a_end_timestamp.name, "end_timestamp")
    I(a_begin_phy_offset.name, "begin_phy_offset") I(a_end_phy_offset.name, "end_phy_offset")
    I(a_flushed.name, "flushed") I(a_entries_at.name, "_entries_at") I(a_build_index.name, "build_index")
    I(a_dispatched_end.name, "dispatched_end") I(a_listeners.name, "listeners") I(k_tags, "TAGS")
    I(k_keys, "KEYS") I(k_uniq, "UNIQ_KEY") I(k_delay, "DELAY")
    I(r_status.name, "status") I(r_commit_log_offset.name, "commit_log_offset")
    I(r_wrote_bytes.name, "wrote_bytes") I(r_queue_offset.name, "queue_offset")
    I(r_store_timestamp.name, "store_timestamp") I(r_message_count.name, "message_count")
    I(r_store_host.name, "_store_host") I(r_record_offsets.name, "_record_offsets")
    I(r_remark.name, "remark")
#undef I
    return 0;
}

static PyObject **
slot_of(Attr *a, PyObject *obj)
{
    PyTypeObject *type = Py_TYPE(obj);
    for (int i = 0; i < 2; i++) {
        if (a->types[i] == type) {
            return a->offsets[i] >= 0 ? (PyObject **)((char *)obj + a->offsets[i]) : NULL;
        }
    }
    Py_ssize_t offset = -1;
    PyObject *descr = _PyType_Lookup(type, a->name); /* borrowed */
    if (descr != NULL && Py_TYPE(descr) == &PyMemberDescr_Type) {
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type == T_OBJECT_EX && !(member->flags & READONLY)) {
            offset = member->offset;
        }
    }
    for (int i = 0; i < 2; i++) {
        if (a->types[i] == NULL) {
            Py_INCREF(type);
            a->types[i] = type;
            a->offsets[i] = offset;
            break;
        }
    }
    return offset >= 0 ? (PyObject **)((char *)obj + offset) : NULL;
}

/* getattr(obj, name): a new reference, or NULL with AttributeError. */
static PyObject *
aget(Attr *a, PyObject *obj)
{
    PyObject **slot = slot_of(a, obj);
    if (slot != NULL && *slot != NULL) {
        Py_INCREF(*slot);
        return *slot;
    }
    return PyObject_GetAttr(obj, a->name);
}

/* setattr(obj, name, value) */
static int
aset(Attr *a, PyObject *obj, PyObject *value)
{
    PyObject **slot = slot_of(a, obj);
    if (slot != NULL) {
        Py_INCREF(value);
        Py_XSETREF(*slot, value);
        return 0;
    }
    return PyObject_SetAttr(obj, a->name, value);
}

/* Read an int attribute into *out; -1 with an exception set on failure. */
static int
get_ll(PyObject *obj, Attr *name, long long *out)
{
    PyObject *value = aget(name, obj);
    if (value == NULL) {
        return -1;
    }
    *out = PyLong_AsLongLong(value);
    Py_DECREF(value);
    if (*out == -1 && PyErr_Occurred()) {
        return -1;
    }
    return 0;
}

static int
set_ll(PyObject *obj, Attr *name, long long v)
{
    PyObject *value = PyLong_FromLongLong(v);
    if (value == NULL) {
        return -1;
    }
    int rc = aset(name, obj, value);
    Py_DECREF(value);
    return rc;
}

/* A writable view of a mapping holding at least `need` bytes. */
static int
writable_view(PyObject *owner, Py_buffer *view, long long need)
{
    PyObject *mm = aget(&a_mm, owner);
    if (mm == NULL) {
        return -1;
    }
    int rc = PyObject_GetBuffer(mm, view, PyBUF_WRITABLE);
    Py_DECREF(mm);
    if (rc < 0) {
        return -1;
    }
    if (view->len < need) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_AssertionError, "mapping of %zd bytes, %lld needed", view->len, need);
        return -1;
    }
    return 0;
}

/* ---- PutPath ---- */

typedef struct {
    PyObject_HEAD
    PyObject *commit_log;
    PyObject *consume_queues;
    PyObject *index; /* IndexService or None */
    PyObject *dispatcher;
    PyObject *topic_tails; /* dict str -> bytes (length byte + topic) */
    PyObject *host_cache;  /* dict str -> packed ip */
    PyObject *store_host;  /* (ip, port) */
    PyObject *now_ms;      /* callable */
    PyObject *result_type; /* PutMessageResult */
    PyObject *put_ok;      /* PutMessageStatus.PUT_OK */
    PyObject *properties_to_string;
    PyObject *empty_tuple;
    PyObject *empty_string;
    unsigned char store_ip[4];
    int32_t store_port;
    Py_ssize_t max_body_bytes;
    Py_ssize_t max_record_bytes;
    int schedule_delayed;
    int open;
    int system_clock; /* now_ms is SystemClock.now_ms: read the same clock here */
} PutPath;

static int
PutPath_traverse(PutPath *self, visitproc visit, void *arg)
{
    Py_VISIT(self->commit_log);
    Py_VISIT(self->consume_queues);
    Py_VISIT(self->index);
    Py_VISIT(self->dispatcher);
    Py_VISIT(self->topic_tails);
    Py_VISIT(self->host_cache);
    Py_VISIT(self->store_host);
    Py_VISIT(self->now_ms);
    Py_VISIT(self->result_type);
    Py_VISIT(self->put_ok);
    Py_VISIT(self->properties_to_string);
    Py_VISIT(self->empty_tuple);
    Py_VISIT(self->empty_string);
    return 0;
}

static int
PutPath_clear(PutPath *self)
{
    Py_CLEAR(self->commit_log);
    Py_CLEAR(self->consume_queues);
    Py_CLEAR(self->index);
    Py_CLEAR(self->dispatcher);
    Py_CLEAR(self->topic_tails);
    Py_CLEAR(self->host_cache);
    Py_CLEAR(self->store_host);
    Py_CLEAR(self->now_ms);
    Py_CLEAR(self->result_type);
    Py_CLEAR(self->put_ok);
    Py_CLEAR(self->properties_to_string);
    Py_CLEAR(self->empty_tuple);
    Py_CLEAR(self->empty_string);
    return 0;
}

static void
PutPath_dealloc(PutPath *self)
{
    PyObject_GC_UnTrack(self);
    PutPath_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
import_attr(const char *module_name, const char *name)
{
    PyObject *module = PyImport_ImportModule(module_name);
    if (module == NULL) {
        return NULL;
    }
    PyObject *value = PyObject_GetAttrString(module, name);
    Py_DECREF(module);
    return value;
}

/* PutPath(commit_log, consume_queues, index, dispatcher, topic_tails, host_cache, store_host,
 *         store_ip, max_body_bytes, max_record_bytes, schedule_delayed, now_ms) */
static int
PutPath_init(PutPath *self, PyObject *args, PyObject *kwargs)
{
    PyObject *commit_log, *consume_queues, *index, *dispatcher, *topic_tails, *host_cache,
        *store_host, *now_ms;
    Py_buffer store_ip;
    Py_ssize_t max_body_bytes, max_record_bytes;
    int schedule_delayed;
    if (!PyArg_ParseTuple(args, "OOOOO!O!O!y*nnpO:PutPath", &commit_log, &consume_queues, &index,
                          &dispatcher, &PyDict_Type, &topic_tails, &PyDict_Type, &host_cache,
                          &PyTuple_Type, &store_host, &store_ip, &max_body_bytes,
                          &max_record_bytes, &schedule_delayed, &now_ms)) {
        return -1;
    }
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) > 0) {
        PyBuffer_Release(&store_ip);
        PyErr_SetString(PyExc_TypeError, "PutPath() takes positional arguments only");
        return -1;
    }
    if (PyTuple_GET_SIZE(store_host) != 2) {
        PyBuffer_Release(&store_ip);
        PyErr_SetString(PyExc_ValueError, "store_host is (ip, port)");
        return -1;
    }
    long port = PyLong_AsLong(PyTuple_GET_ITEM(store_host, 1));
    if (port == -1 && PyErr_Occurred()) {
        PyBuffer_Release(&store_ip);
        return -1;
    }
    /* Only IPv4 store hosts take the fast path; for others the store never opens it. */
    memset(self->store_ip, 0, 4);
    if (store_ip.len == 4) {
        memcpy(self->store_ip, store_ip.buf, 4);
    }
    int ipv4 = store_ip.len == 4;
    PyBuffer_Release(&store_ip);
    PyObject *result_type = import_attr("pocketmq.store.results", "PutMessageResult");
    if (result_type == NULL) {
        return -1;
    }
    PyObject *status = import_attr("pocketmq.store.results", "PutMessageStatus");
    if (status == NULL) {
        Py_DECREF(result_type);
        return -1;
    }
    PyObject *put_ok = PyObject_GetAttrString(status, "PUT_OK");
    Py_DECREF(status);
    if (put_ok == NULL) {
        Py_DECREF(result_type);
        return -1;
    }
    PyObject *to_string = import_attr("pocketmq.common.message", "properties_to_string");
    if (to_string == NULL) {
        Py_DECREF(result_type);
        Py_DECREF(put_ok);
        return -1;
    }
    PutPath_clear(self);
    Py_INCREF(commit_log);
    self->commit_log = commit_log;
    Py_INCREF(consume_queues);
    self->consume_queues = consume_queues;
    Py_INCREF(index);
    self->index = index;
    Py_INCREF(dispatcher);
    self->dispatcher = dispatcher;
    Py_INCREF(topic_tails);
    self->topic_tails = topic_tails;
    Py_INCREF(host_cache);
    self->host_cache = host_cache;
    Py_INCREF(store_host);
    self->store_host = store_host;
    Py_INCREF(now_ms);
    self->now_ms = now_ms;
    self->result_type = result_type;
    self->put_ok = put_ok;
    self->properties_to_string = to_string;
    self->empty_tuple = PyTuple_New(0);
    self->empty_string = PyUnicode_FromString("");
    if (self->empty_tuple == NULL || self->empty_string == NULL) {
        return -1;
    }
    if (!PyType_Check(result_type) || ((PyTypeObject *)result_type)->tp_alloc == NULL) {
        PyErr_SetString(PyExc_TypeError, "PutMessageResult is not a type");
        return -1;
    }
    self->store_port = (int32_t)port;
    self->max_body_bytes = max_body_bytes;
    self->max_record_bytes = max_record_bytes;
    self->schedule_delayed = schedule_delayed;
    self->open = 0;
    (void)ipv4;
    /* SystemClock.now_ms is time.time_ns() // 1_000_000, i.e. CLOCK_REALTIME: read it directly
     * (an injected clock, e.g. FakeClock, is called as given). */
    PyObject *system_clock = import_attr("pocketmq.common.clock", "SystemClock");
    if (system_clock == NULL) {
        return -1;
    }
    PyObject *system_now = PyObject_GetAttrString(system_clock, "now_ms");
    Py_DECREF(system_clock);
    if (system_now == NULL) {
        return -1;
    }
    self->system_clock = PyMethod_Check(now_ms) &&
                         Py_IS_TYPE(PyMethod_GET_SELF(now_ms), (PyTypeObject *)system_clock) &&
                         PyMethod_GET_FUNCTION(now_ms) == system_now;
    Py_DECREF(system_now);
    return 0;
}

/* A property of the message that must be absent or a str; 1 = usable (*out borrowed or NULL),
 * 0 = not a str (take the general path), -1 = error. */
static int
str_property(PyObject *properties, PyObject *key, PyObject **out)
{
    PyObject *value = PyDict_GetItemWithError(properties, key);
    if (value == NULL) {
        *out = NULL;
        return PyErr_Occurred() ? -1 : 1;
    }
    if (!PyUnicode_CheckExact(value)) {
        return 0;
    }
    *out = PyUnicode_GET_LENGTH(value) > 0 ? value : NULL;
    return 1;
}

/* The ConsumeQueue unit (ConsumeQueue.put, in line when the unit appends to the queue's current
 * file; otherwise through the Python method). */
static int
write_unit(PutPath *self, PyObject *key, PyObject *topic, PyObject *queue_id,
           long long queue_offset, long long offset, long long total, long long tags_code)
{
    PyObject *queues = aget(&a_queues, self->consume_queues);
    if (queues == NULL) {
        return -1;
    }
    PyObject *queue = PyDict_GetItemWithError(queues, key);
    Py_DECREF(queues);
    if (queue == NULL) {
        if (PyErr_Occurred()) {
            return -1;
        }
        queue = PyObject_CallMethodObjArgs(self->consume_queues, a_find_or_create.name, topic,
                                           queue_id, NULL);
        if (queue == NULL) {
            return -1;
        }
    }
    else {
        Py_INCREF(queue);
    }
    int rc = -1;
    long long position = queue_offset * 20, file_bytes, from, wrote;
    PyObject *mapped = aget(&a_last, queue);
    if (mapped == NULL) {
        goto done;
    }
    if (mapped != Py_None) {
        if (get_ll(queue, &a_file_bytes, &file_bytes) < 0 ||
            get_ll(mapped, &a_file_from_offset, &from) < 0 ||
            get_ll(mapped, &a_wrote_position, &wrote) < 0) {
            goto done;
        }
        if (from <= position && position < from + file_bytes && position - from == wrote) {
            Py_buffer view;
            if (writable_view(mapped, &view, wrote + 20) < 0) {
                goto done;
            }
            unsigned char *p = (unsigned char *)view.buf + wrote;
            put64(p, (uint64_t)offset);
            put32(p + 8, (uint32_t)total);
            put64(p + 12, (uint64_t)tags_code);
            PyBuffer_Release(&view);
            if (set_ll(mapped, &a_wrote_position, wrote + 20) < 0 ||
                set_ll(queue, &a_max_commit_log_end, offset + total) < 0) {
                goto done;
            }
            rc = 0;
            goto done;
        }
    }
    {
        PyObject *r = PyObject_CallMethod(queue, "put", "LLLL", queue_offset, offset, total,
                                          tags_code);
        if (r != NULL) {
            Py_DECREF(r);
            rc = 0;
        }
    }
done:
    Py_XDECREF(mapped);
    Py_DECREF(queue);
    return rc;
}

/* What IndexFile.put_key reads and updates, held in C while one message's keys are written. */
typedef struct {
    unsigned char *base;
    long long slot_count, entries_at, index_count, hash_slots, begin_ts, begin_phy;
} IndexState;

/* IndexFile#putKey for one key whose String.hashCode is `h` (the caller checked the room). */
static void
put_entry(IndexState *st, uint32_t h, long long offset, long long now)
{
    int32_t key_hash = index_hash(h);
    long long index = st->index_count;
    unsigned char *slot = st->base + 40 + ((long long)key_hash % st->slot_count) * 4;
    int32_t slot_value = get32(slot);
    if (slot_value <= 0 || slot_value > index) {
        slot_value = 0;
        st->hash_slots++;
    }
    long long time_diff = 0;
    if (st->begin_ts > 0 && now >= st->begin_ts) {
        time_diff = (now - st->begin_ts) / 1000;
        if (time_diff > 0x7FFFFFFF) {
            time_diff = 0x7FFFFFFF;
        }
    }
    unsigned char *entry = st->base + st->entries_at + index * 20;
    put32(entry, (uint32_t)key_hash);
    put64(entry + 4, (uint64_t)offset);
    put32(entry + 12, (uint32_t)time_diff);
    put32(entry + 16, (uint32_t)slot_value);
    put32(slot, (uint32_t)index);
    if (index <= 1) {
        st->begin_phy = offset;
        st->begin_ts = now;
    }
    st->index_count = index + 1;
}

/* Index entries (IndexService.build_index + IndexFile.put_key): UNIQ_KEY first, then each
 * space-separated KEYS entry, in line when the last file has room for all of them; otherwise
 * (no file yet, a roll, a replay) through build_index. */
static int
write_index(PutPath *self, PyObject *topic, PyObject *keys, PyObject *uniq, long long offset,
            long long now, long long sys_flag)
{
    Py_ssize_t keys_length = keys != NULL ? PyUnicode_GET_LENGTH(keys) : 0;
    int keys_kind = keys != NULL ? PyUnicode_KIND(keys) : PyUnicode_1BYTE_KIND;
    const void *keys_data = keys != NULL ? PyUnicode_DATA(keys) : NULL;
    long long needed = uniq != NULL ? 1 : 0;
    int in_token = 0;
    for (Py_ssize_t i = 0; i < keys_length; i++) {
        if (PyUnicode_READ(keys_kind, keys_data, i) == ' ') {
            in_token = 0;
        }
        else if (!in_token) {
            in_token = 1;
            needed++;
        }
    }
    PyObject *files = aget(&a_files, self->index);
    if (files == NULL) {
        return -1;
    }
    if (!PyList_Check(files)) {
        Py_DECREF(files);
        PyErr_SetString(PyExc_TypeError, "IndexService.files is not a list");
        return -1;
    }
    Py_ssize_t count = PyList_GET_SIZE(files);
    PyObject *file = count ? PyList_GET_ITEM(files, count - 1) : NULL;
    Py_XINCREF(file);
    Py_DECREF(files);
    int rc = -1;
    long long entry_count, end_phy;
    IndexState st;
    Py_buffer view;
    if (file == NULL) {
        goto slow;
    }
    if (get_ll(file, &a_index_count, &st.index_count) < 0 ||
        get_ll(file, &a_entry_count, &entry_count) < 0 ||
        get_ll(file, &a_end_phy_offset, &end_phy) < 0) {
        goto done;
    }
    /* No key to write (KEYS of blanks only): build_index decides what, if anything, changes. */
    if (needed == 0 || st.index_count + needed > entry_count || offset < end_phy) {
        goto slow;
    }
    if (get_ll(file, &a_slot_count, &st.slot_count) < 0 ||
        get_ll(file, &a_hash_slot_count, &st.hash_slots) < 0 ||
        get_ll(file, &a_begin_timestamp, &st.begin_ts) < 0 ||
        get_ll(file, &a_begin_phy_offset, &st.begin_phy) < 0 ||
        get_ll(file, &a_entries_at, &st.entries_at) < 0) {
        goto done;
    }
    if (st.slot_count <= 0 || st.index_count < 1) {
        PyErr_SetString(PyExc_AssertionError, "index file without slots or entry 0 in use");
        goto done;
    }
    if (writable_view(file, &view, st.entries_at + (st.index_count + needed) * 20) < 0) {
        goto done;
    }
    st.base = (unsigned char *)view.buf;
    {
        uint32_t prefix = hash_update(0, topic, 0, PyUnicode_GET_LENGTH(topic)) * 31u + '#';
        if (uniq != NULL) {
            put_entry(&st, hash_update(prefix, uniq, 0, PyUnicode_GET_LENGTH(uniq)), offset, now);
        }
        Py_ssize_t start = 0;
        while (start < keys_length) {
            if (PyUnicode_READ(keys_kind, keys_data, start) == ' ') {
                start++;
                continue;
            }
            Py_ssize_t end = start;
            while (end < keys_length && PyUnicode_READ(keys_kind, keys_data, end) != ' ') {
                end++;
            }
            put_entry(&st, hash_update(prefix, keys, start, end), offset, now);
            start = end;
        }
    }
    PyBuffer_Release(&view);
    if (set_ll(file, &a_index_count, st.index_count) < 0 ||
        set_ll(file, &a_hash_slot_count, st.hash_slots) < 0 ||
        set_ll(file, &a_begin_phy_offset, st.begin_phy) < 0 ||
        set_ll(file, &a_begin_timestamp, st.begin_ts) < 0 ||
        set_ll(file, &a_end_phy_offset, offset) < 0 || set_ll(file, &a_end_timestamp, now) < 0 ||
        aset(&a_flushed, file, Py_False) < 0) {
        goto done;
    }
    rc = 0;
    goto done;
slow: {
    PyObject *r = PyObject_CallMethod(self->index, "build_index", "OOOLLL", topic,
                                      keys != NULL ? keys : Py_None,
                                      uniq != NULL ? uniq : Py_None, offset, now, sys_flag);
    if (r != NULL) {
        Py_DECREF(r);
        rc = 0;
    }
}
done:
    Py_XDECREF(file);
    return rc;
}

/* An int field of the message within [lo, hi]: 1 = *out set, 0 = out of range (the general path
 * raises the same error the pure path would), -1 = error. */
static int
message_int(PyObject *message, Attr *name, long long lo, long long hi, long long *out)
{
    PyObject *value = aget(name, message);
    if (value == NULL) {
        return -1;
    }
    if (!PyLong_Check(value)) {
        Py_DECREF(value);
        return 0;
    }
    int overflow;
    *out = PyLong_AsLongLongAndOverflow(value, &overflow);
    Py_DECREF(value);
    if (*out == -1 && PyErr_Occurred()) {
        return -1;
    }
    return !overflow && *out >= lo && *out <= hi;
}

#define INT32_LO (-2147483648LL)
#define INT32_HI 2147483647LL

/* PutMessageResult(PUT_OK, offset, total, queue_offset, now, 1, store_host), its slots filled
 * here as its __init__ fills them (results.py; tests compare the two). */

static PyObject *
make_result(PutPath *self, long long offset, long long total, long long queue_offset,
            PyObject *now)
{
    PyTypeObject *type = (PyTypeObject *)self->result_type;
    PyObject *result = type->tp_alloc(type, 0);
    if (result == NULL) {
        return NULL;
    }
    PyObject *values[3] = {PyLong_FromLongLong(offset), PyLong_FromLongLong(total),
                           PyLong_FromLongLong(queue_offset)};
    int rc = values[0] == NULL || values[1] == NULL || values[2] == NULL ||
             aset(&r_status, result, self->put_ok) < 0 ||
             aset(&r_commit_log_offset, result, values[0]) < 0 ||
             aset(&r_wrote_bytes, result, values[1]) < 0 ||
             aset(&r_queue_offset, result, values[2]) < 0 ||
             aset(&r_store_timestamp, result, now) < 0 || set_ll(result, &r_message_count, 1) < 0 ||
             aset(&r_store_host, result, self->store_host) < 0 ||
             aset(&r_record_offsets, result, self->empty_tuple) < 0 ||
             aset(&r_remark, result, self->empty_string) < 0;
    Py_XDECREF(values[0]);
    Py_XDECREF(values[1]);
    Py_XDECREF(values[2]);
    if (rc) {
        Py_DECREF(result);
        return NULL;
    }
    return result;
}

#define TAKE(var, name)                          \
    if ((var = aget(name, message)) == NULL) \
        goto error;

static PyObject *
PutPath_append(PutPath *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "append(message, properties_string)");
        return NULL;
    }
    if (!self->open) {
        Py_RETURN_NONE;
    }
    PyObject *message = args[0], *properties_string = args[1];
    PyObject *properties = NULL, *body = NULL, *topic = NULL, *born_host = NULL,
             *queue_id = NULL, *key = NULL, *mapped = NULL, *queue_offsets = NULL,
             *now_object = NULL, *props_owned = NULL, *result = NULL, *tail_owned = NULL;
    unsigned char born_ip4[4];
    PyObject *tags, *keys, *uniq;
    Py_buffer body_view = {0}, cl_view = {0};
    long long sys_flag, flag, born_timestamp, reconsume_times, prepared_offset, born_port;
    int ok = 1;

    TAKE(properties, &a_properties);
    TAKE(body, &a_body);
    TAKE(topic, &a_topic);
    TAKE(born_host, &a_born_host);
    if (!PyDict_CheckExact(properties) || !PyUnicode_CheckExact(topic) ||
        !PyTuple_CheckExact(born_host) || PyTuple_GET_SIZE(born_host) != 2) {
        goto general;
    }
    PyObject *topic_tail = PyDict_GetItemWithError(self->topic_tails, topic);
    if (topic_tail == NULL) {
        if (PyErr_Occurred()) {
            goto error;
        }
        goto general;
    }
    PyObject *born_ip = PyDict_GetItemWithError(self->host_cache, PyTuple_GET_ITEM(born_host, 0));
    if (born_ip == NULL) {
        if (PyErr_Occurred()) {
            goto error;
        }
        goto general;
    }
    if (!PyBytes_CheckExact(born_ip) || PyBytes_GET_SIZE(born_ip) != 4 ||
        !PyBytes_CheckExact(topic_tail)) {
        goto general;
    }
    /* Both are borrowed from caches that Python code called below could in principle clear. */
    memcpy(born_ip4, PyBytes_AS_STRING(born_ip), 4);
    tail_owned = topic_tail;
    Py_INCREF(tail_owned);

    if ((ok = message_int(message, &a_sys_flag, INT32_LO, INT32_HI, &sys_flag)) <= 0) {
        goto out_of_range;
    }
    if (sys_flag & 0x4) { /* prepared or rolled back: no queue offset, no unit */
        goto general;
    }
    if (PyObject_GetBuffer(body, &body_view, PyBUF_SIMPLE) < 0) {
        goto error;
    }
    if (body_view.len > self->max_body_bytes) {
        goto general;
    }
    if (self->schedule_delayed) {
        int has = PyDict_Contains(properties, k_delay);
        if (has < 0) {
            goto error;
        }
        if (has) {
            goto general;
        }
    }
    TAKE(queue_id, &a_queue_id);
    long long queue_id_value;
    if ((ok = message_int(message, &a_queue_id, 0, INT32_HI, &queue_id_value)) <= 0) {
        goto out_of_range;
    }
    if ((ok = str_property(properties, k_tags, &tags)) <= 0 ||
        (ok = str_property(properties, k_keys, &keys)) <= 0 ||
        (ok = str_property(properties, k_uniq, &uniq)) <= 0) {
        if (ok < 0) {
            goto error;
        }
        goto general;
    }
    if (properties_string == Py_None) {
        props_owned = PyObject_CallOneArg(self->properties_to_string, properties);
        if (props_owned == NULL) {
            goto error;
        }
        properties_string = props_owned;
    }
    if (!PyUnicode_Check(properties_string)) {
        PyErr_SetString(PyExc_TypeError, "properties_string must be a str");
        goto error;
    }
    Py_ssize_t props_length;
    const char *props = PyUnicode_AsUTF8AndSize(properties_string, &props_length);
    if (props == NULL) {
        goto error;
    }
    Py_ssize_t tail_length = PyBytes_GET_SIZE(topic_tail);
    long long total = 90 + (long long)body_view.len + tail_length + props_length;
    if (props_length > 32767 || total > self->max_record_bytes) {
        goto general;
    }
    if ((ok = message_int(message, &a_flag, INT32_LO, INT32_HI, &flag)) <= 0 ||
        (ok = message_int(message, &a_born_timestamp, LLONG_MIN, LLONG_MAX, &born_timestamp)) <= 0 ||
        (ok = message_int(message, &a_reconsume_times, INT32_LO, INT32_HI, &reconsume_times)) <= 0 ||
        (ok = message_int(message, &a_prepared_transaction_offset, LLONG_MIN, LLONG_MAX,
                          &prepared_offset)) <= 0) {
        goto out_of_range;
    }
    {
        PyObject *port = PyTuple_GET_ITEM(born_host, 1);
        int overflow;
        if (!PyLong_Check(port)) {
            goto general;
        }
        born_port = PyLong_AsLongLongAndOverflow(port, &overflow);
        if (born_port == -1 && PyErr_Occurred()) {
            goto error;
        }
        if (overflow || born_port < INT32_LO || born_port > INT32_HI) {
            goto general;
        }
    }

    /* The CommitLog segment with room for the record (and a blank record after it). */
    long long file_size, position, from;
    if ((mapped = aget(&a_last, self->commit_log)) == NULL) {
        goto error;
    }
    if (mapped != Py_None) {
        long long wrote;
        if (get_ll(mapped, &a_file_size, &file_size) < 0 ||
            get_ll(mapped, &a_wrote_position, &wrote) < 0) {
            goto error;
        }
        if (file_size - wrote < total + 8) {
            Py_CLEAR(mapped);
        }
    }
    else {
        Py_CLEAR(mapped);
    }
    if (mapped == NULL) {
        mapped = PyObject_CallMethod(self->commit_log, "_writable", "L", total);
        if (mapped == NULL) {
            goto error;
        }
    }
    if (get_ll(mapped, &a_wrote_position, &position) < 0 ||
        get_ll(mapped, &a_file_from_offset, &from) < 0) {
        goto error;
    }
    long long offset = from + position;
    if ((key = PyTuple_Pack(2, topic, queue_id)) == NULL) {
        goto error;
    }
    if ((queue_offsets = aget(&a_queue_offsets, self->commit_log)) == NULL) {
        goto error;
    }
    if (!PyDict_Check(queue_offsets)) {
        PyErr_SetString(PyExc_TypeError, "CommitLog.queue_offsets is not a dict");
        goto error;
    }
    long long queue_offset = 0;
    {
        PyObject *current = PyDict_GetItemWithError(queue_offsets, key);
        if (current == NULL && PyErr_Occurred()) {
            goto error;
        }
        if (current != NULL) {
            queue_offset = PyLong_AsLongLong(current);
            if (queue_offset == -1 && PyErr_Occurred()) {
                goto error;
            }
        }
    }
    if (self->system_clock) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        now_object = PyLong_FromLongLong((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    }
    else {
        now_object = PyObject_CallNoArgs(self->now_ms);
    }
    if (now_object == NULL) {
        goto error;
    }
    long long now = PyLong_AsLongLong(now_object);
    if (now == -1 && PyErr_Occurred()) {
        goto error;
    }

    uint32_t crc;
    if (body_view.len >= ZLIB_CRC_FROM) {
        PyObject *value = PyObject_CallOneArg(zlib_crc32, body);
        if (value == NULL) {
            goto error;
        }
        crc = (uint32_t)PyLong_AsUnsignedLong(value);
        Py_DECREF(value);
        if (crc == (uint32_t)-1 && PyErr_Occurred()) {
            goto error;
        }
    }
    else {
        crc = crc32_of((const unsigned char *)body_view.buf, body_view.len);
    }

    /* The record, in place (record.py RECORD_FIXED_V4 + body + topic + properties). */
    if (writable_view(mapped, &cl_view, position + total) < 0) {
        goto error;
    }
    {
        unsigned char *p = (unsigned char *)cl_view.buf + position;
        const unsigned char *b = (const unsigned char *)body_view.buf;
        put32(p, (uint32_t)total);
        put32(p + 4, 0xDAA320A7u); /* MESSAGE_MAGIC */
        put32(p + 8, crc & 0x7FFFFFFFu);
        put32(p + 12, (uint32_t)queue_id_value);
        put32(p + 16, (uint32_t)flag);
        put64(p + 20, (uint64_t)queue_offset);
        put64(p + 28, (uint64_t)offset);
        put32(p + 36, (uint32_t)sys_flag);
        put64(p + 40, (uint64_t)born_timestamp);
        memcpy(p + 48, born_ip4, 4);
        put32(p + 52, (uint32_t)born_port);
        put64(p + 56, (uint64_t)now);
        memcpy(p + 64, self->store_ip, 4);
        put32(p + 68, (uint32_t)self->store_port);
        put32(p + 72, (uint32_t)reconsume_times);
        put64(p + 76, (uint64_t)prepared_offset);
        put32(p + 84, (uint32_t)body_view.len);
        p += 88;
        memcpy(p, b, (size_t)body_view.len);
        p += body_view.len;
        memcpy(p, PyBytes_AS_STRING(topic_tail), (size_t)tail_length);
        p += tail_length;
        p[0] = (unsigned char)(props_length >> 8);
        p[1] = (unsigned char)props_length;
        memcpy(p + 2, props, (size_t)props_length);
        if (p + 2 + props_length != (unsigned char *)cl_view.buf + position + total) {
            PyBuffer_Release(&cl_view);
            PyErr_SetString(PyExc_AssertionError, "record length does not add up");
            goto error;
        }
    }
    PyBuffer_Release(&cl_view);
    PyBuffer_Release(&body_view);
    /* Written: reserve the queue offset and move the positions. */
    {
        PyObject *next = PyLong_FromLongLong(queue_offset + 1);
        if (next == NULL || PyDict_SetItem(queue_offsets, key, next) < 0) {
            Py_XDECREF(next);
            goto error;
        }
        Py_DECREF(next);
    }
    if (set_ll(mapped, &a_wrote_position, position + total) < 0 ||
        aset(&a_last_store_timestamp, self->commit_log, now_object) < 0) {
        goto error;
    }

    /* Dispatch (Java reput): ConsumeQueue unit, index entries, arrival notification. */
    long long tags_code =
        tags != NULL ? (long long)(int32_t)hash_update(0, tags, 0, PyUnicode_GET_LENGTH(tags)) : 0;
    if (write_unit(self, key, topic, queue_id, queue_offset, offset, total, tags_code) < 0) {
        goto error;
    }
    if (self->index != Py_None && (uniq != NULL || keys != NULL)) {
        if (write_index(self, topic, keys, uniq, offset, now, sys_flag) < 0) {
            goto error;
        }
    }
    if (aset(&a_last_store_timestamp, self->dispatcher, now_object) < 0 ||
        set_ll(self->dispatcher, &a_dispatched_end, offset + total) < 0) {
        goto error;
    }
    {
        PyObject *listeners = aget(&a_listeners, self->dispatcher);
        if (listeners == NULL) {
            goto error;
        }
        if (PyList_Check(listeners) && PyList_GET_SIZE(listeners) > 0) {
            PyObject *next = PyLong_FromLongLong(queue_offset + 1);
            if (next == NULL) {
                Py_DECREF(listeners);
                goto error;
            }
            /* As a Python for loop over the list: re-read the length at every step. */
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(listeners); i++) {
                PyObject *listener = PyList_GET_ITEM(listeners, i);
                PyObject *call_args[3] = {topic, queue_id, next};
                Py_INCREF(listener);
                PyObject *r = PyObject_Vectorcall(listener, call_args, 3, NULL);
                Py_DECREF(listener);
                if (r == NULL) {
                    Py_DECREF(next);
                    Py_DECREF(listeners);
                    goto error;
                }
                Py_DECREF(r);
            }
            Py_DECREF(next);
        }
        Py_DECREF(listeners);
    }
    result = make_result(self, offset, total, queue_offset, now_object);
    goto cleanup;

out_of_range:
    if (ok < 0) {
        goto error;
    }
general:
    result = Py_None;
    Py_INCREF(result);
    goto cleanup;
error:
    result = NULL;
cleanup:
    if (body_view.obj != NULL) {
        PyBuffer_Release(&body_view);
    }
    Py_XDECREF(properties);
    Py_XDECREF(body);
    Py_XDECREF(topic);
    Py_XDECREF(born_host);
    Py_XDECREF(queue_id);
    Py_XDECREF(key);
    Py_XDECREF(mapped);
    Py_XDECREF(queue_offsets);
    Py_XDECREF(now_object);
    Py_XDECREF(props_owned);
    Py_XDECREF(tail_owned);
    return result;
}

static PyObject *
PutPath_get_open(PutPath *self, void *closure)
{
    return PyBool_FromLong(self->open);
}

static int
PutPath_set_open(PutPath *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete open");
        return -1;
    }
    int truth = PyObject_IsTrue(value);
    if (truth < 0) {
        return -1;
    }
    self->open = truth;
    return 0;
}

static PyGetSetDef PutPath_getset[] = {
    {"open", (getter)PutPath_get_open, (setter)PutPath_set_open,
     "True while the fast path may take puts", NULL},
    {NULL},
};

static PyMethodDef PutPath_methods[] = {
    {"append", (PyCFunction)(void (*)(void))PutPath_append, METH_FASTCALL,
     "append(message, properties_string) -> PutMessageResult | None"},
    {NULL},
};

static PyTypeObject PutPathType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pocketmq.store._speedups.PutPath",
    .tp_basicsize = sizeof(PutPath),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The put fast path (C); see pocketmq.store.put_path.PutPath.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)PutPath_init,
    .tp_dealloc = (destructor)PutPath_dealloc,
    .tp_traverse = (traverseproc)PutPath_traverse,
    .tp_clear = (inquiry)PutPath_clear,
    .tp_methods = PutPath_methods,
    .tp_getset = PutPath_getset,
};

static PyMethodDef module_methods[] = {
    {"java_string_hash", java_string_hash, METH_O, "Java String.hashCode() (signed 32 bits)."},
    {"crc32", crc32_py, METH_O, "CRC-32 of a buffer (as zlib.crc32)."},
    {NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pocketmq.store._speedups",
    .m_doc = "The store's put fast path in C (optional; pure-Python twin in put_path.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    crc_init();
    if (intern_all() < 0) {
        return NULL;
    }
    if ((zlib_crc32 = import_attr("zlib", "crc32")) == NULL) {
        return NULL;
    }
    if (PyType_Ready(&PutPathType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&PutPathType);
    if (PyModule_AddObject(module, "PutPath", (PyObject *)&PutPathType) < 0) {
        Py_DECREF(&PutPathType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
