//! The image-folder rules of docs/data-rules.md, as pure functions over relative paths,
//! so that a folder on disk and the page's picked folder (relative paths and bytes) are
//! read alike: `train/` and `test/` give the split; subfolders holding images are the
//! classes, sorted by name; samples go by class, then by relative path; whatever is
//! left out gets a note.

use std::collections::BTreeSet;
use std::path::Path;

use crate::data::images::{self, Picture};
use crate::data::prepare::{check_flags, finish, Loaded, Samples, SourceKind};
use crate::data::{data_error, unnamed, Data, Dataset, Prepare, Shape, Values};
use crate::error::Result;

/// One sample of a folder: which file (an index into the files the plan was made from)
/// and its class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub file: usize,
    pub label: Option<u32>,
}

/// Which files of a folder are which samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderPlan {
    /// Class folder names, sorted; empty when the images are unlabelled.
    pub classes: Vec<String>,
    /// The training samples, or all of them when `test` is `None`.
    pub train: Vec<Member>,
    /// The samples of `test/`, where `train/` and `test/` give the split.
    pub test: Option<Vec<Member>>,
    pub notes: Vec<String>,
}

impl FolderPlan {
    /// `10 class folders, train/ and test/`.
    pub fn describe(&self) -> String {
        let classes = match self.classes.len() {
            0 => "no class folders (unlabelled)".to_string(),
            1 => "1 class folder".to_string(),
            n => format!("{n} class folders"),
        };
        match self.test {
            Some(_) => format!("{classes}, train/ and test/"),
            None => classes,
        }
    }

    /// Every sample in order: the training ones, then the test ones.
    pub fn members(&self) -> impl Iterator<Item = Member> + '_ {
        self.train.iter().chain(self.test.iter().flatten()).copied()
    }
}

/// Whether a relative path is hidden: any of its parts starts with '.'.
fn hidden(path: &str) -> bool {
    path.split('/').any(|part| part.starts_with('.'))
}

/// A note naming what was left out: the count and the first few names.
fn note(what: &str, names: &[&str]) -> String {
    let mut shown = names.iter().take(3).copied().collect::<Vec<_>>().join(", ");
    if names.len() > 3 {
        shown += &format!(", … {} more", names.len() - 3);
    }
    format!("left out {} {what}: {shown}", names.len())
}

/// Plans a folder from its files: `files` holds each file's path relative to the
/// folder (parts separated by '/') and whether it is an image (`images::sniff`); `root`
/// names the folder in errors and notes.
pub fn plan(root: &Path, files: &[(String, bool)]) -> Result<FolderPlan> {
    let mut notes = Vec::new();
    let visible: Vec<(usize, &str, bool)> = files
        .iter()
        .enumerate()
        .filter(|(_, (path, _))| !hidden(path))
        .map(|(i, (path, image))| (i, path.as_str().trim_start_matches('/'), *image))
        .collect();
    let others: Vec<&str> = visible.iter().filter(|f| !f.2).map(|f| f.1).collect();
    if !others.is_empty() {
        notes.push(note("files that are not images", &others));
    }
    let images: Vec<(usize, &str)> = visible.iter().filter(|f| f.2).map(|f| (f.0, f.1)).collect();
    if images.is_empty() {
        return Err(data_error(root, "holds no PNG or JPEG images"));
    }
    let under = |dir: &str| -> Vec<(usize, &str)> {
        images
            .iter()
            .filter_map(|&(i, p)| {
                p.strip_prefix(dir)
                    .and_then(|rest| rest.strip_prefix('/'))
                    .map(|rest| (i, rest))
            })
            .collect()
    };
    let (train, test) = (under("train"), under("test"));
    if train.is_empty() || test.is_empty() {
        if !train.is_empty() || !test.is_empty() {
            let (has, lacks) = if train.is_empty() {
                ("test", "train")
            } else {
                ("train", "test")
            };
            notes.push(format!(
                "{has}/ without {lacks}/ is a class folder like any other: give both for a split of your own"
            ));
        }
        let part = plan_part(root, "", &images, &mut notes);
        return Ok(FolderPlan {
            classes: part.classes,
            train: part.members,
            test: None,
            notes,
        });
    }
    let beside: Vec<&str> = images
        .iter()
        .map(|&(_, p)| p)
        .filter(|p| !p.starts_with("train/") && !p.starts_with("test/"))
        .collect();
    if !beside.is_empty() {
        notes.push(note("images beside train/ and test/", &beside));
    }
    let train_part = plan_part(root, "train/", &train, &mut notes);
    let test_part = plan_part(root, "test/", &test, &mut notes);
    if train_part.classes != test_part.classes {
        let only = |a: &[String], b: &[String]| a.iter().find(|c| !b.contains(c)).cloned();
        let why = match (
            only(&train_part.classes, &test_part.classes),
            only(&test_part.classes, &train_part.classes),
        ) {
            (Some(c), _) => format!("train/ has the class folder {c:?}, which test/ lacks"),
            (None, Some(c)) => format!("test/ has the class folder {c:?}, which train/ lacks"),
            (None, None) => "train/ and test/ have different class folders".into(),
        };
        return Err(data_error(
            root,
            format!("{why}: both need the same class folders (or both none)"),
        ));
    }
    Ok(FolderPlan {
        classes: train_part.classes,
        train: train_part.members,
        test: Some(test_part.members),
        notes,
    })
}

