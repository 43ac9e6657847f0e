//! Channels behind one small type, so an engine runs on crossbeam-channel
//! (the default) or flume, picked at run time by `EngineConfig::channel`
//! ([`crate::EngineConfig`]), and the two can be compared on the same work.
//!
//! Every method matches on the flavour: one well-predicted branch per call,
//! which is noise next to the channel operation itself (tens of nanoseconds).
//!
//! A thread-owned shard receives on two lanes: a bounded lane for client ops
//! (backpressure) and an unbounded lane for traffic it must never block on
//! (peer messages, control). [`dual`] builds both with the same flavour, so
//! [`DualReceiver::recv_either`] can wait on both at once (crossbeam's
//! `Select`, flume's `Selector`) and a shard sleeps until either has work.

use crate::config::ChannelKind;

/// The receiving side is gone: the value could not be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disconnected;

/// Why [`Receiver::try_recv`] returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing queued right now.
    Empty,
    /// Nothing queued and every sender is gone.
    Disconnected,
}

/// The sending half of a mailbox or lane.
#[derive(Debug)]
pub enum Sender<T> {
    /// crossbeam-channel.
    Crossbeam(crossbeam_channel::Sender<T>),
    /// flume.
    Flume(flume::Sender<T>),
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        match self {
            Sender::Crossbeam(s) => Sender::Crossbeam(s.clone()),
            Sender::Flume(s) => Sender::Flume(s.clone()),
        }
    }
}

impl<T> Sender<T> {
    /// Sends `value`, blocking while a bounded channel is full. Fails, handing
    /// the value back, once every receiver is dropped (this is how a blocked
    /// client is released when an engine shuts down).
    #[inline]
    pub fn send(&self, value: T) -> Result<(), (Disconnected, T)> {
        match self {
            Sender::Crossbeam(s) => s.send(value).map_err(|e| (Disconnected, e.0)),
            Sender::Flume(s) => s.send(value).map_err(|e| (Disconnected, e.0)),
        }
    }

    /// Messages queued now (a racy snapshot, for stats).
    pub fn len(&self) -> usize {
        match self {
            Sender::Crossbeam(s) => s.len(),
            Sender::Flume(s) => s.len(),
        }
    }

    /// Whether nothing is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The receiving half of a single channel.
#[derive(Debug)]
pub enum Receiver<T> {
    /// crossbeam-channel.
    Crossbeam(crossbeam_channel::Receiver<T>),
    /// flume.
    Flume(flume::Receiver<T>),
}

impl<T> Receiver<T> {
    /// Blocks until a value arrives; fails once the channel is empty and every
    /// sender is gone.
    #[inline]
    pub fn recv(&self) -> Result<T, Disconnected> {
        match self {
            Receiver::Crossbeam(r) => r.recv().map_err(|_| Disconnected),
            Receiver::Flume(r) => r.recv().map_err(|_| Disconnected),
        }
    }

    /// Takes a value if one is queued.
    #[inline]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match self {
            Receiver::Crossbeam(r) => r.try_recv().map_err(|e| match e {
                crossbeam_channel::TryRecvError::Empty => TryRecvError::Empty,
                crossbeam_channel::TryRecvError::Disconnected => TryRecvError::Disconnected,
            }),
            Receiver::Flume(r) => r.try_recv().map_err(|e| match e {
                flume::TryRecvError::Empty => TryRecvError::Empty,
                flume::TryRecvError::Disconnected => TryRecvError::Disconnected,
            }),
        }
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        match self {
            Receiver::Crossbeam(r) => r.len(),
            Receiver::Flume(r) => r.len(),
        }
    }

    /// Whether nothing is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A bounded channel of `capacity` (at least 1) of the given flavour.
pub fn bounded<T>(kind: ChannelKind, capacity: usize) -> (Sender<T>, Receiver<T>) {
    let capacity = capacity.max(1);
    match kind {
        ChannelKind::Crossbeam => {
            let (s, r) = crossbeam_channel::bounded(capacity);
            (Sender::Crossbeam(s), Receiver::Crossbeam(r))
        }
        ChannelKind::Flume => {
            let (s, r) = flume::bounded(capacity);
            (Sender::Flume(s), Receiver::Flume(r))
        }
    }
}

/// An unbounded channel of the given flavour.
pub fn unbounded<T>(kind: ChannelKind) -> (Sender<T>, Receiver<T>) {
    match kind {
        ChannelKind::Crossbeam => {
            let (s, r) = crossbeam_channel::unbounded();
            (Sender::Crossbeam(s), Receiver::Crossbeam(r))
        }
        ChannelKind::Flume => {
            let (s, r) = flume::unbounded();
            (Sender::Flume(s), Receiver::Flume(r))
        }
    }
}

