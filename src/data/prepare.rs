//! How samples become a `Data`: the choices a user makes about their data (the command
//! line's data flags, the page's controls), applied the same wherever it is loaded.

use std::path::Path;

use crate::data::{data_error, Data, Dataset, Scaling, ScalingKind, Shape, Split, Values};
use crate::error::{Error, Result};
use crate::rng::TorchRng;

/// The channels images are given: as the data has them, or fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    /// One channel (`--grey`): colour images by ITU-R 601-2 luma, as PIL's `convert("L")`.
    Grey,
    /// Three channels (`--rgb`): a grey image's one channel three times.
    Rgb,
}

/// What to do to a source's samples on the way in. Saved with a run (its record), so that
/// `--resume` and `eval` read the data exactly as training did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Prepare {
    /// `--image-size HxW`: every image resized to (height, width).
    pub image_size: Option<(usize, usize)>,
    /// `--grey` or `--rgb`; `None` keeps the data's own channel count, and refuses
    /// images of mixed counts.
    pub colour: Option<Colour>,
    /// `--standardize`: rows to mean 0 and deviation 1 (a linear output), instead of
    /// min–max to [0, 1].
    pub standardize: bool,
    /// `--test-fraction F`: the share of each class held out for testing, where the
    /// source gives no split of its own (`DEFAULT_TEST_FRACTION` when `None`).
    pub test_fraction: Option<f64>,
    /// `--split-seed S`: seeds that split.
    pub split_seed: u64,
    /// `--label-column NAME`: a CSV's column of labels; every other is a feature.
    pub label_column: Option<String>,
    /// `--classes A,B`: train only on the training samples of these classes (one-class
    /// training: the normal data of anomaly detection). The test split stays whole.
    pub classes: Option<Vec<String>>,
    /// `--exclude-classes A,B`: train on every class but these.
    pub exclude_classes: Option<Vec<String>>,
}

/// The share of each class a split takes for testing, where the source has no split.
pub const DEFAULT_TEST_FRACTION: f64 = 0.1;

impl Prepare {
    /// The test fraction in use.
    pub fn test_fraction(&self) -> f64 {
        self.test_fraction.unwrap_or(DEFAULT_TEST_FRACTION)
    }
}

/// What kind of source samples came from, which decides the flags that apply to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// PNG or JPEG files: --grey, --rgb and --image-size apply.
    ImageFiles,
    /// Arrays of byte images (IDX, an NPY of `|u1`): the same image flags apply, to the
    /// same effect as on image files.
    ByteImages,
    /// An NPY of float images in [0, 1]: used as they are, so no image flag applies.
    FloatImages,
    /// A CSV's rows: --label-column and --standardize apply.
    CsvRows,
    /// A 2-D NPY's rows: --standardize applies.
    NpyRows,
}

impl SourceKind {
    pub fn is_rows(self) -> bool {
        matches!(self, SourceKind::CsvRows | SourceKind::NpyRows)
    }
}

/// A source's samples as read, before the split and the scaling: what every reader
/// (IDX, image files, CSV, NPY) hands to `finish`.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub kind: SourceKind,
    pub shape: Shape,
    /// Class names, indexed by label; empty when the samples have no labels.
    pub classes: Vec<String>,
    pub samples: Samples,
    /// What the data is, in words (`Data::source`).
    pub source: String,
    /// What the reader left out (`Data::notes`).
    pub notes: Vec<String>,
}

/// Samples with the source's own split, or all in one to be split by `--test-fraction`.
#[derive(Clone, Debug, PartialEq)]
pub enum Samples {
    Whole(Dataset),
    Given { train: Dataset, test: Dataset },
}

impl Samples {
    pub fn has_own_split(&self) -> bool {
        matches!(self, Samples::Given { .. })
    }
}

/// The largest sample the loaders accept, in values: 2^28, 1 GiB as f32.
pub const MAX_SAMPLE_VALUES: usize = 1 << 28;

