// The zero-rule vocabulary of divergences.expr in CUDA C: one to one with
// divergences/kernels/helpers.py (array API) and numba_helpers.py (Numba).
// Compiled by NVRTC (through cupy.RawModule or `divergences gpu-check`) and, in the test
// suite, by g++ behind a small shim header. Double precision throughout.
// DV_LOG1PMX_SERIES_BELOW is defined by the generator (divergences.kernels.cuda_source).

__device__ __forceinline__ double dv_inf() { return __longlong_as_double(0x7ff0000000000000LL); }
__device__ __forceinline__ double dv_nan() { return __longlong_as_double(0x7ff8000000000000LL); }

// a / b with 0 / 0 = 0 (and a / 0 = +-inf)
__device__ __forceinline__ double dv_div0(double a, double b) { return a == 0.0 ? 0.0 : a / b; }

// a, with an exact zero replaced by e
__device__ __forceinline__ double dv_nz(double a, double e) { return a == 0.0 ? e : a; }

// a log(b) with 0 log(anything) = 0
__device__ __forceinline__ double dv_xlogy(double a, double b) { return a == 0.0 ? 0.0 : a * log(b); }

// log(1 + r) - r, accurate for tiny r (series in u = r / (2 + r))
__device__ __forceinline__ double dv_log1pmx(double r) {
    if (fabs(r) < DV_LOG1PMX_SERIES_BELOW) {
        double u = r / (2.0 + r);
        double u2 = u * u;
        double tail = 1.0 / 15.0;
        tail = 1.0 / 13.0 + u2 * tail;
        tail = 1.0 / 11.0 + u2 * tail;
        tail = 1.0 / 9.0 + u2 * tail;
        tail = 1.0 / 7.0 + u2 * tail;
        tail = 1.0 / 5.0 + u2 * tail;
        tail = 1.0 / 3.0 + u2 * tail;
        return -r * r / (2.0 + r) + 2.0 * u * u2 * tail;
    }
    return log1p(r) - r;
}

__device__ __forceinline__ double dv_log_ratio(double a, double b) {
    double r = a / b;
    if (r > 0.0 && r < dv_inf()) return log(r);
    return log(a) - log(b);
}

__device__ __forceinline__ bool dv_one_infinite(double a, double b) {
    return (isinf(a) != isinf(b)) && a == a && b == b;
}

// a log(a / b) - a + b >= 0, without cancellation near a = b
__device__ __forceinline__ double dv_kl_elem(double a, double b) {
    if (dv_one_infinite(a, b)) return dv_inf();
    double diff = b - a;
    if (a == 0.0) return diff;
    if (fabs(diff) <= 0.5 * a) return -a * dv_log1pmx(diff / a);
    return a * dv_log_ratio(a, b) + diff;
}

// kl_elem(a, (a + b) / 2) without rounding the midpoint
__device__ __forceinline__ double dv_kl_mid(double a, double b) {
    if (dv_one_infinite(a, b)) return dv_inf();
    double half = 0.5 * (b - a);
    if (a == 0.0) return half;
    if (fabs(half) <= 0.5 * a) return -a * dv_log1pmx(half / a);
    return a * dv_log_ratio(2.0 * a, a + b) + half;
}

// (sqrt a - sqrt b)^2 as ((a - b) / (sqrt a + sqrt b))^2, 0 / 0 = 0
__device__ __forceinline__ double dv_sqrt_diff_sq(double a, double b) {
    if (dv_one_infinite(a, b)) return dv_inf();
    double t = dv_div0(a - b, sqrt(a) + sqrt(b));
    return t * t;
}

// elementwise min / max propagating NaN (as numpy.minimum / numpy.maximum)
__device__ __forceinline__ double dv_minimum(double a, double b) { return (a < b || a != a) ? a : b; }
__device__ __forceinline__ double dv_maximum(double a, double b) { return (a > b || a != a) ? a : b; }

// a ** p for an exponent known only at run time: small integers multiply
__device__ __forceinline__ double dv_ipow(double a, double p) {
    if (p == 2.0) return a * a;
    if (p == 1.0) return a;
    if (p == 3.0) return a * a * a;
    if (p == 4.0) { double b = a * a; return b * b; }
    return pow(a, p);
}

__device__ __forceinline__ double dv_sq(double a) { return a * a; }
