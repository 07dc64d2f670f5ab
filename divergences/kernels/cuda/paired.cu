// Row-wise (paired) kernels: out[i] = f(XA[i], XB[i]). The generator puts before this file the
// helpers, the measure's dv_acc with dv_init/dv_update/dv_finalize, and dv_combine (merges
// two partial accumulators: + for sums, the NaN-propagating max/min otherwise).
//
// One block of DV_PAIRED_THREADS threads per row (grid.x = rows, at most 2^31 - 1): thread t
// accumulates coordinates t, t + T, t + 2T, ... (coalesced loads, converted to double), then
// the partial accumulators are merged by a tree in shared memory.

#define DV_PAIRED_THREADS 256

template <typename T>
__device__ __forceinline__ void dv_paired_row(
    const T* __restrict__ XA, const T* __restrict__ XB, double* __restrict__ out,
    long long m, long long d, double eps, double par0, double par1)
{
    __shared__ dv_acc part[DV_PAIRED_THREADS];
    const long long i = (long long)blockIdx.x;
    const int t = threadIdx.x;
    dv_acc s;
    dv_init(s);
    if (i < m) {
        const T* a = XA + i * d;
        const T* b = XB + i * d;
        for (long long k = t; k < d; k += DV_PAIRED_THREADS)
            dv_update(s, (double)a[k], (double)b[k], eps, par0, par1);
    }
    part[t] = s;
    __syncthreads();
    for (int w = DV_PAIRED_THREADS / 2; w > 0; w >>= 1) {
        if (t < w) dv_combine(part[t], part[t + w]);
        __syncthreads();
    }
    if (t == 0 && i < m) out[i] = dv_finalize(part[0], (double)d, eps, par0, par1);
}

extern "C" __global__ void dv_paired_f64(
    const double* XA, const double* XB, double* out, long long m, long long d,
    double eps, double par0, double par1)
{
    dv_paired_row<double>(XA, XB, out, m, d, eps, par0, par1);
}

extern "C" __global__ void dv_paired_f32(
    const float* XA, const float* XB, double* out, long long m, long long d,
    double eps, double par0, double par1)
{
    dv_paired_row<float>(XA, XB, out, m, d, eps, par0, par1);
}
