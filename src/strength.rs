//! Key strength: how many guesses an attacker who models human-made secrets needs for a key.
//!
//! This is zxcvbn's estimate (Wheeler, "zxcvbn: Low-Budget Password Strength Estimation",
//! USENIX Security 2016), the model of the maintained `zxcvbn` crate (3.1), computed the same
//! way with its data but in a form a fresh WebAssembly instance can afford:
//!
//! - **Matchers** find every substring an attacker would guess before brute force: words of
//!   zxcvbn's ranked lists (30,000 common passwords, 30,000 English words from Wikipedia,
//!   19,160 from US television and film, 10,000 surnames, 4,695 first names) plus this project's
//!   own vocabulary (zxcvbn's "user inputs": `identity`, `accessor`, `confluence`, ...), in any
//!   case, reversed or in l33t (`p4ssw0rd`); keyboard runs on QWERTY, Dvorak and the keypad
//!   (`qwerty`, `1qaz`); repeats (`abcabc`, `changeme-changeme`); sequences (`12345`, `zyx`);
//!   years (`1987`, `2025`).
//! - **Scoring** takes the segmentation of the key into matches and brute-forced stretches that
//!   needs the fewest guesses: each match costs its pattern's guesses (a word its rank, times
//!   its capitalisations and substitutions), each brute-forced character 10, and a sequence of
//!   `l` parts costs `l!` times their product plus `10000^(l-1)`. Guesses are kept as `f64`
//!   (the `zxcvbn` crate saturates at `u64::MAX`, 10^19.3).
//!
//! Why not the `zxcvbn` crate itself (measured in a Spin component built for `wasm32-wasip2`):
//! it cannot run there (its `cfg(target_arch = "wasm32")` code calls wasm-bindgen/js-sys and
//! traps; its `custom_wasm_env` feature imports a `zxcvbn` module Spin does not provide, so the
//! component does not link), it adds 2.1 MB to the `.wasm`, and it builds its dictionaries
//! (hash maps of 94,000 words) and regexes at first use: 33-60 ms in every fresh instance, which
//! Spin makes for every request. Here the word lists are compiled by `build.rs` into a
//! finite-state transducer (the `fst` crate) that is embedded in the binary and read in place:
//! nothing is built at run time. The `zxcvbn` crate is the reference in the tests, which check
//! that both agree on every test key.
//!
//! Not modelled: zxcvbn's calendar dates (`12/05/1990`: its year is still a match) and its
//! Mac keypad. Both only lower the estimate of keys that hold them; a key for this component is
//! meant to be random.
//!
//! Only the first [`MAX_ESTIMATED_LEN`] (40) bytes are estimated, so the work per key stays
//! bounded (0.1-0.3 ms in a fresh instance, measured: BENCHMARKS.md): a key whose first 40
//! characters are guessable is refused whatever follows, and 40 random characters are far past
//! the threshold.

use fst::raw::{Fst, Output};

/// zxcvbn's word lists and the project vocabulary, each word mapped to its best rank
/// (`build.rs`).
static WORDS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/words.fst"));

/// Only this many leading bytes of a key are estimated.
pub const MAX_ESTIMATED_LEN: usize = 40;
/// The year that recent years are measured from (zxcvbn uses the current year; a fixed one
/// keeps the estimate a pure function of the key).
pub const REFERENCE_YEAR: i32 = 2026;

/// Guesses per brute-forced character (zxcvbn's `BRUTEFORCE_CARDINALITY`).
const BRUTEFORCE_CARDINALITY: f64 = 10.0;
/// zxcvbn's `MIN_GUESSES_BEFORE_GROWING_SEQUENCE`: the additive cost of each extra part.
const MIN_GUESSES_BEFORE_GROWING_SEQUENCE: f64 = 10_000.0;
/// Floor for a one-character part of a longer key.
const MIN_SUBMATCH_GUESSES_SINGLE_CHAR: f64 = 10.0;
/// Floor for a longer part of a longer key.
const MIN_SUBMATCH_GUESSES_MULTI_CHAR: f64 = 50.0;
/// The fewest years a year match may cost.
const MIN_YEAR_SPACE: f64 = 20.0;
/// The largest step of a sequence (`aceg` steps by 2).
const MAX_SEQUENCE_DELTA: i32 = 5;

