use clap::Parser;

fn main() {
    let cli = match wgsl_autoencoder::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            print!("{e}");
            return;
        }
        Err(e) => {
            let message = e.to_string();
            eprint!("Error: {}", message.trim_start_matches("error: "));
            std::process::exit(1);
        }
    };
    if let Err(e) = wgsl_autoencoder::app::run(cli) {
        eprintln!("Error: {e}");
        std::process::exit(1);
    }
}
