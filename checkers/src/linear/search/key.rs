//! How the memo writes a set of linearized ops: most of the time the set is
//! "every op up to some point" plus a few ops in a window just after it
//! (those concurrent with the frontier), so it is stored as where the window
//! starts and the window's words, not as a bit per op of the history: tens
//! of bytes instead of hundreds on a history of thousands of ops.

/// Appends the encoding of the set whose word `w` is `bits(w)` (of `words`
/// words), relative to `full(w)`, the words of the set holding everything:
/// the first word that differs from it, then the words from there to the
/// last non-empty one. The encoding is a function of the set, so equal sets
/// have equal encodings.
pub fn encode_set(
    words: usize,
    bits: impl Fn(usize) -> u64,
    full: impl Fn(usize) -> u64,
    out: &mut Vec<u64>,
) {
    let start = (0..words).find(|&w| bits(w) != full(w)).unwrap_or(words);
    let end = (start..words)
        .rev()
        .find(|&w| bits(w) != 0)
        .map_or(start, |w| w + 1);
    out.push((start as u64) << 32 | (end - start) as u64);
    out.extend((start..end).map(bits));
}

/// Appends numbers (of parts of a state), two to a word, the first in the
/// low half. A search always has the same number of them.
pub fn encode_ids(ids: &[u32], out: &mut Vec<u64>) {
    out.extend(
        ids.chunks(2)
            .map(|c| c[0] as u64 | (c.get(1).map_or(0, |&b| b as u64) << 32)),
    );
}

/// splitmix64's finaliser: a well mixed word for each input, so sums (by
/// exclusive or) of them hash sets of ops and of numbered parts, kept up to
/// date as one op or part changes.
pub fn mix(x: u64) -> u64 {
    let z = x.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The hash of slot `slot` holding part number `number`.
pub fn mix_part(slot: usize, number: u32) -> u64 {
    mix((slot as u64 + 1) << 32 | number as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(set: &[u64]) -> Vec<u64> {
        let mut out = Vec::new();
        encode_set(set.len(), |w| set[w], |_| u64::MAX, &mut out);
        out
    }

    #[test]
    fn a_prefix_with_a_window_is_short() {
        let set = [u64::MAX, u64::MAX, 0b1011, 0b1, 0, 0, 0];
        assert_eq!(encoded(&set), vec![2 << 32 | 2, 0b1011, 0b1]);
        assert_eq!(encoded(&[u64::MAX; 3]), vec![3 << 32]);
        assert_eq!(encoded(&[0; 3]), vec![0]);
    }

    #[test]
    fn different_sets_encode_differently() {
        let sets = [
            vec![u64::MAX, 0, 0],
            vec![u64::MAX, 1, 0],
            vec![u64::MAX, 0, 1],
            vec![u64::MAX - 1, u64::MAX, 0],
            vec![0, 0, 0],
        ];
        for (i, a) in sets.iter().enumerate() {
            for b in &sets[i + 1..] {
                assert_ne!(encoded(a), encoded(b));
            }
        }
    }

    #[test]
    fn ids_pack_two_to_a_word() {
        let mut a = Vec::new();
        encode_ids(&[1, 2, 3], &mut a);
        assert_eq!(a, vec![1 | 2 << 32, 3]);
    }
}