/// What a part of a key was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// A word of a list, possibly reversed, capitalised or in l33t.
    Dictionary,
    /// A run of neighbouring keys.
    Spatial,
    /// A repeated block.
    Repeat,
    /// Characters in steps of equal size.
    Sequence,
    /// A year from 1900 to 2099.
    Year,
    /// Nothing better: each character guessed.
    Bruteforce,
}

/// The estimate for one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// log10 of the guesses needed.
    pub guesses_log10: f64,
    /// The cheapest segmentation: each part's pattern and byte range.
    pub parts: Vec<(Pattern, std::ops::Range<usize>)>,
}

#[derive(Debug, Clone, Copy)]
struct Match {
    i: usize,
    j: usize,
    guesses: f64,
    pattern: Pattern,
}

/// Estimates the guesses `key` needs (its first [`MAX_ESTIMATED_LEN`] bytes).
pub fn estimate(key: &str) -> Estimate {
    let bytes = &key.as_bytes()[..key.len().min(MAX_ESTIMATED_LEN)];
    let words = Fst::new(WORDS).expect("build.rs writes a valid transducer");
    let (guesses, parts) = most_guessable(bytes, &words);
    Estimate {
        guesses_log10: guesses.log10(),
        parts: parts
            .into_iter()
            .map(|m| (m.pattern, m.i..m.j + 1))
            .collect(),
    }
}

/// log10 of the guesses `key` needs.
pub fn guesses_log10(key: &str) -> f64 {
    estimate(key).guesses_log10
}

fn n_choose_k(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    (1..=k).fold(1.0, |acc, i| acc * (n + 1 - i) as f64 / i as f64)
}

/// The best sequence of `l` parts covering a prefix: its total guesses `g`, the product of its
/// parts' guesses `pi`, and its last part.
#[derive(Debug, Clone, Copy)]
struct Step {
    g: f64,
    pi: f64,
    last: Match,
}

