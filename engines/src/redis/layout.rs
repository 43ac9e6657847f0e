//! Where the keys live: the nodes the engine has seen, by an index that
//! stays the node's for the whole run, and the node serving every cluster
//! slot. A failover promotes a replica at another address: the layout read
//! after it ([`Layout::merged`]) gives the new master a new index and the
//! slots of the dead one, so connections and figures keyed by index stay
//! valid.

use super::wire::{self, SlotsReply};

/// The nodes and the node of every slot, as last read.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// Every master seen in the run (`redis://host:port`), by index; for a
    /// single server, that server alone.
    pub(crate) urls: Vec<String>,
    /// The node of each slot; empty for a single server (node 0).
    pub(crate) slots: Vec<u16>,
    /// Per node, its replicas' `host:port` as last read.
    pub(crate) replicas: Vec<Vec<String>>,
    /// Per node, whether it serves a slot now.
    pub(crate) serving: Vec<bool>,
}

impl Layout {
    /// One server, no slots.
    pub(crate) fn single(url: String) -> Layout {
        Layout {
            urls: vec![url],
            slots: Vec::new(),
            replicas: vec![Vec::new()],
            serving: vec![true],
        }
    }

    /// A cluster as CLUSTER SLOTS first describes it.
    pub(crate) fn cluster(reply: SlotsReply) -> Layout {
        Layout {
            urls: Vec::new(),
            slots: Vec::new(),
            replicas: Vec::new(),
            serving: Vec::new(),
        }
        .merged(reply)
    }

    /// This layout updated by a later CLUSTER SLOTS: known masters keep their
    /// index, new ones (promoted replicas) are appended, and every slot
    /// follows the reply.
    pub(crate) fn merged(&self, reply: SlotsReply) -> Layout {
        let mut next = self.clone();
        let index: Vec<u16> = reply
            .masters
            .iter()
            .map(|addr| {
                let url = format!("redis://{addr}");
                let i = match next.urls.iter().position(|u| *u == url) {
                    Some(i) => i,
                    None => {
                        next.urls.push(url);
                        next.replicas.push(Vec::new());
                        next.urls.len() - 1
                    }
                };
                i as u16
            })
            .collect();
        for (m, replicas) in reply.replicas.into_iter().enumerate() {
            next.replicas[index[m] as usize] = replicas;
        }
        next.slots = reply.slots.iter().map(|&m| index[m as usize]).collect();
        next.serving = vec![false; next.urls.len()];
        for &n in &next.slots {
            next.serving[n as usize] = true;
        }
        next
    }

    /// The node serving `key`'s slot.
    pub(crate) fn node_of(&self, key: &[u8]) -> usize {
        if self.slots.is_empty() {
            0
        } else {
            self.slots[wire::slot(key)] as usize
        }
    }

    /// The session connection for `key` when each session has `connections`
    /// per node: one of its node's, chosen by the slot, so every command on
    /// one key group takes the same connection and stays in order.
    /// Connections are numbered node by node.
    pub(crate) fn conn_of(&self, key: &[u8], connections: usize) -> usize {
        let slot = wire::slot(key);
        let node = if self.slots.is_empty() {
            0
        } else {
            self.slots[slot] as usize
        };
        node * connections + slot % connections
    }

    /// The nodes serving slots now, by index.
    pub(crate) fn masters(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.urls.len()).filter(|&n| self.serving[n])
    }

    /// The fewest replicas any serving master has.
    pub(crate) fn min_replicas(&self) -> usize {
        self.masters()
            .map(|n| self.replicas[n].len())
            .min()
            .unwrap_or(0)
    }

    /// Where to ask for the layout: the serving masters, then every replica
    /// (one of them is the next master when a master dies), as URLs.
    pub(crate) fn seeds(&self) -> Vec<String> {
        let mut seeds: Vec<String> = self.masters().map(|n| self.urls[n].clone()).collect();
        for r in self.replicas.iter().flatten() {
            let url = format!("redis://{r}");
            if !seeds.contains(&url) {
                seeds.push(url);
            }
        }
        seeds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::wire::SLOTS;

    fn reply(masters: &[&str], cut: usize, replicas: &[&[&str]]) -> SlotsReply {
        let mut slots = vec![0u16; SLOTS];
        slots[cut..].fill(1);
        SlotsReply {
            masters: masters.iter().map(|m| m.to_string()).collect(),
            slots,
            replicas: replicas
                .iter()
                .map(|r| r.iter().map(|a| a.to_string()).collect())
                .collect(),
        }
    }

    /// A promoted replica gets a new index and the dead master's slots; the
    /// surviving master keeps its index even when the reply lists it first.
    #[test]
    fn a_failover_moves_slots_to_a_new_index_and_keeps_the_others() {
        let first = Layout::cluster(reply(&["a:1", "b:2"], 100, &[&["c:3"], &["d:4"]]));
        assert_eq!(first.urls, ["redis://a:1", "redis://b:2"]);
        assert_eq!((first.node_of(b"{x}"), first.min_replicas()), (1, 1));
        // a:1 died, its replica c:3 serves its slots; the reply lists b first.
        let mut r = reply(&["b:2", "c:3"], 100, &[&["d:4"], &[]]);
        for s in r.slots.iter_mut() {
            *s = 1 - *s;
        }
        let next = first.merged(r);
        assert_eq!(next.urls, ["redis://a:1", "redis://b:2", "redis://c:3"]);
        assert_eq!(next.serving, [false, true, true]);
        assert_eq!(next.slots[0], 2);
        assert_eq!(next.slots[SLOTS - 1], 1);
        assert_eq!(next.min_replicas(), 0);
        assert_eq!(
            next.seeds(),
            ["redis://b:2", "redis://c:3", "redis://d:4"],
            "serving masters, then replicas, without the dead node"
        );
        assert_eq!(next.conn_of(b"k", 3) / 3, next.node_of(b"k"));
    }
}