/// What [`DualReceiver::recv_either`] got: a value from the first (bounded)
/// lane or from the second (unbounded) lane, or that lane's disconnection.
#[derive(Debug)]
pub enum Either<A, B> {
    /// From the first lane.
    First(Result<A, Disconnected>),
    /// From the second lane.
    Second(Result<B, Disconnected>),
}

/// Two receivers of the same flavour that can be waited on together.
#[derive(Debug)]
pub enum DualReceiver<A, B> {
    /// crossbeam-channel.
    Crossbeam(
        crossbeam_channel::Receiver<A>,
        crossbeam_channel::Receiver<B>,
    ),
    /// flume.
    Flume(flume::Receiver<A>, flume::Receiver<B>),
}

/// A bounded first lane of `capacity` and an unbounded second lane, of one flavour.
pub fn dual<A, B>(
    kind: ChannelKind,
    capacity: usize,
) -> (Sender<A>, Sender<B>, DualReceiver<A, B>) {
    let capacity = capacity.max(1);
    match kind {
        ChannelKind::Crossbeam => {
            let (sa, ra) = crossbeam_channel::bounded(capacity);
            let (sb, rb) = crossbeam_channel::unbounded();
            (
                Sender::Crossbeam(sa),
                Sender::Crossbeam(sb),
                DualReceiver::Crossbeam(ra, rb),
            )
        }
        ChannelKind::Flume => {
            let (sa, ra) = flume::bounded(capacity);
            let (sb, rb) = flume::unbounded();
            (
                Sender::Flume(sa),
                Sender::Flume(sb),
                DualReceiver::Flume(ra, rb),
            )
        }
    }
}

impl<A, B> DualReceiver<A, B> {
    /// Takes a value from the first lane if one is queued.
    #[inline]
    pub fn try_first(&self) -> Option<A> {
        match self {
            DualReceiver::Crossbeam(a, _) => a.try_recv().ok(),
            DualReceiver::Flume(a, _) => a.try_recv().ok(),
        }
    }

    /// Takes a value from the second lane if one is queued.
    #[inline]
    pub fn try_second(&self) -> Option<B> {
        match self {
            DualReceiver::Crossbeam(_, b) => b.try_recv().ok(),
            DualReceiver::Flume(_, b) => b.try_recv().ok(),
        }
    }

    /// Blocks until the second lane has a value (or is disconnected),
    /// leaving the first lane alone.
    pub fn recv_second(&self) -> Result<B, Disconnected> {
        match self {
            DualReceiver::Crossbeam(_, b) => b.recv().map_err(|_| Disconnected),
            DualReceiver::Flume(_, b) => b.recv().map_err(|_| Disconnected),
        }
    }

    /// Blocks until either lane has a value (or is disconnected) and takes it.
    pub fn recv_either(&self) -> Either<A, B> {
        match self {
            DualReceiver::Crossbeam(a, b) => crossbeam_channel::select! {
                recv(a) -> r => Either::First(r.map_err(|_| Disconnected)),
                recv(b) -> r => Either::Second(r.map_err(|_| Disconnected)),
            },
            DualReceiver::Flume(a, b) => flume::Selector::new()
                .recv(a, |r| Either::First(r.map_err(|_| Disconnected)))
                .recv(b, |r| Either::Second(r.map_err(|_| Disconnected)))
                .wait(),
        }
    }

    /// Values queued on the first lane now.
    pub fn len_first(&self) -> usize {
        match self {
            DualReceiver::Crossbeam(a, _) => a.len(),
            DualReceiver::Flume(a, _) => a.len(),
        }
    }

    /// Values queued on the second lane now.
    pub fn len_second(&self) -> usize {
        match self {
            DualReceiver::Crossbeam(_, b) => b.len(),
            DualReceiver::Flume(_, b) => b.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recv_either_wakes_for_the_unbounded_lane_while_the_bounded_one_is_idle() {
        for kind in [ChannelKind::Crossbeam, ChannelKind::Flume] {
            let (_a, b, rx) = dual::<u32, u32>(kind, 1);
            let t = std::thread::spawn(move || b.send(7).is_ok());
            match rx.recv_either() {
                Either::Second(Ok(7)) => {}
                other => panic!("{kind:?}: expected the second lane's 7, got {other:?}"),
            }
            assert!(t.join().unwrap_or(false));
        }
    }

    #[test]
    fn blocked_sender_is_released_when_the_receiver_drops() {
        for kind in [ChannelKind::Crossbeam, ChannelKind::Flume] {
            let (tx, rx) = bounded::<u32>(kind, 1);
            assert!(tx.send(1).is_ok());
            let t = std::thread::spawn(move || tx.send(2).is_err());
            // The sender is blocked (capacity 1 is used) or about to be;
            // dropping the receiver must release it either way.
            drop(rx);
            assert!(t.join().unwrap_or(false), "{kind:?}: send should fail");
        }
    }
}
