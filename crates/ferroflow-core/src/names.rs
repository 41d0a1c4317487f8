//! Generated run names in MLflow's "adjective-noun-NNN" shape.

use rand::Rng;

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "ample", "bold", "brave", "bright", "brisk", "calm", "clever", "cool", "crisp", "dapper", "deft",
    "eager", "fair", "fast", "fleet", "fresh", "gentle", "glad", "grand", "honest", "humble", "keen", "kind", "lively",
    "loud", "lucky", "merry", "mighty", "nimble", "noble", "plain", "polite", "proud", "quick", "quiet", "rare",
    "ripe", "rustic", "serene", "sharp", "shiny", "silent", "sleek", "smooth", "snappy", "solid", "steady", "stout",
    "sunny", "swift", "tidy", "valiant", "vivid", "warm", "wise", "witty", "zesty", "zealous",
];

const NOUNS: &[&str] = &[
    "ant", "badger", "bat", "bear", "bee", "bison", "boar", "carp", "cat", "colt", "crab", "crane", "crow", "deer",
    "dove", "duck", "eagle", "eel", "elk", "falcon", "finch", "fox", "frog", "goat", "goose", "hare", "hawk", "hen",
    "heron", "horse", "ibis", "jay", "koala", "lark", "lion", "lynx", "mole", "moth", "mouse", "newt", "otter", "owl",
    "panda", "pig", "pike", "quail", "ram", "raven", "seal", "shark", "sheep", "slug", "snail", "stag", "swan", "toad",
    "trout", "vole", "whale", "wolf",
];

/// A fresh run name such as `brisk-otter-417`.
pub fn generate_run_name(rng: &mut impl Rng) -> String {
    let adjective = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
    let noun = NOUNS[rng.random_range(0..NOUNS.len())];
    let number: u16 = rng.random_range(0..=1000);
    format!("{adjective}-{noun}-{number}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_have_three_parts() {
        let mut rng = rand::rng();
        for _ in 0..100 {
            let name = generate_run_name(&mut rng);
            let parts: Vec<&str> = name.split('-').collect();
            assert_eq!(parts.len(), 3, "{name}");
            assert!(parts[2].parse::<u16>().unwrap() <= 1000);
            assert!(name.len() <= 20, "{name}");
        }
    }
}
