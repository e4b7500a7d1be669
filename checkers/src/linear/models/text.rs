//! Strings built by appending, for the kv model: an append shares the text
//! before it instead of copying it, and a polynomial hash kept beside it
//! makes hashing and most comparisons O(1). Equality is still exact: texts
//! whose hash and length agree are compared character by character.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Base of the rolling hash (odd, so multiplication mod 2^64 is invertible).
const BASE: u64 = 0x100_0000_01B3;

/// A piece of text with its hash, as given in the history.
#[derive(Clone, Debug)]
pub struct Chunk {
    text: Arc<str>,
    hash: u64,
    /// BASE to the power of the chunk's length: what appending it multiplies by.
    shift: u64,
    /// Hashes of every prefix (by byte length), for texts a get observed.
    prefixes: Option<Arc<[u64]>>,
}

fn roll(hash: u64, byte: u8) -> u64 {
    hash.wrapping_mul(BASE).wrapping_add(byte as u64 + 1)
}

impl Chunk {
    pub fn new(text: &str) -> Self {
        let (hash, shift) = text
            .bytes()
            .fold((0u64, 1u64), |(h, s), b| (roll(h, b), s.wrapping_mul(BASE)));
        Chunk {
            text: text.into(),
            hash,
            shift,
            prefixes: None,
        }
    }

    /// A chunk that can also tell which texts are prefixes of it.
    pub fn observed(text: &str) -> Self {
        let prefixes = std::iter::once(0).chain(text.bytes().scan(0u64, |h, b| {
            *h = roll(*h, b);
            Some(*h)
        }));
        Chunk {
            prefixes: Some(prefixes.collect()),
            ..Chunk::new(text)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The chunks of a text, last first.
#[derive(Debug)]
struct Node {
    chunk: Chunk,
    before: Option<Arc<Node>>,
}

#[derive(Clone, Debug, Default)]
pub struct Text {
    hash: u64,
    len: usize,
    last: Option<Arc<Node>>,
}

impl Text {
    pub fn of(chunk: &Chunk) -> Self {
        Text::default().append(chunk)
    }

    pub fn append(&self, chunk: &Chunk) -> Self {
        if chunk.text.is_empty() {
            return self.clone();
        }
        Text {
            hash: self.hash.wrapping_mul(chunk.shift).wrapping_add(chunk.hash),
            len: self.len + chunk.text.len(),
            last: Some(Arc::new(Node {
                chunk: chunk.clone(),
                before: self.last.clone(),
            })),
        }
    }

    /// Whether this text reads exactly `chunk` (a value a get observed).
    pub fn equals(&self, chunk: &Chunk) -> bool {
        self.hash == chunk.hash
            && self.len == chunk.text.len()
            && self.bytes_rev().eq(chunk.text.bytes().rev())
    }

    /// False when this text is certainly not a prefix of `chunk` (made with
    /// `Chunk::observed`); true when it may be. Hashes of equal texts are
    /// equal, so a mismatch is proof.
    pub fn may_prefix(&self, chunk: &Chunk) -> bool {
        match &chunk.prefixes {
            Some(prefixes) => prefixes.get(self.len).is_some_and(|&h| h == self.hash),
            None => true,
        }
    }

    /// Bytes from last to first, walking the chunks.
    fn bytes_rev(&self) -> impl Iterator<Item = u8> + '_ {
        let mut node = self.last.as_deref();
        std::iter::from_fn(move || {
            let n = node?;
            node = n.before.as_deref();
            Some(n.chunk.text.bytes().rev())
        })
        .flatten()
    }

    /// Heap bytes this text adds to what it was built from: one list node.
    /// The nodes before it are shared with the states it grew out of.
    pub fn heap_bytes(&self) -> usize {
        self.last
            .as_ref()
            .map_or(0, |_| std::mem::size_of::<Node>() + 16)
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        let same_node = match (&self.last, &other.last) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        same_node
            || (self.hash == other.hash
                && self.len == other.len
                && self.bytes_rev().eq(other.bytes_rev()))
    }
}

impl Eq for Text {}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes: Vec<u8> = {
            let mut b: Vec<u8> = self.bytes_rev().collect();
            b.reverse();
            b
        };
        write!(f, "{:?}", String::from_utf8_lossy(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(parts: &[&str]) -> Text {
        parts
            .iter()
            .fold(Text::default(), |t, p| t.append(&Chunk::new(p)))
    }

    #[test]
    fn equal_content_is_equal_however_it_was_built() {
        assert_eq!(text(&["ab", "c"]), text(&["a", "bc"]));
        assert_eq!(text(&["ab", "", "c"]), text(&["abc"]));
        assert!(text(&["x 1 y", "x 2 y"]).equals(&Chunk::new("x 1 yx 2 y")));
        assert_eq!(text(&[]), Text::default());
    }

    #[test]
    fn different_content_differs() {
        assert_ne!(text(&["ab"]), text(&["ba"]));
        assert_ne!(text(&["a"]), text(&["a", "a"]));
        assert!(!text(&["x 1 y"]).equals(&Chunk::new("x 2 y")));
        assert!(!text(&["ab"]).equals(&Chunk::new("abc")));
    }

    #[test]
    fn a_prefix_is_told_from_a_non_prefix() {
        let seen = Chunk::observed("x 1 yx 2 y");
        assert!(Text::default().may_prefix(&seen));
        assert!(text(&["x 1 y"]).may_prefix(&seen));
        assert!(text(&["x 1 y", "x 2 y"]).may_prefix(&seen));
        assert!(!text(&["x 2 y"]).may_prefix(&seen));
        assert!(
            !text(&["x 1 y", "x 2 y", "x"]).may_prefix(&seen),
            "longer than what was seen"
        );
    }

    #[test]
    fn shows_as_the_string_it_holds() {
        assert_eq!(text(&["x 1 y", "x 2 y"]).to_string(), "\"x 1 yx 2 y\"");
    }
}