/// The segmentation of `pw` needing the fewest guesses, and that number (zxcvbn's
/// `most_guessable_match_sequence`, with dense tables: `pw` is at most 64 bytes).
fn most_guessable(pw: &[u8], words: &Fst<&[u8]>) -> (f64, Vec<Match>) {
    let n = pw.len();
    if n == 0 {
        return (0.0, Vec::new());
    }
    let mut by_end: Vec<Vec<Match>> = vec![Vec::new(); n];
    for m in omnimatch(pw, words) {
        by_end[m.j].push(m);
    }
    for list in &mut by_end {
        list.sort_by_key(|m| m.i);
    }
    // Sequences of l parts cost l! times the product, plus 10000^(l-1); a brute-forced
    // stretch of length len costs 10^len.
    let mut factorial = vec![1.0f64; n + 2];
    let mut additive = vec![0.0f64; n + 2];
    let mut power = vec![1.0f64; n + 2];
    for l in 1..n + 2 {
        factorial[l] = factorial[l - 1] * l as f64;
        additive[l] = MIN_GUESSES_BEFORE_GROWING_SEQUENCE.powi(l as i32 - 1);
        power[l] = power[l - 1] * BRUTEFORCE_CARDINALITY;
    }
    // best[k]: for each number of parts l, the best sequence of l parts covering pw[..=k].
    let mut best: Vec<Vec<(usize, Step)>> = vec![Vec::new(); n];
    let find = |list: &[(usize, Step)], l: usize| -> Step {
        list.iter()
            .find(|(at, _)| *at == l)
            .expect("a sequence of l - 1 parts ends where the next part starts")
            .1
    };
    let floor = |m: &Match| -> f64 {
        let len = m.j + 1 - m.i;
        if len == n {
            1.0
        } else if len == 1 {
            MIN_SUBMATCH_GUESSES_SINGLE_CHAR
        } else {
            MIN_SUBMATCH_GUESSES_MULTI_CHAR
        }
    };
    // Appends m to the best sequence of l - 1 parts before it (whose product is before).
    let update = |best: &mut [Vec<(usize, Step)>], m: Match, l: usize, before: f64| {
        let pi = m.guesses.max(floor(&m)) * before;
        let g = factorial[l] * pi + additive[l];
        let here = &mut best[m.j];
        if here
            .iter()
            .any(|(other_l, other)| *other_l <= l && other.g <= g)
        {
            return;
        }
        let step = Step { g, pi, last: m };
        match here.iter_mut().find(|(at, _)| *at == l) {
            Some(slot) => slot.1 = step,
            None => here.push((l, step)),
        }
    };
    let bruteforce = |i: usize, j: usize| {
        let len = j + 1 - i;
        let floor = if len == 1 { 11.0 } else { 51.0 };
        Match {
            i,
            j,
            guesses: power[len].max(floor),
            pattern: Pattern::Bruteforce,
        }
    };
    let mut before: Vec<(usize, f64)> = Vec::with_capacity(n + 1);
    for (k, ending_here) in by_end.iter().enumerate() {
        for &m in ending_here {
            if m.i > 0 {
                before.clear();
                before.extend(best[m.i - 1].iter().map(|(l, step)| (*l, step.pi)));
                for &(l, pi) in &before {
                    update(&mut best, m, l + 1, pi);
                }
            } else {
                update(&mut best, m, 1, 1.0);
            }
        }
        update(&mut best, bruteforce(0, k), 1, 1.0);
        for i in 1..=k {
            let m = bruteforce(i, k);
            before.clear();
            before.extend(
                best[i - 1]
                    .iter()
                    .filter(|(_, step)| step.last.pattern != Pattern::Bruteforce)
                    .map(|(l, step)| (*l, step.pi)),
            );
            for &(l, pi) in &before {
                update(&mut best, m, l + 1, pi);
            }
        }
    }
    let (mut l, guesses) = best[n - 1]
        .iter()
        .map(|(l, step)| (*l, step.g))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("the whole key brute-forced is always a candidate");
    let mut parts = Vec::with_capacity(l);
    let mut k = n;
    while k > 0 && l > 0 {
        let m = find(&best[k - 1], l).last;
        k = m.i;
        l -= 1;
        parts.push(m);
    }
    parts.reverse();
    (guesses, parts)
}

fn omnimatch(pw: &[u8], words: &Fst<&[u8]>) -> Vec<Match> {
    let mut matches = Vec::new();
    dictionary_matches(pw, words, &mut matches);
    for graph in [&QWERTY, &DVORAK, &KEYPAD] {
        spatial_matches(pw, graph, &mut matches);
    }
    repeat_matches(pw, words, &mut matches);
    sequence_matches(pw, &mut matches);
    year_matches(pw, &mut matches);
    matches
}

/// Calls `found(i, j, rank)` for every word of the lists at `text[i..=j]`.
fn find_words(text: &[u8], words: &Fst<&[u8]>, mut found: impl FnMut(usize, usize, u64)) {
    for i in 0..text.len() {
        let mut node = words.root();
        let mut out = Output::zero();
        for (j, &b) in text.iter().enumerate().skip(i) {
            let Some(t) = node.find_input(b) else { break };
            let transition = node.transition(t);
            out = out.cat(transition.out);
            node = words.node(transition.addr);
            if node.is_final() {
                found(i, j, out.cat(node.final_output()).value());
            }
        }
    }
}

