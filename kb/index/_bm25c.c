/* BM25 MaxScore top-k in C: the same algorithm as BM25Index._maxscore (kb/index/bm25.py), step for step.

Why: at 1M passages a question's terms hold ~1M postings; numpy's version prunes most of them but pays
a call per term and step and a binary search per candidate and term (words 5-8 ms, bigrams 9-13 ms).
Here every step is one loop over plain arrays, and the GIL is released for all of it, so the dense
channel and other requests run meanwhile.

Exactness: every weight is float32 tf*(k1+1)/(tf+norm)*idf (times the query count when it is not 1),
evaluated in that order as numpy does (compiled with -ffp-contract=off: no fused multiply-add); a
passage's score is the float64 sum of its terms' weights taken in the same order as numpy (terms by
decreasing upper bound, then column), cast to float32 at the end. The result is the exact top k (ties at
the k-th score by row), and equal to numpy's, bit for bit (tests/kb/test_bm25_kernel_gives_numpys_results.py).

The caller passes a zeroed float64 accumulator of n_docs and gets it back zeroed. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A list up to this many times (candidates x scattered reads a candidate) long is read straight through:
sequential reads cost a small fraction of a scattered one (4, 8 and 16 measured alike at 1M passages). */
#define STREAM_FACTOR 8

typedef struct {
    const int64_t *indptr;
    const int32_t *rows;
    const void *tf;
    int tf_size;          /* bytes per term frequency: 1, 2 or 4 */
    const float *norm;    /* per passage */
    const float *idf;     /* per term */
    const float *stored;  /* per posting, or NULL: weights kept instead of tf/norm/idf */
    float k1p1;
} Index;

static inline float weight(const Index *ix, int64_t p, int32_t row, int64_t col, int32_t m) {
    float w;
    if (ix->stored) {
        w = ix->stored[p];
    } else {
        float tf;
        if (ix->tf_size == 1) tf = (float)((const uint8_t *)ix->tf)[p];
        else if (ix->tf_size == 2) tf = (float)((const uint16_t *)ix->tf)[p];
        else tf = (float)((const uint32_t *)ix->tf)[p];
        w = tf * ix->k1p1 / (tf + ix->norm[row]) * ix->idf[col];
    }
    return m != 1 ? w * (float)m : w;
}

/* First position in [lo, hi) whose row is >= x: exponential steps from lo, then binary search. */
static inline int64_t gallop(const int32_t *r, int64_t lo, int64_t hi, int32_t x) {
    int64_t a = lo, b = lo, step = 1;
    while (b < hi && r[b] < x) {
        a = b + 1;
        b += step;
        step <<= 1;
    }
    if (b > hi) b = hi;
    while (a < b) {
        int64_t mid = a + ((b - a) >> 1);
        if (r[mid] < x) a = mid + 1;
        else b = mid;
    }
    return a;
}

/* For ascending candidate rows: add term `col`'s weight (x m) to part[i] of each candidate it holds.
A list that is short next to the candidates is read straight through (sequential reads); a long one is
searched candidate by candidate (a few scattered reads each). */
static void probe(const Index *ix, int64_t col, int32_t m, const int32_t *cand, double *part, int64_t n) {
    int64_t a = ix->indptr[col], b = ix->indptr[col + 1];
    if (n == 0 || b == a) return;
    const int32_t *rows = ix->rows;
    int64_t len = b - a, gaps = len / n;
    int64_t steps = 2;
    while (gaps >>= 1) steps += 2; /* ~2 log2(len / n) scattered reads a candidate */
    if (len <= STREAM_FACTOR * n * steps) {
        int64_t i = 0;
        for (int64_t p = a; p < b; p++) {
            int32_t r = rows[p];
            while (cand[i] < r)
                if (++i == n) return;
            if (cand[i] == r) part[i] += (double)weight(ix, p, r, col, m);
        }
        return;
    }
    int64_t pos = a;
    for (int64_t i = 0; i < n && pos < b; i++) {
        pos = gallop(rows, pos, b, cand[i]);
        if (pos < b && rows[pos] == cand[i]) part[i] += (double)weight(ix, pos, cand[i], col, m);
    }
}

