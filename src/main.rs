use clap::Parser;

fn main() {
    // Mesa's Vulkan device-select layer connects to a Wayland display to rank GPUs, and
    // without one prints "XDG_RUNTIME_DIR is invalid" twice before anything else. wgpu
    // ranks adapters itself, so the layer is turned off unless the user set it. Done
    // first, before any thread exists, as changing the environment requires.
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
    let cli = match wgsl_autoencoder::native::cli::Cli::try_parse() {
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
    if let Err(e) = wgsl_autoencoder::native::app::run(cli) {
        eprintln!("Error: {e}");
        std::process::exit(1);
    }
}