/// zxcvbn's capitalisation variations of a word as typed.
fn uppercase_variations(token: &[u8]) -> f64 {
    let upper = token.iter().filter(|b| b.is_ascii_uppercase()).count();
    let lower = token.iter().filter(|b| b.is_ascii_lowercase()).count();
    if upper == 0 {
        return 1.0;
    }
    let first_only = upper == 1 && token.len() > 1 && token[0].is_ascii_uppercase();
    let last_only = upper == 1 && token.len() > 1 && token[token.len() - 1].is_ascii_uppercase();
    if first_only || last_only || lower == 0 {
        return 2.0;
    }
    (1..=upper.min(lower))
        .map(|i| n_choose_k(upper + lower, i))
        .sum()
}

/// zxcvbn's l33t table: a character and the letters it may stand for.
const L33T: [(u8, &[u8]); 20] = [
    (b'4', b"a"),
    (b'@', b"a"),
    (b'8', b"b"),
    (b'(', b"c"),
    (b'{', b"c"),
    (b'[', b"c"),
    (b'<', b"c"),
    (b'3', b"e"),
    (b'6', b"g"),
    (b'9', b"g"),
    (b'1', b"il"),
    (b'!', b"i"),
    (b'|', b"il"),
    (b'7', b"lt"),
    (b'0', b"o"),
    (b'$', b"s"),
    (b'5', b"s"),
    (b'+', b"t"),
    (b'%', b"x"),
    (b'2', b"z"),
];

fn l33t_letters(b: u8) -> Option<&'static [u8]> {
    L33T.iter()
        .find(|(c, _)| *c == b)
        .map(|(_, letters)| *letters)
}

fn dictionary_matches(pw: &[u8], words: &Fst<&[u8]>, matches: &mut Vec<Match>) {
    let n = pw.len();
    let lower = pw.to_ascii_lowercase();
    let word = |i: usize, j: usize, rank: u64, extra: f64| Match {
        i,
        j,
        guesses: rank as f64 * uppercase_variations(&pw[i..=j]) * extra,
        pattern: Pattern::Dictionary,
    };
    find_words(&lower, words, |i, j, rank| {
        matches.push(word(i, j, rank, 1.0))
    });
    // Reversed: a word typed backwards costs twice its forward guesses.
    let reversed: Vec<u8> = lower.iter().rev().copied().collect();
    find_words(&reversed, words, |i, j, rank| {
        matches.push(word(n - 1 - j, n - 1 - i, rank, 2.0))
    });
    // L33t: every way of reading the substitutable characters present as letters (each
    // character one letter throughout, as zxcvbn enumerates them).
    let ambiguous: Vec<u8> = {
        let mut a: Vec<u8> = lower
            .iter()
            .copied()
            .filter(|&b| l33t_letters(b).is_some_and(|l| l.len() > 1))
            .collect();
        a.sort_unstable();
        a.dedup();
        a
    };
    if !lower.iter().any(|&b| l33t_letters(b).is_some()) {
        return;
    }
    for choice in 0..(1usize << ambiguous.len()) {
        let letter_for = |b: u8| -> Option<u8> {
            let letters = l33t_letters(b)?;
            let pick = ambiguous
                .iter()
                .position(|&a| a == b)
                .map_or(0, |bit| (choice >> bit) & 1);
            Some(letters[pick])
        };
        let read: Vec<u8> = lower.iter().map(|&b| letter_for(b).unwrap_or(b)).collect();
        find_words(&read, words, |i, j, rank| {
            // Only words that hold a substitution, and never a single character.
            if j == i || !(i..=j).any(|k| read[k] != lower[k]) {
                return;
            }
            let token = &lower[i..=j];
            let mut variations = 1.0;
            let mut subs: Vec<(u8, u8)> = (i..=j)
                .filter(|&k| read[k] != lower[k])
                .map(|k| (lower[k], read[k]))
                .collect();
            subs.sort_unstable();
            subs.dedup();
            for (subbed, letter) in subs {
                let s = token.iter().filter(|&&b| b == subbed).count();
                let u = token.iter().filter(|&&b| b == letter).count();
                variations *= if s == 0 || u == 0 {
                    2.0
                } else {
                    (1..=s.min(u)).map(|k| n_choose_k(s + u, k)).sum()
                };
            }
            matches.push(word(i, j, rank, variations));
        });
    }
}