/* The k-th largest of v[0..n) (1 <= k <= n); scratch holds n doubles and may be v itself. */
static double kth_largest(const double *v, int64_t n, int64_t k, double *scratch) {
    if (scratch != v) memcpy(scratch, v, (size_t)n * sizeof(double));
    int64_t lo = 0, hi = n - 1, target = k - 1; /* position in descending order */
    while (lo < hi) {
        double a = scratch[lo], b = scratch[lo + (hi - lo) / 2], c = scratch[hi];
        double pivot = (a < b) ? ((b < c) ? b : (a < c ? c : a)) : ((a < c) ? a : (b < c ? c : b));
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (scratch[i] > pivot) i++;
            while (scratch[j] < pivot) j--;
            if (i <= j) {
                double t = scratch[i];
                scratch[i] = scratch[j];
                scratch[j] = t;
                i++;
                j--;
            }
        }
        if (target <= j) hi = j;
        else if (target >= i) lo = i;
        else break; /* between j and i: every value there equals the pivot */
    }
    return scratch[target];
}

typedef struct {
    float s;
    int32_t row;
} Hit;

static int cmp_hit(const void *a, const void *b) { /* score descending, then row ascending */
    const Hit *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? 1 : -1;
    return (x->row > y->row) - (x->row < y->row);
}

/* A set of passage rows as bits: marking is O(1) and reading them back gives them ascending and distinct,
without a sort (qsort of ~20k candidates was half the time of a query). */
static inline void mark(uint64_t *bits, int32_t r) { bits[r >> 6] |= (uint64_t)1 << (r & 63); }

/* The marked rows, ascending, into out; the set is left empty. Returns their number. */
static int64_t take_marked(uint64_t *bits, int64_t n_words, int32_t *out) {
    int64_t n = 0;
    for (int64_t i = 0; i < n_words; i++) {
        uint64_t word = bits[i];
        if (!word) continue;
        bits[i] = 0;
        while (word) {
            out[n++] = (int32_t)((i << 6) + __builtin_ctzll(word));
            word &= word - 1;
        }
    }
    return n;
}

typedef struct {
    int64_t col;
    int32_t m;
    float ub;
} Term;

static int cmp_term(const void *a, const void *b) { /* upper bound descending, then column */
    const Term *x = a, *y = b;
    if (x->ub != y->ub) return x->ub < y->ub ? 1 : -1;
    return (x->col > y->col) - (x->col < y->col);
}

