//! The browser's shell of wgsl-autoencoder: the page's `Lab` object, a thin wrapper that
//! hands the page's calls to a [`session::Session`] over the core (the same graphs, WGSL
//! and op lists as the terminal's) and turns the answers into JavaScript values.
//!
//! Every method returns a promise. Calls run one at a time, in the order made: each
//! holds the session until its work (and its wait on the GPU) is done, so the page may
//! ask for pictures between training advances without the two interleaving.

pub mod ladder;
pub mod session;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use futures_intrusive::sync::LocalMutex;
use js_sys::{Float32Array, Object, Promise, Reflect, Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use wgsl_autoencoder::check::run::Plan;

use session::{DataOptions, Examples, Session, Settings};

thread_local! {
    /// The message of the last Rust panic: a panic reaches the page only as a
    /// `RuntimeError: unreachable`, so the page asks for this to say what happened.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        LAST_PANIC.with(|slot| *slot.borrow_mut() = Some(info.to_string()));
    }));
}

/// The message of the last panic, if one happened (then the page must restart).
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.with(|slot| slot.borrow().clone())
}

/// The page's rules on a model file, from its name, first bytes (16 are plenty) and
/// size alone (`session::check_weights_file`): throws the reason it is refused, before
/// the page reads it into memory.
#[wasm_bindgen(js_name = checkWeightsFile)]
pub fn check_weights_file(name: &str, head: &[u8], size: f64) -> Result<(), JsValue> {
    // A file's size is a whole number of bytes, below 2^53 in any browser.
    session::check_weights_file(name, head, size as u64).map_err(js_error)
}

fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&e.to_string())
}

fn json<T: serde::Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(value).map_err(js_error)?;
    js_sys::JSON::parse(&text)
}

/// An object of the given fields.
fn object(fields: &[(&str, JsValue)]) -> Result<JsValue, JsValue> {
    let o = Object::new();
    for (name, value) in fields {
        Reflect::set(&o, &JsValue::from_str(name), value)?;
    }
    Ok(o.into())
}

fn floats(values: &[f32]) -> JsValue {
    Float32Array::from(values).into()
}

fn settings(text: &str) -> Result<Settings, JsValue> {
    serde_json::from_str(text).map_err(|e| js_error(format!("the page's settings: {e}")))
}

fn data_options(text: &str) -> Result<DataOptions, JsValue> {
    serde_json::from_str(text).map_err(|e| js_error(format!("the page's data controls: {e}")))
}

/// Samples and their reconstructions: `shape` (layout, channels, height, width),
/// `labels`, `columns` (name, samples), `clean` and `rebuilt` (C×H×W values each, one
/// sample after another).
fn examples_object(ex: &Examples) -> Result<JsValue, JsValue> {
    object(&[
        ("shape", json(&ex.shape)?),
        ("labels", Uint32Array::from(&ex.labels[..]).into()),
        ("columns", json(&ex.columns)?),
        ("clean", floats(&ex.clean)),
        ("rebuilt", floats(&ex.rebuilt)),
    ])
}

/// The page's handle on the session.
#[wasm_bindgen]
pub struct Lab {
    session: Rc<LocalMutex<Session>>,
    lost: Arc<Mutex<Option<String>>>,
    /// The quick check's plan, shared with each `checkGroup` call (not copied).
    plan: Rc<RefCell<Option<Rc<Plan>>>>,
    /// The ladder `ladderPlan` planned, for each `ladderRung` call.
    climb: Rc<RefCell<Option<Rc<ladder::Climb>>>>,
}

impl Default for Lab {
    fn default() -> Self {
        Lab::new()
    }
}

#[wasm_bindgen]
impl Lab {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Lab {
        let session = Session::default();
        Lab {
            lost: session.lost_handle(),
            session: Rc::new(LocalMutex::new(session, true)),
            plan: Rc::new(RefCell::new(None)),
            climb: Rc::new(RefCell::new(None)),
        }
    }

