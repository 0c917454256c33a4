/*
 * CPU emulation of mbarriers (with tx-counts and the asynchronous copies of emu_tma.cpp), named
 * barriers and wgmma.mma_async (SS and RS; f16/bf16 m64nNk16 and 8-bit e4m3/e5m2 m64nNk32 with
 * f32 accumulators, s8/u8 m64nNk32 with s32 accumulators; the sparse SS form .sp, m64nNk32 16-bit
 * and m64nNk64 8-bit) for tests/emu. Written from the PTX ISA (9.1), not from the kernel:
 *  - matrix descriptor [9.7.15.5.1.2.2]: start address (bits 0-13) << 4, leading byte offset
 *    (16-29) << 4, stride byte offset (32-45) << 4, base offset (49-51), swizzle mode (62-63:
 *    0 none, 1 128B, 2 64B, 3 32B);
 *  - canonical K-major layouts [9.7.15.5.1.2.1.3], in elements with T = 16 bytes / element size
 *    (8 for 16-bit types, 16 for 8-bit types):
 *      none:  ((8,m),(T,2k)):((1T,SBO),(1,LBO))   Swizzle<0,4,3>
 *      32B:   ((8,m),(T,2k)):((2T,SBO),(1,T))     Swizzle<1,4,3>
 *      64B:   ((8,m),(T,2k)):((4T,SBO),(1,T))     Swizzle<2,4,3>
 *      128B:  ((8,m),(T,2k)):((8T,SBO),(1,T))     Swizzle<3,4,3>
 *    the swizzle XORs byte-address bits [7, 7+B) into bits [4, 4+B), on the shared address (the
 *    pattern repeats at 256/512/1024-byte boundaries; a non-zero base offset is not emulated and
 *    is reported). "Row" is the M index for A and the N index for B (K-major B is N x K).
 *  - accumulator fragment of m64nNk16 [9.7.15.5.1.1.1, figure of D; = CUTLASS CLayout_64xN]:
 *    thread t of the warpgroup, warp w = t / 32, lane l: d[4i + 2h + e] is D[16w + l/4 + 8h]
 *    [8i + 2(l%4) + e].
 *  - ordering [9.7.15.7]: an mma_async only joins a group at commit_group; wait_group N
 *    completes all but the newest N committed groups. The emulator executes an operation only
 *    then, reading shared memory at that moment (as late as the hardware may), and while it is
 *    in flight the thread's accumulator registers read as NaN (reading them before the wait is
 *    undefined). Chained mma_async on the same accumulators are allowed without a fence; any
 *    other first use of an accumulator needs a wgmma.fence since the registers were last
 *    written back. Operands (descriptors, shape, scale-d) must be identical across the 128
 *    threads of the warpgroup (.sync.aligned).
 *  - A register fragment (RS form) [9.7.15.5.1.1.1, figures of A for .m64nNk16 and .m64nNk32]:
 *    lane 4g + t of warp w holds rows 16w + g (registers 0, 2) and 16w + g + 8 (1, 3); 16-bit:
 *    k 2t, 2t + 1 (registers 0, 1) and 2t + 8, 2t + 9 (2, 3); 8-bit: k 4t..4t+3 (0, 1) and
 *    16 + 4t..16 + 4t + 3 (2, 3); the lowest k in the lowest bits.
 *  - sparse A (.sp) [9.7.15.6]: the descriptor addresses the compressed 64 x K/2 matrix; each
 *    warp supplies the metadata of its 16 rows, in the layouts of mma.sp (sp_nibble below);
 *    the metadata register is read when the operation executes.
 * Products are exact; the products of one instruction (k16 or k32) are summed in double (int64
 * for s8/u8) and added to the accumulator with one rounding (the tensor cores round differently,
 * fp8 sums notably so; the tests' bounds allow for that).
 */
#include "emu_wgmma.h"
#include "emu_rt.h"

#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <deque>
#include <map>
#include <unordered_map>
#include <vector>

int emu_wgmma_errors;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
    pthread_mutex_lock(&err_lock);
    if (emu_wgmma_errors++ < 20) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "EMU (thread %u, CTA %u,%u,%u): ", threadIdx.x, blockIdx.x, blockIdx.y,
                blockIdx.z);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    pthread_mutex_unlock(&err_lock);
}

#define EMU_SMEM_BYTES 232448u

unsigned char *emu_smem_ptr(uint32_t addr) { return emu_smem + addr; }

/* ---------------------------------------------------------------- waiting with a deadline */