/// One split's (or the whole folder's) classes and samples.
struct Part {
    classes: Vec<String>,
    members: Vec<Member>,
}

/// The rules within one folder (`prefix` names it in notes): images in subfolders make
/// classes (the first part of their path), and images beside them are left out; with
/// no subfolder, the images are unlabelled. Sorted by class, then by path.
fn plan_part(root: &Path, prefix: &str, images: &[(usize, &str)], notes: &mut Vec<String>) -> Part {
    let in_class = |p: &str| p.split_once('/').map(|(class, _)| class.to_string());
    let classes: Vec<String> = images
        .iter()
        .filter_map(|(_, p)| in_class(p))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if classes.is_empty() {
        let mut members: Vec<(&str, usize)> = images.iter().map(|&(i, p)| (p, i)).collect();
        members.sort();
        return Part {
            classes,
            members: members
                .into_iter()
                .map(|(_, file)| Member { file, label: None })
                .collect(),
        };
    }
    let loose: Vec<&str> = images
        .iter()
        .map(|&(_, p)| p)
        .filter(|p| !p.contains('/'))
        .collect();
    if !loose.is_empty() {
        let place = format!(
            "images directly in {}/{prefix} beside its class folders",
            root.display()
        );
        notes.push(note(&place, &loose));
    }
    let mut members: Vec<(u32, &str, usize)> = images
        .iter()
        .filter_map(|&(i, p)| {
            let class = in_class(p)?;
            let label = classes.binary_search(&class).ok()? as u32;
            Some((label, p, i))
        })
        .collect();
    members.sort();
    Part {
        classes,
        members: members
            .into_iter()
            .map(|(label, _, file)| Member {
                file,
                label: Some(label),
            })
            .collect(),
    }
}

/// The decoded images of `plan` (in its order: `plan.members()`) as samples, refusing
/// images of mixed channels or sizes, naming a file of each. `path(i)` is file `i`'s
/// path, for errors.
pub fn assemble(
    root: &Path,
    plan: &FolderPlan,
    pictures: Vec<Picture>,
    path: impl Fn(usize) -> std::path::PathBuf,
    source: String,
) -> Result<Loaded> {
    let members: Vec<Member> = plan.members().collect();
    let (Some(first), Some(first_member)) = (pictures.first(), members.first()) else {
        return Err(data_error(root, "holds no PNG or JPEG images"));
    };
    let differs =
        |same: &dyn Fn(&Picture) -> bool| pictures.iter().zip(&members).find(|(p, _)| !same(p));
    if let Some((other, member)) = differs(&|p| p.channels == first.channels) {
        let name = |c: usize| {
            if c == 1 {
                "grey (1 channel)"
            } else {
                "RGB (3 channels)"
            }
        };
        return Err(data_error(
            &path(first_member.file),
            format!(
                "is {}, but {} is {}: pass --grey or --rgb to give every image one channel count",
                name(first.channels),
                path(member.file).display(),
                name(other.channels)
            ),
        ));
    }
    if let Some((other, member)) = differs(&|p| (p.height, p.width) == (first.height, first.width))
    {
        return Err(data_error(
            &path(first_member.file),
            format!(
                "is {}×{} pixels (H×W), but {} is {}×{}: pass --image-size HxW to resize every image to one size",
                first.height,
                first.width,
                path(member.file).display(),
                other.height,
                other.width
            ),
        ));
    }
    let shape = Shape::images(first.channels, first.height, first.width);
    let train_count = plan.train.len();
    let labelled = !plan.classes.is_empty();
    let dataset = |members: &[Member], pictures: &[Picture]| {
        let mut values = Vec::with_capacity(pictures.len() * shape.elements());
        for p in pictures {
            values.extend_from_slice(&p.pixels);
        }
        let labels = labelled.then(|| members.iter().map(|m| m.label.unwrap_or(0)).collect());
        Dataset::new(Values::Bytes(values), labels, members.len())
    };
    let (train_pictures, test_pictures) = pictures.split_at(train_count.min(pictures.len()));
    let train = dataset(&plan.train, train_pictures);
    let samples = match &plan.test {
        Some(test) => Samples::Given {
            train,
            test: dataset(test, test_pictures),
        },
        None => Samples::Whole(train),
    };
    Ok(Loaded {
        kind: SourceKind::ImageFiles,
        shape,
        classes: plan.classes.clone(),
        samples,
        source,
        notes: plan.notes.clone(),
    })
}