/// Refuses a flag that does not apply to `kind` (`what` names the source in the
/// message), so that nothing is silently ignored. `own_split`: whether the source gives
/// its own test split. Cheap, so readers call it before their expensive work too.
pub fn check_flags(kind: SourceKind, own_split: bool, prepare: &Prepare, what: &str) -> Result<()> {
    let colour_flag = match prepare.colour {
        Some(Colour::Grey) => Some("--grey"),
        Some(Colour::Rgb) => Some("--rgb"),
        None => None,
    };
    let image_flags = prepare
        .image_size
        .map(|_| "--image-size")
        .into_iter()
        .chain(colour_flag);
    if kind.is_rows() {
        if let Some(flag) = image_flags.clone().next() {
            return Err(Error::flag(
                flag,
                format!("applies to images, and {what} holds rows of numbers"),
            ));
        }
    } else if prepare.standardize {
        return Err(Error::flag(
            "--standardize",
            format!(
                "applies to rows of numbers (a CSV or a 2-D NPY), and {what} holds images, which are used as x/255 (or as their floats in [0, 1])"
            ),
        ));
    }
    if kind == SourceKind::FloatImages {
        if let Some(flag) = image_flags.clone().next() {
            return Err(Error::flag(
                flag,
                format!("applies to byte images, and {what} holds float images, which are used as they are"),
            ));
        }
    }
    if prepare.label_column.is_some() && kind != SourceKind::CsvRows {
        return Err(Error::flag(
            "--label-column",
            format!("applies to CSV files only, and {what} is not one"),
        ));
    }
    if own_split {
        // `split_seed` is no Option (0 is its default), so a seed of 0 cannot be told
        // from none; any other is refused.
        let flag = match (prepare.test_fraction, prepare.split_seed) {
            (Some(_), _) => Some("--test-fraction"),
            (None, 0) => None,
            (None, _) => Some("--split-seed"),
        };
        if let Some(flag) = flag {
            return Err(Error::flag(
                flag,
                format!(
                    "{what} has its own test split, so there is none to make; leave the flag out"
                ),
            ));
        }
    }
    Ok(())
}

/// A source's samples made into a `Data`: the flags checked, the split made where the
/// source has none, and rows scaled (by `scaling` where a saved model gives one, else by
/// one fitted on the training split). `path` names the source in errors.
pub fn finish(
    loaded: Loaded,
    prepare: &Prepare,
    scaling: Option<&Scaling>,
    path: &Path,
) -> Result<Data> {
    let Loaded {
        kind,
        shape,
        classes,
        samples,
        source,
        notes,
    } = loaded;
    check_flags(kind, samples.has_own_split(), prepare, &source)?;
    let (mut train, mut test, split) = match samples {
        Samples::Given { train, test } => {
            for (name, part) in [("training", &train), ("test", &test)] {
                if part.is_empty() {
                    return Err(data_error(
                        path,
                        format!("its {name} split holds no samples"),
                    ));
                }
            }
            (train, test, Split::Given)
        }
        Samples::Whole(all) => {
            let fraction = prepare.test_fraction();
            let seed = prepare.split_seed;
            // A split that cannot be made is the data's problem as much as the flag's:
            // the error names the file too.
            let (train_at, test_at) =
                split_indices(all.labels.as_deref(), all.count, fraction, seed).map_err(
                    |e| match e {
                        Error::Flag { flag, message } if message.contains(&flag) => {
                            data_error(path, message)
                        }
                        Error::Flag { flag, message } => {
                            data_error(path, format!("{message} (see {flag})"))
                        }
                        other => other,
                    },
                )?;
            (
                all.subset(&train_at),
                all.subset(&test_at),
                Split::Fraction { fraction, seed },
            )
        }
    };
    let trained_classes = keep_training_classes(&mut train, &classes, prepare, &source)?;
    let scaling = match kind.is_rows() {
        true => Some(scale_rows(
            &mut train,
            &mut test,
            shape.width,
            prepare,
            scaling,
            path,
        )?),
        false => None,
    };
    Ok(Data {
        train,
        test,
        shape,
        classes,
        source,
        split,
        scaling,
        notes,
        trained_classes,
    })
}