/* Returns the number of results written (<= k); -1: out of memory; -2: a posting's row is not a passage of
the index (a damaged file: nothing is written out of bounds). */
static int64_t maxscore(const Index *ix, const int64_t *headptr, const int32_t *headrows, const float *colmax,
                        const int64_t *cols, const int64_t *counts, int64_t t, int64_t k, int64_t n_docs,
                        double margin, double *acc, int64_t *out_rows, float *out_s) {
    int64_t result = -1;
    Term *terms = malloc((size_t)t * sizeof(Term));
    double *rest = malloc((size_t)(t + 1) * sizeof(double));
    int32_t *seeds = NULL, *touched = NULL, *cand = NULL;
    uint64_t *bits = NULL; /* n_docs bits, empty between uses */
    double *seed_s = NULL, *part = NULL, *scratch = NULL;
    Hit *hits = NULL, *top = NULL;
    if (!terms || !rest) goto done;
    for (int64_t i = 0; i < t; i++) {
        terms[i].col = cols[i];
        terms[i].m = (int32_t)counts[i];
        terms[i].ub = colmax[cols[i]] * (float)counts[i];
    }
    qsort(terms, (size_t)t, sizeof(Term), cmp_term);
    rest[t] = 0.0;
    double run = 0.0;
    for (int64_t i = t - 1; i >= 0; i--) {
        run += (double)terms[i].ub;
        rest[i] = run;
    }
    const double slack = 1.0 - margin;

    /* theta from the heads: exact full scores of each term's heaviest postings' passages */
    int64_t n_seeds = 0, n_words = (n_docs + 63) / 64;
    bits = calloc((size_t)n_words, sizeof(uint64_t));
    if (!bits) goto done;
    for (int64_t i = 0; i < t; i++) {
        int64_t c = terms[i].col, ha = headptr[c], hb = headptr[c + 1];
        const int32_t *from = hb > ha ? headrows + ha : ix->rows + ix->indptr[c];
        int64_t len = hb > ha ? hb - ha : ix->indptr[c + 1] - ix->indptr[c];
        for (int64_t p = 0; p < len; p++) {
            if ((uint32_t)from[p] >= (uint64_t)n_docs) {
                result = -2;
                goto done;
            }
            mark(bits, from[p]);
        }
        n_seeds += hb > ha ? hb - ha : ix->indptr[c + 1] - ix->indptr[c];
    }
    seeds = malloc((size_t)(n_seeds ? n_seeds : 1) * sizeof(int32_t));
    if (!seeds) goto done;
    n_seeds = take_marked(bits, n_words, seeds);
    seed_s = calloc((size_t)(n_seeds ? n_seeds : 1), sizeof(double));
    if (!seed_s) goto done;
    for (int64_t i = 0; i < t; i++) probe(ix, terms[i].col, terms[i].m, seeds, seed_s, n_seeds);
    int64_t scratch_n = 0; /* doubles `scratch` holds */
    double theta = 0.0;

    /* essential terms: until the remaining upper bounds sum below theta; always the first */
    int64_t e = 1;
    int64_t n_cand = 0;
    if (n_seeds >= k) {
        scratch = malloc((size_t)n_seeds * sizeof(double));
        if (!scratch) goto done;
        scratch_n = n_seeds;
        theta = kth_largest(seed_s, n_seeds, k, scratch) * slack;
    }
    while (e < t && rest[e] >= theta) e++;
    double floor = theta - rest[e];
    if (e == 1) { /* one essential term: its own list is the candidate set */
        int64_t c = terms[0].col, a = ix->indptr[c], b = ix->indptr[c + 1];
        cand = malloc((size_t)((b - a) ? (b - a) : 1) * sizeof(int32_t));
        part = malloc((size_t)((b - a) ? (b - a) : 1) * sizeof(double));
        if (!cand || !part) goto done;
        for (int64_t p = a; p < b; p++) {
            if ((uint32_t)ix->rows[p] >= (uint64_t)n_docs) {
                result = -2;
                goto done;
            }
            float w = weight(ix, p, ix->rows[p], c, terms[0].m);
            if ((double)w >= floor) {
                cand[n_cand] = ix->rows[p];
                part[n_cand++] = (double)w;
            }
        }
    } else {
        int64_t total = 0;
        for (int64_t i = 0; i < e; i++) total += ix->indptr[terms[i].col + 1] - ix->indptr[terms[i].col];
        touched = malloc((size_t)(total ? total : 1) * sizeof(int32_t));
        if (!touched) goto done;
        int64_t n_touched = 0;
        int damaged = 0;
        for (int64_t i = 0; i < e && !damaged; i++) { /* weights are > 0: a passage at 0 is not touched yet */
            int64_t c = terms[i].col, a = ix->indptr[c], b = ix->indptr[c + 1];
            int32_t m = terms[i].m;
            for (int64_t p = a; p < b; p++) {
                int32_t r = ix->rows[p];
                if ((uint32_t)r >= (uint64_t)n_docs) {
                    damaged = 1;
                    break;
                }
                if (acc[r] == 0.0) touched[n_touched++] = r;
                acc[r] += (double)weight(ix, p, r, c, m);
            }
        }
        cand = damaged ? NULL : malloc((size_t)(n_touched ? n_touched : 1) * sizeof(int32_t));
        if (!cand) { /* the accumulator goes back zeroed whatever happens */
            memset(acc, 0, (size_t)n_docs * sizeof(double));
            result = damaged ? -2 : -1;
            goto done;
        }
        for (int64_t i = 0; i < n_touched; i++)
            if (acc[touched[i]] >= floor) mark(bits, touched[i]);
        n_cand = take_marked(bits, n_words, cand);
        part = malloc((size_t)(n_cand ? n_cand : 1) * sizeof(double));
        if (part)
            for (int64_t i = 0; i < n_cand; i++) part[i] = acc[cand[i]];
        if (n_touched * 16 > n_docs) memset(acc, 0, (size_t)n_docs * sizeof(double));
        else
            for (int64_t i = 0; i < n_touched; i++) acc[touched[i]] = 0.0;
        if (!part) goto done;
    }

    /* non-essential terms: probed only for the candidates that can still reach theta */
    if (n_cand > scratch_n) {
        free(scratch);
        scratch = malloc((size_t)n_cand * sizeof(double));
        if (!scratch) goto done;
    }
    for (int64_t j = e; j < t; j++) {
        if (n_cand > k) {
            double kth = kth_largest(part, n_cand, k, scratch) * slack;
            if (kth > theta) theta = kth;
        }
        double need = theta - rest[j];
        int64_t w = 0;
        for (int64_t i = 0; i < n_cand; i++)
            if (part[i] >= need) {
                cand[w] = cand[i];
                part[w++] = part[i];
            }
        n_cand = w;
        probe(ix, terms[j].col, terms[j].m, cand, part, n_cand);
    }

    /* the k best (score as float32 > 0), ties by row */
    hits = malloc((size_t)(n_cand ? n_cand : 1) * sizeof(Hit));
    if (!hits) goto done;
    int64_t n_hits = 0;
    for (int64_t i = 0; i < n_cand; i++) {
        float s = (float)part[i];
        if (s > 0) {
            hits[n_hits].s = s;
            hits[n_hits++].row = cand[i];
        }
    }
    if (n_hits > k) { /* above the k-th score, then the lowest rows at it (hits are in row order) */
        for (int64_t i = 0; i < n_hits; i++) scratch[i] = (double)hits[i].s;
        float kth = (float)kth_largest(scratch, n_hits, k, scratch);
        top = malloc((size_t)k * sizeof(Hit));
        if (!top) goto done;
        int64_t w = 0;
        for (int64_t i = 0; i < n_hits; i++)
            if (hits[i].s > kth) top[w++] = hits[i];
        for (int64_t i = 0; i < n_hits && w < k; i++)
            if (hits[i].s == kth) top[w++] = hits[i];
        n_hits = w;
    }
    Hit *best = top ? top : hits;
    qsort(best, (size_t)n_hits, sizeof(Hit), cmp_hit);
    for (int64_t i = 0; i < n_hits; i++) {
        out_rows[i] = best[i].row;
        out_s[i] = best[i].s;
    }
    result = n_hits;
done:
    free(terms);
    free(rest);
    free(bits);
    free(seeds);
    free(seed_s);
    free(touched);
    free(cand);
    free(part);
    free(scratch);
    free(hits);
    free(top);
    return result;
}