/// The images of a picked folder as a `Data`, decoded one after another: what the
/// browser's page calls with its file picker's files. Each file is its path relative to
/// the folder picked (without the folder's own name: `train/cat/1.png`, not
/// `pets/train/cat/1.png`) and its bytes. Split and flags as on the command line.
pub fn images_from_files(files: Vec<(String, Vec<u8>)>, prepare: &Prepare) -> Result<Data> {
    let root = unnamed();
    let entries: Vec<(String, bool)> = files
        .iter()
        .map(|(name, bytes)| {
            (
                name.clone(),
                images::sniff(name, bytes.get(..16).unwrap_or(bytes)).is_image(),
            )
        })
        .collect();
    let plan = plan(&root, &entries)?;
    let source = format!("PNG/JPEG images picked: {}", plan.describe());
    check_flags(
        SourceKind::ImageFiles,
        plan.test.is_some(),
        prepare,
        &source,
    )?;
    let pictures = plan
        .members()
        .map(|m| {
            let (name, bytes) = &files[m.file];
            images::decode(Path::new(name), bytes, prepare)
        })
        .collect::<Result<Vec<_>>>()?;
    let loaded = assemble(
        &root,
        &plan,
        pictures,
        |i| files[i].0.clone().into(),
        source,
    )?;
    finish(loaded, prepare, None, &root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageEncoder;

    fn files(paths: &[&str]) -> Vec<(String, bool)> {
        paths
            .iter()
            .map(|p| (p.to_string(), p.ends_with(".png")))
            .collect()
    }

    fn names(plan: &[Member], paths: &[&str]) -> Vec<String> {
        plan.iter().map(|m| paths[m.file].to_string()).collect()
    }

    #[test]
    fn class_folders_sorted_by_bytes_then_paths() {
        let paths = [
            "b/2.png",
            "a/10.png",
            "B/1.png",
            "a/9.png",
            "a/sub/1.png",
            "loose.png",
            "notes.txt",
            ".hidden/x.png",
            "a/.x.png",
        ];
        let p = plan(Path::new("r"), &files(&paths)).unwrap();
        assert_eq!(p.classes, vec!["B", "a", "b"]);
        assert_eq!(
            names(&p.train, &paths),
            vec!["B/1.png", "a/10.png", "a/9.png", "a/sub/1.png", "b/2.png"]
        );
        assert_eq!(
            p.train.iter().map(|m| m.label).collect::<Vec<_>>(),
            [0, 1, 1, 1, 2].map(Some)
        );
        assert!(p.test.is_none());
        assert_eq!(p.notes.len(), 2, "{:?}", p.notes);
        assert!(p.notes.iter().any(|n| n.contains("notes.txt")));
        assert!(p
            .notes
            .iter()
            .any(|n| n.contains("loose.png") && n.contains("beside its class folders")));
    }

    #[test]
    fn images_without_subfolders_are_unlabelled() {
        let paths = ["b.png", "a.png"];
        let p = plan(Path::new("r"), &files(&paths)).unwrap();
        assert!(p.classes.is_empty());
        assert_eq!(names(&p.train, &paths), vec!["a.png", "b.png"]);
        assert_eq!(p.describe(), "no class folders (unlabelled)");
    }

    #[test]
    fn train_and_test_give_the_split() {
        let paths = [
            "test/x/1.png",
            "train/y/1.png",
            "train/x/2.png",
            "test/y/0.png",
            "extra.png",
        ];
        let p = plan(Path::new("r"), &files(&paths)).unwrap();
        assert_eq!(p.classes, vec!["x", "y"]);
        assert_eq!(
            names(&p.train, &paths),
            vec!["train/x/2.png", "train/y/1.png"]
        );
        assert_eq!(
            names(p.test.as_ref().unwrap(), &paths),
            vec!["test/x/1.png", "test/y/0.png"]
        );
        assert_eq!(p.describe(), "2 class folders, train/ and test/");
        assert!(p.notes[0].contains("extra.png"));

        let e = plan(Path::new("r"), &files(&["train/x/1.png", "test/z/1.png"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"x\"") && e.contains("data file r"), "{e}");
    }

    #[test]
    fn no_images_is_an_error() {
        let e = plan(Path::new("r"), &files(&["a.txt", ".b.png"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds no PNG or JPEG images"), "{e}");
    }

    #[test]
    fn notes_name_a_few_and_count_the_rest() {
        assert_eq!(note("things", &["a", "b"]), "left out 2 things: a, b");
        assert_eq!(
            note("things", &["a", "b", "c", "d", "e"]),
            "left out 5 things: a, b, c, … 2 more"
        );
    }

    fn grey_png(value: u8) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(&[value; 4], 2, 2, image::ExtendedColorType::L8)
            .unwrap();
        out
    }

    #[test]
    fn picked_files_become_data() {
        let files: Vec<(String, Vec<u8>)> = (0..20u8)
            .map(|i| {
                (
                    format!("{}/{i:02}.png", ["cat", "dog"][i as usize % 2]),
                    grey_png(i),
                )
            })
            .collect();
        let data = images_from_files(files, &Prepare::default()).unwrap();
        assert_eq!(data.shape, Shape::images(1, 2, 2));
        assert_eq!(data.classes, vec!["cat", "dog"]);
        assert_eq!((data.train.len(), data.test.len()), (18, 2));
        assert!(data.source.contains("2 class folders"), "{}", data.source);
    }
}
