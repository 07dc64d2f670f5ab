// Internal CUDA C helpers of the generated modules (divergences.kernels.cuda_source): the
// constants, the run-time power, and the pieces the vocabulary's own CUDA C definitions
// use. The definitions of the language's helpers (dv_div0, dv_kl_elem, ...) are entries of
// divergences.vocabulary.HELPERS and follow this file in every module.
// Compiled by NVRTC (through cupy.RawModule or `divergences gpu-check`) and, in the test
// suite, by g++ behind a small shim header. Double precision throughout.
// DV_LOG1PMX_SERIES_BELOW is defined by the generator.

__device__ __forceinline__ double dv_inf() { return __longlong_as_double(0x7ff0000000000000LL); }
__device__ __forceinline__ double dv_nan() { return __longlong_as_double(0x7ff8000000000000LL); }

__device__ __forceinline__ double dv_log_ratio(double a, double b) {
    double r = a / b;
    if (r > 0.0 && r < dv_inf()) return log(r);
    return log(a) - log(b);
}

__device__ __forceinline__ bool dv_one_infinite(double a, double b) {
    return (isinf(a) != isinf(b)) && a == a && b == b;
}

// a ** p for an exponent known only at run time: small integers multiply
__device__ __forceinline__ double dv_ipow(double a, double p) {
    if (p == 2.0) return a * a;
    if (p == 1.0) return a;
    if (p == 3.0) return a * a * a;
    if (p == 4.0) { double b = a * a; return b * b; }
    return pow(a, p);
}

__device__ __forceinline__ double dv_sq(double a) { return a * a; }

// g * t of the chain rule, 0 where either factor is 0 (an infinite partial derivative of the
// finalize times a vanishing term derivative is 0, a subgradient, never NaN): the mul0 of
// divergences.kernels.paired_grad_numba
__device__ __forceinline__ double dv_mul0(double g, double t) {
    return (g == 0.0 || t == 0.0) ? 0.0 : g * t;
}

// the index of a max/min accumulator that no term has beaten yet (above every coordinate)
#define DV_NO_INDEX 0x7fffffffffffffffLL
