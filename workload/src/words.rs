//! The text of bodies: a word list and a corpus drawn from it.
//!
//! Bodies are real bytes: at set-up the workload writes a 64 KiB corpus of
//! words drawn Zipf-distributed from [`WORDS`] (word frequencies in natural
//! language follow Zipf's law with exponent near 1), and a body of length `L`
//! is the `L` corpus bytes starting at a word boundary, borrowed: the corpus
//! lives as long as the process, so a body costs neither an allocation nor a
//! copy in the hot loop (an engine copies what it keeps, see [`Body`]). A
//! process keeps one corpus per distinct seed and word exponent it prepares
//! (64 KiB each; a sweep's runs share one).
//! Search terms are single words drawn with the same Zipf law, so common
//! terms match many posts and rare ones few.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use socialbench_engines::{Body, MAX_BODY_LEN};

use crate::zipf::AliasTable;

/// Words bodies are made of, most frequent first (the Zipf rank order).
pub const WORDS: [&str; 128] = [
    "the",
    "to",
    "and",
    "a",
    "of",
    "is",
    "in",
    "that",
    "it",
    "you",
    "for",
    "this",
    "i",
    "on",
    "with",
    "be",
    "are",
    "not",
    "was",
    "have",
    "but",
    "they",
    "just",
    "like",
    "so",
    "what",
    "if",
    "people",
    "do",
    "can",
    "all",
    "there",
    "would",
    "about",
    "one",
    "get",
    "think",
    "more",
    "when",
    "time",
    "really",
    "good",
    "know",
    "he",
    "post",
    "we",
    "how",
    "still",
    "game",
    "new",
    "thread",
    "some",
    "only",
    "even",
    "because",
    "make",
    "see",
    "other",
    "right",
    "thanks",
    "first",
    "much",
    "way",
    "sub",
    "great",
    "last",
    "year",
    "also",
    "well",
    "never",
    "day",
    "agree",
    "source",
    "best",
    "comment",
    "edit",
    "update",
    "link",
    "video",
    "music",
    "rust",
    "code",
    "server",
    "actor",
    "shard",
    "lock",
    "queue",
    "latency",
    "throughput",
    "cache",
    "memory",
    "thread",
    "async",
    "benchmark",
    "feed",
    "vote",
    "karma",
    "upvote",
    "meme",
    "news",
    "science",
    "world",
    "photo",
    "cat",
    "dog",
    "coffee",
    "weekend",
    "football",
    "election",
    "market",
    "crypto",
    "recipe",
    "travel",
    "movie",
    "book",
    "question",
    "answer",
    "help",
    "bug",
    "release",
    "review",
    "story",
    "history",
    "space",
    "climate",
    "health",
    "design",
    "wiki",
];

/// Bytes of the corpus: larger than [`MAX_BODY_LEN`] so that oversized
/// bodies (just over the limit) are corpus slices too.
pub const CORPUS_LEN: usize = 64 * 1024;

const _: () = assert!(CORPUS_LEN > MAX_BODY_LEN + 4096);

/// The text bodies are cut from, and the word-start offsets to cut at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corpus {
    text: &'static [u8],
    starts: Box<[u32]>,
    words: AliasTable,
}