/// A keyboard: rows of keys (each `chars_per_key` characters: unshifted, then shifted), each
/// row starting `offsets[row]` keys to the right, and whether rows are slanted (a typewriter
/// keyboard: 6 neighbours) or aligned (a keypad: 8); and zxcvbn's starting positions
/// (characters on the board) and average degree (neighbours per character, rounded down as the
/// `zxcvbn` crate does), which follow from the layout (checked by a test).
struct Keyboard {
    rows: &'static [&'static str],
    offsets: &'static [usize],
    chars_per_key: usize,
    slanted: bool,
    starts: f64,
    degree: f64,
}

/// zxcvbn's layouts.
static QWERTY: Keyboard = Keyboard {
    rows: &[
        "`~1!2@3#4$5%6^7&8*9(0)-_=+",
        "qQwWeErRtTyYuUiIoOpP[{]}\\|",
        "aAsSdDfFgGhHjJkKlL;:'\"",
        "zZxXcCvVbBnNmM,<.>/?",
    ],
    offsets: &[0, 1, 1, 1],
    chars_per_key: 2,
    slanted: true,
    starts: 94.0,
    degree: 4.0,
};
static DVORAK: Keyboard = Keyboard {
    rows: &[
        "`~1!2@3#4$5%6^7&8*9(0)[{]}",
        "'\",<.>pPyYfFgGcCrRlL/?=+\\|",
        "aAoOeEuUiIdDhHtTnNsS-_",
        ";:qQjJkKxXbBmMwWvVzZ",
    ],
    offsets: &[0, 1, 1, 1],
    chars_per_key: 2,
    slanted: true,
    starts: 94.0,
    degree: 4.0,
};
static KEYPAD: Keyboard = Keyboard {
    rows: &["/*-", "789+", "456", "123", "0."],
    offsets: &[1, 0, 0, 0, 1],
    chars_per_key: 1,
    slanted: false,
    starts: 15.0,
    degree: 5.0,
};

/// Neighbour directions, in zxcvbn's order (the index is the direction a turn changes).
const SLANTED: [(isize, isize); 6] = [(-1, 0), (0, -1), (1, -1), (1, 0), (0, 1), (-1, 1)];
const ALIGNED: [(isize, isize); 8] = [
    (-1, 0),
    (-1, -1),
    (0, -1),
    (1, -1),
    (1, 0),
    (1, 1),
    (0, 1),
    (-1, 1),
];

impl Keyboard {
    /// The key holding `c`: (x, y), and whether `c` is its shifted character.
    fn position(&self, c: u8) -> Option<(isize, isize, bool)> {
        self.rows.iter().enumerate().find_map(|(y, row)| {
            let at = row.bytes().position(|b| b == c)?;
            let x = at / self.chars_per_key + self.offsets[y];
            Some((x as isize, y as isize, at % self.chars_per_key == 1))
        })
    }

