//! The `orderguard` command: parses the command line and hands it to `orderguard::cli`.

use clap::Parser;

// glibc's allocator cost about 12% of the CPU under load (many small, short-lived request buffers).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    if let Err(e) = orderguard::cli::run(orderguard::cli::Cli::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