impl Corpus {
    /// A corpus for `seed`, words drawn Zipf with exponent `s`.
    pub fn new(seed: u64, s: f64) -> Result<Corpus, crate::WorkloadError> {
        let words = AliasTable::zipf(WORDS.len() as u32, s)?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x636f_7270_7573);
        let mut text = Vec::with_capacity(CORPUS_LEN + 16);
        let mut starts = Vec::new();
        while text.len() < CORPUS_LEN {
            starts.push(text.len() as u32);
            text.extend_from_slice(WORDS[words.sample(&mut rng) as usize].as_bytes());
            text.push(b' ');
        }
        text.truncate(CORPUS_LEN);
        Ok(Corpus {
            text: intern(seed, s, text),
            starts: starts.into_boxed_slice(),
            words,
        })
    }

    /// A body of `len` bytes (at most [`CORPUS_LEN`]) cut at the word
    /// boundary chosen by `bits`, borrowed from the corpus (no allocation).
    #[inline]
    pub fn body(&self, len: usize, bits: u64) -> Body {
        let len = len.min(CORPUS_LEN);
        let k = ((bits >> 32) * self.starts.len() as u64) >> 32;
        let start = (self.starts[k as usize] as usize).min(CORPUS_LEN - len);
        Body::from_static(&self.text[start..start + len])
    }

    /// A body that starts with `prefix` and is filled with corpus text up to
    /// `len` bytes (one allocation).
    pub fn body_with_prefix(&self, prefix: &[u8], len: usize, bits: u64) -> Body {
        let len = len.clamp(prefix.len(), CORPUS_LEN);
        let mut v = Vec::with_capacity(len);
        v.extend_from_slice(prefix);
        let rest = len - prefix.len();
        let k = ((bits >> 32) * self.starts.len() as u64) >> 32;
        let start = (self.starts[k as usize] as usize).min(CORPUS_LEN - rest);
        v.extend_from_slice(&self.text[start..start + rest]);
        Body::from(v)
    }

    /// A search term: one word, Zipf by frequency (borrowed, no allocation).
    #[inline]
    pub fn term(&self, bits: u64) -> Body {
        Body::from_static(WORDS[self.words.sample_bits(bits) as usize].as_bytes())
    }
}

/// The corpus text of `seed` and word exponent `s`, kept for the rest of the
/// process (bodies borrow it): one copy per distinct pair, so preparing the
/// same workload again (a sweep's cells, repeated runs) leaks nothing more.
fn intern(seed: u64, s: f64, text: Vec<u8>) -> &'static [u8] {
    type Texts = Vec<((u64, u64), &'static [u8])>;
    static TEXTS: std::sync::Mutex<Texts> = std::sync::Mutex::new(Vec::new());
    let key = (seed, s.to_bits());
    // A panic elsewhere while the lock was held leaves the list intact.
    let mut texts = TEXTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&(_, t)) = texts.iter().find(|(k, _)| *k == key) {
        return t;
    }
    let t: &'static [u8] = Box::leak(text.into_boxed_slice());
    texts.push((key, t));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_asked_length_and_start_at_words() {
        let c = Corpus::new(7, 1.0).unwrap();
        for (i, len) in [1usize, 10, 300, MAX_BODY_LEN, MAX_BODY_LEN + 10]
            .into_iter()
            .enumerate()
        {
            let b = c.body(len, (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            assert_eq!(b.len(), len);
            assert!(b.as_bytes()[0].is_ascii_lowercase() || len > CORPUS_LEN - 1000);
        }
        let b = c.body_with_prefix(b"re: ", 20, 5);
        assert_eq!(b.len(), 20);
        assert!(b.as_bytes().starts_with(b"re: "));
    }

    #[test]
    fn bodies_and_terms_borrow_one_kept_text_per_seed() {
        let (a, b) = (Corpus::new(3, 1.0).unwrap(), Corpus::new(3, 1.0).unwrap());
        assert!(
            std::ptr::eq(a.text, b.text),
            "the same seed's text is kept once"
        );
        let other = Corpus::new(4, 1.0).unwrap();
        assert!(!std::ptr::eq(a.text, other.text));
        assert!(!std::ptr::eq(a.text, Corpus::new(3, 1.1).unwrap().text));
        for bits in [0, 1 << 40, u64::MAX] {
            let body = a.body(100, bits);
            assert!(!body.is_owned());
            let start = body.as_bytes().as_ptr() as usize - a.text.as_ptr() as usize;
            assert!(start + 100 <= a.text.len(), "a slice of the corpus");
            assert!(!a.term(bits).is_owned());
        }
        // A prefixed body is new bytes: it owns them.
        assert!(a.body_with_prefix(b"re: ", 20, 5).is_owned());
    }

    #[test]
    fn the_corpus_is_deterministic_per_seed() {
        assert_eq!(Corpus::new(1, 1.0).unwrap(), Corpus::new(1, 1.0).unwrap());
        assert_ne!(Corpus::new(1, 1.0).unwrap(), Corpus::new(2, 1.0).unwrap());
    }
}