/// Keeps only the training samples of the classes `--classes` names (or all but those
/// `--exclude-classes` names), for one-class training; the test split stays whole, so
/// that anomalies are scored against normal samples. Returns the classes kept, by name,
/// or `None` where every class trains. Refuses a filter on unlabelled data, a class the
/// data does not have, and a filter that leaves nothing to train on.
pub fn keep_training_classes(
    train: &mut Dataset,
    classes: &[String],
    prepare: &Prepare,
    source: &str,
) -> Result<Option<Vec<String>>> {
    let (flag, names, keep) = match (&prepare.classes, &prepare.exclude_classes) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(Error::flag(
                "--classes",
                "give --classes or --exclude-classes, not both",
            ))
        }
        (Some(names), None) => ("--classes", names, true),
        (None, Some(names)) => ("--exclude-classes", names, false),
    };
    let Some(labels) = &train.labels else {
        return Err(Error::flag(
            flag,
            format!("{source} has no labels to choose samples by; it needs class folders, a label file or --label-column"),
        ));
    };
    let mut chosen = Vec::new();
    for name in names {
        match classes.iter().position(|c| c == name) {
            Some(i) => chosen.push(i as u32),
            None => {
                let known: Vec<&str> = classes.iter().take(20).map(String::as_str).collect();
                return Err(Error::flag(
                    flag,
                    format!(
                        "{name:?} is not a class of {source}; its classes are {}{}",
                        known.join(", "),
                        if classes.len() > 20 { ", …" } else { "" }
                    ),
                ));
            }
        }
    }
    let kept_classes: Vec<u32> = (0..classes.len() as u32)
        .filter(|c| chosen.contains(c) == keep)
        .collect();
    let kept: Vec<usize> = (0..train.len())
        .filter(|&i| kept_classes.contains(&labels[i]))
        .collect();
    if kept.is_empty() {
        return Err(Error::flag(
            flag,
            format!("{} leaves no training samples of {source}", names.join(",")),
        ));
    }
    *train = train.subset(&kept);
    Ok(Some(
        kept_classes
            .iter()
            .map(|&c| classes[c as usize].clone())
            .collect(),
    ))
}

/// The stratified seeded split: which samples (by index in the source, in source order)
/// are training and which test. For each class in order (unlabelled samples: one class
/// of all), with one generator drawn in class order, `randperm(n_c)`'s first
/// `round(n_c * fraction)` entries are that class's test samples: as the PyTorch twin
/// does with `torch.randperm` under `torch.Generator().manual_seed(seed)`.
pub fn split_indices(
    labels: Option<&[u32]>,
    count: usize,
    fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(Error::flag(
            "--test-fraction",
            format!("{fraction}: must lie between 0 and 1 (0.1 holds a tenth of each class out)"),
        ));
    }
    if count < 2 {
        return Err(Error::flag(
            "--test-fraction",
            format!("the data holds {count} sample{}: at least 2 are needed, one to train on and one to test", plural(count)),
        ));
    }
    let strata: Vec<Vec<usize>> = match labels {
        Some(labels) => {
            let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
            let mut strata = vec![Vec::new(); classes];
            for (i, &label) in labels.iter().enumerate() {
                strata[label as usize].push(i);
            }
            strata
        }
        None => vec![(0..count).collect()],
    };
    let mut rng = TorchRng::new(seed);
    let mut is_test = vec![false; count];
    for members in &strata {
        let perm = rng.randperm(members.len());
        // f64::round rounds half away from zero, as the rule asks (Python's round would
        // round half to even).
        let take = (members.len() as f64 * fraction).round() as usize;
        for &k in perm.iter().take(take) {
            is_test[members[k as usize]] = true;
        }
    }
    let (test, train): (Vec<usize>, Vec<usize>) = (0..count).partition(|&i| is_test[i]);
    if test.is_empty() || train.is_empty() {
        let (part, advice) = match test.is_empty() {
            true => ("test", "a larger"),
            false => ("training", "a smaller"),
        };
        let per_class = match strata.len() {
            1 => String::new(),
            n => format!(
                ", in {n} classes of at most {} each",
                strata.iter().map(Vec::len).max().unwrap_or(0)
            ),
        };
        return Err(Error::flag(
            "--test-fraction",
            format!(
                "{fraction} of {count} samples{per_class} leaves the {part} split empty ({} training, {} test): give {advice} --test-fraction",
                train.len(),
                test.len()
            ),
        ));
    }
    Ok((train, test))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Scales both splits' rows of `features` numbers, by `saved` or by a scaling fitted on
