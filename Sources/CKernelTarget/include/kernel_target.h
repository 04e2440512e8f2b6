#ifndef CNNSPEC_KERNEL_TARGET_H
#define CNNSPEC_KERNEL_TARGET_H
/// What the CPU can run, read once at start to choose cnnspec's kernel target (CPUID and XGETBV on
/// x86-64: the instruction set and whether the OS saves its registers; compile-time on arm64), the
/// host's cache sizes, and an FMA loop that measures the machine's peak with its widest vectors.

/// Instruction sets, in the order `cnnspec_kernel_isa` reports them.
#define CNNSPEC_ISA_GENERIC 0
#define CNNSPEC_ISA_AVX2_FMA 1
#define CNNSPEC_ISA_AVX512F 2
#define CNNSPEC_ISA_NEON 3

/// The widest instruction set the kernels can use on this CPU.
int cnnspec_kernel_isa(void);

/// Data cache sizes in bytes (level 1, 2 or 3) as the OS reports them; 0 when unknown.
long cnnspec_cache_bytes(int level);

/// Runs `iterations` steps of `cnnspec_fma_peak_chains()` independent FMA chains of the widest vectors
/// `isa` has; returns a value that depends on every chain so the work cannot be removed.
float cnnspec_fma_peak_run(int isa, long iterations);
/// Floating-point operations of one step of `cnnspec_fma_peak_run` (2 per lane per chain).
int cnnspec_fma_peak_flops_per_step(int isa);
/// Independent chains per step, enough to cover FMA latency × FMA ports on the cores the ISA runs on.
int cnnspec_fma_peak_chains(int isa);
#endif
