//! The timestamp profiler rotates through a pool of query sets and reads them back when
//! it runs out, so that a profile may time any number of dispatches, in order.

mod common;

use pollster::block_on;
use wgsl_autoencoder::backend::Backend;
use wgsl_autoencoder::gpu::profiler::Profiler;
use wgsl_autoencoder::gpu::GpuBackend;
use wgsl_autoencoder::ops::{BufferSpec, Op, PeakCopy, PeakRead, StepParams, View};

#[test]
fn every_dispatch_of_more_steps_than_the_query_sets_hold_is_timed_in_order() {
    let mut backend = GpuBackend::new(common::gpu());
    let specs: Vec<BufferSpec> = [4, 4, 1]
        .iter()
        .map(|&len| BufferSpec {
            name: "b".into(),
            len,
        })
        .collect();
    block_on(backend.alloc(&specs)).unwrap();
    // Two kernels per step, so that the order of the times can be seen.
    let ops = [
        Op::from(PeakCopy {
            x: View::whole(0, 4),
            y: View::whole(1, 4),
            len: 4,
        }),
        Op::from(PeakRead {
            x: View::whole(1, 4),
            y: View::whole(2, 1),
            len: 4,
            chunk: 4,
        }),
    ];
    block_on(backend.compile("p", &ops)).unwrap();
    backend.set_profiling(true).unwrap();
    // More than the whole pool holds, so that a drain happens in the middle of a run,
    // and then a second run, so that the pool is seen to be reused.
    let steps = Profiler::capacity() / 2 + 700;
    block_on(backend.run("p", None, &vec![StepParams::default(); steps])).unwrap();
    block_on(backend.run("p", None, &[StepParams::default(); 3])).unwrap();
    let times = block_on(backend.take_times()).unwrap();
    assert_eq!(times.len(), 2 * (steps + 3));
    for (i, t) in times.iter().enumerate() {
        let expected = ["peak_copy", "peak_read"][i % 2];
        assert_eq!(t.kernel, expected, "dispatch {i}");
        assert!(
            t.nanos.is_finite() && t.nanos >= 0.0,
            "dispatch {i}: {}",
            t.nanos
        );
    }
    // Nothing is left over for the next collect.
    assert!(block_on(backend.take_times()).unwrap().is_empty());
}

/// A browser's WebGPU writes timestamps only at the boundaries of a pass, so there the
/// profiler gives each dispatch a pass of its own. The same profile runs that way here,
/// with inside-pass timestamps withheld, and times every dispatch of every step.
#[test]
fn a_profile_timed_at_pass_boundaries_times_every_dispatch() {
    use wgsl_autoencoder::backend::Timing;
    use wgsl_autoencoder::gpu::context::{AdapterRequest, GpuOptions};
    use wgsl_autoencoder::model::Arch;
    use wgsl_autoencoder::native::data::{default_data_dir, load_mnist};
    let options = GpuOptions {
        pass_timestamps_only: true,
        ..Default::default()
    };
    let request = AdapterRequest::from_env().unwrap();
    let gpu =
        std::sync::Arc::new(block_on(wgsl_autoencoder::Gpu::open(&request, options)).unwrap());
    let backend = Box::new(GpuBackend::new(gpu));
    assert_eq!(backend.timing(), Some(Timing::PassTimestamps));
    let data = load_mnist(&default_data_dir(), Some(64)).unwrap();
    let arch = Arch::dense(vec![16, 8]);
    let p = block_on(wgsl_autoencoder::profile::profile(
        backend, &data, arch, 8, 4, None,
    ))
    .unwrap();
    assert!(p.dispatches.len() > 10);
    for d in &p.dispatches {
        assert_eq!(d.calls, 4, "{d:?}");
        assert!(d.median_ms.is_finite() && d.median_ms >= 0.0, "{d:?}");
    }
}

#[test]
fn a_profile_may_run_more_steps_than_an_epoch_holds() {
    use wgsl_autoencoder::model::Arch;
    use wgsl_autoencoder::native::data::{default_data_dir, load_mnist};
    // 64 training images at batch 8: 20 steps run through 2.5 epochs' worth of shuffles.
    let data = load_mnist(&default_data_dir(), Some(64)).unwrap();
    let backend = Box::new(GpuBackend::new(common::gpu()));
    let arch = Arch::dense(vec![16, 8]);
    let p = block_on(wgsl_autoencoder::profile::profile(
        backend, &data, arch, 8, 20, None,
    ))
    .unwrap();
    assert!(p.dispatches.len() > 10);
    for d in &p.dispatches {
        assert_eq!(d.calls, 20, "{d:?}");
        assert!(d.median_ms.is_finite() && d.median_ms >= 0.0, "{d:?}");
    }
    // The host's row and the dispatches make up the whole step.
    let shares: f64 = p.dispatches.iter().map(|d| d.share).sum::<f64>() + p.host_share;
    assert!((shares - 1.0).abs() < 1e-9, "shares sum to {shares}");
    assert!(p.host_ms >= 0.0);
}
