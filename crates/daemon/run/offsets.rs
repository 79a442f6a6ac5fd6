//! Offset tracking for at-least-once delivery. Owned by the worker task alone.
//!
//! Per assigned partition: the offsets processed so far and, for each processed message that
//! raised deliveries (findings, a dead letter), how many are still unacknowledged. The offset to
//! store is the contiguous-done watermark: the first message with unacknowledged deliveries, or
//! one past the last processed message when there is none. So an offset is never committed past
//! an event whose alerts a sink has not accepted, however the acknowledgements interleave.
//!
//! Each assignment of a partition has an epoch (from the consumer thread). A message or an
//! acknowledgement from an older assignment is stale and ignored: its offsets belong to whoever
//! owns the partition now.

use std::collections::{HashMap, VecDeque};

/// A partition: topic index and partition number.
pub type PartitionKey = (u16, i32);

/// Identifies the message a delivery belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    /// Topic index.
    pub topic: u16,
    /// Partition.
    pub partition: i32,
    /// Assignment epoch.
    pub epoch: u32,
    /// Offset.
    pub offset: i64,
}

#[derive(Debug)]
struct Track {
    epoch: u32,
    /// One past the last processed offset.
    next: i64,
    /// Processed messages with unacknowledged deliveries, ascending offsets.
    pending: VecDeque<(i64, u32)>,
    /// Last watermark handed out for storing.
    stored: i64,
}

impl Track {
    fn watermark(&self) -> i64 {
        self.pending.front().map_or(self.next, |&(o, _)| o)
    }
}

/// The watermarks of every partition this consumer owns.
#[derive(Debug, Default)]
pub struct Offsets {
    tracks: HashMap<PartitionKey, Track>,
}

impl Offsets {
    /// Starts processing a message. Returns false for a stale message (an older assignment),
    /// which must be skipped.
    pub fn begin(&mut self, o: Origin) -> bool {
        let key = (o.topic, o.partition);
        match self.tracks.get(&key) {
            Some(t) if o.epoch < t.epoch => return false,
            // Same assignment, moving forward: the normal case.
            Some(t) if o.epoch == t.epoch && o.offset >= t.next => return true,
            _ => {}
        }
        // A new assignment, or a rewind within one (a seek): start over from this offset. The
        // watermark then never passes work that is not done.
        self.tracks.insert(key, Track { epoch: o.epoch, next: o.offset, pending: VecDeque::new(), stored: -1 });
        true
    }

    /// Finishes processing a message that raised `deliveries` deliveries.
    pub fn finish(&mut self, o: Origin, deliveries: u32) {
        let Some(t) = self.tracks.get_mut(&(o.topic, o.partition)) else { return };
        if t.epoch != o.epoch {
            return;
        }
        t.next = t.next.max(o.offset + 1);
        if deliveries > 0 {
            t.pending.push_back((o.offset, deliveries));
        }
    }

    /// Records one acknowledged delivery. Stale acknowledgements are ignored.
    pub fn acked(&mut self, o: Origin) {
        let Some(t) = self.tracks.get_mut(&(o.topic, o.partition)) else { return };
        if t.epoch != o.epoch {
            return;
        }
        if let Ok(i) = t.pending.binary_search_by_key(&o.offset, |&(off, _)| off) {
            t.pending[i].1 = t.pending[i].1.saturating_sub(1);
        }
        while t.pending.front().is_some_and(|&(_, n)| n == 0) {
            t.pending.pop_front();
        }
    }

    /// The next offset to consume of a partition with nothing in flight (every processed
    /// message done): what a checkpoint commits. `None` when nothing was processed since its
    /// assignment, or deliveries are still pending.
    pub fn settled(&self, key: PartitionKey) -> Option<i64> {
        self.tracks.get(&key).filter(|t| t.pending.is_empty()).map(|t| t.next)
    }

    /// Forgets revoked partitions.
    pub fn revoke(&mut self, partitions: &[PartitionKey]) {
        for p in partitions {
            self.tracks.remove(p);
        }
    }

    /// Watermarks that moved since the last call: `(partition, next offset to consume)`.
    pub fn take_advanced(&mut self, out: &mut Vec<(PartitionKey, i64)>) {
        for (key, t) in &mut self.tracks {
            let w = t.watermark();
            if w > t.stored {
                t.stored = w;
                out.push((*key, w));
            }
        }
    }

    /// Messages processed whose deliveries are not all acknowledged yet.
    #[cfg(test)]
    pub fn unfinished(&self) -> usize {
        self.tracks.values().map(|t| t.pending.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: i64) -> Origin {
        Origin { topic: 0, partition: 0, epoch: 1, offset }
    }

    fn advanced(o: &mut Offsets) -> Vec<(PartitionKey, i64)> {
        let mut v = Vec::new();
        o.take_advanced(&mut v);
        v
    }

    #[test]
    fn watermark_waits_for_the_oldest_unacknowledged_delivery() {
        let mut o = Offsets::default();
        for off in 10..15 {
            assert!(o.begin(at(off)));
            o.finish(at(off), if off == 11 || off == 13 { 2 } else { 0 });
        }
        assert_eq!(advanced(&mut o), vec![((0, 0), 11)]);
        o.acked(at(13));
        o.acked(at(13));
        assert!(advanced(&mut o).is_empty(), "13 done but 11 is not");
        o.acked(at(11));
        assert!(advanced(&mut o).is_empty(), "11 still has one delivery out");
        o.acked(at(11));
        assert_eq!(advanced(&mut o), vec![((0, 0), 15)]);
        assert_eq!(o.unfinished(), 0);
    }

    #[test]
    fn stale_epochs_are_ignored() {
        let mut o = Offsets::default();
        assert!(o.begin(at(5)));
        o.finish(at(5), 1);
        let newer = Origin { epoch: 2, ..at(3) };
        assert!(o.begin(newer));
        o.finish(newer, 0);
        // The old assignment's acknowledgement and messages change nothing.
        o.acked(at(5));
        assert!(!o.begin(at(6)));
        assert_eq!(advanced(&mut o), vec![((0, 0), 4)]);
    }

    #[test]
    fn revoked_partitions_are_forgotten_and_a_rewind_restarts() {
        let mut o = Offsets::default();
        o.begin(at(100));
        o.finish(at(100), 1);
        o.revoke(&[(0, 0)]);
        assert!(advanced(&mut o).is_empty());
        assert_eq!(o.unfinished(), 0);
        o.begin(at(100));
        o.finish(at(100), 0);
        o.begin(at(50));
        o.finish(at(50), 0);
        // The rewind resets the watermark: storing 51 is safe, 101 would not be after a seek.
        assert_eq!(advanced(&mut o), vec![((0, 0), 51)]);
    }
}
