//! What a load costs on this adapter, against a multiply-add and a subgroup broadcast:
//! the measurement behind the subgroup matmul (docs/DESIGN.md, "The subgroup matmul").
//! Each probe is one dispatch of 64 workgroups of 64 invocations, each looping 8192
//! times over four of the operation being measured, timed by timestamp queries; the
//! table gives core-nanoseconds per operation per group of 8 invocations (one 256-bit
//! lane group on lavapipe): for `add`, an add with its share of the loop; for the
//! others, what they cost beyond that add.
//!
//! `cargo run --release --example lane_loads`
//!
//! On lavapipe (Mesa 22.3) a load from workgroup or storage memory, whether every lane
//! reads the same address or not, costs dozens of times a multiply-add, and a broadcast
//! from a constant lane costs about as much as an add.

use wgpu::util::DeviceExt;

const PROBES: &str = r#"
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
var<workgroup> shared_row: array<vec4<f32>, 1024>;
const ITERS: u32 = 8192u;

fn fill(l: u32) {
    for (var i = l; i < 1024u; i += 64u) { shared_row[i] = src[i]; }
    workgroupBarrier();
}

// The loop with four adds of a register: what every probe below also pays.
@compute @workgroup_size(64)
fn add(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) g: vec3<u32>) {
    var acc = src[l];
    let v = src[l + 64u];
    for (var i = 0u; i < ITERS; i++) { acc += v; acc += v.yzwx; acc += v.zwxy; acc += v.wxyz; }
    dst[g.x * 64u + l] = acc;
}

@compute @workgroup_size(64)
fn workgroup_lane_address(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) g: vec3<u32>) {
    fill(l);
    var acc = src[l];
    for (var i = 0u; i < ITERS; i++) {
        acc += shared_row[(4u * i + l) & 1023u]; acc += shared_row[(4u * i + l + 1u) & 1023u];
        acc += shared_row[(4u * i + l + 2u) & 1023u]; acc += shared_row[(4u * i + l + 3u) & 1023u];
    }
    dst[g.x * 64u + l] = acc;
}

@compute @workgroup_size(64)
fn workgroup_same_address(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) g: vec3<u32>) {
    fill(l);
    var acc = src[l];
    for (var i = 0u; i < ITERS; i++) {
        acc += shared_row[(4u * i) & 1023u]; acc += shared_row[(4u * i + 1u) & 1023u];
        acc += shared_row[(4u * i + 2u) & 1023u]; acc += shared_row[(4u * i + 3u) & 1023u];
    }
    dst[g.x * 64u + l] = acc;
}

@compute @workgroup_size(64)
fn storage_lane_address(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) g: vec3<u32>) {
    var acc = src[l];
    for (var i = 0u; i < ITERS; i++) {
        acc += src[(4u * i + l) & 1023u]; acc += src[(4u * i + l + 1u) & 1023u];
        acc += src[(4u * i + l + 2u) & 1023u]; acc += src[(4u * i + l + 3u) & 1023u];
    }
    dst[g.x * 64u + l] = acc;
}

@compute @workgroup_size(64)
fn broadcast_constant_lane(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) g: vec3<u32>) {
    var acc = src[l];
    var v = src[l + 64u];
    for (var i = 0u; i < ITERS; i++) {
        acc += subgroupBroadcast(v, 0u); acc += subgroupBroadcast(v, 1u);
        acc += subgroupBroadcast(v, 2u); acc += subgroupBroadcast(v, 3u);
        v = v.yzwx;
    }
    dst[g.x * 64u + l] = acc;
}
"#;

const GROUPS: u32 = 64;
const ITERS: f64 = 8192.0;
const PER_ITER: f64 = 4.0;

fn main() {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter = pollster::block_on(instance.request_adapter(&Default::default()))
        .expect("no adapter: install mesa-vulkan-drivers for lavapipe");
    let wanted = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP;
    if !adapter.features().contains(wanted) {
        eprintln!(
            "{} lacks timestamp queries or subgroups",
            adapter.get_info().name
        );
        std::process::exit(2);
    }
    let descriptor = wgpu::DeviceDescriptor {
        required_features: wanted,
        ..Default::default()
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&descriptor)).unwrap();
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("probes"),
        source: wgpu::ShaderSource::Wgsl(PROBES.into()),
    });
    let src = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: &vec![0u8; 1024 * 16],
        usage: wgpu::BufferUsages::STORAGE,
    });
    let dst = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: u64::from(GROUPS) * 64 * 16,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let queries = device.create_query_set(&wgpu::QuerySetDescriptor {
        label: None,
        ty: wgpu::QueryType::Timestamp,
        count: 2,
    });
    let resolved = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 16,
        usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 16,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    // One dispatch, timed: nanoseconds.
    let time = |pipeline: &wgpu::ComputePipeline, group: &wgpu::BindGroup| -> f64 {
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &queries,
                    beginning_of_pass_write_index: Some(0),
                    end_of_pass_write_index: Some(1),
                }),
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(GROUPS, 1, 1);
        }
        encoder.resolve_query_set(&queries, 0..2, &resolved, 0);
        encoder.copy_buffer_to_buffer(&resolved, 0, &readback, 0, 16);
        queue.submit([encoder.finish()]);
        readback
            .slice(..)
            .map_async(wgpu::MapMode::Read, |r| r.unwrap());
        device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
        let bytes = readback.slice(..).get_mapped_range().unwrap().to_vec();
        readback.unmap();
        let ticks: [u64; 2] = bytemuck::pod_read_unaligned(&bytes);
        (ticks[1] - ticks[0]) as f64 * f64::from(queue.get_timestamp_period())
    };
    let names = [
        "add",
        "workgroup_lane_address",
        "workgroup_same_address",
        "storage_lane_address",
        "broadcast_constant_lane",
    ];
    // Lane groups of 8 that run the loop, and the loop's operations per group.
    let ops = f64::from(GROUPS) * 64.0 / 8.0 * ITERS * PER_ITER;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!("{} ({cores} cores)", adapter.get_info().name);
    println!("{:<26} {:>10} {:>14}", "probe (vec4)", "ms", "ns per op");
    let mut base = 0.0;
    for name in names {
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: None,
            module: &module,
            entry_point: Some(name),
            compilation_options: Default::default(),
            cache: None,
        });
        let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: src.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: dst.as_entire_binding(),
                },
            ],
        });
        time(&pipeline, &group); // compile (lavapipe compiles at the first dispatch)
        let mut runs: Vec<f64> = (0..5).map(|_| time(&pipeline, &group)).collect();
        runs.sort_by(f64::total_cmp);
        let ns = runs[2];
        if name == "add" {
            base = ns;
        }
        // Core-nanoseconds per operation (the cores take the workgroups in turn): the
        // add's with its share of the loop, the others' beyond the add's.
        let per_op = if name == "add" { ns } else { ns - base } * cores / ops;
        println!("{name:<26} {:>10.2} {:>14.2}", ns / 1e6, per_op);
    }
}
