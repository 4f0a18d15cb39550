"""What this CPU can compute fast in lower precision: the instruction-set flags of /proc/cpuinfo.

bf16 matmuls need AVX512-BF16 (Intel Cooper Lake and later Xeons, AMD Zen 4 and later) or AMX-BF16
(Intel Sapphire Rapids and later); fast int8 dot products come with VNNI (AVX512-VNNI, AVX-VNNI) or
AMX-INT8. A virtual machine shows the flags its hypervisor passes through, which may be fewer than the
host CPU has. Standard library only; every flag reads False where /proc/cpuinfo is absent.
"""

from __future__ import annotations

from functools import lru_cache

CPUINFO = "/proc/cpuinfo"
#: The flags a benchmark records: vector width, int8 dot products, bf16, AMX tiles.
LOW_PRECISION_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16",
                       "amx_int8", "avx512_fp16")
#: Any of these lets a CPU run bf16 matmuls natively.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
#: Any of these gives int8 dot-product instructions (without them, int8 kernels emulate them on AVX2).
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The "flags" of the first processor in /proc/cpuinfo (all processors of a machine share them)."""
    try:
        with open(CPUINFO, encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def low_precision_flags() -> dict[str, bool]:
    """{flag: present} for each of `LOW_PRECISION_FLAGS`."""
    flags = cpu_flags()
    return {flag: flag in flags for flag in LOW_PRECISION_FLAGS}


def has_bf16() -> bool:
    """Whether the CPU has bf16 matmul instructions (`BF16_FLAGS`)."""
    return any(flag in cpu_flags() for flag in BF16_FLAGS)


def has_vnni() -> bool:
    """Whether the CPU has int8 dot-product instructions (`VNNI_FLAGS`)."""
    return any(flag in cpu_flags() for flag in VNNI_FLAGS)


def bf16_unavailable_reason() -> str | None:
    """Why this CPU cannot compute in bf16, or None when it can or its flags are unknown (no /proc/cpuinfo:
    the runtime decides)."""
    if not cpu_flags() or has_bf16():
        return None
    return (f"this CPU has no bf16 instructions ({' or '.join(BF16_FLAGS)} in {CPUINFO}); bf16 needs an Intel "
            "Xeon with AVX512-BF16 or AMX, or an AMD Zen 4 or later (and a hypervisor that passes the flags through)")


def slow_int8_reason() -> str | None:
    """Why int8 MatMuls run slowly on this CPU (no int8 dot-product instructions), or None when it has them
    or its flags are unknown."""
    if not cpu_flags() or has_vnni():
        return None
    present = [flag for flag in LOW_PRECISION_FLAGS if flag in cpu_flags()]
    return (f"this CPU has no int8 dot-product instructions (none of {', '.join(VNNI_FLAGS)} in {CPUINFO}; "
            f"it has {', '.join(present) or 'none of ' + ', '.join(LOW_PRECISION_FLAGS)})")