/* A wait longer than this is a deadlock in the kernel (or the emulator): say so and stop. */
#define EMU_DEADLOCK_S 120

static void timed_wait(pthread_cond_t *c, pthread_mutex_t *m, time_t *start, const char *what) {
    if (!*start) *start = time(NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    pthread_cond_timedwait(c, m, &ts);
    if (time(NULL) - *start > EMU_DEADLOCK_S) {
        fprintf(stderr, "EMU: thread %u of CTA %u,%u,%u waited %d s on %s: deadlock\n", threadIdx.x,
                blockIdx.x, blockIdx.y, blockIdx.z, EMU_DEADLOCK_S, what);
        abort();
    }
}

/* counting barrier */
struct cbar {
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    int arrived = 0, count = 0;
    unsigned gen = 0;
};

static void cbar_wait(cbar *b, int count, const char *what) {
    pthread_mutex_lock(&b->m);
    if (b->arrived == 0) b->count = count;
    else if (b->count != count)
        report("%s: thread count %d, other threads said %d", what, count, b->count);
    const unsigned g = b->gen;
    if (++b->arrived == count) {
        b->arrived = 0;
        b->gen++;
        pthread_cond_broadcast(&b->c);
    } else {
        time_t start = 0;
        while (b->gen == g) timed_wait(&b->c, &b->m, &start, what);
    }
    pthread_mutex_unlock(&b->m);
}

static cbar named[16];
static cbar wg_bar[8];

void emu_named_barrier(int id, int count) {
    if (id < 1 || id > 15 || count % 32 || count <= 0 || count > (int)blockDim.x) {
        report("bar.sync %d, %d: bad barrier id or thread count", id, count);
        return;
    }
    cbar_wait(&named[id], count, "bar.sync");
}

/* ---------------------------------------------------------------- mbarriers */

/* An asynchronous copy (TMA) that completes on an mbarrier: its bytes (read from global memory
 * at issue) land in shared memory only when a thread waits on the barrier and every arrival of
 * the phase is in, i.e. as late as the hardware may; at issue its destination is filled with
 * 0xff, so a stage read before its full barrier's phase completes, or still being read (an
 * in-flight wgmma) when it is refilled, shows as NaN (e4m3) or -1 (s8) garbage. */
struct smem_range {
    uint32_t lo, hi; /* [lo, hi) */
};
struct async_copy {
    uint32_t dst;
    std::vector<uint8_t> bytes;
};
/* Phase completion [PTX ISA 9.7.13.15.5 "Tracking asynchronous operations by the mbarrier
 * object", 9.7.13.15.6 "Phase completion"]: the pending arrival count has reached zero and the
 * tx-count has reached zero. expect_tx raises tx, a copy's complete_tx lowers it. */
struct mbar {
    uint32_t expected, pending;
    uint64_t phase; /* completed phases */
    int64_t tx;     /* bytes expected by expect_tx and not yet completed */
    std::vector<async_copy> copies;
    /* shared memory that wgmmas in flight at an arrival (of the arriving thread) may still read:
     * of the current phase, and of the last completed one (handed to its waiters) */
    std::vector<smem_range> busy, busy_done;
};
/* A thread's wgmmas in flight: the shared memory their operands read (defined with the wgmma
 * engine below). */
static void inflight_ranges(std::vector<smem_range> &out);
/* What the phases this thread last waited for left in flight: an async copy into it is a
 * write-after-read race (the consumer released the buffer before its wgmma read it). */
static thread_local std::vector<smem_range> released_busy;
static std::unordered_map<uint32_t, mbar> mbars;
static pthread_mutex_t mb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mb_cond = PTHREAD_COND_INITIALIZER;

static int mbar_addr_ok(uint32_t addr, const char *what) {
    if (addr % 8 || addr + 8 > EMU_SMEM_BYTES) {
        report("%s: mbarrier address 0x%x not 8-byte aligned shared memory", what, addr);
        return 0;
    }
    return 1;
}

void emu_mbar_init(uint32_t addr, uint32_t count) {
    if (!mbar_addr_ok(addr, "mbarrier.init")) return;
    if (count < 1 || count > (1u << 20) - 1) report("mbarrier.init: count %u out of range", count);
    pthread_mutex_lock(&mb_lock);
    mbars[addr] = mbar{count, count, 0, 0, {}};
    pthread_mutex_unlock(&mb_lock);
}

/* Completes the current phase if its arrivals and bytes are all in (mb_lock held). */
static void mbar_try_complete(mbar &b) {
    if (b.pending == 0 && b.tx == 0) {
        b.phase++;
        b.pending = b.expected;
        b.busy_done.swap(b.busy);
        b.busy.clear();
    }
}

static void mbar_arrive_tx(uint32_t addr, uint32_t tx, const char *what) {
    if (!mbar_addr_ok(addr, what)) return;
    pthread_mutex_lock(&mb_lock);
    auto it = mbars.find(addr);
    if (it == mbars.end()) {
        report("%s on 0x%x, which was never initialized in this CTA", what, addr);
    } else if (it->second.pending == 0) {
        report("%s on 0x%x: more arrivals than its count %u in one phase", what, addr,
               it->second.expected);
    } else {
        inflight_ranges(it->second.busy);
        it->second.tx += tx;
        if (it->second.tx >= (1 << 20))
            report("%s: tx-count %lld out of range", what, (long long)it->second.tx);
        it->second.pending--;
        mbar_try_complete(it->second);
        /* waiters re-check: the phase completed, or its copies may land now */
        pthread_cond_broadcast(&mb_cond);
    }
    pthread_mutex_unlock(&mb_lock);
}

void emu_mbar_arrive(uint32_t addr) { mbar_arrive_tx(addr, 0, "mbarrier.arrive"); }

void emu_mbar_arrive_expect_tx(uint32_t addr, uint32_t bytes) {
    mbar_arrive_tx(addr, bytes, "mbarrier.arrive.expect_tx");
}

void emu_mbar_async_copy(uint32_t bar, uint32_t dst, const void *data, uint32_t bytes) {
    if (!mbar_addr_ok(bar, "cp.async.bulk (mbarrier)")) return;
    if ((uint64_t)dst + bytes > EMU_SMEM_BYTES) {
        report("cp.async.bulk: %u bytes at shared 0x%x run past shared memory", bytes, dst);
        return;
    }
    pthread_mutex_lock(&mb_lock);
    auto it = mbars.find(bar);
    if (it == mbars.end()) {
        report("cp.async.bulk completing on 0x%x, which was never initialized in this CTA", bar);
    } else {
        for (const smem_range &r : released_busy)
            if (dst < r.hi && r.lo < dst + bytes)
                report("cp.async.bulk into shared 0x%x..0x%x, which a wgmma still in flight when "
                       "its mbarrier was released may read (0x%x..0x%x): a write-after-read race",
                       dst, dst + bytes, r.lo, r.hi);
        memset(emu_smem + dst, 0xff, bytes); /* undefined until the copy completes */
        const uint8_t *p = (const uint8_t *)data;
        it->second.copies.push_back(async_copy{dst, std::vector<uint8_t>(p, p + bytes)});
        pthread_cond_broadcast(&mb_cond);
    }
    pthread_mutex_unlock(&mb_lock);
}

/* The copies of a barrier whose arrivals are all in land now (mb_lock held). */
static void mbar_land(uint32_t addr, mbar &b) {
    if (b.pending != 0 || b.copies.empty()) return;
    for (const async_copy &c : b.copies) {
        memcpy(emu_smem + c.dst, c.bytes.data(), c.bytes.size());
        b.tx -= (int64_t)c.bytes.size();
    }
    b.copies.clear();
    if (b.tx < 0) { /* reported, then the phase goes on (the test fails, without a deadlock) */
        report("mbarrier 0x%x: its copies completed %lld bytes more than expect_tx announced", addr,
               (long long)-b.tx);
        b.tx = 0;
    }
    mbar_try_complete(b);
    pthread_cond_broadcast(&mb_cond);
}

void emu_mbar_cta_end() {
    pthread_mutex_lock(&mb_lock);
    for (auto &kv : mbars)
        if (!kv.second.copies.empty() || kv.second.tx != 0)
            report("CTA exit with asynchronous copies in flight on mbarrier 0x%x (%zu copies, "
                   "tx-count %lld)",
                   kv.first, kv.second.copies.size(), (long long)kv.second.tx);
    pthread_mutex_unlock(&mb_lock);
}

/* try_wait.parity P is true once the phase of parity P has completed: the current phase (number
 * `phase`, incomplete) has parity phase & 1, so P != phase & 1 means "the previous phase". */
void emu_mbar_wait(uint32_t addr, uint32_t parity) {
    if (!mbar_addr_ok(addr, "mbarrier.try_wait")) return;
    pthread_mutex_lock(&mb_lock);
    time_t start = 0;
    for (;;) {
        auto it = mbars.find(addr);
        if (it == mbars.end()) {
            report("mbarrier.try_wait on 0x%x, which was never initialized in this CTA", addr);
            break;
        }
        if ((it->second.phase & 1) != (parity & 1)) {
            released_busy = it->second.busy_done;
            break;
        }
        mbar_land(addr, it->second);
        if ((it->second.phase & 1) != (parity & 1)) {
            released_busy = it->second.busy_done;
            break;
        }
        timed_wait(&mb_cond, &mb_lock, &start, "mbarrier.try_wait");
    }
    pthread_mutex_unlock(&mb_lock);
}

/* ---------------------------------------------------------------- wgmma */

/* Element types (emu_wgmma.h): size in bytes, K of one instruction, integer accumulation. */
static int type_bytes(int type) { return type <= EMU_WG_BF16 ? 2 : 1; }
static int type_k(int type) { return 32 / type_bytes(type); }
static int type_int(int type) { return type == EMU_WG_S8 || type == EMU_WG_U8; }

struct wg_op {
    uint32_t *d; /* the accumulator registers (f32 or s32 bits) */
    int n;
    uint64_t da, db;
    int scale_d, type;
    /* RS form (A from registers): this thread's two A rows, gathered from its quad at issue,
     * and its own four registers with their values at issue (they must not change until the
     * operation retires) */
    int rs;
    double arow[2][32];
    const uint32_t *areg;
    uint32_t asnap[4];
    /* sparse form (wgmma.mma_async.sp): the metadata words of this thread's warp at issue, the
     * sparsity selector, and this thread's metadata register with its value at issue (read by
     * the operation while it executes: it must not change until it retires) */
    int sp, sel;
    uint32_t ewarp[32];
    const uint32_t *ereg;
    uint32_t esnap;
};
struct wg_shadow {
    std::vector<uint32_t> v; /* the accumulators' true values while they read as NaN */
    int refs = 0;            /* operations in flight on them */
};
struct wg_thread {
    std::vector<wg_op> open;               /* issued, not yet committed */
    std::deque<std::vector<wg_op>> groups; /* committed, not yet complete */
    std::map<uint32_t *, wg_shadow> inflight;
    std::map<uint32_t *, long> released; /* fence count when the registers were written back */
    long fences = 0;
};
static thread_local wg_thread wt_state;
#define wt (&wt_state)

struct wg_xchg {
    uint64_t da[128], db[128];
    int n[128], scale_d[128], type[128], trans[128];
    uint32_t a[128][4]; /* RS form: each thread's A registers at issue */
    uint32_t e[128];    /* sparse form: each thread's metadata register at issue */
    int sel[128];
};
static wg_xchg xchg[8];

void emu_wgmma_launch_begin(unsigned block) {
    (void)block;
    for (auto &b : named) b.arrived = 0;
    for (auto &b : wg_bar) b.arrived = 0;
}

void emu_wgmma_thread_begin() {
    *wt = wg_thread();
    released_busy.clear();
    if (threadIdx.x == 0) { /* the other threads wait for thread 0 before the CTA starts */
        pthread_mutex_lock(&mb_lock);
        mbars.clear();
        pthread_mutex_unlock(&mb_lock);
    }
}

void emu_wgmma_thread_end() {
    if (!wt->open.empty() || !wt->groups.empty() || !wt->inflight.empty())
        report("kernel exit with wgmma in flight (%zu uncommitted, %zu groups not waited for)",
               wt->open.size(), wt->groups.size());
    *wt = wg_thread();
}

static float half_to_f32(uint16_t h, int type) {
    if (type == 2) {
        uint32_t u = (uint32_t)h << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0    ? ldexpf((float)m, -24)
              : e == 31 ? (m ? NAN : INFINITY)
                        : ldexpf((float)(m | 1024), e - 25);
    return s ? -v : v;
}

/* OCP fp8 [PTX ISA 5.2.5 "Alternate floating point data formats"]: e4m3 (bias 7, no
 * infinities, S.1111.111 NaN) and e5m2 (bias 15, IEEE-like). */
static double fp8_to_f64(uint8_t b, int e5m2) {
    const int s = b >> 7, mb = e5m2 ? 2 : 3, bias = e5m2 ? 15 : 7;
    const int e = (b & 0x7f) >> mb, m = b & ((1 << mb) - 1);
    double v;
    if (e5m2 && e == 31) v = m ? NAN : INFINITY;
    else if (!e5m2 && e == 15 && m == 7) v = NAN;
    else if (e == 0) v = ldexp((double)m, 1 - bias - mb);
    else v = ldexp((double)(m | (1 << mb)), e - bias - mb);
    return s ? -v : v;
}

/* The value of one element of `type` whose bits are the low bytes of `bits`. */
static double elem_value(uint32_t bits, int type) {
    switch (type) {
    case EMU_WG_F16:
    case EMU_WG_BF16: return half_to_f32((uint16_t)bits, type);
    case EMU_WG_E4M3: return fp8_to_f64((uint8_t)bits, 0);
    case EMU_WG_E5M2: return fp8_to_f64((uint8_t)bits, 1);
    case EMU_WG_S8: return (int8_t)bits;
    default: return (uint8_t)bits;
    }
}

/* Element (row, k) of a K-major operand described by `desc` (elements of `type`). */
/* The shared address of element (row, k) of a K-major operand (elements of `type`). */
static uint32_t operand_addr(uint64_t desc, int row, int k, int type) {
    const uint32_t eb = (uint32_t)type_bytes(type), T = 16 / eb; /* elements per 16 bytes */
    const uint32_t start = (uint32_t)(desc & 0x3FFF) << 4;
    const uint32_t lbo = (uint32_t)((desc >> 16) & 0x3FFF) << 4;
    const uint32_t sbo = (uint32_t)((desc >> 32) & 0x3FFF) << 4;
    const int mode = (int)(desc >> 62);
    uint32_t a;
    switch (mode) {
    case 0: /* core matrices of 8 rows x 16 bytes */
        a = start + (uint32_t)(row & 7) * 16 + (uint32_t)(row >> 3) * sbo + (uint32_t)k % T * eb +
            (uint32_t)k / T * lbo;
        break;
    case 1: /* 128B */
        a = start + (uint32_t)(row & 7) * 128 + (uint32_t)(row >> 3) * sbo + (uint32_t)k * eb;
        a ^= ((a >> 7) & 7) << 4;
        break;
    case 2: /* 64B */
        a = start + (uint32_t)(row & 7) * 64 + (uint32_t)(row >> 3) * sbo + (uint32_t)k * eb;
        a ^= ((a >> 7) & 3) << 4;
        break;
    default: /* 32B */
        a = start + (uint32_t)(row & 7) * 32 + (uint32_t)(row >> 3) * sbo + (uint32_t)k * eb;
        a ^= ((a >> 7) & 1) << 4;
        break;
    }
    return a;
}

/* Shared memory an operand of `rows` x `k` elements may read: [lo, hi), widened to whole
 * 128-byte lines (the swizzles permute 16-byte units inside a line). */
static smem_range operand_range(uint64_t desc, int rows, int k, int type) {
    smem_range r = {~0u, 0};
    for (int row = 0; row < rows; row++)
        for (int kk = 0; kk < k; kk += 16 / type_bytes(type)) {
            const uint32_t a = operand_addr(desc, row, kk, type);
            if (a < r.lo) r.lo = a;
            if (a + 16 > r.hi) r.hi = a + 16;
        }
    r.lo &= ~127u, r.hi = (r.hi + 127) & ~127u;
    return r;
}

static double operand(uint64_t desc, int row, int k, int type, const char *which) {
    const uint32_t eb = (uint32_t)type_bytes(type);
    const int base_off = (int)((desc >> 49) & 7);
    if (base_off) {
        report("%s descriptor: base offset %d is not emulated", which, base_off);
        return NAN;
    }
    const uint32_t a = operand_addr(desc, row, k, type);
    if (a + eb > EMU_SMEM_BYTES) {
        report("%s descriptor 0x%016llx: element (%d, %d) at 0x%x is outside shared memory", which,
               (unsigned long long)desc, row, k, a);
        return NAN;
    }
    uint32_t bits = 0;
    memcpy(&bits, emu_smem + a, eb); /* little-endian host: the element in the low bytes */
    return elem_value(bits, type);
}

/* This thread's part of one m64nNk16 / m64nNk32 operation, on the shadow accumulators. */
/* Metadata nibble of chunk c (4 k) of row 16w + g + 8h of the sparse A [PTX ISA 9.7.15.6.2:
 * each warp supplies its 16 rows; the layouts are those of mma.sp, figures "Sparse WGMMA
 * .m64nNk32 metadata layout" (= sparse-mma-metadata-16832) and ".m64nNk64 ... columns 0-31 /
 * 32-63" (= sparse-mma-metadata-16864)]: 16-bit k32: lane 4g + 2 sel + c/4 (the thread pair
 * `sel`), bits 16h + 4(c%4); 8-bit k64: lane 4g + 2(c/8) + h, bits 4(c%8). */
static unsigned sp_nibble(const wg_op &op, int g, int h, int c) {
    const uint32_t word = type_bytes(op.type) == 2
                              ? op.ewarp[4 * g + 2 * op.sel + c / 4] >> (16 * h + 4 * (c % 4))
                              : op.ewarp[4 * g + 2 * (c / 8) + h] >> (4 * (c % 8));
    return word & 15;
}

/* Row `row` (= 16w + g + 8h) of a sparse A over the instruction's K: the descriptor holds the
 * compressed 64 x K/2 matrix (canonical K-major layout of K/2 elements); chunk c's two stored
 * values (compressed columns 2c, 2c + 1) go to k = 4c + idx0 and 4c + idx1 of the nibble
 * idx0 | idx1 << 2, the other two k are zero [9.7.15.6.1 "Sparse matrix storage": the values
 * 0b0000, 0b0101, 0b1010, 0b1111 (equal indices) are invalid, reported here]. */
static void sparse_row(const wg_op &op, int row, int g, int h, int K, double *a) {
    for (int k = 0; k < K; k++) a[k] = 0;
    for (int c = 0; c < K / 4; c++) {
        const unsigned nib = sp_nibble(op, g, h, c), i0 = nib & 3, i1 = nib >> 2;
        if (i0 == i1) {
            report("wgmma.mma_async.sp: metadata nibble 0x%x (row %d, chunk %d) is invalid", nib,
                   row, c);
            a[0] = NAN;
            return;
        }
        a[4 * c + i0] = operand(op.da, row, 2 * c, op.type, "A");
        a[4 * c + i1] = operand(op.da, row, 2 * c + 1, op.type, "A");
    }
}

static void execute(const wg_op &op, uint32_t *acc) {
    const int tw = threadIdx.x & 127, w = tw >> 5, lane = tw & 31, g = lane >> 2, t = lane & 3;
    const int K = type_k(op.type) * (op.sp ? 2 : 1);
    double a[2][64];
    if (op.rs) {
        for (int r = 0; r < 4; r++)
            if (op.areg[r] != op.asnap[r]) {
                report("wgmma.mma_async (A in registers): register a%d changed from 0x%08x to 0x%08x "
                       "before the operation retired",
                       r, op.asnap[r], op.areg[r]);
                break;
            }
        for (int h = 0; h < 2; h++) memcpy(a[h], op.arow[h], sizeof op.arow[h]);
    } else if (op.sp) {
        if (*op.ereg != op.esnap)
            report("wgmma.mma_async.sp: the metadata register changed from 0x%08x to 0x%08x "
                   "before the operation retired",
                   op.esnap, *op.ereg);
        for (int h = 0; h < 2; h++) sparse_row(op, 16 * w + g + 8 * h, g, h, K, a[h]);
    } else {
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < K; k++)
                a[h][k] = operand(op.da, 16 * w + g + 8 * h, k, op.type, "A");
    }
    for (int i = 0; i < op.n / 8; i++)
        for (int e = 0; e < 2; e++) {
            const int col = 8 * i + 2 * t + e;
            double b[64];
            for (int k = 0; k < K; k++) b[k] = operand(op.db, col, k, op.type, "B");
            for (int h = 0; h < 2; h++) {
                uint32_t &d = acc[4 * i + 2 * h + e];
                if (type_int(op.type)) { /* exact products and sum; s32 wraps */
                    int64_t s = 0;
                    for (int k = 0; k < K; k++) s += (int64_t)a[h][k] * (int64_t)b[k];
                    if (op.scale_d) s += (int32_t)d;
                    d = (uint32_t)s;
                } else {
                    double s = 0;
                    for (int k = 0; k < K; k++) s += a[h][k] * b[k];
                    float f;
                    memcpy(&f, &d, 4);
                    f = op.scale_d ? (float)((double)f + s) : (float)s;
                    memcpy(&d, &f, 4);
                }
            }
        }
}

void emu_wgmma_fence() { wt->fences++; }

static void inflight_ranges(std::vector<smem_range> &out) {
    auto add = [&](const wg_op &op) {
        const int K = type_k(op.type) * (op.sp ? 2 : 1);
        if (!op.rs) out.push_back(operand_range(op.da, 64, op.sp ? K / 2 : K, op.type));
        out.push_back(operand_range(op.db, op.n, K, op.type));
    };
    for (const wg_op &op : wt->open) add(op);
    for (const auto &grp : wt->groups)
        for (const wg_op &op : grp) add(op);
}

static void issue(uint32_t *d, int n, uint64_t da, const uint32_t *areg, uint64_t db, int scale_d,
                  int ab_type, int trans_a, int trans_b, const uint32_t *ereg = NULL, int sel = 0);

void emu_wgmma_mma(float *d, int n, uint64_t da, uint64_t db, int scale_d, int ab_type, int trans_a,
                   int trans_b) {
    if (type_int(ab_type)) report("wgmma.mma_async: s8/u8 operands accumulate in s32, not f32");
    issue((uint32_t *)d, n, da, NULL, db, scale_d, ab_type, trans_a, trans_b);
}

void emu_wgmma_mma_rs(float *d, int n, const uint32_t *a, uint64_t db, int scale_d, int ab_type) {
    if (type_int(ab_type)) report("wgmma.mma_async: s8/u8 operands accumulate in s32, not f32");
    issue((uint32_t *)d, n, 0, a, db, scale_d, ab_type, 0, 0);
}

void emu_wgmma_mma_s32(int32_t *d, int n, uint64_t da, uint64_t db, int scale_d, int ab_type) {
    if (!type_int(ab_type)) report("wgmma.mma_async: only s8/u8 operands accumulate in s32");
    issue((uint32_t *)d, n, da, NULL, db, scale_d, ab_type, 0, 0);
}

void emu_wgmma_mma_rs_s32(int32_t *d, int n, const uint32_t *a, uint64_t db, int scale_d,
                          int ab_type) {
    if (!type_int(ab_type)) report("wgmma.mma_async: only s8/u8 operands accumulate in s32");
    issue((uint32_t *)d, n, 0, a, db, scale_d, ab_type, 0, 0);
}

void emu_wgmma_mma_sp(float *d, int n, uint64_t da, uint64_t db, const uint32_t *e, int sel,
                      int scale_d, int ab_type) {
    if (type_int(ab_type)) report("wgmma.mma_async.sp: s8/u8 operands accumulate in s32, not f32");
    issue((uint32_t *)d, n, da, NULL, db, scale_d, ab_type, 0, 0, e, sel);
}

void emu_wgmma_mma_sp_s32(int32_t *d, int n, uint64_t da, uint64_t db, const uint32_t *e, int sel,
                          int scale_d, int ab_type) {
    if (!type_int(ab_type)) report("wgmma.mma_async.sp: only s8/u8 operands accumulate in s32");
    issue((uint32_t *)d, n, da, NULL, db, scale_d, ab_type, 0, 0, e, sel);
}

/* A register fragment [9.7.15.5.1.1.1, figures of A]: lane 4g + t of warp w holds rows
 * 16w + g (registers 0 and 2) and 16w + g + 8 (1 and 3). m64nNk16 (16-bit): k 2t, 2t + 1
 * (registers 0, 1) and 2t + 8, 2t + 9 (2, 3), the lower k in the low 16 bits. m64nNk32 (8-bit):
 * k 4t..4t+3 (0, 1) and 16 + 4t..16 + 4t + 3 (2, 3), the lowest k in the low byte. */
static void gather_rows(const wg_xchg &x, int tw, int type, double (&rows)[2][32]) {
    const int w = tw >> 5, g = (tw & 31) >> 2, eb = type_bytes(type), per = 4 / eb;
    for (int t = 0; t < 4; t++) {
        const uint32_t *r = x.a[32 * w + 4 * g + t];
        for (int h = 0; h < 2; h++)
            for (int hi = 0; hi < 2; hi++) {
                const uint32_t v = r[h + 2 * hi];
                for (int j = 0; j < per; j++)
                    rows[h][per * t + 4 * per * hi + j] = elem_value(v >> (8 * eb * j), type);
            }
    }
}

static void issue(uint32_t *d, int n, uint64_t da, const uint32_t *areg, uint64_t db, int scale_d,
                  int ab_type, int trans_a, int trans_b, const uint32_t *ereg, int sel) {
    const unsigned wgi = threadIdx.x / 128, tw = threadIdx.x & 127;
    if ((wgi + 1) * 128 > blockDim.x || wgi >= 8) {
        report("wgmma.mma_async from a warpgroup that is not complete");
        return;
    }
    if (ab_type < EMU_WG_F16 || ab_type > EMU_WG_U8) {
        report("wgmma.mma_async: unknown operand type %d", ab_type);
        return;
    }
    if (n % 8 || n < 8 || n > 256) report("wgmma.mma_async: N = %d is not a valid shape", n);
    if (trans_a || trans_b)
        report("wgmma.mma_async: transposed (MN-major) operands are not emulated");
    /* .sync.aligned: every thread of the warpgroup issues the same instruction and operands */
    wg_xchg &x = xchg[wgi];
    x.da[tw] = da, x.db[tw] = db, x.n[tw] = n, x.scale_d[tw] = scale_d != 0, x.type[tw] = ab_type;
    x.trans[tw] = trans_a * 2 + trans_b;
    if (areg) memcpy(x.a[tw], areg, sizeof x.a[tw]);
    x.da[tw] = areg ? ~0ull : da; /* every thread of an RS operation marks A the same way */
    x.e[tw] = ereg ? *ereg : 0;
    x.sel[tw] = ereg ? sel : -1; /* -1: dense */
    cbar_wait(&wg_bar[wgi], 128, "wgmma.mma_async (warpgroup)");
    if (tw == 0)
        for (int i = 1; i < 128; i++)
            if (x.da[i] != x.da[0] || x.db[i] != x.db[0] || x.n[i] != x.n[0] ||
                x.scale_d[i] != x.scale_d[0] || x.type[i] != x.type[0] ||
                x.trans[i] != x.trans[0] || x.sel[i] != x.sel[0]) {
                report("wgmma.mma_async: thread %d of warpgroup %u has other operands than thread 0 "
                       "(desc A 0x%llx / 0x%llx, B 0x%llx / 0x%llx)",
                       i, wgi, (unsigned long long)x.da[i], (unsigned long long)x.da[0],
                       (unsigned long long)x.db[i], (unsigned long long)x.db[0]);
                break;
            }
    cbar_wait(&wg_bar[wgi], 128, "wgmma.mma_async (warpgroup)");

    auto it = wt->inflight.find(d);
    if (it == wt->inflight.end()) {
        /* first operation on these registers since they were written back: needs a fence */
        auto rel = wt->released.find(d);
        const long since = rel == wt->released.end() ? 0 : rel->second;
        if (wt->fences <= since)
            report("wgmma.mma_async without a wgmma.fence after its accumulators were last accessed");
        wg_shadow sh;
        sh.v.assign(d, d + n / 2);
        it = wt->inflight.emplace(d, std::move(sh)).first;
        /* read as NaN (f32) / 0x7fffffff (s32) while in flight */
        for (int i = 0; i < n / 2; i++) d[i] = type_int(ab_type) ? 0x7fffffffu : 0x7fc00000u;
    } else if ((int)it->second.v.size() != n / 2) {
        report("wgmma.mma_async: accumulators in flight with another shape");
    }
    it->second.refs++;
    wg_op op = {};
    op.d = d, op.n = n, op.da = da, op.db = db, op.scale_d = scale_d != 0, op.type = ab_type;
    if (areg) {
        op.rs = 1, op.areg = areg;
        memcpy(op.asnap, areg, sizeof op.asnap);
        gather_rows(x, (int)tw, ab_type, op.arow);
    }
    if (ereg) {
        op.sp = 1, op.sel = sel, op.ereg = ereg, op.esnap = *ereg;
        memcpy(op.ewarp, &x.e[tw & ~31u], sizeof op.ewarp);
        if (sel < 0 || sel > (type_bytes(ab_type) == 2 ? 1 : 0))
            report("wgmma.mma_async.sp: sparsity selector %d is invalid for %d-bit operands", sel,
                   8 * type_bytes(ab_type));
    }
    /* the exchange slots are reused by the next operation: meet again before anyone overwrites */
    if (areg || ereg) cbar_wait(&wg_bar[wgi], 128, "wgmma.mma_async (warpgroup)");
    wt->open.push_back(op);
}

void emu_wgmma_commit() {
    wt->groups.push_back(wt->open);
    wt->open.clear();
}

void emu_wgmma_wait(int n) {
    while ((int)wt->groups.size() > n) {
        for (const wg_op &op : wt->groups.front()) {
            auto it = wt->inflight.find(op.d);
            execute(op, it->second.v.data());
            if (--it->second.refs == 0) {
                memcpy(op.d, it->second.v.data(), sizeof(uint32_t) * it->second.v.size());
                wt->released[op.d] = wt->fences;
                wt->inflight.erase(it);
            }
        }
        wt->groups.pop_front();
    }
    /* One wgmma is one operation of the whole warpgroup: when wait_group returns in any thread,
     * it has completed for all 128 (the emulator computes each thread's fragment separately,
     * so the warpgroup meets here before any thread may let others reuse the operands). */
    const unsigned wgi = threadIdx.x / 128;
    if ((wgi + 1) * 128 <= blockDim.x && wgi < 8)
        cbar_wait(&wg_bar[wgi], 128, "wgmma.wait_group (warpgroup)");
}
