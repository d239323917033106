//! Hashed word and character n-grams: the part of a learned router's input that carries the
//! vocabulary of the traffic without storing any of its text.
//!
//! Every n-gram is hashed (FNV-1a, 32 bits, seeded by its namespace and length, finished
//! with murmur3's mixer) into one of `2^bits` buckets: each namespace has its own quarter of
//! them ([`namespace_of`]), so that a trainer can budget buckets per namespace (character
//! n-grams are far more frequent than words and would otherwise crowd them out). A model keeps weights for buckets
//! only, so a model file holds numbers, never words, and the same text gives the same
//! buckets on every platform and release (no `DefaultHasher`).
//!
//! Words are maximal runs of letters and digits, lowercased. Characters are the bytes of the
//! lowercased text with every run of whitespace made one space.

/// Which text an n-gram came from, so that the same word in the prompt and in the answer
/// are different features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// Words of the prompt.
    PromptWords = 1,
    /// Characters of the prompt.
    PromptChars = 2,
    /// Words of the answer.
    AnswerWords = 3,
    /// Characters of the answer.
    AnswerChars = 4,
}

impl Namespace {
    /// Every namespace, in order.
    pub const ALL: [Namespace; 4] =
        [Namespace::PromptWords, Namespace::PromptChars, Namespace::AnswerWords, Namespace::AnswerChars];

    /// Its name in reasons and reports.
    pub fn name(self) -> &'static str {
        match self {
            Namespace::PromptWords => "prompt words",
            Namespace::PromptChars => "prompt characters",
            Namespace::AnswerWords => "answer words",
            Namespace::AnswerChars => "answer characters",
        }
    }
}

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

fn fnv(mut hash: u32, bytes: &[u8]) -> u32 {
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// murmur3's finaliser: FNV's low bits are weak, and buckets are low bits.
fn mix(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

fn seed(ns: Namespace, n: usize) -> u32 {
    fnv(FNV_OFFSET, &[ns as u8, n as u8])
}

/// Calls `emit` with the bucket of every word n-gram of `text` with `lo..=hi` words;
/// returns how many there were.
pub fn words(text: &str, ns: Namespace, (lo, hi): (u8, u8), bits: u32, mut emit: impl FnMut(u32)) -> usize {
    if lo == 0 || hi < lo {
        return 0;
    }
    let mut hashes: Vec<u32> = Vec::with_capacity(text.len() / 5 + 1);
    let mut word = String::new();
    let flush = |word: &mut String, hashes: &mut Vec<u32>| {
        if !word.is_empty() {
            hashes.push(fnv(FNV_OFFSET, word.as_bytes()));
            word.clear();
        }
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else {
            flush(&mut word, &mut hashes);
        }
    }
    flush(&mut word, &mut hashes);
    let mut count = 0;
    for n in usize::from(lo)..=usize::from(hi) {
        let start = seed(ns, n);
        for gram in hashes.windows(n) {
            let h = gram.iter().fold(start, |h, w| fnv(h, &w.to_le_bytes()));
            emit(bucket(ns, h, bits));
            count += 1;
        }
    }
    count
}

/// Calls `emit` with the bucket of every character n-gram of `text` with `lo..=hi` bytes;
/// returns how many there were.
pub fn chars(text: &str, ns: Namespace, (lo, hi): (u8, u8), bits: u32, mut emit: impl FnMut(u32)) -> usize {
    if lo == 0 || hi < lo {
        return 0;
    }
    let mut norm: Vec<u8> = Vec::with_capacity(text.len() + 2);
    norm.push(b' ');
    let mut buf = [0u8; 4];
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_whitespace() {
            if norm.last() != Some(&b' ') {
                norm.push(b' ');
            }
        } else {
            norm.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    if norm.last() != Some(&b' ') {
        norm.push(b' ');
    }
    let (lo, hi) = (usize::from(lo), usize::from(hi));
    let seeds: Vec<u32> = (0..=hi).map(|n| seed(ns, n)).collect();
    let mut count = 0;
    for i in 0..norm.len() {
        let mut h = FNV_OFFSET;
        for (k, byte) in norm[i..norm.len().min(i + hi)].iter().enumerate() {
            h ^= u32::from(*byte);
            h = h.wrapping_mul(FNV_PRIME);
            let n = k + 1;
            if n >= lo {
                emit(bucket(ns, h ^ seeds[n], bits));
                count += 1;
            }
        }
    }
    count
}

/// The bucket of hash `h` in namespace `ns`: the namespace's quarter of `2^bits`.
fn bucket(ns: Namespace, h: u32, bits: u32) -> u32 {
    let sub = bits.saturating_sub(2);
    ((ns as u32 - 1) << sub) | (mix(h) & ((1u32 << sub) - 1))
}

/// The namespace whose quarter of `2^bits` holds `bucket`.
pub fn namespace_of(bucket: u32, bits: u32) -> Namespace {
    Namespace::ALL[((bucket >> bits.saturating_sub(2)) & 3) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(f: impl FnOnce(&mut dyn FnMut(u32)) -> usize) -> (Vec<u32>, usize) {
        let mut out = Vec::new();
        let n = f(&mut |b| out.push(b));
        (out, n)
    }

    #[test]
    fn word_ngrams_are_case_blind_and_namespaced() {
        let (a, n) = collect(|e| words("The cat, the CAT", Namespace::PromptWords, (1, 2), 16, e));
        assert_eq!(n, 4 + 3);
        assert_eq!(a[0], a[2]);
        assert_eq!(a[1], a[3]);
        assert_eq!(a[4], a[6], "bigram `the cat` twice");
        let (b, _) = collect(|e| words("The cat", Namespace::AnswerWords, (1, 1), 16, e));
        assert_ne!(a[0], b[0]);
        assert!(a.iter().all(|x| *x < 1 << 14), "prompt words: the first quarter");
        assert!(b.iter().all(|x| namespace_of(*x, 16) == Namespace::AnswerWords));
        // Stable across releases: a model file's buckets must keep their meaning.
        let (c, _) = collect(|e| words("hello", Namespace::PromptWords, (1, 1), 20, e));
        assert_eq!(c, [c[0]]);
        assert_eq!(words("", Namespace::PromptWords, (1, 2), 16, |_| {}), 0);
    }

    #[test]
    fn char_ngrams_collapse_whitespace() {
        let (a, n) = collect(|e| chars("ab  c", Namespace::PromptChars, (3, 3), 16, e));
        // " ab c " → " ab", "ab ", "b c", " c " (4 windows of 3, the last two cut short)
        assert_eq!(n, 4);
        let (b, _) = collect(|e| chars("AB\n c", Namespace::PromptChars, (3, 3), 16, e));
        assert_eq!(a, b);
        assert_eq!(chars("x", Namespace::PromptChars, (0, 0), 16, |_| {}), 0);
    }
}
