// Row-wise values and analytic gradients: out[i] = f(XA[i], XB[i]), GA[i] = df/dXA[i],
// GB[i] = df/dXB[i] (the kernels of divergences.paired_grad on the cupy back end). The
// generator puts before this file the helpers and the measure's gradient pieces: dv_gacc
// with dv_ginit/dv_gupdate/dv_gcombine/dv_gresolve, dv_gpart with dv_gfinalize, dv_gelem
// (see divergences.kernels.cuda_source.grad_source).
//
// One block of DV_PAIRED_THREADS threads per row (grid.x = rows, at most 2^31 - 1):
// 1. thread t accumulates coordinates t, t + T, ... in increasing order (a max/min keeps the
//    first index of its extreme), the partial results are merged by a tree in shared memory
//    (sums added, extremes compared with ties to the lower index);
// 2. every thread reads the merged accumulators and computes the value and the partial
//    derivatives of the finalize (the same numbers in every thread; thread 0 writes the value);
// 3. thread t writes the gradients of coordinates t, t + T, ... (in the input's type).
// Arithmetic in double; the value is double for both input types.

template <typename T>
__device__ __forceinline__ void dv_paired_grad_row(
    const T* __restrict__ XA, const T* __restrict__ XB, double* __restrict__ out,
    T* __restrict__ GA, T* __restrict__ GB, long long m, long long d, double eps, double par0,
    double par1)
{
    __shared__ dv_gacc gpart[DV_PAIRED_THREADS];
    const long long i = (long long)blockIdx.x;
    const int t = threadIdx.x;
    dv_gacc s;
    dv_ginit(s);
    if (i < m) {
        const T* a = XA + i * d;
        const T* b = XB + i * d;
        for (long long k = t; k < d; k += DV_PAIRED_THREADS)
            dv_gupdate(s, k, (double)a[k], (double)b[k], eps, par0, par1);
    }
    gpart[t] = s;
    __syncthreads();
    for (int w = DV_PAIRED_THREADS / 2; w > 0; w >>= 1) {
        if (t < w) dv_gcombine(gpart[t], gpart[t + w]);
        __syncthreads();
    }
    if (i >= m) return;  // after the last barrier
    dv_gacc r = gpart[0];
    dv_gresolve(r);
    dv_gpart g;
    const double value = dv_gfinalize(r, g, (double)d, eps, par0, par1);
    if (t == 0) out[i] = value;
    const T* a = XA + i * d;
    const T* b = XB + i * d;
    for (long long k = t; k < d; k += DV_PAIRED_THREADS) {
        double gx, gy;
        dv_gelem(r, g, k, (double)a[k], (double)b[k], eps, par0, par1, gx, gy);
        GA[i * d + k] = (T)gx;
        GB[i * d + k] = (T)gy;
    }
}

extern "C" __global__ void dv_paired_grad_f64(
    const double* XA, const double* XB, double* out, double* GA, double* GB, long long m,
    long long d, double eps, double par0, double par1)
{
    dv_paired_grad_row<double>(XA, XB, out, GA, GB, m, d, eps, par0, par1);
}

extern "C" __global__ void dv_paired_grad_f32(
    const float* XA, const float* XB, double* out, float* GA, float* GB, long long m,
    long long d, double eps, double par0, double par1)
{
    dv_paired_grad_row<float>(XA, XB, out, GA, GB, m, d, eps, par0, par1);
}