/* --- Python binding ------------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    Py_ssize_t itemsize; /* 0: 1, 2 or 4 (term frequencies) */
    int writable;
} Spec;

static int get(PyObject *obj, Py_buffer *view, const Spec *spec) {
    int flags = PyBUF_C_CONTIGUOUS | (spec->writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    Py_ssize_t size = view->itemsize;
    int ok = spec->itemsize ? size == spec->itemsize : (size == 1 || size == 2 || size == 4);
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s: items of %zd bytes", spec->name, size);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

#define N_ARRAYS 13

/* The query's columns and their postings ranges lie inside every array the search reads: checked before the
search, for the terms it reads only (a whole-index check would read every page of a memory-mapped index). */
static int columns_fit(const Py_buffer *v, int stored, Py_ssize_t t) {
    const int64_t *indptr = v[0].buf, *headptr = v[6].buf, *cols = v[9].buf, *counts = v[10].buf;
    int64_t n_terms = v[0].len / 8 - 1, n_post = v[1].len / 4, n_head = v[7].len / 4;
    int64_t weights = stored ? v[5].len / 4 : v[2].len / v[2].itemsize;
    if (n_terms > v[4].len / 4 || n_terms > v[8].len / 4 || weights < n_post) return 0;
    for (Py_ssize_t i = 0; i < t; i++) {
        int64_t c = cols[i];
        if (c < 0 || c >= n_terms || counts[i] < 1 || counts[i] > INT32_MAX) return 0;
        if (indptr[c] < 0 || indptr[c] > indptr[c + 1] || indptr[c + 1] > n_post) return 0;
        if (headptr[c] < 0 || headptr[c] > headptr[c + 1] || headptr[c + 1] > n_head) return 0;
    }
    return 1;
}

static PyObject *py_maxscore(PyObject *self, PyObject *args) {
    PyObject *objs[N_ARRAYS];
    float k1p1;
    Py_ssize_t k;
    double margin;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOfnd", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4], &objs[5],
                          &objs[6], &objs[7], &objs[8], &objs[9], &objs[10], &objs[11], &objs[12], &k1p1, &k,
                          &margin))
        return NULL;
    static const Spec specs[N_ARRAYS] = {
        {"indptr", 8, 0},   {"rows", 4, 0},      {"tf", 0, 0},     {"norm", 4, 0},   {"idf", 4, 0},
        {"stored", 4, 0},   {"headptr", 8, 0},   {"headrows", 4, 0}, {"colmax", 4, 0}, {"cols", 8, 0},
        {"counts", 8, 0},   {"acc", 8, 1},       {"out", 0, 1},
    };
    Py_buffer views[N_ARRAYS];
    int got = 0;
    PyObject *ret = NULL;
    for (; got < N_ARRAYS - 1; got++) {
        if (got == 5 && objs[5] == Py_None) continue; /* no stored weights */
        if (get(objs[got], &views[got], &specs[got]) < 0) goto release;
    }
    /* out: (rows int64 [k], scores float32 [k]) as one tuple of two buffers */
    Py_buffer out_rows, out_s;
    if (!PyTuple_Check(objs[12]) || PyTuple_GET_SIZE(objs[12]) != 2) {
        PyErr_SetString(PyExc_TypeError, "out: a tuple (rows, scores)");
        goto release;
    }
    static const Spec rows_spec = {"out rows", 8, 1}, s_spec = {"out scores", 4, 1};
    if (get(PyTuple_GET_ITEM(objs[12], 0), &out_rows, &rows_spec) < 0) goto release;
    if (get(PyTuple_GET_ITEM(objs[12], 1), &out_s, &s_spec) < 0) {
        PyBuffer_Release(&out_rows);
        goto release;
    }
    Index ix = {views[0].buf, views[1].buf, views[2].buf, (int)views[2].itemsize, views[3].buf, views[4].buf,
                objs[5] == Py_None ? NULL : views[5].buf, k1p1};
    Py_ssize_t t = views[9].len / 8, n_docs = views[3].len / 4;
    if (views[10].len / 8 != t || views[11].len / 8 != n_docs || out_rows.len / 8 < k || out_s.len / 4 < k ||
        k <= 0 || t <= 0 || views[6].len != views[0].len) {
        PyErr_SetString(PyExc_ValueError, "maxscore: inconsistent array sizes");
    } else if (!columns_fit(views, objs[5] != Py_None, t)) {
        PyErr_SetString(PyExc_ValueError, "maxscore: a query term's postings lie outside the index's arrays "
                                          "(a damaged BM25 file: rebuild the version)");
    } else {
        int64_t n;
        Py_BEGIN_ALLOW_THREADS
        n = maxscore(&ix, views[6].buf, views[7].buf, views[8].buf, views[9].buf, views[10].buf, t, k, n_docs,
                     margin, views[11].buf, out_rows.buf, out_s.buf);
        Py_END_ALLOW_THREADS
        if (n == -2)
            PyErr_SetString(PyExc_ValueError, "maxscore: a posting names a passage the index does not have "
                                              "(a damaged BM25 file: rebuild the version)");
        ret = n == -1 ? PyErr_NoMemory() : n < 0 ? NULL : PyLong_FromLongLong(n);
    }
    PyBuffer_Release(&out_rows);
    PyBuffer_Release(&out_s);
release:
    for (int i = 0; i < got; i++)
        if (!(i == 5 && objs[5] == Py_None)) PyBuffer_Release(&views[i]);
    return ret;
}

static PyMethodDef methods[] = {
    {"maxscore", py_maxscore, METH_VARARGS,
     "maxscore(indptr, rows, tf, norm, idf, stored|None, headptr, headrows, colmax, cols, counts, acc, "
     "(out_rows, out_scores), k1p1, k, margin) -> number of results"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bm25c", "BM25 MaxScore top-k (see kb/index/bm25.py).",
                                    -1, methods};

PyMODINIT_FUNC PyInit__bm25c(void) { return PyModule_Create(&module); }
