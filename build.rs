//! Compiles the key-strength estimator's ranked word lists (`src/strength/words/*.txt`, one word
//! a line, most common first) into one finite-state transducer, `$OUT_DIR/words.fst`, mapping
//! each lowercase word to its best (lowest) rank in any list. The component embeds it with
//! `include_bytes!`: looking a word up reads the static bytes in place, so a fresh instance pays
//! nothing to build a dictionary (see `src/strength.rs`).

use std::collections::BTreeMap;
use std::path::Path;

/// The lists, as zxcvbn ranks them, and the project's own vocabulary (zxcvbn's "user inputs").
const LISTS: [&str; 7] = [
    "passwords",
    "english_wikipedia",
    "female_names",
    "male_names",
    "surnames",
    "us_tv_and_film",
    "project",
];

fn main() {
    let dir = Path::new("src/strength/words");
    let mut ranks: BTreeMap<String, u64> = BTreeMap::new();
    for list in LISTS {
        let path = dir.join(format!("{list}.txt"));
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        for (rank, word) in (1u64..).zip(text.lines().filter(|w| !w.is_empty())) {
            let word = word.to_ascii_lowercase();
            let best = ranks.entry(word).or_insert(rank);
            *best = (*best).min(rank);
        }
    }
    let fst = fst::Map::from_iter(ranks).expect("sorted, distinct words");
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("words.fst");
    std::fs::write(&out, fst.as_fst().as_bytes())
        .unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
