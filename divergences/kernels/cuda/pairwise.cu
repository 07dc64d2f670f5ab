// Generic pairwise kernels. The generator (divergences.kernels.cuda_source) puts before this
// file the helpers (helpers.cuh) and, for one measure in one zero mode:
//   struct dv_acc { ... };                       the accumulators of one (row, column) pair
//   dv_init(dv_acc&), dv_update(dv_acc&, x, y, eps, par0, par1), dv_finalize(acc, d, eps, par0, par1)
// No measure has code of its own here.
//
// Tiling: a block of DV_TY x DV_TX threads computes a DV_BM x DV_BN tile of the result, each
// thread DV_RM x DV_RN outputs (rows ty + DV_TY r, columns tx + DV_TX c, so that writes are
// coalesced). Columns of XA and XB are staged through shared memory DV_BK at a time,
// converted to double; every output sums its terms over k = 0, 1, ..., d - 1 in order, as
// the CPU kernels do.

#define DV_TX 16
#define DV_TY 16
#define DV_RM 2
#define DV_RN 2
#define DV_BM (DV_TY * DV_RM)
#define DV_BN (DV_TX * DV_RN)
#define DV_BK 16
#define DV_THREADS (DV_TX * DV_TY)

template <typename T>
__device__ __forceinline__ void dv_cdist_tile(
    const T* __restrict__ XA, const T* __restrict__ XB, double* __restrict__ out,
    long long m, long long n, long long d, double eps, double par0, double par1,
    int upper_only)
{
    __shared__ double As[DV_BK][DV_BM + 1];
    __shared__ double Bs[DV_BK][DV_BN + 1];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int tid = ty * DV_TX + tx;
    const long long i0 = (long long)blockIdx.y * DV_BM;
    const long long j0 = (long long)blockIdx.x * DV_BN;
    // a symmetric measure among the rows of one matrix: tiles wholly below the diagonal
    // are left to dv_mirror (the whole block returns, before any barrier)
    if (upper_only && j0 + DV_BN <= i0) return;

    dv_acc acc[DV_RM][DV_RN];
    for (int r = 0; r < DV_RM; ++r)
        for (int c = 0; c < DV_RN; ++c) dv_init(acc[r][c]);

    for (long long k0 = 0; k0 < d; k0 += DV_BK) {
        for (int e = tid; e < DV_BM * DV_BK; e += DV_THREADS) {
            const int r = e / DV_BK, c = e % DV_BK;
            const long long gi = i0 + r, gk = k0 + c;
            As[c][r] = (gi < m && gk < d) ? (double)XA[gi * d + gk] : 0.0;
        }
        for (int e = tid; e < DV_BN * DV_BK; e += DV_THREADS) {
            const int r = e / DV_BK, c = e % DV_BK;
            const long long gj = j0 + r, gk = k0 + c;
            Bs[c][r] = (gj < n && gk < d) ? (double)XB[gj * d + gk] : 0.0;
        }
        __syncthreads();
        const int kmax = (d - k0 < DV_BK) ? (int)(d - k0) : DV_BK;
        for (int kk = 0; kk < kmax; ++kk) {
            double x[DV_RM], y[DV_RN];
            for (int r = 0; r < DV_RM; ++r) x[r] = As[kk][ty + DV_TY * r];
            for (int c = 0; c < DV_RN; ++c) y[c] = Bs[kk][tx + DV_TX * c];
            for (int r = 0; r < DV_RM; ++r)
                for (int c = 0; c < DV_RN; ++c) dv_update(acc[r][c], x[r], y[c], eps, par0, par1);
        }
        __syncthreads();
    }
    const double dd = (double)d;
    for (int r = 0; r < DV_RM; ++r) {
        const long long i = i0 + ty + DV_TY * r;
        for (int c = 0; c < DV_RN; ++c) {
            const long long j = j0 + tx + DV_TX * c;
            if (i < m && j < n) out[i * n + j] = dv_finalize(acc[r][c], dd, eps, par0, par1);
        }
    }
}

extern "C" __global__ void dv_cdist_f64(
    const double* XA, const double* XB, double* out, long long m, long long n, long long d,
    double eps, double par0, double par1, int upper_only)
{
    dv_cdist_tile<double>(XA, XB, out, m, n, d, eps, par0, par1, upper_only);
}

extern "C" __global__ void dv_cdist_f32(
    const float* XA, const float* XB, double* out, long long m, long long n, long long d,
    double eps, double par0, double par1, int upper_only)
{
    dv_cdist_tile<float>(XA, XB, out, m, n, d, eps, par0, par1, upper_only);
}

// out[i, j] = out[j, i] for i > j: the lower triangle of a symmetric square result from
// its upper triangle (grid over (j, i) tiles of DV_TX x DV_TY threads)
extern "C" __global__ void dv_mirror(double* out, long long m)
{
    const long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long i = (long long)blockIdx.y * blockDim.y + threadIdx.y;
    if (i < m && j < i) out[i * m + j] = out[j * m + i];
}

// scipy's condensed layout from the upper triangle of a square result
extern "C" __global__ void dv_condense(const double* sq, double* out, long long m)
{
    const long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long i = (long long)blockIdx.y * blockDim.y + threadIdx.y;
    if (i < m && j > i && j < m) out[m * i - (i * (i + 1)) / 2 + j - i - 1] = sq[i * m + j];
}

// Is (v, i) ranked before (w, j)? Numbers before NaN, then by value (ascending, or
// descending with `largest`), then the lower index; an empty slot (j < 0) ranks last.
__device__ __forceinline__ bool dv_before(double v, long long i, double w, long long j, int largest)
{
    if (j < 0) return true;
    const bool vn = v != v, wn = w != w;
    if (vn || wn) return vn && wn ? i < j : wn;
    if (v != w) return largest ? v > w : v < w;
    return i < j;
}

// Merge the columns of one block of results D (rows x cols, columns col0, col0 + 1, ...)
// into the running k best of every row (best_val, best_idx: rows x k, sorted, empty slots
// with index -1). One thread per row scans its columns in order, so ties keep the lower index.
extern "C" __global__ void dv_topk_merge(
    const double* D, long long rows, long long cols, long long col0,
    double* best_val, long long* best_idx, long long k, int largest)
{
    const long long row = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= rows || k <= 0) return;
    double* bv = best_val + row * k;
    long long* bi = best_idx + row * k;
    const double* drow = D + row * cols;
    for (long long c = 0; c < cols; ++c) {
        const double v = drow[c];
        const long long idx = col0 + c;
        if (!dv_before(v, idx, bv[k - 1], bi[k - 1], largest)) continue;
        long long s = k - 1;
        while (s > 0 && dv_before(v, idx, bv[s - 1], bi[s - 1], largest)) {
            bv[s] = bv[s - 1];
            bi[s] = bi[s - 1];
            --s;
        }
        bv[s] = v;
        bi[s] = idx;
    }
}
