//! Rebuild when the committed UI bundle changes: `include_dir!` alone does not tell cargo
//! which files it read (cargo scans a directory named here recursively).
fn main() {
    println!("cargo:rerun-if-changed=../../ui/dist");
}