/// the training rows; min–max clips the test rows to [0, 1]. Returns the scaling used.
fn scale_rows(
    train: &mut Dataset,
    test: &mut Dataset,
    features: usize,
    prepare: &Prepare,
    saved: Option<&Scaling>,
    path: &Path,
) -> Result<Scaling> {
    let scaling = match saved {
        Some(s) => {
            if s.offset.len() != features || s.scale.len() != features {
                return Err(data_error(
                    path,
                    format!(
                        "rows of {features} numbers, but the model's saved scaling is for {}: give the data the model was trained on",
                        s.offset.len()
                    ),
                ));
            }
            s.clone()
        }
        None => {
            let kind = match prepare.standardize {
                true => ScalingKind::Standardize,
                false => ScalingKind::MinMax,
            };
            fit_scaling(kind, floats(&train.values), features)
        }
    };
    let clip_test = scaling.kind == ScalingKind::MinMax;
    for (rows, clip) in [(&mut train.values, false), (&mut test.values, clip_test)] {
        if let Values::Floats(v) = rows {
            apply_scaling(&scaling, v, clip);
            if let Some(at) = v.iter().position(|x| !x.is_finite()) {
                return Err(data_error(
                    path,
                    format!(
                        "feature {} overflows f32 once scaled: its values span more than f32 can hold",
                        at % features.max(1)
                    ),
                ));
            }
        }
    }
    Ok(scaling)
}

fn floats(values: &Values) -> &[f32] {
    match values {
        Values::Floats(v) => v,
        Values::Bytes(_) => &[],
    }
}

/// The scaling of rows of `features` numbers (one row after another in `rows`), fitted
/// per feature: min–max (offset min, scale max − min in f32; a constant feature gets
/// scale 1) or standardisation (mean and population deviation summed in f64 in row
/// order, then rounded to f32; a deviation of 0 becomes 1).
pub fn fit_scaling(kind: ScalingKind, rows: &[f32], features: usize) -> Scaling {
    let n = rows.len() / features.max(1);
    let column = |j: usize| rows.iter().skip(j).step_by(features.max(1)).take(n);
    let (offset, scale) = match kind {
        ScalingKind::MinMax => (0..features)
            .map(|j| {
                let min = column(j).fold(f32::INFINITY, |a, &x| a.min(x));
                let max = column(j).fold(f32::NEG_INFINITY, |a, &x| a.max(x));
                let range = max - min;
                (min, if range == 0.0 { 1.0 } else { range })
            })
            .unzip(),
        ScalingKind::Standardize => (0..features)
            .map(|j| {
                let mean = column(j).map(|&x| x as f64).sum::<f64>() / n as f64;
                let var = column(j).map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n as f64;
                let deviation = var.sqrt() as f32;
                (mean as f32, if deviation == 0.0 { 1.0 } else { deviation })
            })
            .unzip(),
    };
    Scaling {
        kind,
        offset,
        scale,
    }
}