    /// The key at (x, y), as its characters.
    fn key_at(&self, x: isize, y: isize) -> Option<&'static [u8]> {
        let row = self.rows.get(usize::try_from(y).ok()?)?;
        let col = usize::try_from(x)
            .ok()?
            .checked_sub(self.offsets[y as usize])?;
        let start = col * self.chars_per_key;
        row.as_bytes().get(start..start + self.chars_per_key)
    }

    fn directions(&self) -> &'static [(isize, isize)] {
        if self.slanted {
            &SLANTED
        } else {
            &ALIGNED
        }
    }

    /// Which direction leads from `from` to the key holding `to`, and whether `to` is shifted.
    fn step(&self, from: u8, to: u8) -> Option<(usize, bool)> {
        let (x, y, _) = self.position(from)?;
        self.directions()
            .iter()
            .enumerate()
            .find_map(|(d, (dx, dy))| {
                let key = self.key_at(x + dx, y + dy)?;
                let at = key.iter().position(|&b| b == to)?;
                Some((d, at == 1))
            })
    }

    /// The starting positions and average degree, from the layout.
    #[cfg(test)]
    fn shape(&self) -> (f64, f64) {
        let mut chars = 0usize;
        let mut neighbours = 0usize;
        for (y, row) in self.rows.iter().enumerate() {
            for k in 0..row.len() / self.chars_per_key {
                let x = (k + self.offsets[y]) as isize;
                let degree = self
                    .directions()
                    .iter()
                    .filter(|(dx, dy)| self.key_at(x + dx, y as isize + dy).is_some())
                    .count();
                chars += self.chars_per_key;
                neighbours += degree * self.chars_per_key;
            }
        }
        (chars as f64, (neighbours / chars) as f64)
    }
}

fn spatial_matches(pw: &[u8], keyboard: &Keyboard, matches: &mut Vec<Match>) {
    let n = pw.len();
    let (starts, degree) = (keyboard.starts, keyboard.degree);
    let mut i = 0;
    while i + 1 < n {
        let mut j = i + 1;
        let mut last_direction = None;
        let mut turns = 0;
        let mut shifted = usize::from(
            keyboard.chars_per_key == 2 && keyboard.position(pw[i]).is_some_and(|p| p.2),
        );
        while j < n {
            let Some((direction, is_shifted)) = keyboard.step(pw[j - 1], pw[j]) else {
                break;
            };
            shifted += usize::from(is_shifted);
            if last_direction != Some(direction) {
                turns += 1;
                last_direction = Some(direction);
            }
            j += 1;
        }
        let len = j - i;
        if len > 2 {
            let mut guesses = 0.0;
            for length in 2..=len {
                for t in 1..=turns.min(length - 1) {
                    guesses += n_choose_k(length - 1, t - 1) * starts * degree.powi(t as i32);
                }
            }
            if shifted > 0 {
                let unshifted = len - shifted;
                guesses *= if unshifted == 0 {
                    2.0
                } else {
                    (1..=shifted.min(unshifted))
                        .map(|k| n_choose_k(shifted + unshifted, k))
                        .sum()
                };
            }
            matches.push(Match {
                i,
                j: j - 1,
                guesses,
                pattern: Pattern::Spatial,
            });
        }
        i = j;
    }
}

/// zxcvbn's repeats: from the leftmost position where a block repeats, the longer of the
/// greedy (`(.+)\1+`) and lazy (`(.+?)\1+`) readings; the block costs its own estimate, times
/// the number of copies.
fn repeat_matches(pw: &[u8], words: &Fst<&[u8]>, matches: &mut Vec<Match>) {
    let n = pw.len();
    let copies = |i: usize, p: usize| -> usize {
        let mut k = 1;
        while i + (k + 1) * p <= n && pw[i..i + p] == pw[i + k * p..i + (k + 1) * p] {
            k += 1;
        }
        k
    };
    let mut i = 0;
    while i < n {
        let periods: Vec<usize> = (1..=(n - i) / 2).filter(|&p| copies(i, p) >= 2).collect();
        let (Some(&lazy), Some(&greedy)) = (periods.first(), periods.last()) else {
            i += 1;
            continue;
        };
        let (lazy_span, greedy_span) = (lazy * copies(i, lazy), greedy * copies(i, greedy));
        let (span, base) = if greedy_span > lazy_span {
            // The greedy block may itself repeat (`aabaab` in `aabaabaabaab`): its shortest
            // period is the block.
            let block = &pw[i..i + greedy_span];
            let base = (1..=greedy_span / 2)
                .find(|&p| greedy_span % p == 0 && block.chunks(p).all(|c| c == &block[..p]))
                .unwrap_or(greedy_span);
            (greedy_span, base)
        } else {
            (lazy_span, lazy)
        };
        let (base_guesses, _) = most_guessable(&pw[i..i + base], words);
        matches.push(Match {
            i,
            j: i + span - 1,
            guesses: base_guesses * (span / base) as f64,
            pattern: Pattern::Repeat,
        });
        i += span;
    }
}

