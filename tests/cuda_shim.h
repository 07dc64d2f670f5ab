// CPU shim for CUDA C kernels: compiles the project's .cu source unchanged with g++.
// - threadIdx/blockIdx are thread-locals, set by the scheduler before it resumes a thread;
// - every CUDA thread of a block is a fiber on one OS thread (started with ucontext, then
//   switched with _setjmp/_longjmp, which saves no signal mask), so __syncthreads is a real
//   barrier: a fiber yields there until every live fiber of its block arrives;
//   a barrier that some threads of the block never reach (they returned) is reported as an
//   error, as it is undefined behaviour on a GPU;
// - __shared__ is `static thread_local`: one copy per OS thread, and an OS thread runs one
//   block at a time, so one copy per block;
// - blocks are spread over OpenMP threads.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <setjmp.h>
#include <ucontext.h>
#include <vector>

struct dim3 {
    unsigned int x, y, z;
};

inline thread_local dim3 threadIdx = {0, 0, 0};
inline thread_local dim3 blockIdx = {0, 0, 0};
inline dim3 blockDim = {1, 1, 1};
inline dim3 gridDim = {1, 1, 1};

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static thread_local

using std::isinf;
using std::isnan;
using std::isfinite;

inline double __longlong_as_double(long long v) {
    double d;
    std::memcpy(&d, &v, sizeof d);
    return d;
}

namespace dvshim {

enum State { RUNNABLE, AT_BARRIER, DONE };

struct Fiber {
    ucontext_t ctx;
    jmp_buf jb;
    bool started;
    std::vector<char> stack;
    State state;
    dim3 idx;
};

inline constexpr size_t STACK_BYTES = 64 * 1024;

struct Block {
    ucontext_t scheduler;
    jmp_buf sched_jb;
    std::vector<Fiber> fibers;
    int current = -1;
    void (*body)(void*) = nullptr;
    void* body_arg = nullptr;
};

inline thread_local Block* tl_block = nullptr;
inline thread_local std::string tl_error;

inline void fiber_entry() {
    Block* b = tl_block;
    b->body(b->body_arg);
    b->fibers[b->current].state = DONE;
    _longjmp(b->sched_jb, 1);
}

inline void syncthreads() {
    Block* b = tl_block;
    Fiber& f = b->fibers[b->current];
    f.state = AT_BARRIER;
    if (!_setjmp(f.jb)) _longjmp(b->sched_jb, 1);
}

// Run one block: every thread from the start, round-robin between barriers.
// Returns false (with tl_error set) on a barrier not reached by every thread.
inline bool run_block(Block& b, dim3 grid_idx, dim3 block) {
    const size_t n = (size_t)block.x * block.y * block.z;
    if (b.fibers.size() < n) b.fibers.resize(n);
    blockIdx = grid_idx;
    tl_block = &b;
    for (size_t t = 0; t < n; ++t) {
        Fiber& f = b.fibers[t];
        if (f.stack.size() < STACK_BYTES) f.stack.resize(STACK_BYTES);
        f.idx = {(unsigned)(t % block.x), (unsigned)((t / block.x) % block.y),
                 (unsigned)(t / ((size_t)block.x * block.y))};
        f.state = RUNNABLE;
        f.started = false;
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = f.stack.data();
        f.ctx.uc_stack.ss_size = f.stack.size();
        f.ctx.uc_link = &b.scheduler;
        makecontext(&f.ctx, fiber_entry, 0);
    }
    for (;;) {
        size_t waiting = 0, done = 0;
        for (size_t t = 0; t < n; ++t) {
            Fiber& f = b.fibers[t];
            if (f.state != RUNNABLE) continue;
            b.current = (int)t;
            threadIdx = f.idx;
            if (!_setjmp(b.sched_jb)) {
                if (f.started) _longjmp(f.jb, 1);
                f.started = true;
                setcontext(&f.ctx);
            }
        }
        for (size_t t = 0; t < n; ++t) {
            waiting += b.fibers[t].state == AT_BARRIER;
            done += b.fibers[t].state == DONE;
        }
        if (done == n) return true;
        if (done > 0) {
            tl_error = "__syncthreads() not reached by every thread of block (" +
                       std::to_string(grid_idx.x) + ", " + std::to_string(grid_idx.y) + ", " +
                       std::to_string(grid_idx.z) + "): " + std::to_string(done) +
                       " threads returned while " + std::to_string(waiting) + " wait";
            return false;
        }
        for (size_t t = 0; t < n; ++t) b.fibers[t].state = RUNNABLE;
    }
}

// Launch `body(arg)` as a grid of blocks of CUDA threads. Returns 0, or 1 with the
// message in `err` (at most errlen bytes).
inline int launch(dim3 grid, dim3 block, void (*body)(void*), void* arg, char* err, size_t errlen) {
    gridDim = grid;
    blockDim = block;
    const long long nblocks = (long long)grid.x * grid.y * grid.z;
    int failed = 0;
    std::string first_error;
#pragma omp parallel
    {
        static thread_local Block b;  // fibers and their stacks are reused across launches
        b.body = body;
        b.body_arg = arg;
#pragma omp for schedule(dynamic, 1)
        for (long long i = 0; i < nblocks; ++i) {
            if (failed) continue;
            dim3 g = {(unsigned)(i % grid.x), (unsigned)((i / grid.x) % grid.y),
                      (unsigned)(i / ((long long)grid.x * grid.y))};
            if (!run_block(b, g, block)) {
#pragma omp critical
                {
                    if (!failed) first_error = tl_error;
                    failed = 1;
                }
            }
        }
        tl_block = nullptr;
    }
    if (failed) {
        std::snprintf(err, errlen, "%s", first_error.c_str());
        return 1;
    }
    return 0;
}

}  // namespace dvshim

inline void __syncthreads() { dvshim::syncthreads(); }
