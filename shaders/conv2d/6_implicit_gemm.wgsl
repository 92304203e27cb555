// The conv2d ladder, rung 6 of 6: implicit GEMM.
// Idea: the forward as a matrix product of the im2col'd input with the weights, tiled like matmul's rungs 2 and 3, im2col done on the fly.
// From the rung before: back to the plain forward (rung 1's op), as a tiled product.
// Why faster: each staged input serves IG_BN channels and each weight IG_BM positions, the
//   reuse a GEMM gets; the form for large batches and channel counts on any GPU.
// Bench rows: conv2d_forward, variants `igemm16`, `igemm32`, `igemm64`.

override IG_BN: u32 = 16u;
override IG_BM: u32 = WG * 16u / IG_BN;
const IG_BK: u32 = 8u;
override IG_A_LEN: u32 = IG_BK * IG_BM;
override IG_B_LEN: u32 = IG_BK * IG_BN;
var<workgroup> ig_x: array<f32, IG_A_LEN>; // [k][position]
var<workgroup> ig_w: array<f32, IG_B_LEN>; // [k][channel]

// Row m of the im2col'd input, output position (n, oy, ox): where its image starts in
// x and the top-left tap of its window (signed: the window may start in the padding).
// Past the batch, `in_range` is false and the row is zeros.
struct Im2colRow {
    in_range: bool,
    base: u32,
    iy0: i32,
    ix0: i32,
}

fn im2col_row(m: u32) -> Im2colRow {
    let ox = m % p.ow;
    let oy = (m / p.ow) % p.oh;
    let n = m / (p.ow * p.oh);
    let in_range = m < p.n * p.oh * p.ow;
    let iy0 = i32(oy * p.stride) - i32(p.pad);
    let ix0 = i32(ox * p.stride) - i32(p.pad);
    return Im2colRow(in_range, n * p.c * p.h * p.w, iy0, ix0);
}

// Element k = (c, ky, kx) of im2col row `row`: zero in the padding and past either end.
fn im2col(row: Im2colRow, k: u32) -> f32 {
    let taps = p.kh * p.kw;
    if (!row.in_range || k >= p.c * taps) {
        return 0.0;
    }
    let iy = row.iy0 + i32((k / p.kw) % p.kh);
    let ix = row.ix0 + i32(k % p.kw);
    if (iy < 0 || iy >= i32(p.h) || ix < 0 || ix >= i32(p.w)) {
        return 0.0;
    }
    return x_or_dy[row.base + ((k / taps) * p.h + u32(iy)) * p.w + u32(ix)];
}

// x (N,C,H,W), w (O,C,KH,KW), b (O) -> y (N,O,OH,OW); one workgroup per IG_BM × IG_BN tile
@compute @workgroup_size(WG)
fn conv2d_forward_igemm(@builtin(local_invocation_id) lid: vec3<u32>,
                        @builtin(workgroup_id) wid: vec3<u32>,
                        @builtin(num_workgroups) nwg: vec3<u32>) {
    let tiles_o = (p.o + IG_BN - 1u) / IG_BN;
    let t = group_index(wid, nwg);
    let m0 = (t / tiles_o) * IG_BM;
    let o0 = (t % tiles_o) * IG_BN;
    // Invocation (ty, tx) holds positions m0 + 4·ty .. +4 and channels o0 + 4·tx .. +4.
    let tx = lid.x % (IG_BN / 4u);
    let ty = lid.x / (IG_BN / 4u);
    let k_len = p.c * p.kh * p.kw;
    // IG_BM divides WG: each invocation gathers one row of the tile, its position's
    // divisions done once.
    let row = im2col_row(m0 + lid.x % IG_BM);
    var acc: array<f32, 16>; // [position][channel]
    // K and the tile come from the params and the workgroup id: every invocation takes
    // the loop and its barriers alike.
    for (var k0 = 0u; k0 < k_len; k0 += IG_BK) {
        for (var kk = lid.x / IG_BM; kk < IG_BK; kk += WG / IG_BM) {
            ig_x[kk * IG_BM + lid.x % IG_BM] = im2col(row, k0 + kk);
        }
        for (var e = lid.x; e < IG_B_LEN; e += WG) {
            let o = o0 + e % IG_BN;
            let k = k0 + e / IG_BN;
            var v = 0.0;
            if (o < p.o && k < k_len) {
                v = w[o * k_len + k];
            }
            ig_w[e] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < IG_BK; kk++) {
            var xs: array<f32, 4>;
            var ws: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                xs[i] = ig_x[kk * IG_BM + ty * 4u + i];
                ws[i] = ig_w[kk * IG_BN + tx * 4u + i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] += xs[i] * ws[j];
                }
            }
        }
        workgroupBarrier();
    }
    let positions = p.oh * p.ow;
    for (var i = 0u; i < 4u; i++) {
        let m = m0 + ty * 4u + i;
        if (m >= p.n * positions) {
            break;
        }
        let n = m / positions;
        let at_pos = m % positions;
        for (var j = 0u; j < 4u; j++) {
            let o = o0 + tx * 4u + j;
            if (o < p.o) {
                y[(n * p.o + o) * positions + at_pos] = acc[i * 4u + j] + b[o];
            }
        }
    }
}

// dy (N,O,OH,OW), w (O,C,KH,KW) -> dx (N,C,H,W)
// transposed: dy (N,C,H,W), w (O,C,KH,KW) -> dx (N,O,OH,OW)
