//! Names for containers created without `--name`: "adjective_surname", as docker's
//! namesgenerator makes them (a shorter list of the same kind: scientists and hackers).

const LEFT: [&str; 48] = [
    "admiring",
    "agitated",
    "amazing",
    "angry",
    "awesome",
    "blissful",
    "bold",
    "brave",
    "busy",
    "charming",
    "clever",
    "cool",
    "compassionate",
    "competent",
    "confident",
    "crazy",
    "dazzling",
    "determined",
    "eager",
    "ecstatic",
    "elastic",
    "elegant",
    "epic",
    "exciting",
    "fervent",
    "festive",
    "focused",
    "friendly",
    "funny",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "jolly",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
];

const RIGHT: [&str; 48] = [
    "agnesi",
    "albattani",
    "allen",
    "archimedes",
    "babbage",
    "banach",
    "bardeen",
    "bartik",
    "bell",
    "borg",
    "bose",
    "brahmagupta",
    "cannon",
    "carson",
    "cerf",
    "chandrasekhar",
    "curie",
    "darwin",
    "diffie",
    "dijkstra",
    "einstein",
    "euclid",
    "euler",
    "fermat",
    "feynman",
    "galileo",
    "gauss",
    "goldberg",
    "hamilton",
    "hawking",
    "hertz",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "knuth",
    "lamarr",
    "lovelace",
    "mayer",
    "mccarthy",
    "meitner",
    "newton",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "turing",
    "wozniak",
];

/// A name from two random indexes; `retry` > 0 appends a digit, as docker does after a clash.
pub fn generate(random: &[u8], retry: u32) -> String {
    let l = LEFT[random[0] as usize % LEFT.len()];
    let r = RIGHT[random[1] as usize % RIGHT.len()];
    if retry > 0 {
        format!("{l}_{r}{}", random[2] % 10)
    } else {
        format!("{l}_{r}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_valid_container_names() {
        for i in 0..=255u8 {
            let n = super::generate(&[i, i.wrapping_mul(7), i], u32::from(i % 2));
            super::super::record::validate_name(&n).unwrap();
            assert!(n.contains('_'));
        }
    }
}
