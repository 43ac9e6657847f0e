//! A cache prefetch hint: the one `unsafe` block of the workload crate.
//!
//! The generator draws the acting users a few ops ahead (see
//! [`crate::generator`]) and asks for their state early, so its cache
//! misses overlap the current op instead of stalling the next. A plain load
//! cannot do this: the CPU retires instructions in order, so the loaded
//! value's consumer (even `black_box`) blocks the reorder buffer for the
//! whole miss; a prefetch retires at once.

/// Asks the CPU to bring the cache line holding `value` towards L1. A hint:
/// no effect on the program's meaning; a no-op off x86_64.
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` never faults and has no architectural effect; the
    // pointer comes from a live reference, and SSE is part of the x86_64
    // baseline, so the target feature the intrinsic requires is present.
    #[allow(unsafe_code)]
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
