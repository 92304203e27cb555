//! Reference for `shaders/batch.wgsl`.

// data (images·cols bytes), perm (images) -> x (rows, cols) = byte / 255
pub fn gather_batch(data: &[u8], perm: &[u32], batch_start: usize, cols: usize, x: &mut [f32]) {
    for (row, x_row) in x.chunks_exact_mut(cols).enumerate() {
        let image = perm[batch_start + row] as usize;
        let pixels = &data[image * cols..(image + 1) * cols];
        for (x, &byte) in x_row.iter_mut().zip(pixels) {
            *x = byte as f32 / 255.0;
        }
    }
}

// data (images·cols floats), perm (images) -> x (rows, cols) = data[perm[row]]
pub fn gather_rows(data: &[f32], perm: &[u32], batch_start: usize, cols: usize, x: &mut [f32]) {
    for (row, x_row) in x.chunks_exact_mut(cols).enumerate() {
        let sample = perm[batch_start + row] as usize;
        x_row.copy_from_slice(&data[sample * cols..(sample + 1) * cols]);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn gathers_the_permuted_rows_scaled_to_unit_range() {
        let data = [0u8, 255, 51, 102, 204, 153];
        let mut x = [0.0; 4];
        super::gather_batch(&data, &[2, 0, 1], 1, 2, &mut x);
        assert_eq!(x, [0.0, 1.0, 0.2, 0.4]);
    }

    #[test]
    fn gathers_the_permuted_rows_as_they_are() {
        let data = [0.5, -1.0, 3.0, 4.0, 1e-8, 6.0];
        let mut x = [0.0; 4];
        super::gather_rows(&data, &[2, 0, 1], 1, 2, &mut x);
        assert_eq!(x, [0.5, -1.0, 3.0, 4.0]);
    }
}