    /// Runs `work` on the session once the calls before it are done.
    fn call<F, Fut>(&self, work: F) -> Promise
    where
        F: FnOnce(Rc<LocalMutex<Session>>) -> Fut + 'static,
        Fut: std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
    {
        future_to_promise(work(self.session.clone()))
    }

    /// Opens the browser's WebGPU adapter: its name, backend, timestamps and limits.
    #[wasm_bindgen(js_name = openGpu)]
    pub fn open_gpu(&self) -> Promise {
        self.call(|s| async move {
            let info = s.lock().await.open_gpu().await.map_err(js_error)?;
            json(&info)
        })
    }

    /// Why the GPU device was lost (a reason and the browser's message), or null.
    #[wasm_bindgen(js_name = deviceLost)]
    pub fn device_lost(&self) -> Option<String> {
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Destroys the GPU device on purpose (what the tests of the page's recovery do).
    #[wasm_bindgen(js_name = loseDevice)]
    pub fn lose_device(&self) -> Promise {
        self.call(|s| async move {
            s.lock().await.lose_device();
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Checks and keeps MNIST from its four `.gz` files' bytes (train images, train
    /// labels, test images, test labels), and uses it: what the data is (`dataInfo`).
    #[wasm_bindgen(js_name = loadData)]
    pub fn load_data(
        &self,
        train_images: Vec<u8>,
        train_labels: Vec<u8>,
        test_images: Vec<u8>,
        test_labels: Vec<u8>,
    ) -> Promise {
        self.call(|s| async move {
            let files = [&train_images[..], &train_labels, &test_images, &test_labels];
            let mut session = s.lock().await;
            session.load_data(files, None).map_err(js_error)?;
            json(&session.data_info().map_err(js_error)?)
        })
    }

    /// Uses the files the user picked: `names` their paths relative to the folder picked
    /// (without the folder's own name), `contents` their bytes (Uint8Arrays, in the same
    /// order), prepared as the data controls (JSON) ask. What the data is, or an error
    /// naming the file at fault; on an error the data in use stays.
    #[wasm_bindgen(js_name = loadFiles)]
    pub fn load_files(
        &self,
        names: Vec<String>,
        contents: js_sys::Array,
        options: String,
    ) -> Promise {
        self.call(move |s| async move {
            let options = data_options(&options)?;
            let files: Vec<(String, Vec<u8>)> = names
                .into_iter()
                .zip(contents.iter())
                .map(|(name, bytes)| (name, Uint8Array::new(&bytes).to_vec()))
                .collect();
            let info = s
                .lock()
                .await
                .load_files(files, &options)
                .map_err(js_error)?;
            json(&info)
        })
    }

    /// Uses MNIST again, prepared as the data controls (JSON) ask.
    #[wasm_bindgen(js_name = useMnist)]
    pub fn use_mnist(&self, options: String) -> Promise {
        self.call(move |s| async move {
            let options = data_options(&options)?;
            let info = s.lock().await.use_mnist(&options).map_err(js_error)?;
            json(&info)
        })
    }

    /// Prepares the data in use again, as the data controls (JSON) now ask.
    #[wasm_bindgen(js_name = prepareData)]
    pub fn prepare_data(&self, options: String) -> Promise {
        self.call(move |s| async move {
            let options = data_options(&options)?;
            let info = s.lock().await.prepare_data(&options).map_err(js_error)?;
            json(&info)
        })
    }

    /// What the data in use is: kind, source, describe (the terminal's summary line),
    /// shape, shape_text, train, test, classes, notes, undrawable.
    #[wasm_bindgen(js_name = dataInfo)]
    pub fn data_info(&self) -> Promise {
        self.call(|s| async move { json(&s.lock().await.data_info().map_err(js_error)?) })
    }

    /// Builds the model the settings (JSON of the page's controls) describe.
    pub fn start(&self, settings_json: String) -> Promise {
        self.call(|s| async move {
            let settings = settings(&settings_json)?;
            s.lock().await.start(&settings).await.map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// One bounded piece of training: where the run is.
    pub fn advance(&self) -> Promise {
        self.call(|s| async move {
            let update = s.lock().await.advance().await.map_err(js_error)?;
            json(&update)
        })
    }

    /// Test samples and their reconstructions now (`examples_object`), or null during
    /// an evaluation.
    pub fn examples(&self) -> Promise {
        self.call(|s| async move {
            match s.lock().await.examples().await.map_err(js_error)? {
                Some(ex) => examples_object(&ex),
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// The test codes in the latent plane: `xy` (x, y pairs), their `labels`, the
    /// `series` they are coloured by (class names, or one of samples), and the named
    /// test samples an interpolation may join (`endpoints`: name, index).
    pub fn latent(&self) -> Promise {
        self.call(|s| async move {
            let mut session = s.lock().await;
            let (xy, labels) = session.latent().map_err(js_error)?;
            object(&[
                ("xy", floats(&xy)),
                ("labels", Uint32Array::from(&labels[..]).into()),
                ("series", json(&session.series().map_err(js_error)?)?),
                ("endpoints", json(&session.endpoints().map_err(js_error)?)?),
            ])
        })
    }

    /// The sample decoded at a point of the latent plane (C×H×W values).
    #[wasm_bindgen(js_name = decodePoint)]
    pub fn decode_point(&self, x: f64, y: f64) -> Promise {
        self.call(move |s| async move {
            let image = s.lock().await.decode_point(x, y).await.map_err(js_error)?;
            Ok(floats(&image))
        })
    }

    /// The samples between two test samples' codes.
    pub fn interpolate(&self, a: usize, b: usize) -> Promise {
        self.call(move |s| async move {
            let images = s.lock().await.interpolate(a, b).await.map_err(js_error)?;
            Ok(floats(&images))
        })
    }

    /// A drawing's reconstruction (`rebuilt`), its point in the latent plane (`x`, `y`,
    /// null before there is one), its anomaly `score`, and, once the test set is scored,
    /// the `threshold` and whether it is an `anomaly` (null before).
    #[wasm_bindgen(js_name = reconstructDrawn)]
    pub fn reconstruct_drawn(&self, pixels: Vec<u8>) -> Promise {
        self.call(move |s| async move {
            let drawn = s
                .lock()
                .await
                .reconstruct_drawn(&pixels)
                .await
                .map_err(js_error)?;
            let (x, y) = match drawn.point {
                Some((x, y)) => (JsValue::from_f64(x), JsValue::from_f64(y)),
                None => (JsValue::NULL, JsValue::NULL),
            };
            let or_null = |v: Option<JsValue>| v.unwrap_or(JsValue::NULL);
            object(&[
                ("rebuilt", floats(&drawn.rebuilt)),
                ("x", x),
                ("y", y),
                ("score", JsValue::from_f64(drawn.score as f64)),
                ("threshold", or_null(drawn.threshold.map(JsValue::from_f64))),
                ("anomaly", or_null(drawn.anomaly.map(JsValue::from_bool))),
            ])
        })
    }

    /// Scores the test set and the training split (between epochs): the `Scores` fields
    /// (threshold, auroc, histogram, the ten highest in `top`, …) and those ten samples
    /// and their reconstructions in `odd` (`examples_object`).
    pub fn scores(&self) -> Promise {
        self.call(|s| async move {
            let (scores, odd) = s.lock().await.scores().await.map_err(js_error)?;
            let answer = json(&scores)?;
            Reflect::set(&answer, &JsValue::from_str("odd"), &examples_object(&odd)?)?;
            Ok(answer)
        })
    }

    /// The weights as the bytes of `model.safetensors`.
    pub fn weights(&self) -> Promise {
        self.call(|s| async move {
            let bytes = s.lock().await.weights().await.map_err(js_error)?;
            Ok(Uint8Array::from(&bytes[..]).into())
        })
    }

    /// Opens a model file the user picked (`name`, as errors name it) on the settings'
    /// backend and evaluates it; the settings' classes and limit name its normal training
    /// samples. A file refused leaves the model in use as it was (`hasModel`).
    #[wasm_bindgen(js_name = openWeights)]
    pub fn open_weights(&self, name: String, bytes: Vec<u8>, settings_json: String) -> Promise {
        self.call(move |s| async move {
            let settings = settings(&settings_json)?;
            let opened = s
                .lock()
                .await
                .open_weights(&name, &bytes, &settings)
                .await
                .map_err(js_error)?;
            json(&opened)
        })
    }

    /// Whether the session holds a model (trained or opened): what a failed
    /// `openWeights` left.
    #[wasm_bindgen(js_name = hasModel)]
    pub fn has_model(&self) -> Promise {
        self.call(|s| async move { Ok(JsValue::from_bool(s.lock().await.has_model())) })
    }

    /// The quick check's groups (entry point, variant, cases, under the names of
    /// `checkGroup`'s rows), kept for `checkGroup`.
    #[wasm_bindgen(js_name = checkPlan)]
    pub fn check_plan(&self) -> Promise {
        let kept = self.plan.clone();
        self.call(move |s| async move {
            let plan = s.lock().await.check_plan().map_err(js_error)?;
            let groups: Vec<serde_json::Value> = plan
                .groups
                .iter()
                .map(|g| {
                    serde_json::json!({
                        "kernel": g.kernel, "variant": g.variant, "cases": g.cases.len()
                    })
                })
                .collect();
            *kept.borrow_mut() = Some(Rc::new(plan));
            json(&groups)
        })
    }

    /// Runs group `index` of the plan `checkPlan` made: its row of the check's table.
    #[wasm_bindgen(js_name = checkGroup)]
    pub fn check_group(&self, index: usize) -> Promise {
        let kept = self.plan.clone();
        self.call(move |s| async move {
            let plan = kept
                .borrow()
                .clone()
                .ok_or_else(|| js_error("call checkPlan first"))?;
            let row = s
                .lock()
                .await
                .check_group(&plan, index)
                .await
                .map_err(js_error)?;
            json(&row)
        })
    }

    /// The rungs of a kernel family's ladder ("matmul" or "conv"), each with its WGSL
    /// source, kept for `ladderRung`; `quick` times them at the small shape.
    #[wasm_bindgen(js_name = ladderPlan)]
    pub fn ladder_plan(&self, family: String, quick: bool) -> Promise {
        let kept = self.climb.clone();
        self.call(move |s| async move {
            let gpu = s.lock().await.gpu().map_err(js_error)?;
            let climb = ladder::Climb::plan(&family, quick).map_err(js_error)?;
            let rungs = climb.rungs(&gpu);
            *kept.borrow_mut() = Some(Rc::new(climb));
            json(&rungs)
        })
    }

    /// Rung `index` of the planned ladder: checked against the CPU reference, then timed.
    #[wasm_bindgen(js_name = ladderRung)]
    pub fn ladder_rung(&self, index: usize) -> Promise {
        let kept = self.climb.clone();
        self.call(move |s| async move {
            let climb = kept
                .borrow()
                .clone()
                .ok_or_else(|| js_error("call ladderPlan first"))?;
            let gpu = s.lock().await.gpu().map_err(js_error)?;
            json(&climb.climb(&gpu, index).await.map_err(js_error)?)
        })
    }

    /// Times `steps` training steps of the settings' model, dispatch by dispatch.
    pub fn profile(&self, settings_json: String, steps: usize) -> Promise {
        self.call(move |s| async move {
            let settings = settings(&settings_json)?;
            let report = s
                .lock()
                .await
                .profile(&settings, steps)
                .await
                .map_err(js_error)?;
            json(&report)
        })
    }
}
