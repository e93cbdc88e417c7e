//! Where an entity falls in a launch's traffic split: a position in `0..100000` (the unit of
//! Evidently's split weights, 1/1000 of a percent), from the launch's randomization salt, the
//! split (layer) being decided and the entity id.
//!
//! This is a compatibility promise: changing it moves users between groups in the middle of a
//! roll-out. `tests/emulator_eval_vectors.rs` pins it with committed vectors; any change to
//! this file that changes a position must fail those tests.
//!
//! The definition (also in docs/emulator.md):
//! `position = u64_be(sha256(message)[0..8]) mod 100000`, with
//! `message = len(salt) ":" salt len(layer) ":" layer entityId`, lengths in bytes, written in
//! decimal, strings in UTF-8. `layer` is empty for the step's group weights and the segment's
//! name for a segment override, so that each split places entities independently and the rest
//! of an override's traffic is divided by the next split in its own proportions. SHA-256 is
//! used because it is specified, stable across platforms and versions, and uniform; speed is
//! not an issue at these message sizes (well under a microsecond).

use sha2::{Digest, Sha256};

/// Positions per split: weights are in 1/1000 %, so 100000 is all traffic.
pub const BUCKETS: u64 = 100_000;

/// The entity's position in one split of a launch.
pub fn position(salt: &str, layer: &str, entity_id: &str) -> u64 {
    let mut decimal = itoa::Buffer::new();
    let mut hasher = Sha256::new();
    hasher.update(decimal.format(salt.len()).as_bytes());
    hasher.update(b":");
    hasher.update(salt.as_bytes());
    hasher.update(decimal.format(layer.len()).as_bytes());
    hasher.update(b":");
    hasher.update(layer.as_bytes());
    hasher.update(entity_id.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % BUCKETS
}

/// The index of the weight whose interval holds `position`, laying the weights end to end
/// from 0 in the order given; none when `position` is past their sum (the rest of the traffic).
pub fn pick(weights: &[(usize, u64)], position: u64) -> Option<usize> {
    let mut end = 0u64;
    for (index, weight) in weights {
        end = end.saturating_add(*weight);
        if position < end {
            return Some(*index);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_below_the_bucket_count_and_depend_on_every_input() {
        let p = position("salt", "", "user-1");
        assert!(p < BUCKETS);
        assert_eq!(p, position("salt", "", "user-1"));
        // Lengths are part of the message: moving a character between salt and entity, or
        // between layer and entity, is a different message.
        assert_ne!(position("ab", "", "c"), position("a", "", "bc"));
        assert_ne!(position("s", "x", "y"), position("s", "", "xy"));
    }

    #[test]
    fn pick_lays_weights_end_to_end_and_leaves_the_rest() {
        let weights = [(3, 10), (1, 0), (0, 20)];
        assert_eq!(pick(&weights, 0), Some(3));
        assert_eq!(pick(&weights, 9), Some(3));
        assert_eq!(pick(&weights, 10), Some(0));
        assert_eq!(pick(&weights, 29), Some(0));
        assert_eq!(pick(&weights, 30), None);
        assert_eq!(pick(&[], 0), None);
        assert_eq!(pick(&[(0, u64::MAX), (1, u64::MAX)], 99_999), Some(0));
    }
}
