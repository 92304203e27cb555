//! `cargo bench --bench load_pngs`: MNIST's 60,000 training images written as PNG files
//! in class folders (into a temporary folder), then read as `--data` reads them, timed:
//! BENCHMARKS.md's row for loading a folder of images. The decoding runs on every core
//! (rayon); the figure is the wall time of `native::data::load`.

use image::ImageEncoder;
use wgsl_autoencoder::data::{Prepare, Values};
use wgsl_autoencoder::native::data::{default_data_dir, load, load_mnist};

fn main() {
    let mnist = load_mnist(&default_data_dir(), None).expect("the bundled MNIST");
    let (Values::Bytes(pixels), Some(labels)) = (&mnist.train.values, &mnist.train.labels) else {
        panic!("MNIST holds labelled bytes");
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    for (index, (image, label)) in pixels.chunks(784).zip(labels).enumerate() {
        let class = dir.path().join(label.to_string());
        std::fs::create_dir_all(&class).expect("a class folder");
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(image, 28, 28, image::ExtendedColorType::L8)
            .expect("a PNG");
        std::fs::write(class.join(format!("{index:05}.png")), png).expect("a PNG file");
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = std::time::Instant::now();
    let data = load(dir.path(), &Prepare::default(), None).expect("the folder loads");
    let seconds = start.elapsed().as_secs_f64();
    println!("{}", data.describe());
    println!("60,000 PNGs loaded in {seconds:.2} s on {threads} threads");
}