/// `x' = (x − offset) / scale` in f32, feature by feature, then clipped to [0, 1] where
/// `clip` (min–max's test rows: the Sigmoid output's range).
pub fn apply_scaling(scaling: &Scaling, rows: &mut [f32], clip: bool) {
    let features = scaling.offset.len().max(1);
    for row in rows.chunks_mut(features) {
        for ((x, &offset), &scale) in row.iter_mut().zip(&scaling.offset).zip(&scaling.scale) {
            *x = (*x - offset) / scale;
            if clip {
                *x = x.clamp(0.0, 1.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_takes_a_rounded_share_of_each_class() {
        // 25 of class 0 and 15 of class 1, interleaved: 2.5 rounds to 3 and 1.5 to 2 (half
        // away from zero; Python's round would give 2 and 2).
        let labels: Vec<u32> = (0..40).map(|i| u32::from(i % 8 >= 5)).collect();
        assert_eq!(labels.iter().filter(|&&l| l == 0).count(), 25);
        let (train, test) = split_indices(Some(&labels), 40, 0.1, 7).unwrap();
        let count = |set: &[usize], class: u32| set.iter().filter(|&&i| labels[i] == class).count();
        assert_eq!((count(&test, 0), count(&test, 1)), (3, 2));
        assert_eq!(train.len() + test.len(), 40);
        assert!(
            train.windows(2).all(|w| w[0] < w[1]),
            "training keeps source order"
        );
        assert!(
            test.windows(2).all(|w| w[0] < w[1]),
            "test keeps source order"
        );
        assert_eq!(
            split_indices(Some(&labels), 40, 0.1, 7).unwrap(),
            (train, test.clone())
        );
        let (_, other) = split_indices(Some(&labels), 40, 0.1, 8).unwrap();
        assert_ne!(other, test, "another seed, another split");
    }

    #[test]
    fn the_split_draws_torch_randperm_class_by_class() {
        let (train, test) = split_indices(None, 10, 0.3, 5).unwrap();
        let mut want: Vec<usize> = TorchRng::new(5).randperm(10)[..3]
            .iter()
            .map(|&i| i as usize)
            .collect();
        want.sort();
        assert_eq!(test, want);
        assert_eq!(train.len(), 7);
        // Two classes: one generator, drawn for class 0 and then class 1.
        let labels = [1, 0, 1, 0, 1, 0];
        let (_, test) = split_indices(Some(&labels), 6, 0.5, 3).unwrap();
        let mut rng = TorchRng::new(3);
        let (zeros, ones) = ([1, 3, 5], [0, 2, 4]);
        let p0 = rng.randperm(3);
        let p1 = rng.randperm(3);
        let mut want: Vec<usize> = [
            zeros[p0[0] as usize],
            zeros[p0[1] as usize],
            ones[p1[0] as usize],
            ones[p1[1] as usize],
        ]
        .to_vec();
        want.sort();
        assert_eq!(test, want);
    }

    #[test]
    fn a_split_that_leaves_a_part_empty_is_refused() {
        let e = split_indices(None, 1, 0.1, 0).unwrap_err().to_string();
        assert!(
            e.contains("--test-fraction") && e.contains("1 sample"),
            "{e}"
        );
        let e = split_indices(None, 4, 0.1, 0).unwrap_err().to_string();
        assert!(
            e.contains("--test-fraction")
                && e.contains("test split empty")
                && e.contains("4 training, 0 test"),
            "{e}"
        );
        let e = split_indices(None, 2, 0.9, 0).unwrap_err().to_string();
        assert!(e.contains("training split empty"), "{e}");
        assert!(split_indices(None, 10, 1.0, 0).is_err());
    }

    #[test]
    fn min_max_fits_in_f32_and_clips_only_test_rows() {
        let rows = [1.0f32, 5.0, 3.0, 5.0, 2.0, 5.0];
        let s = fit_scaling(ScalingKind::MinMax, &rows, 2);
        assert_eq!(
            (s.offset.clone(), s.scale.clone()),
            (vec![1.0, 5.0], vec![2.0, 1.0])
        );
        let mut train = rows.to_vec();
        apply_scaling(&s, &mut train, false);
        assert_eq!(train, vec![0.0, 0.0, 1.0, 0.0, 0.5, 0.0]);
        let mut test = vec![5.0f32, 4.0];
        apply_scaling(&s, &mut test, true);
        assert_eq!(test, vec![1.0, 0.0]);
    }

    #[test]
    fn standardising_sums_in_f64_and_uses_the_population_deviation() {
        let rows = [1.0f32, 7.0, 2.0, 7.0, 6.0, 7.0];
        let s = fit_scaling(ScalingKind::Standardize, &rows, 2);
        let mean = 3.0f64;
        let deviation = ((4.0 + 1.0 + 9.0) / 3.0f64).sqrt();
        assert_eq!(s.offset, vec![mean as f32, 7.0]);
        assert_eq!(
            s.scale,
            vec![deviation as f32, 1.0],
            "a constant feature gets scale 1"
        );
    }

    fn rows(count: usize, labels: Option<Vec<u32>>) -> Loaded {
        Loaded {
            kind: SourceKind::CsvRows,
            shape: Shape::rows(1),
            classes: labels
                .as_ref()
                .map_or(Vec::new(), |_| vec!["a".into(), "b".into()]),
            samples: Samples::Whole(Dataset::new(
                Values::Floats((0..count).map(|i| i as f32).collect()),
                labels,
                count,
            )),
            source: "rows".into(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn finish_splits_then_scales_on_the_training_rows() {
        let data = finish(rows(20, None), &Prepare::default(), None, Path::new("r")).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (18, 2));
        assert_eq!(
            data.split,
            Split::Fraction {
                fraction: 0.1,
                seed: 0
            }
        );
        let s = data.scaling.clone().unwrap();
        let train = floats(&data.train.values);
        let min = train.iter().fold(f32::INFINITY, |a, &b| a.min(b));
        assert_eq!(s.offset, vec![min]);
        assert!(floats(&data.test.values)
            .iter()
            .all(|v| (0.0..=1.0).contains(v)));
        // A saved scaling is applied as it is.
        let saved = Scaling {
            kind: ScalingKind::Standardize,
            offset: vec![10.0],
            scale: vec![2.0],
        };
        let data = finish(
            rows(20, None),
            &Prepare::default(),
            Some(&saved),
            Path::new("r"),
        )
        .unwrap();
        assert_eq!(data.scaling, Some(saved.clone()));
        assert_eq!(floats(&data.train.values)[0], -5.0);
        let wrong = Scaling {
            offset: vec![0.0; 2],
            scale: vec![1.0; 2],
            ..saved
        };
        let e = finish(
            rows(20, None),
            &Prepare::default(),
            Some(&wrong),
            Path::new("r"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("data file r") && e.contains("saved scaling"),
            "{e}"
        );
    }

    #[test]
    fn flags_that_do_not_apply_are_refused() {
        let with = |f: fn(&mut Prepare)| {
            let mut p = Prepare::default();
            f(&mut p);
            p
        };
        let refused = |kind, own, p: Prepare, flag: &str| {
            let e = check_flags(kind, own, &p, "the data")
                .unwrap_err()
                .to_string();
            assert!(e.contains(flag), "{flag}: {e}");
        };
        refused(
            SourceKind::ImageFiles,
            false,
            with(|p| p.standardize = true),
            "--standardize",
        );
        refused(
            SourceKind::CsvRows,
            false,
            with(|p| p.image_size = Some((2, 2))),
            "--image-size",
        );
        refused(
            SourceKind::NpyRows,
            false,
            with(|p| p.colour = Some(Colour::Grey)),
            "--grey",
        );
        refused(
            SourceKind::CsvRows,
            false,
            with(|p| p.colour = Some(Colour::Rgb)),
            "--rgb",
        );
        refused(
            SourceKind::FloatImages,
            false,
            with(|p| p.colour = Some(Colour::Rgb)),
            "--rgb",
        );
        refused(
            SourceKind::NpyRows,
            false,
            with(|p| p.label_column = Some("x".into())),
            "--label-column",
        );
        refused(
            SourceKind::ByteImages,
            true,
            with(|p| p.test_fraction = Some(0.2)),
            "--test-fraction",
        );
        refused(
            SourceKind::ImageFiles,
            true,
            with(|p| p.split_seed = 3),
            "--split-seed",
        );
        assert!(check_flags(
            SourceKind::CsvRows,
            false,
            &with(|p| p.standardize = true),
            "x"
        )
        .is_ok());
        assert!(check_flags(
            SourceKind::ImageFiles,
            false,
            &with(|p| p.test_fraction = Some(0.2)),
            "x"
        )
        .is_ok());
    }

    #[test]
    fn a_given_split_must_hold_samples_in_both_parts() {
        let empty = Dataset::new(Values::Bytes(Vec::new()), None, 0);
        let one = Dataset::new(Values::Bytes(vec![1]), None, 1);
        let loaded = Loaded {
            kind: SourceKind::ImageFiles,
            shape: Shape::images(1, 1, 1),
            classes: Vec::new(),
            samples: Samples::Given {
                train: one,
                test: empty,
            },
            source: "x".into(),
            notes: Vec::new(),
        };
        let e = finish(loaded, &Prepare::default(), None, Path::new("d"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("test split holds no samples"), "{e}");
    }
}
