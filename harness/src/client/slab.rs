//! The client thread's slab of ops in flight: the tag of a submitted op is
//! the index of its [`InFlight`] slot, which holds the op's workload token,
//! recorder row, intended start and send time, and what the audit's log
//! needs of a write ([`Pending`]), so a reply finds all of it without a lock
//! or an allocation.

use socialbench_engines::{Op, Pending};
use socialbench_workload::Generator;

use crate::recorder::row_of;

/// A submitted op, found again by its tag.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InFlight {
    /// The generator's token of the op.
    pub token: u64,
    /// What the audit's log needs of it if it is a write.
    pub write: Pending,
    /// Recorder row: the kind's, or the invalid-request row.
    pub row: u8,
    /// Intended start (ns on the run clock).
    pub intended_ns: u64,
    /// Actual send (ns on the run clock).
    pub sent_ns: u64,
}

impl InFlight {
    /// The generator's op `token`/`op`, intended at `intended_ns`, sent at `sent_ns`.
    #[inline(always)]
    pub(crate) fn new(token: u64, op: &Op, intended_ns: u64, sent_ns: u64) -> InFlight {
        let kind = op.kind();
        InFlight {
            token,
            write: Pending::of(op),
            row: row_of(kind, Generator::is_invalid(token)) as u8,
            intended_ns,
            sent_ns,
        }
    }
}

/// Fixed-capacity slots with a free list: insert and remove are O(1), no allocation.
/// Debug builds also track which slots are taken and assert that a tag
/// removed or read is one handed out and not yet freed (a reply with a stale
/// or duplicated tag would otherwise be booked against another op).
pub(crate) struct Slab {
    slots: Vec<InFlight>,
    free: Vec<u32>,
    #[cfg(debug_assertions)]
    taken: Vec<bool>,
}

impl Slab {
    pub(crate) fn new(capacity: usize) -> Slab {
        let empty = InFlight {
            token: 0,
            write: Pending::Read,
            row: 0,
            intended_ns: 0,
            sent_ns: 0,
        };
        Slab {
            slots: vec![empty; capacity],
            free: (0..capacity as u32).rev().collect(),
            #[cfg(debug_assertions)]
            taken: vec![false; capacity],
        }
    }
    /// Debug builds: marks slot `tag` taken or free, asserting it was the other.
    #[inline(always)]
    fn mark(&mut self, _tag: u64, _taken: bool) {
        #[cfg(debug_assertions)]
        if let Some(t) = self.taken.get_mut(_tag as usize) {
            debug_assert_ne!(*t, _taken, "slab slot {_tag} marked twice");
            *t = _taken;
        }
    }
    /// Debug builds: asserts slot `tag` is taken.
    #[inline(always)]
    fn check_taken(&self, _tag: u64) {
        #[cfg(debug_assertions)]
        debug_assert!(
            self.taken.get(_tag as usize).is_none_or(|t| *t),
            "slab slot {_tag} is not in use"
        );
    }
    #[inline]
    pub(crate) fn has_free(&self) -> bool {
        !self.free.is_empty()
    }
    #[inline]
    pub(crate) fn insert(&mut self, f: InFlight) -> u64 {
        // Callers check `has_free` first.
        let i = self.free.pop().unwrap_or(0);
        self.slots[i as usize] = f;
        self.mark(i as u64, true);
        i as u64
    }
    #[inline]
    pub(crate) fn remove(&mut self, tag: u64) -> Option<InFlight> {
        let slot = *self.slots.get(tag as usize)?;
        self.mark(tag, false);
        self.free.push(tag as u32);
        Some(slot)
    }
    /// The op in slot `tag`, leaving the slot taken: the caller refills it
    /// with [`Slab::put`] or frees it with [`Slab::release`].
    #[inline]
    pub(crate) fn get(&self, tag: u64) -> Option<InFlight> {
        self.check_taken(tag);
        self.slots.get(tag as usize).copied()
    }
    /// Stores `f` in slot `tag`, taken by [`Slab::get`].
    #[inline]
    pub(crate) fn put(&mut self, tag: u64, f: InFlight) {
        self.check_taken(tag);
        if let Some(s) = self.slots.get_mut(tag as usize) {
            *s = f;
        }
    }
    /// Frees slot `tag`, taken by [`Slab::get`].
    #[inline]
    pub(crate) fn release(&mut self, tag: u64) {
        self.mark(tag, false);
        self.free.push(tag as u32);
    }
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "marked twice")]
    fn slab_rejects_a_tag_freed_twice_in_debug_builds() {
        let mut s = Slab::new(2);
        let f = InFlight {
            token: 7,
            write: Pending::Read,
            row: 0,
            intended_ns: 1,
            sent_ns: 2,
        };
        let a = s.insert(f);
        s.remove(a);
        s.remove(a); // a duplicated reply
    }

    #[test]
    fn slab_reuses_freed_slots_and_rejects_unknown_tags() {
        let mut s = Slab::new(2);
        let f = InFlight {
            token: 7,
            write: Pending::Read,
            row: 0,
            intended_ns: 1,
            sent_ns: 2,
        };
        let a = s.insert(f);
        let b = s.insert(InFlight { token: 8, ..f });
        assert!(!s.has_free());
        assert_ne!(a, b);
        assert_eq!(s.remove(a).unwrap().token, 7);
        assert!(s.has_free());
        let c = s.insert(InFlight { token: 9, ..f });
        assert_eq!(c, a);
        assert_eq!(s.remove(b).unwrap().token, 8);
        assert!(s.remove(99).is_none());
    }
}
