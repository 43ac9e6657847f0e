//! The `socialbench` command line (being written).

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() {
    println!("socialbench: under construction");
}