fn sequence_matches(pw: &[u8], matches: &mut Vec<Match>) {
    let n = pw.len();
    if n < 2 {
        return;
    }
    let mut push = |i: usize, j: usize, delta: i32| {
        if (j - i > 1 || delta.abs() == 1) && (1..=MAX_SEQUENCE_DELTA).contains(&delta.abs()) {
            let first = pw[i];
            let mut base = if b"aAzZ019".contains(&first) {
                4.0
            } else if first.is_ascii_digit() {
                10.0
            } else {
                26.0
            };
            if delta < 0 {
                base *= 2.0;
            }
            matches.push(Match {
                i,
                j,
                guesses: base * (j + 1 - i) as f64,
                pattern: Pattern::Sequence,
            });
        }
    };
    let (mut i, mut last_delta) = (0, 0i32);
    for k in 1..n {
        let delta = i32::from(pw[k]) - i32::from(pw[k - 1]);
        if last_delta == 0 {
            last_delta = delta;
        }
        if delta == last_delta {
            continue;
        }
        push(i, k - 1, last_delta);
        i = k - 1;
        last_delta = delta;
    }
    push(i, n - 1, last_delta);
}

/// zxcvbn's `recent_year`: `19\d\d|20\d\d`, leftmost and not overlapping.
fn year_matches(pw: &[u8], matches: &mut Vec<Match>) {
    let mut i = 0;
    while i + 4 <= pw.len() {
        let digits = &pw[i..i + 4];
        if (digits.starts_with(b"19") || digits.starts_with(b"20"))
            && digits.iter().all(u8::is_ascii_digit)
        {
            let year: i32 = digits.iter().fold(0, |y, d| y * 10 + i32::from(d - b'0'));
            matches.push(Match {
                i,
                j: i + 3,
                guesses: f64::from((year - REFERENCE_YEAR).abs()).max(MIN_YEAR_SPACE),
                pattern: Pattern::Year,
            });
            i += 4;
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `zxcvbn` crate saturates at `u64::MAX` guesses.
    const ZXCVBN_CAP: f64 = 19.26;

    fn patterns(key: &str) -> Vec<Pattern> {
        estimate(key).parts.iter().map(|(p, _)| *p).collect()
    }

    #[test]
    fn agrees_with_the_zxcvbn_crate() {
        // The project vocabulary is zxcvbn's "user inputs" here.
        let project: Vec<&str> = include_str!("strength/words/project.txt").lines().collect();
        for key in [
            // Refused by the rule (auth.rs), made by people.
            "Password12345678901234",
            "changeme-changeme-2024",
            "IdentityAccessor2025Key",
            "Welcome2Confluence2025!",
            "Gemini-Enterprise-Key-01",
            "MyS3cretK3yForG00gle2025",
            "January-1990-Birthday!!",
            "mustang-shadow-monkey-99",
            "drowssap-drowssap-1999",
            "P@ssw0rd!P@ssw0rd!2024",
            "1qaz2wsx3edc4rfv5tgb",
            "abcdefghijklmnopqrstuvwxyz",
            "aaaaaaaaaaaaaaaaaaaaaaaa",
            // Keyboard walks zxcvbn rates above its cap.
            "!QAZ2wsx#EDC4rfv%TGB6yhn",
            // Random.
            "b7K#q9Lm!2Xv@8Rz%4Tw",
            "9f86d081884c7d659a2feaa0c55ad015",
            "3f2b8c1e-5d4a-4b9e-8f7c-2a1d0e9b6c5f",
            "Xk3_pQ9-Zr7Lm2Nv8Bt4Wy",
        ] {
            let ours = guesses_log10(key);
            let theirs = zxcvbn::zxcvbn(key, &project).guesses_log10();
            if theirs < ZXCVBN_CAP {
                assert!(
                    (ours - theirs).abs() < 0.01,
                    "{key}: {ours} vs zxcvbn {theirs}"
                );
            } else {
                assert!(ours >= theirs, "{key}: {ours} vs zxcvbn {theirs} (capped)");
            }
        }
    }

    #[test]
    fn sees_words_names_years_keyboard_runs_sequences_and_repeats() {
        assert_eq!(patterns("password"), [Pattern::Dictionary]);
        assert_eq!(patterns("DrowssaP"), [Pattern::Dictionary], "reversed");
        assert_eq!(patterns("p4$$w0rd"), [Pattern::Dictionary], "l33t");
        assert_eq!(patterns("jennifer"), [Pattern::Dictionary], "a first name");
        assert_eq!(
            patterns("confluence"),
            [Pattern::Dictionary],
            "project vocabulary"
        );
        assert_eq!(patterns("1987"), [Pattern::Year]);
        assert_eq!(patterns("zxcfrt"), [Pattern::Spatial], "QWERTY");
        assert_eq!(patterns("/8521"), [Pattern::Spatial], "keypad");
        assert_eq!(patterns("13579"), [Pattern::Sequence]);
        assert_eq!(patterns("xkq7xkq7xkq7"), [Pattern::Repeat]);
        assert_eq!(patterns("q7Zr"), [Pattern::Bruteforce]);
        // Each saves guesses against brute force (10 per character).
        for key in [
            "password",
            "DrowssaP",
            "zxcfrt",
            "13579",
            "xkq7xkq7xkq7",
            "1987",
        ] {
            assert!(guesses_log10(key) < key.len() as f64, "{key}");
        }
    }

    #[test]
    fn keyboard_shapes_follow_from_their_layouts() {
        for keyboard in [&QWERTY, &DVORAK, &KEYPAD] {
            assert_eq!(keyboard.shape(), (keyboard.starts, keyboard.degree));
        }
    }

    #[test]
    fn capitals_and_substitutions_cost_guesses() {
        let plain = guesses_log10("password");
        assert!(guesses_log10("Password") > plain);
        assert!(guesses_log10("pAsSwOrD") > guesses_log10("Password"));
        assert!(guesses_log10("p4ssword") > plain);
    }

    #[test]
    fn only_the_first_40_bytes_are_estimated() {
        let head = "Zr7Lm2Nv8Bt4WyXk3_pQ9-aB".repeat(3)[..MAX_ESTIMATED_LEN].to_string();
        let long = format!("{head}{}", "x".repeat(10_000));
        assert_eq!(estimate(&long), estimate(&head));
    }

    #[test]
    fn any_input_is_estimated_without_panicking() {
        for key in [
            "",
            "a",
            "é",
            "ü-ß-日本語-\u{0}-\u{7f}",
            "\u{10ffff}\u{10ffff}",
        ] {
            let e = estimate(key);
            assert!(e.guesses_log10.is_finite() || key.is_empty(), "{key:?}");
        }
        assert_eq!(guesses_log10(""), f64::NEG_INFINITY);
    }

    #[test]
    fn parts_cover_the_key_in_order() {
        let key = "changeme-changeme-2024xK9q";
        let e = estimate(key);
        let mut at = 0;
        for (_, range) in &e.parts {
            assert_eq!(range.start, at, "{e:?}");
            at = range.end;
        }
        assert_eq!(at, key.len());
    }
}
